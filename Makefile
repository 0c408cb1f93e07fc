# Two entry points for a fresh Debian 12 / Ubuntu 24.04 machine with Swift 6:
#   make run   - install the C libraries if missing, build, run the embedded default pipeline
#   make test  - install the C libraries if missing, build, run the whole test suite
SWIFT ?= swift
APT_PACKAGES = liburing-dev libnuma-dev libpcre2-dev zlib1g-dev libzstd-dev

.PHONY: run test deps test-deps build release clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The end-to-end tests check /metrics with the Prometheus text parser of prometheus_client.
test-deps: deps
	@python3 -c 'import prometheus_client' 2>/dev/null || python3 -m pip install -q prometheus_client 2>/dev/null || \
	{ SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-prometheus-client; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product sluice

run: release
	.build/release/sluice run $(ARGS)

test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

clean:
	rm -rf .build
