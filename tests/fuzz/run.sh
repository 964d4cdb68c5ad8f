#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer) and runs
# each for a while, starting from the seeds in tests/fuzz/corpus/.
#
# usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
#   SECONDS   time per target (default 20)
#   TARGET    schema_validate conf ipaddr http_json ipam schema_load vnc_ifmap vr_packet
#             vr_control bgp_msg xmpp (default: all)
# environment: FUZZ_BUILD_DIR (default /tmp/build-fuzz), FUZZ_WORK_DIR (default
#   /tmp/fuzz-work: grown corpora, crash artifacts and logs).
# Exits non-zero if a target found a crash, a leak or undefined behaviour.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-20}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(schema_validate conf ipaddr http_json ipam schema_load vnc_ifmap vr_packet vr_control bgp_msg xmpp)
build=${FUZZ_BUILD_DIR:-/tmp/build-fuzz}
work=${FUZZ_WORK_DIR:-/tmp/fuzz-work}

if ! grep -q "subdir('tests/fuzz')" "$top/meson.build"; then
    echo "run.sh: $top/meson.build does not include subdir('tests/fuzz')" >&2
    exit 2
fi
command -v clang >/dev/null || { echo "run.sh: clang is needed" >&2; exit 2; }

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$top" -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C "$build" $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}")

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
failed=()
for t in "${targets[@]}"; do
    corpus="$work/corpus/$t"
    artifacts="$work/artifacts/$t/"
    mkdir -p "$corpus" "$artifacts"
    cp -n "$top/tests/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
    if [ "$t" = schema_load ] && [ -f "$top/schema/vnc_cfg.json" ]; then
        cp -n "$top/schema/vnc_cfg.json" "$corpus/vnc_cfg.json"
    fi
    dict=()
    case $t in
        schema_validate|http_json|ipam|schema_load) dict=(-dict="$top/tests/fuzz/json.dict") ;;
    esac
    log="$work/$t.log"
    echo "== fuzz_$t: ${secs}s (log $log)"
    if "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts" "${dict[@]}" \
            "$corpus" >"$log" 2>&1; then
        grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$log" | tail -2 || true
    else
        echo "fuzz_$t: FAILED, see $log and $artifacts"
        grep -E "ERROR: |runtime error|SUMMARY" "$log" | head -5 || true
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz targets that failed: ${failed[*]}"
    exit 1
fi
echo "all fuzz targets ran clean"
