"""Lightcurve archives (nested Parquet) and cutout stores (Zarr): read, write, validate, ingest."""
from .cutouts import CutoutStore, create_cutout_store, ingest_fits, ingest_npy, open_cutouts, read_fits_cutout, write_cutouts
from .ingest import PRESETS, IngestConfig, IngestReport, ingest_directory, ingest_long, read_text_lightcurve
from .lightcurves import Archive, open_archive, split_batch, write_archive, write_partition, write_quarantine
from .validate import ValidationConfig, check_cutout, check_lightcurve

__all__ = [
    "Archive", "CutoutStore", "IngestConfig", "IngestReport", "PRESETS", "ValidationConfig",
    "check_cutout", "check_lightcurve", "create_cutout_store", "ingest_directory", "ingest_fits", "ingest_long",
    "ingest_npy", "open_archive", "open_cutouts", "read_fits_cutout", "read_text_lightcurve", "split_batch",
    "write_archive", "write_cutouts", "write_partition", "write_quarantine",
]
