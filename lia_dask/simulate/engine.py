"""Simulate the lightcurves of a range of objects (runs inside one task; no Dask, no I/O).

Object ``k`` of class ``c`` draws every random number from its own stream
``Generator(PCG64(SeedSequence(seed, spawn_key=(CLASS_CODE[c], k))))``, in a fixed order per
attempt (parameters, then noise), so its lightcurve is bit-identical whatever range, partition
or worker simulates it. Parameters are drawn per object; model evaluation, noise and the
quality cuts run vectorized over all pending objects of a range at once.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from .. import schema as S
from ..batch import LightcurveBatch, _ragged_index_from
from ..errors import InputError
from . import models, quality
from .cadence import CadencePool
from .config import SimulationConfig
from .noise import NJY_ZEROPOINT
from .templates import mira_table, rrlyrae_templates

#: stream key of each class (fixed, independent of which classes are simulated)
CLASS_CODE = {c: i for i, c in enumerate(S.CLASSES)}
SIM_FLOAT = ("sim_m0", "sim_t0", "sim_u0", "sim_tE", "sim_blend", "sim_period", "sim_amplitude")
SIM_INT = ("sim_template", "sim_n_outbursts", "sim_attempts", "sim_cadence", "sim_n_dropped", "sim_index")
#: objects simulated together inside a task (bounds the per-epoch temporaries of one attempt)
BLOCK = 4096
#: uniforms drawn per attempt: [cadence, m0, class parameters...]
N_UNIFORM = {"CONSTANT": 2, "ML": 6, "CV": 5, "LPV": 6, "VARIABLE": 7}


def object_generator(seed: int, label: str, k: int) -> np.random.Generator:
    """The random stream of object ``k`` of class ``label``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(CLASS_CODE[label], int(k)))))


def _normal(u, mean, std):
    return mean + std * ndtri(u)


def _truncnorm(u, mean, std, low=-np.inf, high=np.inf):
    if std == 0:
        return np.clip(np.full_like(u, mean), low, high)
    a, b = ndtr((low - mean) / std), ndtr((high - mean) / std)
    return mean + std * ndtri(a + u * (b - a))


def _folded_truncnorm(u, mean, std, low):
    """|X| for X ~ N(mean, std) conditioned on |X| >= low."""
    p_lo = ndtr((-low - mean) / std)
    c_hi = ndtr((low - mean) / std)
    v = u * (p_lo + 1.0 - c_hi)
    x = np.where(v < p_lo, mean + std * ndtri(np.minimum(v, p_lo)),
                 mean + std * ndtri(np.minimum(c_hi + (v - p_lo), 1.0 - 1e-16)))
    return np.maximum(np.abs(x), low)


