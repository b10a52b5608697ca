"""Figures and equations as a reader meets them: numbered per page, opened at full size.

* **Numbers local to each page.** Sphinx's ``numfig`` numbers figures, tables and (with
  ``math_numfig``) labelled equations across the whole site when the toctree is not
  ``:numbered:``, so the only figure of the Linear page was "Figure 2" and the equations of
  the LSTM page (27) and (28). A ``:numbered:`` toctree would prefix every page title and
  heading with a section number instead. Here each page counts from 1: the numbers Sphinx
  assigns (``env.toc_fignumbers``, read by the captions, ``{numref}``, the equation numbers
  and ``{eq}``) are renumbered per page and per kind, in the order Sphinx found them. Sphinx's
  own numbers are kept aside and put back before it assigns them again, so it still compares
  like with like when it decides which pages to rewrite.
* **Full size on click.** Every image is wrapped in a link to its file in ``_images``: a
  figure is drawn to fit the article column, and on a phone its lettering is a few pixels
  high; the link opens the SVG at its own size. The link's accessible name is the image's
  alt text. Images load lazily (``loading="lazy"``): a first visit fetches the figures near
  the top of the page, and the rest as the reader scrolls to them. Each SVG image gets its
  ``width`` and ``height``, so its box is reserved before it loads and nothing moves.
* ``figures.css`` lets wide display equations scroll inside their own box, with the equation
  number beside it (not drawn over it on a phone), and ``figures.js`` scrolls to the
  equation or figure of the address (``#equation-...``) again once MathJax has laid out the
  page, which moves everything below the first formula.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from docutils import nodes
from sphinx.util.osutil import relative_uri

_GLOBAL = "figures_sphinx_fignumbers"  # Sphinx's own numbers, kept on the environment


def _restore_sphinx_numbers(app, env):
    """Before Sphinx numbers again: its previous numbers, to compare the new ones with."""
    if hasattr(env, _GLOBAL):
        env.toc_fignumbers = getattr(env, _GLOBAL)
    return []


def local_numbers(fignumbers: dict) -> dict:
    """``{docname: {figtype: {id: (n,)}}}`` with ``n`` counting from 1 on each page.

    >>> local_numbers({"a": {"figure": {"f": (3,), "g": (4,)}}, "b": {"figure": {"h": (5,)}}})
    {'a': {'figure': {'f': (1,), 'g': (2,)}}, 'b': {'figure': {'h': (1,)}}}
    """
    result = {}
    for docname, kinds in fignumbers.items():
        result[docname] = {}
        for figtype, numbers in kinds.items():
            ordered = sorted(numbers, key=lambda node_id: numbers[node_id])
            result[docname][figtype] = {node_id: (i,) for i, node_id in enumerate(ordered, 1)}
    return result


def _number_per_page(app, env):
    """After Sphinx numbered across the site: number per page; rewrite pages that changed."""
    previous = local_numbers(getattr(env, _GLOBAL, {}))
    setattr(env, _GLOBAL, env.toc_fignumbers)
    env.toc_fignumbers = local_numbers(env.toc_fignumbers)
    return [d for d, numbers in env.toc_fignumbers.items() if numbers != previous.get(d)]


_SVG_SIZE = re.compile(r'<svg[^>]*?\swidth="([\d.]+)pt"[^>]*?\sheight="([\d.]+)pt"', re.S)


def svg_size_px(path) -> tuple[int, int] | None:
    """The CSS pixel size of a matplotlib SVG (its size is given in points: 1 pt = 4/3 px).

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.svg"
    >>> _ = f.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="468pt" height="300.5pt">')
    >>> svg_size_px(f)
    (624, 401)
    """
    path = Path(path)
    if path.suffix != ".svg" or not path.is_file():
        return None
    with path.open(encoding="utf-8", errors="replace") as f:
        match = _SVG_SIZE.search(f.read(4096))
    if not match:
        return None
    return tuple(round(float(v) * 4 / 3) for v in match.groups())


def _link_images_to_their_file(app, doctree, docname):
    if app.builder.format != "html":
        return
    image_dir = relative_uri(app.builder.get_target_uri(docname), app.builder.imagedir)
    for image in list(doctree.findall(nodes.image)):
        if isinstance(image.parent, nodes.reference):
            continue
        candidates = image.get("candidates", {})
        if "?" in candidates:  # an image on another host
            continue
        uri = image["uri"]
        if "*" not in candidates:
            uri = next((candidates[t] for t in app.builder.supported_image_types
                        if t in candidates), uri)
        if uri not in app.env.images:
            continue
        link = nodes.reference("", "", internal=True,
                               refuri=posixpath.join(image_dir, app.env.images[uri][1]),
                               classes=["image-reference", "figure-full-size"],
                               reftitle="Open the figure at full size")
        image.replace_self(link)
        link.append(image)
        image["loading"] = "lazy"  # fetched when the reader scrolls near it, not on arrival
        size = svg_size_px(Path(app.srcdir) / uri)
        if size and not ("width" in image or "height" in image):
            # reserves the figure's box before it loads, so nothing below it moves later
            image["width"], image["height"] = (str(v) for v in size)


def setup(app):
    # Sphinx's TocTreeCollector numbers figures on env-get-updated at the default priority 500
    app.connect("env-get-updated", _restore_sphinx_numbers, priority=400)
    app.connect("env-get-updated", _number_per_page, priority=600)
    app.connect("doctree-resolved", _link_images_to_their_file)
    app.add_css_file("figures.css")
    app.add_js_file("figures.js", loading_method="defer")
    return {"version": "1", "env_version": 1, "parallel_read_safe": True,
            "parallel_write_safe": True}
