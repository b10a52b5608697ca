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
LAYOUT=3  # bump when the list of copied files changes
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
mkdir -p "$OUT/fonts/mathjax-newcm-font" "$OUT/input/tex" "$OUT/output" "$OUT/a11y"

# Separate components, not the combined tex-chtml.js (1 MB): that one bundles the contextual
# menu, the speech rule engine and the explorer, which then fetch a speech worker and its
# English and Braille maps (another 1.2 MB) on every page. conf.py loads startup.js and lists
# the rest in `loader.load`: the TeX input (with ams, newcommand, textmacros, require,
# autoload, ...), the CommonHTML output with the New Computer Modern font, and the
# assistive MathML that screen readers read (a hidden <mjx-assistive-mml> in each formula).
# The loader fetches core.js by itself. About 600 KB of JavaScript in all.
cp "$MJ/startup.js" "$MJ/core.js" "$MJ/LICENSE" "$OUT/"
cp "$MJ/input/tex.js" "$OUT/input/"
cp "$MJ/output/chtml.js" "$OUT/output/"
cp "$MJ/a11y/assistive-mml.js" "$OUT/a11y/"
# Loaded on demand: the TeX extensions that input/tex does not include (\boldsymbol, \cancel, ...).
cp -R "$MJ/input/tex/extensions" "$OUT/input/tex/"
# The CHTML font data, its web fonts and the dynamically loaded character ranges.
cp -R "$FONT/chtml" "$FONT/chtml.js" "$FONT/package.json" "$OUT/fonts/mathjax-newcm-font/"
rm -rf "$OUT/fonts/mathjax-newcm-font/chtml/"*.d.ts 2>/dev/null || true

echo "$VERSION-$LAYOUT" > "$STAMP"
echo "MathJax $VERSION copied to $OUT ($(du -sh "$OUT" | cut -f1))"
