"""Lightcurve archives (nested Parquet) and cutout stores (Zarr): read, write, validate, ingest.

The names below resolve on first use (PEP 562), so ``from lia_dask.archive import open_archive``
imports the Parquet archive only, not Zarr and the cutout store (what ``lia-dask predict`` starts with).
"""
from __future__ import annotations

from .._lazy import lazy_names

#: public name -> submodule that defines it
_WHERE = {
    **dict.fromkeys(("CutoutStore", "create_cutout_store", "ingest_fits", "ingest_npy", "open_cutouts",
                     "read_fits_cutout", "write_cutouts"), "cutouts"),
    **dict.fromkeys(("PRESETS", "IngestConfig", "IngestReport", "ingest_directory", "ingest_long",
                     "read_text_lightcurve"), "ingest"),
    **dict.fromkeys(("Archive", "open_archive", "split_batch", "write_archive", "write_partition",
                     "write_quarantine"), "lightcurves"),
    **dict.fromkeys(("ValidationConfig", "check_cutout", "check_lightcurve"), "validate"),
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals())