# ------------------------------------------------------------------------- class models
def _model(label, U, pos, gens, pool, ci, m0, off, t, obj, cfg):
    """Parameters and noise-free magnitudes for one attempt of ``len(U)`` objects.

    Returns (mag (m,), params dict of (p,) arrays, pre-noise pass mask (p,) or None, cv outbursts or None).
    """
    p = len(U)
    prm = {"sim_m0": m0}
    if label == "CONSTANT":
        return np.repeat(m0, np.diff(off)), prm, None, None
    if label == "ML":
        lo, hi = cfg.u0_range
        u0 = np.maximum(lo + U[:, 2] * (hi - lo), 1e-9)
        tE = _truncnorm(U[:, 3], cfg.tE_mean, cfg.tE_std, cfg.tE_min)
        if cfg.t0_range is None:
            a, b = pool.stats["q01"][ci] - tE / 2, pool.stats["q99"][ci] + tE / 2
        else:
            a, b = np.full(p, cfg.t0_range[0]), np.full(p, cfg.t0_range[1])
        t0 = a + U[:, 4] * (b - a)
        blo, bhi = cfg.blend_range
        blend = blo + U[:, 5] * (bhi - blo)
        prm.update(sim_u0=u0, sim_tE=tE, sim_t0=t0, sim_blend=blend,
                   sim_amplitude=2.5 * np.log10((models.pspl_magnification(u0) + blend) / (1 + blend)))
        return models.pspl_magnitudes(t, obj, m0, t0, u0, tE, blend), prm, None, None
    if label == "CV":
        P = _folded_truncnorm(U[:, 2], cfg.cv_period_mean, cfg.cv_period_std, cfg.cv_period_min)
        alo, ahi = cfg.cv_amplitude_range
        A = alo + U[:, 3] * (ahi - alo)
        tmin, tmax = pool.stats["tmin"][ci], pool.stats["tmax"][ci]
        s1 = tmin + U[:, 4] * (np.minimum(tmin + P, tmax) - tmin)
        K = np.maximum(np.ceil((tmax - s1) / P), 0).astype(np.int64)
        out_off = np.zeros(p + 1, np.int64)
        np.cumsum(K, out=out_off[1:])
        V = np.empty((int(out_off[-1]), 3))
        for j in range(p):
            if K[j]:
                V[out_off[j]:out_off[j + 1]] = gens[pos[j]].random(3 * K[j]).reshape(K[j], 3)
        which = np.repeat(np.arange(p), K)
        kk = np.arange(len(which)) - out_off[which]
        start = s1[which] + kk * P[which]
        d = 3.0 + V[:, 0] * (P[which] / 10.0 - 3.0)
        r = 0.5 + V[:, 1] * 0.5
        h = np.clip(_normal(V[:, 2], 0.4 * d, 0.2 * d), 0.0, 0.9 * (d - r))
        rise_end, high_end, end = start + r, start + r + h, start + d
        mag = models.cv_magnitudes(t, off, m0, A, out_off, start, rise_end, high_end, end)
        ok, k_star = quality.cv_structure(t, off, out_off, start, rise_end, high_end, end, n1=cfg.cv_n1, n2=cfg.cv_n2)
        prm.update(sim_period=P, sim_amplitude=A, sim_t0=s1, sim_n_outbursts=K)
        sel = np.maximum(k_star, 0)
        has = k_star >= 0
        window = (np.where(has, start[sel] if len(start) else 0.0, np.inf),
                  np.where(has, end[sel] if len(end) else 0.0, -np.inf))
        return mag, prm, ok, window
    if label == "LPV":
        table = mira_table()
        row = np.minimum((U[:, 2] * len(table)).astype(np.int64), len(table) - 1)
        periods = table[row][:, 0::2]
        amps = table[row][:, 1::2].copy()
        amps[:, 1:] = np.where(amps[:, 1:] > amps[:, :1], 0.0, amps[:, 1:])
        semi = amps / 2.0 if cfg.mira_peak_to_peak else amps
        phases = 2 * np.pi * U[:, 3:6] if cfg.mira_random_phase else np.zeros((p, 3))
        prm.update(sim_period=periods[:, 0], sim_amplitude=amps[:, 0], sim_template=row)
        return models.mira_magnitudes(t, obj, m0, periods, semi, phases), prm, None, None
    if label == "VARIABLE":
        tpl = rrlyrae_templates(cfg.rrlyrae_band)
        ab_rows, c_rows = np.flatnonzero(~tpl.is_rrc), np.flatnonzero(tpl.is_rrc)
        is_ab = U[:, 2] < cfg.rrlyrae_ab_fraction
        pick_ab = ab_rows[np.minimum((U[:, 3] * len(ab_rows)).astype(np.int64), len(ab_rows) - 1)]
        pick_c = c_rows[np.minimum((U[:, 3] * len(c_rows)).astype(np.int64), len(c_rows) - 1)]
        template = np.where(is_ab, pick_ab, pick_c)
        period = np.where(is_ab, _truncnorm(U[:, 4], *cfg.rrab_period), _truncnorm(U[:, 4], *cfg.rrc_period))
        amp = np.where(is_ab, cfg.rrab_amplitude[0] + U[:, 5] * (cfg.rrab_amplitude[1] - cfg.rrab_amplitude[0]),
                       cfg.rrc_amplitude[0] + U[:, 5] * (cfg.rrc_amplitude[1] - cfg.rrc_amplitude[0]))
        phase0 = U[:, 6]
        prm.update(sim_period=period, sim_amplitude=amp, sim_template=tpl.ids[template])
        return models.rrlyrae_magnitudes(t, obj, m0, period, phase0, amp, template, tpl), prm, None, None
    raise InputError(f"unknown class name {label!r}; choose from {list(S.CLASSES)}.")


def _check_pool(label: str, pool: CadencePool, cfg: SimulationConfig) -> None:
    n1 = {"ML": cfg.ml_n1, "CV": cfg.cv_n1}.get(label)
    if n1 is not None and pool.lengths.max() < n1:
        knob = "ml_n1" if label == "ML" else "cv_n1"
        raise InputError(f"no cadence has the {n1} epochs a {label} event needs ({knob}); the longest has "
                         f"{pool.lengths.max()}: give denser cadences or lower {knob}.")


