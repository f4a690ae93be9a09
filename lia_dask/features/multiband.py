"""Multi-band features: one row per object from all its bands.

Columns of the multi-band feature table (``multiband_frame``), in order:

- ``object_id``, ``label`` (when the batch has labels) — not features;
- ``<band>_<feature>`` for every band of :attr:`MultibandSettings.bands` (wavelength order) and
  the 168 statistics of the per-band feature set: computed where the object has at least
  ``min_band_points`` epochs in that band, NaN otherwise (a missing band is a missing value the
  model handles, never a feature of its own; there is no reason column among the features);
- :data:`CROSS_NAMES`: cross-band features from one joint point-lens fit of all bands.

The joint fit (:func:`~lia_dask.features.multiband_fit.joint_pspl_features`, numba) models every band ``b`` in flux as
``F_b(t) = fs_b A(u(t)) + fb_b`` with shared ``(t0, u0, tE)`` — microlensing is achromatic, only the
blending differs per band — and ``fs_b >= 0``. Working in flux with a free baseline ``fb_b`` makes it
valid for difference photometry (negative fluxes) as well as for total fluxes. For each
``(t0, u0, tE)`` the per-band ``(fs_b, fb_b)`` are the closed-form weighted least-squares solution,
so the search is over three parameters only: a grid (t0 at the most significant epochs, log tE,
log u0), then the physical block's Levenberg–Marquardt (:mod:`lia_dask.features.physical_fit`,
one point-lens kernel for both). From the fit:

``mb_log_tE``, ``mb_log_u0``, ``mb_t0_frac`` (t0 within the observed span), ``mb_chi2_red_pspl``,
``mb_chi2_red_flat`` (per-band constants), ``mb_dchi2_frac`` (share of the flat model's chi² the
point lens removes), ``mb_log_dchi2``; consistency across bands: ``mb_t0_spread`` (std of the
per-band peak times, each fitted with the joint u0 and tE, in units of tE), ``mb_u0_spread``
(std of log10 of the per-band u0 with the joint t0 and tE: the magnification must agree across
bands), ``mb_band_chi2_max`` (worst band's reduced chi² over the joint one), ``mb_blend_spread``
(std of the fitted source fraction fs/(fs+fb) across bands, total fluxes only); colour during vs
outside the event: ``mb_colour_change_mean`` / ``mb_colour_change_absmax`` over adjacent band
pairs of ``(c_in - c_out)``, ``c = -2.5 log10(F_b1 / F_b2)`` from the weighted mean flux within
``|t - t0| < tE / 2`` and the median outside ``|t - t0| > 2 tE`` (NaN where a flux is not positive,
e.g. difference fluxes); ``mb_peak_z``: largest excess over the band median in units of the error.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from functools import partial

import numpy as np
import pandas as pd

from .. import schema as S
from ..batch import LightcurveBatch
from ..errors import ConfigError, InputError
from .multiband_fit import CROSS_NAMES, joint_pspl_features

#: name stored as ``feature_set`` in artifacts trained on this table
MULTIBAND_FEATURE_SET = "multiband"
#: wavelength order of the known bands; other bands follow in name order
BAND_ORDER = ("u", "g", "r", "i", "z", "y")
#: quarantine reason of an object without any computable feature
NO_FEATURES = "no band with min_band_points epochs and too few epochs for the joint fit"


def sort_bands(bands) -> tuple[str, ...]:
    """Bands in wavelength order (u g r i z y), then any others by name."""
    bands = sorted(set(map(str, bands)))
    rank = {b: k for k, b in enumerate(BAND_ORDER)}
    return tuple(sorted(bands, key=lambda b: (rank.get(b, len(BAND_ORDER)), b)))


@dataclass(frozen=True)
class MultibandSettings:
    """Settings of the multi-band feature extraction (one dataclass for the stage).

    Attributes
    ----------
    bands : tuple of str or None
        Bands that get ``<band>_<feature>`` columns, wavelength order; None: the bands in the data
        (an archive's summary). A model keeps the bands it was trained on; data with more bands
        runs through it (the extra bands are not used), data with fewer gives NaN columns.
    min_band_points : int
        A band with fewer epochs gets NaN per-band features (it still enters the joint fit).
    zp : float or None
        Zero point of magnitude data (None: the batch's own); fluxes are used as given.
    apply_weights : bool
        MicroLIA's weighted variants of the per-band statistics.
    band_feature_set : str
        Registered per-band feature set (default MicroLIA 2.8.1's 168).
    """

    bands: tuple[str, ...] | None = None
    min_band_points: int = 5
    zp: float | None = None
    apply_weights: bool = True
    band_feature_set: str = "microlia-2.8.1"

    def __post_init__(self) -> None:
        if self.bands is not None:
            object.__setattr__(self, "bands", sort_bands(self.bands))
            if not self.bands:
                raise ConfigError("MultibandSettings.bands is empty; give at least one band or None.")
        if int(self.min_band_points) < 2:
            raise ConfigError(f"min_band_points must be >= 2, got {self.min_band_points}.")

    def to_dict(self) -> dict:
        """JSON-able dict as stored in artifacts (``feature_set`` = ``"multiband"``)."""
        d = asdict(self)
        d["bands"] = None if self.bands is None else list(self.bands)
        return {"feature_set": MULTIBAND_FEATURE_SET, **d}

    @classmethod
    def from_dict(cls, d: dict) -> "MultibandSettings":
        d = {k: v for k, v in d.items() if k != "feature_set"}
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown multi-band settings {sorted(unknown)}.")
        if d.get("bands") is not None:
            d["bands"] = tuple(d["bands"])
        return cls(**d)

    def feature_names(self, bands: tuple[str, ...] | None = None) -> list[str]:
        """Feature columns for ``bands`` (default: ``self.bands``)."""
        from .registry import get_feature_set

        bands = bands if bands is not None else self.bands
        if bands is None:
            raise ConfigError("multi-band feature names need the bands; set MultibandSettings.bands.")
        names = get_feature_set(self.band_feature_set).names
        return [f"{b}_{n}" for b in bands for n in names] + list(CROSS_NAMES)


def is_multiband(feature_settings: dict | None) -> bool:
    """True for the feature settings of a model trained on the multi-band table."""
    return bool(feature_settings) and feature_settings.get("feature_set") == MULTIBAND_FEATURE_SET


# ------------------------------------------------------------------------ a batch -> one row per object
def _group_objects(batch: LightcurveBatch) -> tuple[LightcurveBatch, np.ndarray]:
    """The batch with the rows of each object adjacent (stable), and the row offsets per object."""
    codes, uniq = pd.factorize(pd.Series(batch.object_id))
    if len(codes) and 1 + np.count_nonzero(np.diff(codes)) != len(uniq):  # an object's rows are not adjacent
        order = np.argsort(codes, kind="stable")
        batch, codes = batch.take(order), codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, np.int64)
    return batch, np.r_[starts, len(codes)].astype(np.int64)


def multiband_frame(batch: LightcurveBatch, settings: MultibandSettings | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Multi-band feature table of a batch: one row per object (layout in the module docstring).

    Parameters
    ----------
    batch : LightcurveBatch
        Rows per (object, band); magnitudes (converted with the zero point) or fluxes.
    settings : MultibandSettings, optional
        ``bands=None`` uses the bands of this batch.

    Returns
    -------
    features : pandas.DataFrame
        One row per object with at least one computable feature: ``object_id``, optional
        ``label``, the feature columns.
    quarantine : pandas.DataFrame
        ``object_id``, ``source``, ``reason`` for the others; ``len(features) + len(quarantine)``
        is the number of distinct objects.
    """
    from .extract import extract_batch_with_reasons
    from .registry import FeatureSettings

    cfg = settings or MultibandSettings()
    bands = cfg.bands if cfg.bands is not None else sort_bands(batch.band)
    batch, obj_off = _group_objects(batch.compact())
    n_obj = len(obj_off) - 1
    fs = FeatureSettings(zp=cfg.zp, convert=None, apply_weights=cfg.apply_weights, feature_set=cfg.band_feature_set)
    rank = {b: k for k, b in enumerate(bands)}
    row_band = np.array([rank.get(str(b), -1) for b in batch.band], dtype=np.int64)
    row_obj = np.repeat(np.arange(n_obj), np.diff(obj_off))
    names = cfg.feature_names(bands)
    n_per = len(names) - len(CROSS_NAMES)
    X = np.full((n_obj, len(names)), np.nan)
    use = np.flatnonzero((row_band >= 0) & (batch.lengths >= cfg.min_band_points))
    if len(use):
        vals, fnames, reason = extract_batch_with_reasons(batch.take(use), fs)
        nf = len(fnames)
        good = reason == 0
        r = use[good]
        cols = row_band[r][:, None] * nf + np.arange(nf)[None, :]
        X[row_obj[r][:, None], cols] = vals[good]
    # joint fit over every band of the model (epochs of other bands are not used)
    sel = np.flatnonzero(row_band >= 0)
    fl = batch.take(sel).to_flux()
    lens = np.zeros(len(batch), np.int64)
    lens[sel] = fl.lengths
    per_obj = np.add.reduceat(lens, obj_off[:-1]) if n_obj else np.zeros(0, np.int64)
    o_off = np.r_[0, np.cumsum(per_obj)].astype(np.int64)
    bidx = np.repeat(row_band[sel], fl.lengths).astype(np.int64)
    X[:, n_per:] = joint_pspl_features(o_off, fl.time.astype(np.float64), fl.y.astype(np.float64),
                                       fl.yerr.astype(np.float64), bidx, len(bands), int(cfg.min_band_points))
    ids = batch.object_id[obj_off[:-1]]
    ok = ~np.all(np.isnan(X), axis=1)
    head = {S.OBJECT_ID: pd.Series(ids[ok], dtype="int64" if ids.dtype.kind in "iu" else "str")}
    if batch.label is not None:
        head[S.LABEL] = pd.Series(batch.label[obj_off[:-1]][ok], dtype="str")
    for k, v in batch.extra.items():
        if k in ("ra", "dec", "_healpix_29"):
            head[k] = v[obj_off[:-1]][ok]
    out = pd.concat([pd.DataFrame(head), pd.DataFrame(X[ok], columns=names)], axis=1)
    bad = np.flatnonzero(~ok)
    quarantine = pd.DataFrame({"object_id": ids[bad].astype(str), "source": "multiband",
                               "reason": [NO_FEATURES + f" (min_band_points={cfg.min_band_points})"] * len(bad)},
                              columns=S.QUARANTINE_SCHEMA.names)
    return out, quarantine


def _frame_with_reasons(batch: LightcurveBatch, settings: MultibandSettings) -> pd.DataFrame:
    """Features plus the quarantined objects as all-NaN rows with ``feature_reason`` 1 (a non-feature column)."""
    from .extract import REASON_COLUMN

    feats, quarantine = multiband_frame(batch, settings)
    feats[REASON_COLUMN] = np.int8(0)
    if len(quarantine):
        ids = pd.Series(batch.object_id).drop_duplicates()
        bad = ids[ids.astype(str).isin(set(quarantine["object_id"]))]
        rows = pd.DataFrame({S.OBJECT_ID: bad.to_numpy()})
        if S.LABEL in feats.columns:
            lab = pd.Series(batch.label, index=batch.object_id).groupby(level=0).first()
            rows[S.LABEL] = lab.reindex(bad.to_numpy()).astype(str).to_numpy()
        rows[REASON_COLUMN] = np.int8(1)
        feats = pd.concat([feats, rows], ignore_index=True)
    return feats


def extract_multiband_archive(archive, settings: MultibandSettings | None = None):
    """Lazy multi-band feature table of an archive, one task per partition (objects never split).

    ``settings.bands=None`` takes the archive's bands. Returns a dask DataFrame and the settings
    used (with the bands filled in).
    """
    from ..archive import open_archive

    arch = open_archive(archive) if isinstance(archive, (str, os.PathLike)) else archive
    cfg = settings or MultibandSettings()
    if cfg.bands is None:
        cfg = replace(cfg, bands=sort_bands(arch.bands))
    import pyarrow as pa

    id_dtype = "int64" if pa.types.is_integer(arch.schema.field(S.OBJECT_ID).type) else "str"
    head = {S.OBJECT_ID: pd.Series([], dtype=id_dtype)}
    if S.LABEL in arch.schema.names:
        head[S.LABEL] = pd.Series([], dtype="str")
    from .extract import REASON_COLUMN

    names = cfg.feature_names()
    meta = pd.concat([pd.DataFrame(head), pd.DataFrame(np.empty((0, len(names))), columns=names)], axis=1)
    meta[REASON_COLUMN] = pd.Series([], dtype=np.int8)
    return arch.map_batches(partial(_frame_with_reasons, settings=cfg), meta=meta, label="multiband-features"), cfg


def load_multiband_features(source, settings: MultibandSettings | None = None, client=None):
    """:class:`~lia_dask.train.data.FeatureTable` of a labelled archive's multi-band features (for training)."""
    from ..train.data import FeatureTable

    from .extract import REASON_COLUMN

    ddf, cfg = extract_multiband_archive(str(source), settings)
    df = ddf.compute() if client is None else client.compute(ddf).result()
    bad = df[REASON_COLUMN].to_numpy() != 0
    df = df.loc[~bad].drop(columns=REASON_COLUMN).reset_index(drop=True)
    if len(df) == 0:
        raise InputError(f"{source} has no object with computable multi-band features.")
    return FeatureTable(df, cfg.feature_names(), int(bad.sum()), cfg.to_dict(), str(source))


__all__ = ["BAND_ORDER", "CROSS_NAMES", "MULTIBAND_FEATURE_SET", "MultibandSettings", "extract_multiband_archive",
           "is_multiband", "joint_pspl_features", "load_multiband_features", "multiband_frame", "sort_bands"]
