#!/usr/bin/env bash
# Builds every libFuzzer target with clang and runs each briefly over its
# seed corpus (copied, so the checked-in corpus is not changed).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-15}
cmake --preset fuzz >/dev/null
cmake --build build-fuzz -j"$(nproc)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for bin in build-fuzz/fuzz/*_fuzz; do
  name=$(basename "$bin" _fuzz)
  mkdir -p "$work/$name"
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/$name/"
  dict=()
  [ -f "fuzz/dict/$name.dict" ] && dict=(-dict="fuzz/dict/$name.dict")
  if "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 "${dict[@]}" \
      "$work/$name" >"$work/$name.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" | grep -o '[0-9]*$')
    echo "fuzz $name: ok, ${runs:-?} runs in ${SECONDS_EACH}s"
  else
    echo "fuzz $name: FAILED"; tail -n 40 "$work/$name.log"; status=1
  fi
done
exit $status
