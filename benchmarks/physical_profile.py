"""Issue 11 (cost11): where the physical block's time goes, per sub-stage, on survey and real lightcurves.

Run (one thread; normal priority, a quiet moment):
    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD .venv/bin/python benchmarks/physical_profile.py \
        [--n 3000] [--rounds 5] [--json out.json]

Method: numba inlines the block's helpers, so a sampling profiler cannot tell its stages apart. Here
:func:`staged` runs the stages of :func:`lia_dask.features.physical_models.fit_models` in its order, on
the package's own kernels, and stops after stage ``upto``; a stage's cost is the CPU time of the batch
up to it less the time up to the previous one (best of ``--rounds``, per lightcurve). The last row is
the block itself (:func:`~lia_dask.features.physical.physical_block`), whose total the stages should
add up to. The nifty-ls periodogram (flag and ``+ls`` only) is timed on its own.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from physical_cost import _best, report, survey_batches  # noqa: E402

from lia_dask.features import physical_models as M  # noqa: E402
from lia_dask.features.physical_competitors import harmonic_chi2, poly_chi2  # noqa: E402
from lia_dask.features.physical_fit import FS_REJECT, MODEL_FRED, MODEL_PSPL, NS, lm_fit, magnification  # noqa: E402
from lia_dask.features.physical_nulls import bump_scan, nearest_u0, rise_fall  # noqa: E402
from lia_dask.features.physical_residuals import baseline_excursion, residual_stats  # noqa: E402
from lia_dask.features.physical_outburst import outburst_chi2  # noqa: E402
from lia_dask.features.physical_search import TE_GRID, fred_grid, pspl_grid  # noqa: E402

STAGES = ("prepare (mask, sort check, medians, normalise, constant)", "trend (quadratic LSQ)",
          "PSPL grid (pspl_grid)", "PSPL LM (2 starts)", "FRED grid", "FRED LM",
          "outburst (outburst_chi2, when the point lens passes BURST_GATE)", "periodic LSQ (harmonic_chi2)",
          "residuals, coverage, runs / acf / MAD, excursion", "null: bump_scan on the lightcurve",
          "null: bump_scan on the residuals", "null: rise_fall")


@numba.njit
def staged(t, flux, ferr, freq, upto):
    """The stages of ``fit_models`` on one lightcurve, stopping after stage ``upto``; returns a checksum."""
    good = np.isfinite(t) & np.isfinite(flux) & np.isfinite(ferr) & (ferr > 0)
    t, flux, ferr = t[good], flux[good], ferr[good]
    n = len(t)
    if n < M.MIN_POINTS:
        return 0.0
    if not np.all(t[1:] >= t[:-1]):
        o = np.argsort(t, kind="mergesort")
        t, flux, ferr = t[o], flux[o], ferr[o]
    tmin, tmax = t[0], t[n - 1]
    span = tmax - tmin
    if not span > 0:
        return 0.0
    c = np.median(flux)
    s = np.median(ferr)
    f = (flux - c) / s
    e = ferr / s
    w = 1.0 / (e * e)
    fbmin = -(1.0 + M.BLEND_TOL) * c / s if c > 0 else -np.inf
    sw = swf = 0.0
    for i in range(n):
        sw += w[i]
        swf += w[i] * f[i]
    mu = swf / sw
    chi_c = 0.0
    for i in range(n):
        chi_c += w[i] * (f[i] - mu) ** 2
    chi_c = max(chi_c, 1e-12)
    acc = chi_c
    if upto < 1:
        return acc
    chi_t = min(poly_chi2(t, f, w, 2, 0.5 * (tmin + tmax), 0.5 * span), chi_c)
    acc += chi_t
    if upto < 2:
        return acc
    bo = np.array([0, n], np.int64)
    S = np.empty((1, NS))
    amp = np.empty((1, 4))
    starts = np.empty((len(TE_GRID), 4))
    pspl_grid(t, f, w, starts, fbmin)
    acc += starts[0, 0]
    if upto < 3:
        return acc
    order = np.argsort(starts[:, 0])
    lo = np.array([tmin - span, math.log(1e-4), math.log(0.1)])
    hi = np.array([tmax + span, math.log(3.0), math.log(M.TE_MAX)])
    best = np.inf
    bth = np.empty(3)
    bfs = bfb = np.nan
    th = np.empty(3)
    for j in range(min(M.N_STARTS, len(order))):
        k = order[j]
        if not np.isfinite(starts[k, 0]):
            continue
        th[0], th[1], th[2] = starts[k, 1], math.log(starts[k, 2]), math.log(starts[k, 3])
        chi2 = lm_fit(MODEL_PSPL, t, f, w, bo, th, lo, hi, M.LM_ITERS, fbmin, FS_REJECT, S, amp)
        if chi2 < best:
            best, bfs, bfb = chi2, amp[0, 0], amp[0, 1]
            bth[:] = th
    acc += best
    if upto < 4:
        return acc
    fb_best = fred_grid(t, f, w)
    acc += fb_best[0]
    if upto < 5:
        return acc
    if np.isfinite(fb_best[0]):
        fred_th = np.array([fb_best[1], math.log(fb_best[2]), math.log(fb_best[3])])
        lo[1], lo[2] = math.log(0.01), math.log(0.01 * M.FRED_MIN_RATIO)
        hi[1], hi[2] = math.log(1e3), math.log(3e3)
        acc += lm_fit(MODEL_FRED, t, f, w, bo, fred_th, lo, hi, M.LM_ITERS, -np.inf, FS_REJECT, S, amp)
    if upto < 6:
        return acc
    if np.isfinite(best) and chi_c - best >= M.BURST_GATE * max(chi_c / (n - M.K_CONST), 1.0):
        swff = 0.0
        for i in range(n):
            swff += w[i] * f[i] * f[i]
        acc += outburst_chi2(t, f, w, sw, swf, swff)[0]
    if upto < 7:
        return acc
    if np.isfinite(freq) and freq > 0:
        acc += harmonic_chi2(t, f, w, freq)
    if upto < 8 or not np.isfinite(best):
        return acc
    t0, u0, tE = bth[0], math.exp(bth[1]), math.exp(bth[2])
    s2 = max(min(chi_c / (n - 1), best / (n - 5)), 1.0)
    z = np.empty(n)
    base = np.empty(n, np.bool_)
    u02 = u0 * u0
    a0 = magnification(u02)
    for i in range(n):
        tau = (t[i] - t0) / tE
        a = magnification(u02 + tau * tau)
        z[i] = (f[i] - bfs * a - bfb) * math.sqrt(w[i] / s2)
        base[i] = a - 1.0 < 0.1 * (a0 - 1.0)
    runs_z, acf1, mad, outl = residual_stats(z)
    acc += runs_z + acf1 + mad + outl + baseline_excursion(z, base, mad)
    if upto < 9:
        return acc
    ku = nearest_u0(u0)
    keep = np.ones(n, np.bool_)
    d_b, d_d = bump_scan(t, f, w, keep, tE, ku)
    acc += d_b + d_d
    if upto < 10:
        return acc
    r = np.empty(n)
    for i in range(n):
        tau = (t[i] - t0) / tE
        r[i] = f[i] - bfs * magnification(u02 + tau * tau) - bfb
        keep[i] = abs(tau) >= M.SECOND_EXCLUDE
    d2_b, d2_d = bump_scan(t, r, w, keep, tE, ku)
    acc += d2_b + d2_d
    if upto < 11:
        return acc
    lr, dc = rise_fall(t, f, w, t0, u0, tE, bfs, bfb)
    return acc + lr + dc


@numba.njit
def staged_batch(offsets, time, flux, ferr, freqs, upto):
    acc = 0.0
    for i in range(len(offsets) - 1):
        a, b = offsets[i], offsets[i + 1]
        v = staged(time[a:b], flux[a:b], ferr[a:b], freqs[i], upto)
        if np.isfinite(v):
            acc += v
    return acc


def profile(batch, rounds, zp=22.0):
    """Per-lightcurve µs of every stage of :data:`STAGES`, the block itself and the periodogram."""
    from lia_dask.features.physical import best_frequencies, mag_to_flux, physical_block

    off = np.ascontiguousarray(batch.offsets, dtype=np.int64)
    t = np.ascontiguousarray(batch.time, dtype=np.float64)
    flux, ferr = mag_to_flux(np.ascontiguousarray(batch.y, dtype=np.float64),
                             np.ascontiguousarray(batch.yerr, dtype=np.float64), zp)
    n = len(off) - 1
    rows = np.arange(n, dtype=np.int64)
    freqs, _ = best_frequencies(off, t, flux, ferr, rows)
    nofreq = np.full(n, np.nan)
    staged_batch(off[:3], t, flux, ferr, freqs, 99)
    cum = []
    for k in range(len(STAGES)):
        fr = freqs if k >= 6 else nofreq
        cum.append(1e6 * _best(lambda: staged_batch(off, t, flux, ferr, fr, k), rounds) / n)
    rows_out = {STAGES[0]: cum[0]}
    for k in range(1, len(STAGES)):
        rows_out[STAGES[k]] = cum[k] - cum[k - 1]
    rows_out["sum of the stages (with periodic LSQ)"] = cum[-1]
    rows_out["physical_block (periodic=False)"] = 1e6 * _best(
        lambda: physical_block(off, t, batch.y, batch.yerr, zp=zp), rounds) / n
    rows_out["nifty-ls periodogram (best_frequencies)"] = 1e6 * _best(
        lambda: best_frequencies(off, t, flux, ferr, rows), rounds) / n
    return rows_out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", default=None)
    p.add_argument("--save", default=None, help="also write the lightcurves (offsets, time, y, yerr) to this .npz")
    args = p.parse_args()

    out = {"load_average_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="physical_profile_") as work:
        sb, real, _cad, _cfg = survey_batches(Path(work), args.n)
    if args.save:
        np.savez(args.save, **{f"{k}_{a}": getattr(b, a) for k, b in (("survey", sb), ("real60", real))
                               for a in ("offsets", "time", "y", "yerr")})
    out["median_epochs"] = {"survey": float(np.median(np.diff(sb.offsets))),
                            "real60": float(np.median(np.diff(real.offsets)))}
    for name, b in (("survey", sb), ("real60", real)):
        out[name] = profile(b, args.rounds)
    return report(out, args.json)


if __name__ == "__main__":
    sys.exit(main())
