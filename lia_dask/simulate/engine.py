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
from .noise import systematics as noise_systematics
from .templates import mira_table, rrlyrae_templates

#: stream key of each class (fixed, independent of which classes are simulated)
CLASS_CODE = {c: i for i, c in enumerate(S.CLASSES)}
SIM_FLOAT = ("sim_m0", "sim_t0", "sim_u0", "sim_tE", "sim_blend", "sim_period", "sim_amplitude")
SIM_INT = ("sim_template", "sim_n_outbursts", "sim_attempts", "sim_cadence", "sim_n_dropped", "sim_index")
#: objects simulated together inside a task (bounds the per-epoch temporaries of one attempt)
BLOCK = 4096
#: uniforms drawn per attempt: [cadence, m0, class parameters...]
N_UNIFORM = {"CONSTANT": 2, "ML": 7, "CV": 7, "LPV": 6, "VARIABLE": 7}
#: uniforms per outburst of the dwarf-nova model: [cycle jitter, rise, plateau, decline]
N_OUTBURST = {"dwarf_nova": 4, "microlia": 3}


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
        if cfg.tE_distribution == "lognormal":
            tE = 10.0 ** _truncnorm(U[:, 3], cfg.tE_log_mean, cfg.tE_log_std, np.log10(cfg.tE_min),
                                    np.log10(cfg.tE_max))
        else:
            tE = _truncnorm(U[:, 3], cfg.tE_mean, cfg.tE_std, cfg.tE_min)
        if cfg.t0_range is not None:
            a, b = np.full(p, cfg.t0_range[0]), np.full(p, cfg.t0_range[1])
        elif cfg.t0_margin is None:
            a, b = pool.stats["q01"][ci] - tE / 2, pool.stats["q99"][ci] + tE / 2
        else:
            a = pool.stats["tmin"][ci] - cfg.t0_margin * tE
            b = pool.stats["tmax"][ci] + cfg.t0_margin * tE
        t0 = a + U[:, 4] * (b - a)
        if cfg.blending == "fs":
            flo, fhi = cfg.fs_range
            fs = np.where(U[:, 6] < cfg.fs_log_fraction, flo * (fhi / flo) ** U[:, 5], flo + U[:, 5] * (fhi - flo))
            blend = (1.0 - fs) / fs
        else:
            blo, bhi = cfg.blend_range
            blend = blo + U[:, 5] * (bhi - blo)
        prm.update(sim_u0=u0, sim_tE=tE, sim_t0=t0, sim_blend=blend,
                   sim_amplitude=2.5 * np.log10((models.pspl_magnification(u0) + blend) / (1 + blend)))
        return models.pspl_magnitudes(t, obj, m0, t0, u0, tE, blend), prm, None, None
    if label == "CV":
        return _cv_model(U, pos, gens, pool, ci, m0, off, t, cfg, prm)
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


