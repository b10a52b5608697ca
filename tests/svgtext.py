"""The font sizes of the text of a matplotlib SVG, read from the file.

Matplotlib (``svg.fonttype = "path"``, its default) draws each run of text as a group
``<g transform="translate(x y) scale(s -s)">`` of ``<use xlink:href="#DejaVuSans-..">``
glyphs, where ``s = fontsize / 100`` in the SVG's own units (points); a rotated label adds a
``rotate(..)``, and mathtext scales sub- and superscripts inside the group. The font size of
a run is therefore 100 times the scale of the group's transform (with its ancestors'), and it
renders at ``fontsize * rendered_width_px / viewBox_width`` pixels.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
FONT_SCALE = 100  # matplotlib.textpath.TextToPath.FONT_SCALE
_TRANSFORM = re.compile(r"(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)")


def _multiply(a, b):
    """The product of two affine maps given as ``(a, b, c, d, e, f)``, as in SVG."""
    a1, b1, c1, d1, e1, f1 = a
    a2, b2, c2, d2, e2, f2 = b
    return (a1 * a2 + c1 * b2, b1 * a2 + d1 * b2, a1 * c2 + c1 * d2, b1 * c2 + d1 * d2,
            a1 * e2 + c1 * f2 + e1, b1 * e2 + d1 * f2 + f1)


def parse_transform(text: str | None):
    matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    for name, args in _TRANSFORM.findall(text or ""):
        v = [float(x) for x in re.split(r"[\s,]+", args.strip()) if x]
        if name == "matrix":
            step = tuple(v)
        elif name == "translate":
            step = (1, 0, 0, 1, v[0], v[1] if len(v) > 1 else 0)
        elif name == "scale":
            step = (v[0], 0, 0, v[1] if len(v) > 1 else v[0], 0, 0)
        elif name == "rotate":
            t = math.radians(v[0])
            step = (math.cos(t), math.sin(t), -math.sin(t), math.cos(t), 0, 0)
            if len(v) == 3:
                step = _multiply(_multiply((1, 0, 0, 1, v[1], v[2]), step), (1, 0, 0, 1, -v[1], -v[2]))
        elif name == "skewX":
            step = (1, 0, math.tan(math.radians(v[0])), 1, 0, 0)
        else:
            step = (1, math.tan(math.radians(v[0])), 0, 1, 0, 0)
        matrix = _multiply(matrix, step)
    return matrix


def _scale(matrix) -> float:
    return math.sqrt(abs(matrix[0] * matrix[3] - matrix[1] * matrix[2]))


def _is_glyph_use(element) -> bool:
    # glyphs are named "<font>-<hex>" (DejaVuSans-31, STIXGeneral-Italic-1d465); markers,
    # clip paths and hatches are "m"/"p"/"h" + hex digits, without a dash
    href = element.get(XLINK_HREF) or element.get("href") or ""
    return element.tag == f"{SVG}use" and "-" in href


def text_runs(svg: bytes | str) -> tuple[float, list[tuple[float, str]]]:
    """``(viewBox width, [(font size in SVG units, glyph ids of the run), ...])``."""
    root = ET.fromstring(svg)
    viewbox = [float(x) for x in root.get("viewBox").split()]
    runs = []

    def walk(element, matrix):
        own = element.get("transform")
        here = _multiply(matrix, parse_transform(own)) if own else matrix
        if element.tag == f"{SVG}g" and own and "scale(" in own:
            glyphs = [c for c in element.iter() if _is_glyph_use(c)]
            if glyphs:
                names = " ".join((g.get(XLINK_HREF) or g.get("href"))[1:] for g in glyphs[:8])
                runs.append((FONT_SCALE * _scale(here), names))
                return
        for child in element:
            if child.tag != f"{SVG}defs":
                walk(child, here)

    walk(root, (1.0, 0.0, 0.0, 1.0, 0.0, 0.0))
    return viewbox[2], runs


def count_glyph_uses(svg: bytes | str) -> int:
    """How many glyphs the drawing uses (outside ``<defs>``), whatever group they are in."""
    root = ET.fromstring(svg)
    defs = {id(e) for d in root.iter(f"{SVG}defs") for e in d.iter()}
    return sum(1 for e in root.iter() if id(e) not in defs and _is_glyph_use(e))
