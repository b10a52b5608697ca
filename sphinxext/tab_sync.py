"""The PyTorch / Keras tabs of every page are synchronised, and the choice is remembered.

sphinx-design (0.8) synchronises the tab-items that carry a sync key (``:sync:``), within a
sync group, and stores the chosen key in the browser's ``localStorage`` (key
``sphinx-design-tab-id-<group>``), so that the next page opens on the same tab. Rather than
writing ``:sync:`` under every tab-item of every page, this transform gives each tab-item
without one the key of its label ("PyTorch" -> ``pytorch``, "scikit-learn" ->
``scikit-learn``), in the group ``framework``. A tab-item that sets ``:sync:`` itself keeps it.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.transforms import SphinxTransform

GROUP = "framework"


def sync_key(label: str) -> str:
    """The sync key of a tab label: lower case, runs of other characters as one dash."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


class TabSyncKeys(SphinxTransform):
    """Sets ``sync_id``/``sync_group`` on the label (rubric) of each tab-item of a tab-set."""

    default_priority = 500

    def apply(self, **kwargs) -> None:
        for tab_set in self.document.findall(nodes.container):
            if tab_set.get("design_component") != "tab-set":
                continue
            for item in tab_set.children:
                if not (isinstance(item, nodes.container) and item.get("design_component") == "tab-item"):
                    continue
                label = item.children[0] if item.children else None
                if not isinstance(label, nodes.rubric):
                    continue
                if "sync_id" not in label:
                    key = sync_key(label.astext())
                    if not key:
                        continue
                    label["sync_id"] = key
                label.setdefault("sync_group", GROUP)


def setup(app):
    app.add_transform(TabSyncKeys)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
