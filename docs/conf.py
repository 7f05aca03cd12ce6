"""Sphinx configuration of the exportdsl documentation (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent / "src"))  # the package, even when not installed

import exportdsl  # noqa: E402

project = "exportdsl"
author = "the exportdsl authors"
copyright = "2025, the exportdsl authors"  # noqa: A001 - Sphinx's name
release = exportdsl.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "exportdsl_docs",  # docs/_ext: diagnostics reference and the worked diff, generated at build time
]

# Policy code blocks use ``.. code-block:: xpol``: the lexer comes from exportdsl.highlight through
# the ``pygments.lexers`` entry point; registering it here as well keeps an uninstalled checkout working.
from exportdsl.highlight import XpolLexer  # noqa: E402


def setup(app):
    app.add_lexer("xpol", XpolLexer)


exclude_patterns = ["_build", "_generated", "diagnostics", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
highlight_language = "none"
pygments_style = "friendly"
pygments_dark_style = "monokai"
nitpicky = False

html_theme = "furo"
html_title = f"exportdsl {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": True,
}
html_show_sourcelink = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
