#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/check_spdx.sh - every source file git tracks names its licence in
# an SPDX line within its first three lines (`make test` runs this; data,
# corpus, Markdown and JSON files are exempt). Prints the files that lack
# one and exits 1, or prints nothing and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files) || { echo "check_spdx: not a git checkout: cannot list the source files" >&2; exit 1; }
missing=0
while IFS= read -r f; do
    case $f in
        tests/fuzz/corpus/*|*.md|*.json|*.png|LICENSE|.gitignore) continue ;;
    esac
    if ! head -n 3 -- "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
        echo "check_spdx: $f has no 'SPDX-License-Identifier: MIT' line in its first 3 lines" >&2
        missing=1
    fi
done <<<"$files"
exit $missing