def simulate_class(label: str, ks: np.ndarray, pool: CadencePool, cfg: SimulationConfig) -> dict:
    """Simulate objects ``ks`` (indices within the class) of one class.

    Returns
    -------
    dict
        ``offsets`` (n+1,), ``time``, ``band`` (int8), ``y``, ``yerr`` (m,) and the
        ``sim_*`` arrays (n,), in the order of ``ks``.
    """
    ks = np.asarray(ks, np.int64)
    n = len(ks)
    _check_pool(label, pool, cfg)
    nm = cfg.noise_model
    gens = [object_generator(cfg.seed, label, k) for k in ks]
    nu = N_UNIFORM[label]
    pending = np.arange(n)
    attempts = np.zeros(n, np.int64)
    cad = np.zeros(n, np.int64)
    base = np.zeros(n)
    pieces = []
    first = True
    while len(pending):
        attempts[pending] += 1
        if attempts[pending[0]] > cfg.max_attempts:
            k = int(ks[pending[0]])
            knob = "ml_n1" if label == "ML" else "cv_n1"
            raise InputError(
                f"{label} object {k} failed the quality cuts in {cfg.max_attempts} attempts; the cadences rarely "
                f"sample an event well enough: lower {knob}, relax the cuts, or give denser cadences.")
        U = np.empty((len(pending), nu))
        for j, i in enumerate(pending):
            U[j] = gens[i].random(nu)
        if first or cfg.redraw_cadence:
            cad[pending] = np.minimum((U[:, 0] * pool.n_cadences).astype(np.int64), pool.n_cadences - 1)
            base[pending] = cfg.min_mag + U[:, 1] * (cfg.max_mag - cfg.min_mag)
        first = False
        ci, m0 = cad[pending], base[pending]
        off, t, band = pool.gather(ci)
        lens = np.diff(off)
        obj = np.repeat(np.arange(len(pending)), lens)
        mag, prm, ok_pre, window = _model(label, U, pending, gens, pool, ci, m0, off, t, obj, cfg)
        go = np.arange(len(pending)) if ok_pre is None else np.flatnonzero(ok_pre)
        draws = np.zeros(len(t))
        if nm.kind == "photon":
            lam = nm.expected_counts(mag)
            for j in go:
                a, b = off[j], off[j + 1]
                draws[a:b] = gens[pending[j]].poisson(lam[a:b])
        else:
            for j in go:
                a, b = off[j], off[j + 1]
                draws[a:b] = gens[pending[j]].standard_normal(b - a)
        mag_obs, magerr, rel = nm.observe(mag, draws)
        if label == "ML":
            ok = quality.ml_quality(t, mag_obs, magerr, obj, m0, prm["sim_t0"], prm["sim_tE"], n_min=cfg.ml_n1,
                                    min_z=cfg.ml_min_z, frac_significant=cfg.ml_frac_significant,
                                    min_brightening=cfg.ml_min_brightening)
        elif label == "CV":
            ok = ok_pre
            if cfg.cv_min_z is not None:
                ok = ok & quality.cv_visible(t, mag_obs, magerr, obj, m0, window[0], window[1], min_z=cfg.cv_min_z)
        else:
            ok = np.ones(len(pending), bool)
        if cfg.photometry == "flux":
            f = 10.0 ** (-0.4 * (mag - NJY_ZEROPOINT))
            y, yerr = f * rel[0], f * rel[1]
        else:
            y, yerr = mag_obs, magerr
        acc = np.flatnonzero(ok)
        if len(acc):
            idx = _ragged_index_from(off[acc], lens[acc])
            piece = {"pos": pending[acc], "lens": lens[acc], "time": t[idx], "band": band[idx], "y": y[idx],
                     "yerr": yerr[idx], "sim_cadence": ci[acc]}
            piece.update({k: np.asarray(v)[acc] for k, v in prm.items()})
            pieces.append(piece)
        pending = pending[~ok]
    return _assemble(pieces, n, ks, attempts)