def _cv_model(U, pos, gens, pool, ci, m0, off, t, cfg, prm):
    """CV outbursts for one attempt: ``cfg.cv_model`` "dwarf_nova" or MicroLIA's "microlia"."""
    p = len(U)
    tmin, tmax = pool.stats["tmin"][ci], pool.stats["tmax"][ci]
    alo, ahi = cfg.cv_amplitude_range
    A = alo + U[:, 3] * (ahi - alo)
    nv = N_OUTBURST[cfg.cv_model]
    if cfg.cv_model == "microlia":
        P = _folded_truncnorm(U[:, 2], cfg.cv_period_mean, cfg.cv_period_std, cfg.cv_period_min)
        s1 = tmin + U[:, 4] * (np.minimum(tmin + P, tmax) - tmin)
        K = np.maximum(np.ceil((tmax - s1) / P), 0).astype(np.int64)
    else:  # quasi-periodic: each cycle lasts P x U(0.7, 1.3); the first may start before the data
        rlo, rhi = cfg.cv_recurrence_range
        P = rlo * (rhi / rlo) ** U[:, 2]
        s1 = tmin - U[:, 4] * P
        K = (np.ceil((tmax - s1) / (0.7 * P)) + 1).astype(np.int64)
    out_off = np.zeros(p + 1, np.int64)
    np.cumsum(K, out=out_off[1:])
    V = np.empty((int(out_off[-1]), nv))
    for j in range(p):
        if K[j]:
            V[out_off[j]:out_off[j + 1]] = gens[pos[j]].random(nv * K[j]).reshape(K[j], nv)
    which = np.repeat(np.arange(p), K)
    kk = np.arange(len(which)) - out_off[which]
    if cfg.cv_model == "microlia":
        start = s1[which] + kk * P[which]
        d = 3.0 + V[:, 0] * (P[which] / 10.0 - 3.0)
        r = 0.5 + V[:, 1] * 0.5
        h = np.clip(_normal(V[:, 2], 0.4 * d, 0.2 * d), 0.0, 0.9 * (d - r))
        amp = A[which]
    else:
        cycle = P[which] * (0.7 + 0.6 * V[:, 0])
        csum = np.cumsum(cycle)
        before = np.concatenate([[0.0], csum])[out_off[:-1]][which]  # cycles of earlier objects
        start = s1[which] + (csum - cycle) - before
        r = cfg.cv_rise_range[0] + V[:, 1] * (cfg.cv_rise_range[1] - cfg.cv_rise_range[0])
        h = cfg.cv_plateau_range[0] + V[:, 2] * (cfg.cv_plateau_range[1] - cfg.cv_plateau_range[0])
        rate = cfg.cv_decline_range[0] + V[:, 3] * (cfg.cv_decline_range[1] - cfg.cv_decline_range[0])
        is_su = U[:, 5] < cfg.cv_su_fraction
        n_s = 3 + np.minimum((U[:, 6] * 6).astype(np.int64), 5)
        sup = is_su[which] & (kk % n_s[which] == 0)
        amp = A[which] + np.where(sup, 0.7, 0.0)
        h = np.where(sup, 10.0 + 4.0 * V[:, 2], h)
        d = r + h + amp / rate
    rise_end, high_end, end = start + r, start + r + h, start + d
    mag = models.cv_magnitudes(t, off, m0, amp, out_off, start, rise_end, high_end, end, per_outburst=True)
    prm.update(sim_period=P, sim_amplitude=A, sim_t0=s1, sim_n_outbursts=K)
    if cfg.cv_model == "microlia":
        ok, k_star = quality.cv_structure(t, off, out_off, start, rise_end, high_end, end, n1=cfg.cv_n1,
                                          n2=cfg.cv_n2)
        sel = np.maximum(k_star, 0)
        has = k_star >= 0
        window = (np.where(has, start[sel] if len(start) else 0.0, np.inf),
                  np.where(has, end[sel] if len(end) else 0.0, -np.inf))
        return mag, prm, ok, window
    # a survey sees the outbursts that fall in the data: no structure cut, visibility decides
    seen = (start < tmax[which]) & (end > tmin[which])
    prm.update(sim_n_outbursts=np.bincount(which[seen], minlength=p).astype(np.int64))
    return mag, prm, np.ones(p, bool), (tmin, tmax)


def _cut_knob(label: str, cfg: SimulationConfig) -> tuple[str, int]:
    """The setting (name, value) that bounds how many epochs an ML / CV object needs."""
    if label == "ML":
        return ("ml_n_detect", cfg.ml_n_detect) if cfg.ml_cut == "detect" else ("ml_n1", cfg.ml_n1)
    return ("cv_n_detect", cfg.cv_n_detect) if cfg.cv_model == "dwarf_nova" else ("cv_n1", cfg.cv_n1)


