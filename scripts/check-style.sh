#!/usr/bin/env bash
# Cheap tree checks run by `make test`: formatting (.clang-format) and the
# layering rules (scripts/check-layers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h')
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/meshd-format.$$; then
  head -n 40 /tmp/meshd-format.$$
  rm -f /tmp/meshd-format.$$
  echo "style: run clang-format -i on the files above"
  exit 1
fi
rm -f /tmp/meshd-format.$$
echo "style: formatting ok"
bash scripts/check-layers.sh
