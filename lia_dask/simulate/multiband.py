"""Multi-band training sets: every band of an object from one physical model, on per-band cadences.

What is chromatic and what is not (the physics a multi-band classifier must learn):

- **ML** — microlensing is achromatic: one ``A(u(t))`` with shared ``(t0, u0, tE)`` magnifies the
  source in every band; the blend has its own colour, so the blend ratio differs per band
  (``b_band = b_r 10^(-0.4 (c_blend,band - c_source,band))``) and the observed amplitude with it.
- **VARIABLE** (RR Lyrae) — the Sesar et al. (2010) template of each band (``y`` takes ``z``), with
  band amplitudes falling to the red (``A_band / A_g``: u 1.05, g 1, r 0.78, i 0.62, z 0.58, y 0.55).
- **LPV** (Mira) — the OGLE-III periods and I-band amplitudes, very red colours and amplitudes
  larger in the blue (u 2.5, g 2.2, r 1.8, i 1, z 0.75, y 0.6 times the I amplitude).
- **CV** — dwarf-nova outbursts at the same times in all bands, bluer in outburst (amplitudes
  u 1.15 ... y 0.83 of r's).
- **CONSTANT** — stellar colours only.

Noise per band in nJy from the LSST single-visit depth ``m5`` (Ivezić et al. 2019, eq. 5:
``σ² = (0.04 - γ) x + γ x²``, ``x = 10^(0.4 (m - m5))``, plus 0.005 mag systematic); ``difference=True``
writes difference fluxes (the baseline subtracted), as DIA photometry gives them.

Quality cuts (every class model draws again until its object passes, up to ``max_attempts``):
ML needs ``ml_n1`` epochs (all bands) within ``t0 ± tE``, one at ``>= ml_min_z`` σ above the baseline
and ``ml_frac_significant`` of them at ``>= 3`` σ; CV needs ``cv_n1`` epochs in outburst, one at
``>= 3`` σ. A cadence too short for a cut fails with an error naming the CLI flag.

Parameters of the class models come from :class:`~lia_dask.simulate.config.SimulationConfig`
(``u0_range``, ``tE_*``, ``blend_range``, ``cv_*``, ``rrab_*`` / ``rrc_*``) and the shared class
models of :mod:`lia_dask.simulate.models`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema as S
from ..batch import LightcurveBatch
from ..errors import InputError
from . import models
from .cadence import CadencePool
from .config import SimulationConfig
from .noise import NJY_ZEROPOINT
from .templates import mira_table, rrlyrae_templates

#: LSST single-visit 5σ depth (AB mag, 30 s) and γ per band (Ivezić et al. 2019, Table 2)
LSST_M5 = {"u": 23.7, "g": 24.97, "r": 24.52, "i": 24.13, "z": 23.56, "y": 22.55}
LSST_GAMMA = {"u": 0.038, "g": 0.039, "r": 0.039, "i": 0.039, "z": 0.039, "y": 0.039}
#: colour slopes of stellar SEDs relative to r, per unit g - r: m_band - m_r = k (g - r) + c
_STELLAR = {"u": (2.2, 0.4), "g": (1.0, 0.0), "r": (0.0, 0.0), "i": (-0.4, 0.0), "z": (-0.55, -0.02),
            "y": (-0.62, -0.05)}
_RRL_AMP = {"u": 1.05, "g": 1.0, "r": 0.78, "i": 0.62, "z": 0.58, "y": 0.55}
_MIRA_OFFSET = {"u": 4.5, "g": 3.0, "r": 1.5, "i": 0.0, "z": -0.6, "y": -1.0}  # relative to i
_MIRA_AMP = {"u": 2.5, "g": 2.2, "r": 1.8, "i": 1.0, "z": 0.75, "y": 0.6}
_CV_AMP = {"u": 1.15, "g": 1.1, "r": 1.0, "i": 0.92, "z": 0.87, "y": 0.83}


@dataclass(frozen=True)
class MultibandSimConfig:
    """Settings of the multi-band simulation.

    Attributes
    ----------
    base : SimulationConfig
        Classes, seed, class-model parameters, quality cuts (``ml_n1``, ``ml_min_z``,
        ``ml_frac_significant``, ``cv_n1``), ``max_attempts``.
    min_mag, max_mag : float
        Reference magnitude (r; i for Miras) of the baseline, uniform.
    m5 : dict of str to float
        Single-visit 5σ depth per band; bands missing here take ``default_m5``.
    default_m5 : float
    sys_mag : float
        Systematic error floor (mag) added in quadrature.
    difference : bool
        Write difference fluxes (baseline subtracted; may be negative) instead of total fluxes.
    photometry : {"flux", "mag"}
        nJy fluxes (zero point 31.4) or AB magnitudes (only without ``difference``).
    """

    base: SimulationConfig = field(default_factory=SimulationConfig)
    min_mag: float = 16.0
    max_mag: float = 23.0
    m5: dict = field(default_factory=lambda: dict(LSST_M5))
    default_m5: float = 24.0
    sys_mag: float = 0.005
    difference: bool = False
    photometry: str = "flux"

    def __post_init__(self) -> None:
        if self.photometry not in ("flux", "mag"):
            raise InputError(f"photometry must be 'flux' or 'mag', got {self.photometry!r}.")
        if self.difference and self.photometry != "flux":
            raise InputError("difference=True needs photometry='flux' (difference fluxes can be negative).")
        if not self.min_mag <= self.max_mag:
            raise InputError(f"min_mag ({self.min_mag}) must not exceed max_mag ({self.max_mag}).")


def _sigma_mag(mag: np.ndarray, m5: np.ndarray, gamma: np.ndarray, sys_mag: float) -> np.ndarray:
    x = 10.0 ** (0.4 * (mag - m5))
    return np.sqrt(np.maximum((0.04 - gamma) * x + gamma * x * x, 0.0) + sys_mag ** 2)


def _check_cadences(label: str, pool: CadencePool, cfg: SimulationConfig) -> None:
    need = {"ML": ("ml_n1", "--ml-n1"), "CV": ("cv_n1", "--cv-n1")}.get(label)
    if need is None:
        return
    n1 = getattr(cfg, need[0])
    if pool.lengths.max() < n1:
        raise InputError(f"no cadence has the {n1} epochs a {label} object needs within its event ({need[0]}); "
                         f"the longest has {pool.lengths.max()}: lower {need[1]} or give denser cadences.")


def _colours(rng, n: int, lo: float, hi: float) -> np.ndarray:
    return rng.uniform(lo, hi, n)


def _stellar_offset(band: str, gr: np.ndarray) -> np.ndarray:
    k, c = _STELLAR.get(band, (0.0, 0.0))
    return k * gr + c


def _class_mags(label: str, rng, n: int, off: np.ndarray, t: np.ndarray, bnames: np.ndarray, pool: CadencePool,
                ci: np.ndarray, cfg: MultibandSimConfig) -> tuple[np.ndarray, np.ndarray, dict, np.ndarray | None]:
    """Noise-free magnitudes (m,), baseline magnitudes (m,), truth (n,), event window mask (m,) or None."""
    sc = cfg.base
    obj = np.repeat(np.arange(n), np.diff(off))
    mref = rng.uniform(cfg.min_mag, cfg.max_mag, n)
    prm: dict[str, np.ndarray] = {"sim_m0": mref}
    gr = _colours(rng, n, 0.1, 1.4)
    base = np.empty(len(t))
    ub = np.unique(bnames)
    if label in ("CONSTANT", "ML"):
        for b in ub:
            s = bnames == b
            base[s] = mref[obj[s]] + _stellar_offset(b, gr[obj[s]])
        if label == "CONSTANT":
            return base.copy(), base, prm, None
        lo, hi = sc.u0_range
        u0 = np.maximum(rng.uniform(lo, hi, n), 1e-4)
        tE = np.maximum(rng.normal(sc.tE_mean, sc.tE_std, n), sc.tE_min)
        tmin, tmax = pool.stats["tmin"][ci], pool.stats["tmax"][ci]
        t0 = rng.uniform(tmin - tE / 2, tmax + tE / 2) if sc.t0_range is None else rng.uniform(*sc.t0_range, n)
        blend_r = rng.uniform(*sc.blend_range, n)
        gr_blend = _colours(rng, n, 0.1, 1.4)
        u = np.sqrt(u0[obj] ** 2 + ((t - t0[obj]) / tE[obj]) ** 2)
        A = models.pspl_magnification(u)
        mag = np.empty(len(t))
        for b in ub:
            s = bnames == b
            o = obj[s]
            bb = blend_r[o] * 10.0 ** (-0.4 * (_stellar_offset(b, gr_blend[o]) - _stellar_offset(b, gr[o])))
            mag[s] = base[s] - 2.5 * np.log10((A[s] + bb) / (1.0 + bb))
        prm.update(sim_u0=u0, sim_tE=tE, sim_t0=t0, sim_blend=blend_r)
        return mag, base, prm, np.abs(t - t0[obj]) <= tE[obj]
    if label == "VARIABLE":
        gr = _colours(rng, n, 0.0, 0.35)
        tpl_g = rrlyrae_templates("g")
        is_ab = rng.random(n) < sc.rrlyrae_ab_fraction
        rows_ab, rows_c = np.flatnonzero(~tpl_g.is_rrc), np.flatnonzero(tpl_g.is_rrc)
        template = np.where(is_ab, rng.choice(rows_ab, n), rng.choice(rows_c, n))
        per = np.where(is_ab, np.clip(rng.normal(*sc.rrab_period[:2], n), *sc.rrab_period[2:]),
                       np.clip(rng.normal(*sc.rrc_period[:2], n), *sc.rrc_period[2:]))
        amp_g = np.where(is_ab, rng.uniform(*sc.rrab_amplitude, n), rng.uniform(*sc.rrc_amplitude, n))
        phase0 = rng.random(n)
        mag = np.empty(len(t))
        for b in ub:
            s = bnames == b
            o = obj[s]
            base[s] = mref[o] + _stellar_offset(b, gr[o])
            tpl = rrlyrae_templates(b if b in ("u", "g", "r", "i", "z") else ("z" if b == "y" else "i"))
            mag[s] = models.rrlyrae_magnitudes(t[s], o, mref + 0.0, per, phase0, amp_g * _RRL_AMP.get(b, 0.7),
                                               template, tpl) - mref[o] + base[s]
        prm.update(sim_period=per, sim_amplitude=amp_g)
        return mag, base, prm, None
    if label == "LPV":
        table = mira_table()
        row = rng.integers(0, len(table), n)
        periods = table[row][:, 0::2]
        amps = table[row][:, 1::2].copy()
        amps[:, 1:] = np.where(amps[:, 1:] > amps[:, :1], 0.0, amps[:, 1:])
        semi = amps / 2.0
        phases = 2 * np.pi * rng.random((n, 3))
        mag = np.empty(len(t))
        for b in ub:
            s = bnames == b
            o = obj[s]
            base[s] = mref[o] + _MIRA_OFFSET.get(b, 0.0)
            mag[s] = models.mira_magnitudes(t[s], o, mref, periods, semi * _MIRA_AMP.get(b, 1.0), phases) \
                - mref[o] + base[s]
        prm.update(sim_period=periods[:, 0], sim_amplitude=amps[:, 0])
        return mag, base, prm, None
    if label == "CV":
        gr = _colours(rng, n, -0.1, 0.5)
        P = np.maximum(np.abs(rng.normal(sc.cv_period_mean, sc.cv_period_std, n)), sc.cv_period_min)
        A = rng.uniform(*sc.cv_amplitude_range, n)
        tmin, tmax = pool.stats["tmin"][ci], pool.stats["tmax"][ci]
        s1 = tmin + rng.random(n) * (np.minimum(tmin + P, tmax) - tmin)
        K = np.maximum(np.ceil((tmax - s1) / P), 0).astype(np.int64)
        out_off = np.r_[0, np.cumsum(K)].astype(np.int64)
        which = np.repeat(np.arange(n), K)
        kk = np.arange(len(which)) - out_off[which]
        start = s1[which] + kk * P[which]
        d = 3.0 + rng.random(len(which)) * (P[which] / 10.0 - 3.0)
        r = 0.5 + rng.random(len(which)) * 0.5
        h = np.clip(rng.normal(0.4 * d, 0.2 * d), 0.0, 0.9 * (d - r))
        order = np.lexsort((t, obj))  # cv_magnitudes needs epochs sorted within each object
        shape = np.empty(len(t))
        shape[order] = models.cv_magnitudes(t[order], off, np.zeros(n), np.ones(n), out_off, start, start + r,
                                            start + r + h, start + d)  # 0 quiescent .. -1 at maximum
        mag = np.empty(len(t))
        for b in ub:
            s = bnames == b
            o = obj[s]
            base[s] = mref[o] + _stellar_offset(b, gr[o])
            mag[s] = base[s] + shape[s] * A[o] * _CV_AMP.get(b, 1.0)
        prm.update(sim_period=P, sim_amplitude=A, sim_t0=s1)
        return mag, base, prm, shape < 0
    raise InputError(f"unknown class name {label!r}; choose from {list(S.CLASSES)}.")


def _passes(label: str, z: np.ndarray, window: np.ndarray | None, obj: np.ndarray, n: int,
            cfg: SimulationConfig) -> np.ndarray:
    if window is None:
        return np.ones(n, bool)
    inwin = np.bincount(obj[window], minlength=n)
    sig = np.bincount(obj[window & (z >= 3.0)], minlength=n)
    if label == "ML":
        peak = np.zeros(n)
        np.maximum.at(peak, obj[window], z[window])
        return (inwin >= cfg.ml_n1) & (peak >= cfg.ml_min_z) & (sig >= cfg.ml_frac_significant * np.maximum(inwin, 1))
    return (inwin >= cfg.cv_n1) & (sig >= 1)


def simulate_multiband_class(label: str, n: int, pool: CadencePool, cfg: MultibandSimConfig, seed: int
                             ) -> tuple[LightcurveBatch, int]:
    """``n`` objects of one class; returns the batch (rows per (object, band)) and the attempts used."""
    _check_cadences(label, pool, cfg.base)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(S.CLASSES.index(label),)))
    names = np.asarray(pool.band_names, dtype=object)
    pending, attempts, pieces = n, 0, []
    while pending:
        attempts += 1
        if attempts > cfg.base.max_attempts:
            flag = "--ml-n1 / --ml-min-z" if label == "ML" else "--cv-n1"
            raise InputError(f"{pending} {label} objects failed the quality cuts in {cfg.base.max_attempts} attempts: "
                             f"the cadences rarely sample an event well; lower {flag} or give denser cadences.")
        ci = rng.integers(0, pool.n_cadences, pending)
        off, t, bcode = pool.gather(ci)
        bnames = names[bcode].astype(str)
        mag, base, prm, window = _class_mags(label, rng, pending, off, t, bnames, pool, ci, cfg)
        obj = np.repeat(np.arange(pending), np.diff(off))
        m5 = np.array([cfg.m5.get(b, cfg.default_m5) for b in bnames]) if len(t) else np.zeros(0)
        gamma = np.array([LSST_GAMMA.get(b, 0.039) for b in bnames]) if len(t) else np.zeros(0)
        sig_m = _sigma_mag(mag, m5, gamma, cfg.sys_mag)
        f_true = 10.0 ** (-0.4 * (mag - NJY_ZEROPOINT))
        f_err = f_true * sig_m / 1.0857362047581294
        f_obs = f_true + rng.standard_normal(len(t)) * f_err
        f_base = 10.0 ** (-0.4 * (base - NJY_ZEROPOINT))
        z = (f_obs - f_base) / f_err
        ok = _passes(label, z, window, obj, pending, cfg.base)
        keep = np.flatnonzero(ok)
        if len(keep):
            sel = np.isin(obj, keep)
            if cfg.photometry == "mag":
                y = NJY_ZEROPOINT - 2.5 * np.log10(np.maximum(f_obs, 1e-3 * f_err))
                e = 1.0857362047581294 * f_err / np.maximum(f_obs, 1e-3 * f_err)
            else:
                y = f_obs - f_base if cfg.difference else f_obs
                e = f_err
            pieces.append((obj[sel], t[sel], bnames[sel], y[sel], e[sel], {k: v[keep] for k, v in prm.items()}, keep))
        pending -= len(keep)
    return _assemble(label, pieces, n, cfg), attempts


def _assemble(label: str, pieces, n: int, cfg: MultibandSimConfig) -> LightcurveBatch:
    from ..features.multiband import sort_bands

    o_all, t_all, b_all, y_all, e_all, truth = [], [], [], [], [], {}
    base = 0
    for obj, t, b, y, e, prm, keep in pieces:
        remap = np.full(int(obj.max()) + 1 if len(obj) else 0, -1, np.int64)
        remap[keep] = base + np.arange(len(keep))
        o_all.append(remap[obj])
        t_all.append(t)
        b_all.append(b)
        y_all.append(y)
        e_all.append(e)
        for k, v in prm.items():
            truth.setdefault(k, []).append(v)
        base += len(keep)
    obj, t, b = np.concatenate(o_all), np.concatenate(t_all), np.concatenate(b_all)
    y, e = np.concatenate(y_all), np.concatenate(e_all)
    rank = {x: k for k, x in enumerate(sort_bands(np.unique(b)))}
    br = np.array([rank[x] for x in b], dtype=np.int64)
    order = np.lexsort((t, br, obj))
    obj, t, b, br, y, e = obj[order], t[order], b[order], br[order], y[order], e[order]
    key = obj * (len(rank) + 1) + br
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    row_obj = obj[starts]
    extra = {k: np.concatenate(v)[row_obj] for k, v in truth.items()}
    return LightcurveBatch(row_obj.astype(np.int64), b[starts].astype(object), np.r_[starts, len(t)].astype(np.int64),
                           t, y, e, cfg.photometry, NJY_ZEROPOINT, np.full(len(starts), label, dtype=object), extra)


def simulate_multiband(pool: CadencePool, n_per_class: int | dict, config: MultibandSimConfig | None = None, *,
                       seed: int | None = None, id_offset: int = 0) -> LightcurveBatch:
    """A labelled multi-band batch: ``n_per_class`` objects of each class of ``config.base.classes``.

    Object ids are ``id_offset + k`` in class order; rows of an object are adjacent, bands in
    wavelength order. Deterministic for a given ``seed`` (default ``config.base.seed``).
    """
    from ..batch import concat_batches

    cfg = config or MultibandSimConfig()
    seed = cfg.base.seed if seed is None else seed
    counts = n_per_class if isinstance(n_per_class, dict) else {c: int(n_per_class) for c in cfg.base.classes}
    parts, start = [], id_offset
    for label in cfg.base.classes:
        k = int(counts.get(label, 0))
        if k <= 0:
            continue
        b, _ = simulate_multiband_class(label, k, pool, cfg, seed)
        parts.append(LightcurveBatch(b.object_id + start, b.band, b.offsets, b.time, b.y, b.yerr, b.photometry,
                                     b.zeropoint, b.label, b.extra))
        start += k
    keys = set.union(*(set(p.extra) for p in parts)) if parts else set()
    parts = [LightcurveBatch(p.object_id, p.band, p.offsets, p.time, p.y, p.yerr, p.photometry, p.zeropoint, p.label,
                             {k: p.extra.get(k, np.full(len(p), np.nan)) for k in keys}) for p in parts]
    return concat_batches(parts)


def _simulate_part(index: int, counts: dict, pool: CadencePool, cfg: MultibandSimConfig, seed: int, id_offset: int,
                   out: str) -> dict:
    from ..archive.lightcurves import write_partition

    batch = simulate_multiband(pool, counts, cfg, seed=seed, id_offset=id_offset)
    part = write_partition(batch, out, index, "MJD-TAI" if pool.time.min() > 40000 else S.DEFAULT_TIME_SYSTEM)
    return part


def simulate_multiband_archive(pool: CadencePool, n_per_class: int | dict, out: str | os.PathLike,
                               config: MultibandSimConfig | None = None, *, partition_objects: int = 5000,
                               client=None, overwrite: bool = False):
    """Simulate a multi-band training archive, one task per part of ``partition_objects`` objects.

    Part ``i`` draws from seed ``(config.base.seed, i)``, so the archive does not depend on the
    cluster. Returns the :class:`~lia_dask.archive.Archive`.
    """
    import dask

    from ..archive import open_archive
    from .simulate import _prepare_out
    from ..archive.lightcurves import write_summary
    from ..cluster import compute_with_progress

    cfg = config or MultibandSimConfig()
    counts = n_per_class if isinstance(n_per_class, dict) else {c: int(n_per_class) for c in cfg.base.classes}
    for label in counts:
        _check_cadences(label, pool, cfg.base)  # fail before any task runs
    total = sum(counts.values())
    n_parts = max(1, int(np.ceil(total / partition_objects)))
    outp = Path(out)
    _prepare_out(outp, overwrite)
    tasks, id_offset = [], 0
    for i in range(n_parts):
        share = {c: (v * (i + 1)) // n_parts - (v * i) // n_parts for c, v in counts.items()}
        seed = int(np.random.SeedSequence((cfg.base.seed, i)).generate_state(1)[0])
        tasks.append(dask.delayed(_simulate_part)(i, share, pool, cfg, seed, id_offset, str(outp)))
        id_offset += sum(share.values())
    parts = compute_with_progress(tasks, client)
    write_summary(outp, parts, cfg.photometry, NJY_ZEROPOINT, "MJD-TAI" if pool.time.min() > 40000 else
                  S.DEFAULT_TIME_SYSTEM, {"per_class": counts, "difference": cfg.difference})
    return open_archive(outp)


def _shares(n: int, mix: dict) -> dict:
    """``n`` objects split by the fractions of ``mix`` (largest remainders; the counts sum to ``n``)."""
    w = np.array([float(v) for v in mix.values()])
    exact = n * w / w.sum()
    k = np.floor(exact).astype(np.int64)
    k[np.argsort(exact - k)[::-1][: n - int(k.sum())]] += 1
    return {c: int(v) for c, v in zip(mix, k)}


def simulate_hats_pixel(pixel, n: int, id_offset: int, seed: int, pool: CadencePool, mix: dict,
                        config: "MultibandSimConfig | None" = None, hats_config=None):
    """``n`` simulated objects inside one HEALPix pixel, as a DP1-schema NestedFrame (one catalog task).

    Parameters
    ----------
    pixel : hats.pixel_math.HealpixPixel
    n : int
        Objects in the pixel, split over classes by the fractions ``mix`` (e.g. ``{"CONSTANT": 0.98,
        "ML": 0.02}``); ids ``id_offset .. id_offset + n - 1``.
    seed : int
    pool : CadencePool
        Per-band cadences (e.g. ``synthetic_cadences("lsst", ...)``).
    config : MultibandSimConfig, optional
    hats_config : lia_dask.archive.hats.HatsConfig, optional
        Column names (default: the ``rubin`` preset).

    Returns
    -------
    nested_pandas.NestedFrame
        One row per object, index ``_healpix_29`` sorted, positions uniform over the pixel, a
        ``label`` column (truth), the nested forced photometry in nJy.
    """
    from cdshealpix.nested import healpix_to_lonlat
    from hats.pixel_math.spatial_index import compute_spatial_index

    from ..archive.hats import SPATIAL_INDEX, batch_to_nested

    batch = simulate_multiband(pool, _shares(int(n), mix), config, seed=seed, id_offset=id_offset)
    rng = np.random.default_rng(np.random.SeedSequence((seed, 1)))
    shift = 2 * (29 - pixel.order)
    cell = rng.integers(pixel.pixel << shift, (pixel.pixel + 1) << shift, int(n))  # uniform over the pixel
    lon, lat = healpix_to_lonlat(cell, 29)
    ra, dec = np.asarray(lon.deg, np.float64), np.asarray(lat.deg, np.float64)
    frame = batch_to_nested(batch, ra, dec, hats_config, detection_snr=None, seed=seed)
    frame.index = pd.Index(compute_spatial_index(ra, dec), name=SPATIAL_INDEX)
    return frame.sort_index(kind="stable")


def simulate_hats_catalog(pool: CadencePool, n_objects: int, out: str | os.PathLike, mix: dict | None = None,
                          config: "MultibandSimConfig | None" = None, *, objects_per_pixel: int = 5000,
                          order: int = 6, first_pixel: int = 10_000, seed: int = 0, hats_config=None,
                          compression_level: int | None = 3, overwrite: bool = False) -> Path:
    """A synthetic multi-band HATS catalog of any size, generated and written pixel by pixel.

    ``ceil(n_objects / objects_per_pixel)`` adjacent HEALPix pixels of ``order`` (nested numbering
    from ``first_pixel``), each one task that simulates its objects (:func:`simulate_hats_pixel`)
    and that lsdb writes (:func:`lia_dask.archive.hats.write_generated_catalog`): the catalog is
    never in memory, a worker holds one pixel at a time. Pixel ``i`` draws from seed ``(seed, i)``,
    so the catalog does not depend on the cluster. Runs on Dask's current scheduler.

    Parameters
    ----------
    pool : CadencePool
    n_objects : int
    out : path-like
    mix : dict, optional
        Class fractions (default 98 % ``CONSTANT``, 2 % ``ML``).
    config : MultibandSimConfig, optional
    objects_per_pixel, order, first_pixel : int
        Partitioning: the last pixel holds the remainder.
    hats_config : HatsConfig, optional
    compression_level : int or None
        ZSTD level of the pixel files (None: hats' default 15, ~2x slower to build).
    overwrite : bool

    Returns
    -------
    Path of the catalog (labels in the ``label`` column).
    """
    from hats.pixel_math import HealpixPixel

    from ..archive.hats import write_generated_catalog

    mix = mix or {"CONSTANT": 0.98, "ML": 0.02}
    for label in mix:
        _check_cadences(label, pool, (config or MultibandSimConfig()).base)  # fail before any task runs
    n_pix = max(1, -(-int(n_objects) // int(objects_per_pixel)))
    if first_pixel + n_pix > 12 * 4 ** order:
        raise InputError(f"{n_pix} pixels of order {order} from pixel {first_pixel} pass the sky's "
                         f"{12 * 4 ** order}; raise objects_per_pixel or the order.")
    counts = [min(objects_per_pixel, n_objects - i * objects_per_pixel) for i in range(n_pix)]
    pixels = [HealpixPixel(order, first_pixel + i) for i in range(n_pix)]
    seeds = [int(np.random.SeedSequence((seed, i)).generate_state(1)[0]) for i in range(n_pix)]
    offsets = np.r_[0, np.cumsum(counts)[:-1]].astype(int).tolist()
    gen = partial(simulate_hats_pixel, pool=pool, mix=mix, config=config, hats_config=hats_config)
    meta = gen(pixels[0], n=max(len(mix), 2), id_offset=0, seed=0).iloc[:0]
    return write_generated_catalog(gen, pixels, meta, out, map_kwargs={"n": counts, "id_offset": offsets,
                                                                          "seed": seeds},
                                   compression_level=compression_level, overwrite=overwrite)


__all__ = ["LSST_M5", "MultibandSimConfig", "simulate_hats_catalog", "simulate_hats_pixel", "simulate_multiband",
           "simulate_multiband_archive", "simulate_multiband_class"]