def _check_pool(label: str, pool: CadencePool, cfg: SimulationConfig) -> None:
    if label not in ("ML", "CV"):
        return
    knob, n1 = _cut_knob(label, cfg)
    if pool.lengths.max() < n1:
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
            knob = _cut_knob(label, cfg)[0]
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
        if label == "ML" and cfg.ml_cut == "detect":
            ok = quality.ml_detected(t, mag_obs, magerr, obj, m0, prm["sim_t0"], prm["sim_tE"],
                                     n_detect=cfg.ml_n_detect, min_z=cfg.ml_min_z, window=cfg.ml_detect_window,
                                     consecutive=cfg.ml_detect_consecutive, mag_model=mag,
                                     min_dchi2=cfg.ml_detect_dchi2)
        elif label == "ML":
            ok = quality.ml_quality(t, mag_obs, magerr, obj, m0, prm["sim_t0"], prm["sim_tE"], n_min=cfg.ml_n1,
                                    min_z=cfg.ml_min_z, frac_significant=cfg.ml_frac_significant,
                                    min_brightening=cfg.ml_min_brightening)
        elif label == "CV":
            ok = ok_pre
            if cfg.cv_min_z is not None:
                n_min = cfg.cv_n_detect if cfg.cv_model == "dwarf_nova" else 1
                ok = ok & quality.cv_visible(t, mag_obs, magerr, obj, m0, window[0], window[1], min_z=cfg.cv_min_z,
                                             n_min=n_min)
        else:
            ok = np.ones(len(pending), bool)
        acc = np.flatnonzero(ok)
        if cfg.systematics and len(acc):
            shift, gamma = _systematics(gens, pending, acc, off, t, magerr, cfg)
            mag_obs, magerr = mag_obs + shift, magerr / gamma
            scale = 10.0 ** (-0.4 * shift)  # a shift in magnitude scales the flux and its error alike
            rel = np.stack([rel[0] * scale, rel[1] * scale / gamma])
        if cfg.photometry == "flux":
            f = 10.0 ** (-0.4 * (mag - NJY_ZEROPOINT))
            y, yerr = f * rel[0], f * rel[1]
        else:
            y, yerr = mag_obs, magerr
        if len(acc):
            idx = _ragged_index_from(off[acc], lens[acc])
            piece = {"pos": pending[acc], "lens": lens[acc], "time": t[idx], "band": band[idx], "y": y[idx],
                     "yerr": yerr[idx], "sim_cadence": ci[acc]}
            piece.update({k: np.asarray(v)[acc] for k, v in prm.items()})
            pieces.append(piece)
        pending = pending[~ok]
    return _assemble(pieces, n, ks, attempts)


def _systematics(gens, pending, acc, off, t, sigma, cfg):
    """Survey systematics of the accepted objects ``acc`` (drawn after their noise, from their own
    streams); shape (m,) magnitude shift (0 for the others) and (m,) γ per epoch (1 for the others)."""
    lens = np.diff(off)
    idx = _ragged_index_from(off[acc], lens[acc])
    sub_off = np.zeros(len(acc) + 1, np.int64)
    np.cumsum(lens[acc], out=sub_off[1:])
    m = int(sub_off[-1])
    scal = np.empty((len(acc), 4))
    nrm = np.empty((3, m))
    uni = np.empty(m)
    for j, i in enumerate(acc):
        g = gens[pending[i]]
        a, b = sub_off[j], sub_off[j + 1]
        scal[j] = g.random(4)
        nrm[:, a:b] = g.standard_normal((3, b - a))
        uni[a:b] = g.random(b - a)
    shift_acc, gamma_acc = noise_systematics(
        t[idx], sub_off, sigma[idx], scal, nrm, uni, error_scale_range=cfg.error_scale_range,
        outlier_rate=cfg.outlier_rate, trend_sigma=cfg.trend_sigma, season_sigma=cfg.season_sigma,
        season_gap=cfg.season_gap, red_sigma=cfg.red_sigma, red_fraction=cfg.red_fraction,
        red_tau=cfg.red_tau)
    shift = np.zeros(len(t))
    gamma = np.ones(len(t))
    shift[idx] = shift_acc
    gamma[idx] = np.repeat(gamma_acc, lens[acc])
    return shift, gamma


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
