#!/bin/sh
# run_fuzz.sh — runs one libFuzzer target on its seed corpus for SECONDS: tests/fuzz/run_fuzz.sh TARGET SECONDS [ARGS]
#
# Needs the clang fuzz build:  CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false && ninja -C build-fuzz
# (another folder: HPK_FUZZ_BUILD=DIR). The seeds (tests/fuzz/corpus/TARGET) and regression inputs
# (tests/fuzz/regressions/TARGET) are copied into a working corpus BUILD/fuzz/TARGET/corpus that keeps growing across
# runs; the committed corpus is never written. Crashes, leaks, timeouts and sanitizer reports land in
# BUILD/fuzz/TARGET/artifacts/; the log is BUILD/fuzz/TARGET/log. Extra ARGS go to libFuzzer (e.g. -jobs=2).
# The last line is a summary: "TARGET SECONDS s: N execs, cov C, ft F, corpus K inputs, findings M".
# Exit status: 0 no finding, 1 a finding (libFuzzer's report is in the log), 2 usage.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ $# -lt 2 ]; then
    echo "usage: $0 TARGET SECONDS [LIBFUZZER_ARGS...]" >&2
    echo "targets: onnx ckpt idx cifar npy image npy_tensor" >&2
    exit 2
fi
target=$1
secs=$2
shift 2
build=${HPK_FUZZ_BUILD:-$root/build-fuzz}
exe=$build/tests/fuzz/fuzz_$target
if [ ! -x "$exe" ]; then
    echo "$0: $exe is not built (CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false; ninja -C build-fuzz)" >&2
    exit 2
fi
case $target in
    onnx) max_len=65536 ;;
    ckpt) max_len=16384 ;;
    idx) max_len=8192 ;;
    cifar) max_len=32768 ;;
    npy) max_len=8192 ;;
    npy_tensor) max_len=4096 ;;
    image) max_len=16384 ;;
    *) echo "$0: unknown target $target" >&2; exit 2 ;;
esac
work=$build/fuzz/$target
mkdir -p "$work/corpus" "$work/artifacts"
cp -n "$here/corpus/$target"/* "$work/corpus/" 2>/dev/null
for f in "$here/regressions/$target"/*; do
    case $(basename "$f") in README*) ;; *) [ -f "$f" ] && cp -n "$f" "$work/corpus/" ;; esac
done
dict=
[ -f "$here/dict/$target.dict" ] && dict=-dict=$here/dict/$target.dict
before=$(ls "$work/artifacts" | wc -l)
# leaks and UBSan reports are findings; libFuzzer's own limits: 10 s an input, 2 GiB of RSS
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$exe" -max_total_time="$secs" -max_len=$max_len -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" $dict "$@" "$work/corpus" >"$work/log" 2>&1
rc=$?
after=$(ls "$work/artifacts" | wc -l)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
last=$(grep -E '^#[0-9]+' "$work/log" | tail -1)
cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
n=$(ls "$work/corpus" | wc -l)
echo "$target $secs s: ${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}, corpus $n inputs, findings $((after - before))"
if [ $rc -ne 0 ] || [ "$after" -ne "$before" ]; then
    echo "$0: libFuzzer exited with $rc; see $work/log and $work/artifacts/" >&2
    exit 1
fi
exit 0
