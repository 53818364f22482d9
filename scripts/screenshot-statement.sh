#!/bin/sh
# Regenerate docs/statement.png, the README's picture of the advertiser's HTML statement:
# the contract's worked example replayed into a scratch warehouse, acme's statement for
# 2026-10 exported as HTML, and a screenshot of the whole page taken by headless Chromium
# (install it with scripts/install-test-deps.sh). Offline: Chromium loads only the file.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
example=${EXAMPLE:-"$repo/../shared/contract/examples/basic"}
pipeline=${PIPELINE:-"$repo/.venv/bin/pipeline"}
out=${1:-"$repo/docs/statement.png"}
height=${HEIGHT:-1140}   # tall enough for the whole page of this example

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$pipeline" replay --quiet --rules "$example/rules" --warehouse "$tmp/wh" \
    "$example"/events/01-main.jsonl "$example"/events/02-late.jsonl "$example"/events/03-extra.csv
"$pipeline" export statement --warehouse "$tmp/wh" --period 2026-10 --account acme \
    --format html --out "$tmp/statement.html"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$tmp/profile" --screenshot="$tmp/statement.png" \
    --window-size=1200,"$height" "file://$tmp/statement.html" 2>/dev/null
mkdir -p "$(dirname "$out")"
mv "$tmp/statement.png" "$out"
echo "wrote $out" >&2
