#!/usr/bin/env bash
# Builds the libFuzzer targets and runs one for a bounded time (see Fuzz/README.md).
#   Fuzz/run.sh TARGET SECONDS [libFuzzer options...]
# TARGET is framer, json, spec, yaml, or all (each in turn for SECONDS). Exits non-zero when a
# target breaks an invariant or crashes; the input is saved under $SCRATCH/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: Fuzz/run.sh framer|json|spec|yaml|all SECONDS [libFuzzer options...]"
target=${1:?$usage}
seconds=${2:?$usage}
shift 2
scratch=${SLUICE_FUZZ_SCRATCH:-.build-fuzz}

# Swift code: coverage instrumentation + libFuzzer (-sanitize=fuzzer) and AddressSanitizer;
# C code (libyaml inside Yams, the CSupport shim): the same instrumentation without a second
# libFuzzer. SwiftPM links executables with main=sluice_fuzz_main, which then calls libFuzzer's
# driver; gold dies on that link with an internal error, so lld links it.
swift build -c release --scratch-path "$scratch" --product sluice-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
    -Xcc -fsanitize=fuzzer-no-link,address \
    -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
binary="$scratch/release/sluice-fuzz"

run() {
    local name=$1 options=() asan_options=${ASAN_OPTIONS:-}
    shift
    case $name in
        framer) options=(-max_len=16384) ;;
        json) options=(-max_len=4096 -dict=Fuzz/json.dict) ;;
        # Plugins keep their buffers for the node's lifetime; building one per input is no leak.
        spec | yaml) options=(-max_len=4096 -detect_leaks=0); asan_options=detect_leaks=0${asan_options:+:$asan_options} ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
    local work="$scratch/corpus/$name" artifacts="$scratch/artifacts/$name/"
    mkdir -p "$work" "$artifacts"
    echo "fuzz: $name for ${seconds}s (new inputs in $work, failures in $artifacts)"
    # The Swift runtime's backtracer would take the crash before libFuzzer saves the input.
    ASAN_OPTIONS=$asan_options SWIFT_BACKTRACE=enable=no "$binary" "$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts" -print_final_stats=1 "${options[@]}" "$@" "$work" "Fuzz/corpus/$name"
}

if [ "$target" = all ]; then
    for name in framer json spec yaml; do run "$name" "$@"; done
else
    run "$target" "$@"
fi