def _assemble(pieces: list[dict], n: int, ks: np.ndarray, attempts: np.ndarray) -> dict:
    pos = np.concatenate([p["pos"] for p in pieces]) if pieces else np.empty(0, np.int64)
    lens_acc = np.concatenate([p["lens"] for p in pieces]) if pieces else np.empty(0, np.int64)
    order = np.argsort(pos, kind="stable")  # accepted order -> object order
    starts = np.concatenate([[0], np.cumsum(lens_acc)[:-1]]).astype(np.int64) if len(pos) else pos
    idx = _ragged_index_from(starts[order], lens_acc[order])
    out = {"offsets": np.concatenate([[0], np.cumsum(lens_acc[order])]).astype(np.int64)}
    for key in ("time", "band", "y", "yerr"):
        out[key] = np.concatenate([p[key] for p in pieces])[idx] if pieces else np.empty(0)
    for key in SIM_FLOAT:
        vals = np.full(n, np.nan)
        for p in pieces:
            if key in p:
                vals[p["pos"]] = p[key]
        out[key] = vals
    for key in SIM_INT:
        vals = np.full(n, -1, np.int64)
        for p in pieces:
            if key in p:
                vals[p["pos"]] = p[key]
        out[key] = vals
    out["sim_attempts"] = attempts.copy()
    out["sim_index"] = ks.copy()
    return out


def simulate_range(plan: list[tuple[str, int]], start: int, stop: int, pool: CadencePool,
                   cfg: SimulationConfig) -> LightcurveBatch:
    """Objects ``start:stop`` of the training set laid out by ``plan`` as one batch.

    Parameters
    ----------
    plan : list of (label, count)
        Classes in output order; object ids are the global positions ``0 … Σ count - 1``.
    start, stop : int
        Global position range.

    Returns
    -------
    LightcurveBatch
        One row per (object, band), with ``label`` and the ``sim_*`` truth columns; epochs whose
        observed magnitude is not finite (non-positive noisy flux) are left out and counted in
        ``sim_n_dropped``.
    """
    parts, ids, labels, pos0 = [], [], [], 0
    for label, count in plan:
        a, b = max(start, pos0), min(stop, pos0 + count)
        for lo in range(a, b, BLOCK):  # blocks bound the temporaries; results do not depend on them
            hi = min(lo + BLOCK, b)
            parts.append(simulate_class(label, np.arange(lo - pos0, hi - pos0), pool, cfg))
            ids.append(np.arange(lo, hi, dtype=np.int64))
            labels.append(np.full(hi - lo, label, dtype=object))
        pos0 += count
    if not parts:
        raise InputError(f"the range {start}:{stop} holds no objects of the plan {plan}.")
    lens = np.concatenate([np.diff(p["offsets"]) for p in parts])
    off = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=off[1:])
    cat = {k: np.concatenate([p[k] for p in parts]) for k in ("time", "band", "y", "yerr")}
    extra = {k: np.concatenate([p[k] for p in parts]) for k in SIM_FLOAT + SIM_INT}
    ids, labels = np.concatenate(ids), np.concatenate(labels)
    # leave out non-finite epochs (recorded per object)
    bad = ~(np.isfinite(cat["y"]) & np.isfinite(cat["yerr"]))
    obj = np.repeat(np.arange(len(lens)), lens)
    extra["sim_n_dropped"] = np.bincount(obj[bad], minlength=len(lens)).astype(np.int64)
    if bad.any():
        keep = ~bad
        cat = {k: v[keep] for k, v in cat.items()}
        obj = obj[keep]
        lens = np.bincount(obj, minlength=len(lens))
        off = np.zeros(len(lens) + 1, np.int64)
        np.cumsum(lens, out=off[1:])
    band_names = np.asarray(pool.band_names, dtype=object)
    zp = cfg.output_zeropoint
    if len(pool.band_names) == 1:
        return LightcurveBatch(ids, np.full(len(ids), band_names[0], dtype=object), off, cat["time"], cat["y"],
                               cat["yerr"], cfg.photometry, zp, labels, extra)
    # one row per (object, band): stable sort epochs by (object, band) keeps times sorted per row
    key = obj.astype(np.int64) * 128 + cat["band"]
    order = np.argsort(key, kind="stable")
    key = key[order]
    cat = {k: v[order] for k, v in cat.items()}
    row_start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.empty(0, np.int64)
    row_obj = key[row_start] // 128
    row_band = band_names[key[row_start] % 128]
    roff = np.r_[row_start, len(key)].astype(np.int64)
    return LightcurveBatch(ids[row_obj], row_band, roff, cat["time"], cat["y"], cat["yerr"], cfg.photometry, zp,
                           labels[row_obj], {k: v[row_obj] for k, v in extra.items()})
