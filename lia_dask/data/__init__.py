"""Small data shipped with lia_dask (sample lightcurves, simulation templates), with provenance."""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_path(*parts: str) -> Path:
    """Path of a bundled data file or directory, e.g. ``data_path("ogle2")``."""
    return Path(str(resources.files("lia_dask.data").joinpath(*parts)))


def ogle2_samples() -> Path:
    """Directory of the bundled OGLE-II sample lightcurves (``microlensing/``, ``variables/``)."""
    return data_path("ogle2")
