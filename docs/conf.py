"""Sphinx configuration: ``make docs`` builds docs/_build/html, warnings as errors."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

from ncclient_twisted import __version__  # noqa: E402

project = "ncclient_twisted"
author = "the ncclient_twisted authors"
copyright = "the ncclient_twisted authors"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown pages: ``## Heading`` anchors for links such as ``bridge.md#threads``.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
# ncclient's own docstrings (inherited members) are not ours to build.
autodoc_inherit_docstrings = False

html_theme = "alabaster"
html_theme_options = {"description": "NETCONF for Twisted, ncclient underneath", "fixed_sidebar": True}
html_static_path: list = []
