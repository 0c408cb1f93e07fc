# Two entry points for a fresh Debian 12 / Ubuntu 24.04 machine with Swift 6:
#   make run   - install the C libraries if missing, build, run the embedded default pipeline
#   make test  - install the C libraries if missing, build, run the whole test suite
SWIFT ?= swift
APT_PACKAGES = liburing-dev libnuma-dev libpcre2-dev libsystemd-dev zlib1g-dev libzstd-dev libssl-dev libnats-dev libpq-dev
# Real clients and servers the end-to-end tests start (never as services).

.PHONY: run test deps test-deps perf-deps build release clean

# Installs the Debian packages of $(1) that are not installed yet.
define install-missing
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install-missing,$(APT_PACKAGES))

# The end-to-end tests check /metrics with the Prometheus text parser of prometheus_client,
# ship to the http input with the Python Elasticsearch client (and check the elasticsearch
# output's test bulk endpoint with it), and test the syslog, udp and unix inputs against the real
# senders: logger (util-linux) and rsyslogd, which is also the receiver of the syslog output's
# tests (started by the tests in a temporary directory, never as a service);
# systemd-journal-remote writes the journald tests' files.
# nats-server: the nats input and output tests start single servers and a three-server JetStream
# cluster in temporary directories; nats-py (PyPI) creates and inspects their streams; PyYAML
# reads deploy/kubernetes/ for its structural check.
# syslog-ng-core conflicts with rsyslog (both are the system log daemon): its libraries are
# installed and the package unpacked under /opt/syslog-ng, from where the test runs it.
# postgresql: the postgres output's tests make a cluster with its initdb in a temporary
# directory and start it with pg_ctl on a free port (as the postgres user when run as root).
# clickhouse-server: the clickhouse output's suite starts one from a config in a temporary directory.
# The TLS tests make their certificates with the openssl command line, send with openssl s_client
# and curl, and forward syslog over TLS with rsyslog's GnuTLS stream driver (rsyslog-gnutls).
# nats-server: the nats suites start JetStream servers (one, and a three-server cluster).
TEST_APT_PACKAGES = systemd-journal-remote rsyslog bsdutils libivykis0 libnet1 libjson-c5 libwrap0 libpcre3 libglib2.0-0 libcap2 clickhouse-server \
	openssl curl rsyslog-gnutls nats-server postgresql
test-deps: deps
	$(call install-missing,$(TEST_APT_PACKAGES))
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	if [ ! -x /usr/sbin/syslog-ng ] && [ ! -x /opt/syslog-ng/usr/sbin/syslog-ng ]; then \
		cd /tmp && apt-get download -qq syslog-ng-core && $$SUDO dpkg-deb -x syslog-ng-core_*.deb /opt/syslog-ng && rm -f syslog-ng-core_*.deb; \
	fi
	@python3 -c 'import prometheus_client' 2>/dev/null || python3 -m pip install -q prometheus_client 2>/dev/null || \
	{ SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-prometheus-client; }
	@python3 -c 'import elasticsearch' 2>/dev/null || python3 -m pip install -q elasticsearch
	@python3 -c 'import nats' 2>/dev/null || python3 -m pip install -q nats-py
	@python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q pyyaml

# Tools the scripts in perf/ drive, not needed by the tests: wrk loads the http input
# (perf/http-wrk.sh).
PERF_APT_PACKAGES = wrk
perf-deps: deps
	$(call install-missing,$(PERF_APT_PACKAGES))

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
