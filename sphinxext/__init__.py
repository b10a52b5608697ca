"""Build extensions of the layers cheat-sheet, one concern per module (listed in conf.py).

Each module is a Sphinx extension with its own ``setup()``; ``conf.py`` only names them.
"""

from pathlib import Path

from sphinx.domains import Domain


def code_dir(app_or_env) -> Path:
    """The folder of the code the pages show and run: ``code/`` beside the sources."""
    return Path(app_or_env.srcdir) / "code"


class PageDataDomain(Domain):
    """Data kept per page, ``self.pages[docname]``, that parallel reading merges correctly.

    A domain with no directives or roles: Sphinx gives each parallel reader a copy, and
    ``merge_domaindata`` takes back the pages that reader read; ``clear_doc`` forgets a page
    before it is read again. Subclasses set ``name`` and ``label``.
    """

    initial_data = {"pages": {}}
    data_version = 1

    @property
    def pages(self) -> dict[str, dict]:
        return self.data["pages"]

    def clear_doc(self, docname: str) -> None:
        self.pages.pop(docname, None)

    def merge_domaindata(self, docnames, otherdata) -> None:
        for docname in docnames:
            if docname in otherdata["pages"]:
                self.pages[docname] = otherdata["pages"][docname]

    def resolve_any_xref(self, env, fromdocname, builder, target, node, contnode):
        return []
