"""Sphinx configuration of the lia_dask API reference (``make docs``; built with -W in tests/test_docs.py)."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import lia_dask  # noqa: E402

project = "lia_dask"
author = "the lia_dask developers"
release = version = lia_dask.__version__
copyright = "lia_dask developers, GPL-3.0-or-later"

extensions = ["sphinx.ext.autodoc", "numpydoc"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []

autodoc_default_options = {
    "undoc-members": False, "show-inheritance": False,
    # scikit-learn's generated metadata-routing methods (their docstrings cite sklearn's own glossary)
    "exclude-members": "set_fit_request, set_score_request, set_predict_request, set_predict_proba_request",
}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc sections say the types (and shapes, units)
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
suppress_warnings = ["autodoc.import_object"]
