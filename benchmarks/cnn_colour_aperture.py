"""How the lens colour ``k`` of the colour-residual channels is biased by the arc, per aperture.

For the survey-difficulty set (``LensSimConfig.survey()``): ``k = g / i`` measured from the image
(never from the truth) with several estimators, and for lenses the ratio of their median ``k`` to
that of the plain ellipticals (same colour template, no arc), by lensed-source S/N and theta_E.
A ratio above 1 means the arc's light makes the measured lens colour bluer, so ``g - k i``
over-subtracts the lens and removes that fraction of ``k i`` from the arc. Also the arc flux that
survives the subtraction, ``1 - k c``, for an arc of flat AB colour (i / g counts ``c`` = 0.73 at
the LSST zero points of the simulator).

Usage::

    .venv/bin/python benchmarks/cnn_colour_aperture.py [--store S.zarr]   # default: simulate 4,000 (seed 41)

``--store`` takes a store written by ``benchmarks/cnn_lenses.py`` (truth in ``<store>.truth.parquet``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SNR_BINS = [(5, 20), (20, 40), (40, 80), (80, 150)]
THETA_BINS = [(0.5, 0.8), (0.8, 1.2), (1.2, 2.1)]


def estimators(x: np.ndarray) -> dict:
    """``k`` (N,) of (N, H, W, C) g, r, i images by: flux ratio in a central disk of r pixels; the
    i-weighted median and 25th percentile of the pixel ratios g / i (pixels above 3 sigma in i, within r)."""
    from lia_dask.cnn.channels import core_mask

    g, i = x[..., 0].astype(np.float64), x[..., -1].astype(np.float64)
    flat = i.reshape(len(i), -1)
    sigma = 1.4826 * np.median(np.abs(flat - np.median(flat, 1, keepdims=True)), 1)
    out = {}
    for r in (1.0, 2.0, 3.0):
        m = core_mask(*x.shape[1:3], r)
        out[f"flux ratio, r <= {r} px"] = np.clip(g[:, m].sum(1) / i[:, m].sum(1), 0, 10)
    for r in (3.0, 6.0):
        m = core_mask(*x.shape[1:3], r)
        gb, ib = g[:, m], i[:, m]
        bright = ib > 3 * sigma[:, None]
        ratio = np.where(bright, gb / np.where(bright, ib, 1.0), np.inf)
        order = np.argsort(ratio, 1)
        v = np.take_along_axis(ratio, order, 1)
        cw = np.cumsum(np.take_along_axis(np.where(bright, ib, 0.0), order, 1), 1)
        for q in (0.5, 0.25):
            k = v[np.arange(len(v)), np.argmax(cw >= q * cw[:, -1:], 1)]
            out[f"i-weighted q{q} of g/i, r <= {r} px"] = np.clip(np.where(np.isfinite(k), k, 0.0), 0, 10)
    return out


def main() -> None:
    import pandas as pd

    from lia_dask.archive import open_cutouts

    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default=None)
    ap.add_argument("--n", type=int, default=4000)
    args = ap.parse_args()
    if args.store:
        st, truth = open_cutouts(args.store), pd.read_parquet(Path(args.store).with_suffix(".truth.parquet"))
    else:
        import tempfile

        from cnn_lenses import simulate_parallel
        from lia_dask.cnn import LensSimConfig

        st, truth = simulate_parallel(Path(tempfile.mkdtemp()) / "colour.zarr", args.n, LensSimConfig.survey(), 41, 500)
    x = np.asarray(st.zarr_images[:], np.float32)
    ell = (truth.kind == "elliptical").to_numpy()
    lens = truth.is_lens.to_numpy()
    snr, te = truth.source_snr.to_numpy(), truth.theta_e.to_numpy()
    rows = {}
    for name, k in estimators(x).items():
        k_ell = np.median(k[ell])
        rows[name] = {
            "k_ellipticals": round(float(k_ell), 4),
            "ellipticals_iqr_over_median": round(float(np.subtract(*np.percentile(k[ell], [75, 25])) / k_ell), 3),
            **{f"lens/ell S/N {lo}-{hi}": round(float(np.median(k[lens & (snr >= lo) & (snr < hi)]) / k_ell), 3)
               for lo, hi in SNR_BINS},
            **{f"lens/ell theta_E {lo}-{hi}": round(float(np.median(k[lens & (te >= lo) & (te < hi)]) / k_ell), 3)
               for lo, hi in THETA_BINS},
            "arc kept at S/N 80-150 (flat AB arc)": round(
                1.0 - float(np.median(k[lens & (snr >= 80)])) * 0.73, 3),
            "arc kept, unbiased k": round(1.0 - float(k_ell) * 0.73, 3),
        }
    print(json.dumps({"n": int(len(x)), "ellipticals": int(ell.sum()), "lenses": int(lens.sum()), "estimators": rows},
                     indent=1))


if __name__ == "__main__":
    main()
