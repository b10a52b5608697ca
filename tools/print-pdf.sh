#!/bin/sh
# Print the landing page of the built site to a PDF cheat-sheet with headless Chromium.
# The site is served on 127.0.0.1 for the duration (as a reader would see it, and so that
# MathJax can load its fonts), then the server is stopped.
#
#   sh tools/print-pdf.sh [_build/html] [_build/cheatsheet.pdf]      (make pdf calls it)
set -eu
cd "$(dirname "$0")/.."
HTML="${1:-_build/html}"
PDF="${2:-_build/cheatsheet.pdf}"
PYTHON="${PYTHON:-python3}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

case "$PDF" in /*) ;; *) PDF="$(pwd)/$PDF" ;; esac
[ -f "$HTML/index.html" ] || { echo "no $HTML/index.html: run make html first" >&2; exit 1; }
PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PYTHON" -m http.server --bind 127.0.0.1 --directory "$HTML" "$PORT" >/dev/null 2>&1 &
SERVER=$!
PROFILE=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$PROFILE"' EXIT INT TERM
# wait until the server answers
i=0
until "$PYTHON" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/')" 2>/dev/null; do
    i=$((i + 1)); [ "$i" -lt 50 ] || { echo "the local server did not start" >&2; exit 1; }
    sleep 0.1
done

"$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$PROFILE" --no-pdf-header-footer --virtual-time-budget=15000 \
    --print-to-pdf="$PDF" "http://127.0.0.1:$PORT/index.html" 2>/dev/null
echo "wrote $PDF"
