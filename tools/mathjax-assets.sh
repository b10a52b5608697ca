#!/bin/sh
# Offline math: copy the parts of MathJax 4 that the site uses from npm into
# _build/mathjax-static/mathjax/, which conf.py adds to html_static_path (so the built site
# serves them from _static/mathjax/). Nothing is committed; the npm packages are installed
# into _build/npm-mathjax. Runs in well under a second when the copy is already there.
#
#   sh tools/mathjax-assets.sh            (make mathjax, make html and Read the Docs call it)
set -eu
cd "$(dirname "$0")/.."

VERSION="${MATHJAX_VERSION:-4.1.3}"
LAYOUT=2  # bump when the list of copied files changes
NPM_DIR=_build/npm-mathjax
OUT=_build/mathjax-static/mathjax
STAMP="$OUT/.version"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$VERSION-$LAYOUT" ]; then
    exit 0
fi

if [ ! -f "$NPM_DIR/node_modules/mathjax/package.json" ] ||
   ! grep -q "\"version\": \"$VERSION\"" "$NPM_DIR/node_modules/mathjax/package.json"; then
    command -v npm >/dev/null || { echo "npm is needed to fetch MathJax (Node.js >= 18)" >&2; exit 1; }
    rm -rf "$NPM_DIR"
    mkdir -p "$NPM_DIR"
    npm install --prefix "$NPM_DIR" --no-save --no-package-lock --no-audit --no-fund \
        --loglevel=error "mathjax@$VERSION" "@mathjax/mathjax-newcm-font@$VERSION"
fi

MJ="$NPM_DIR/node_modules/mathjax"
FONT="$NPM_DIR/node_modules/@mathjax/mathjax-newcm-font"
rm -rf "$OUT"
mkdir -p "$OUT/fonts/mathjax-newcm-font" "$OUT/input/tex" "$OUT/sre/mathmaps"

# The combined TeX-to-HTML component, with the New Computer Modern font data built in.
cp "$MJ/tex-chtml.js" "$MJ/LICENSE" "$OUT/"
# Loaded on demand: TeX extensions (\boldsymbol, \cancel, ...), the accessibility
# components, the contextual menu, and the English speech and Nemeth Braille rules of the
# screen-reader support.
cp -R "$MJ/input/tex/extensions" "$OUT/input/tex/"
cp -R "$MJ/a11y" "$MJ/ui" "$OUT/"
cp "$MJ/sre/speech-worker.js" "$OUT/sre/"
cp "$MJ/sre/mathmaps/base.json" "$MJ/sre/mathmaps/en.json" "$MJ/sre/mathmaps/nemeth.json" \
    "$OUT/sre/mathmaps/"
# The CHTML web fonts and the dynamically loaded character ranges.
cp -R "$FONT/chtml" "$FONT/chtml.js" "$FONT/package.json" "$OUT/fonts/mathjax-newcm-font/"
rm -rf "$OUT/fonts/mathjax-newcm-font/chtml/"*.d.ts 2>/dev/null || true

echo "$VERSION-$LAYOUT" > "$STAMP"
echo "MathJax $VERSION copied to $OUT ($(du -sh "$OUT" | cut -f1))"
