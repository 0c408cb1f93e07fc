#!/usr/bin/env bash
# The JSON scanner alone, one revision against another, interleaved: each revision's
# JSONScanner.swift, UTF8Validation.swift and CSupport/json.c (when it has one) built into a
# standalone binary (perf/json-scan/main.swift), then every line of each FILE scanned, thread CPU
# time, best of 3, three times in turn. Prints MB per CPU second per file and revision.
#   perf/json-scan.sh OLD_REV NEW_REV FILE...     (a REV of "." is the working tree)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
old=$1 new=$2; shift 2
export PATH=/opt/swift/usr/bin:$PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build() {  # rev → $work/bin-<n>
    local rev=$1 dir=$work/$2
    mkdir -p "$dir/src" "$dir/CS"
    for f in Sources/SluiceCore/Fields/JSONScanner.swift Sources/SluiceCore/Fields/UTF8Validation.swift CSupport/include/sl_simd.h CSupport/include/sl_json.h CSupport/json.c; do
        if [ "$rev" = . ]; then
            [ -e "$root/$f" ] && cp "$root/$f" "$dir/src/"
        else
            git -C "$root" show "$rev:$f" > "$dir/src/$(basename "$f")" 2>/dev/null || rm -f "$dir/src/$(basename "$f")"
        fi
    done
    { echo '#include "../src/sl_simd.h"'; [ -e "$dir/src/sl_json.h" ] && echo '#include "../src/sl_json.h"'; true; } > "$dir/CS/cs.h"
    printf 'module CSupport {\n    header "cs.h"\n    export *\n}\n' > "$dir/CS/module.modulemap"
    local objects=()
    if [ -e "$dir/src/json.c" ]; then
        clang -O2 -c "$dir/src/json.c" -I "$dir/src" -o "$dir/json.o"
        objects=("$dir/json.o")
    fi
    swiftc -O -wmo -enforce-exclusivity=unchecked -I "$dir/CS" "$here/json-scan/main.swift" "$dir/src/JSONScanner.swift" \
        "$dir/src/UTF8Validation.swift" "${objects[@]}" -o "$dir/json-scan"
}
build "$old" old
build "$new" new
for round in 1 2 3; do
    for side in old new; do
        "$work/$side/json-scan" 150 3 "$@" | sed "s/^/$side /"
    done
done | sort -k2,2 -k1,1r | awk '{ key = $1 " " $2; v = $7; if (v > best[key]) { best[key] = v; line[key] = $0 } } END { for (k in line) print line[k] }' | sort -k2,2 -k1,1r
