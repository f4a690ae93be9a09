"""Fill numba's on-disk cache at image build time, so a new worker does not spend minutes compiling.

Compiles (and caches under NUMBA_CACHE_DIR) the feature kernels of both photometry kinds and the
PSPL fit of the prediction fit filter, on a tiny synthetic batch. Numba keys its cache on the CPU;
a worker on a different CPU model recompiles once (first task ~1-2 min) and caches again.
"""
from __future__ import annotations

import time

import numpy as np

from lia_dask.batch import LightcurveBatch
from lia_dask.features.extract import extract_batch_with_reasons
from lia_dask.features.registry import FeatureSettings
from lia_dask.predict.fitfilter import fit_batch


def main() -> None:
    t0 = time.perf_counter()
    t = np.linspace(0.0, 100.0, 60)
    mag = 18.0 + 0.3 * np.exp(-0.5 * ((t - 50.0) / 5.0) ** 2)
    b = LightcurveBatch.from_lightcurves([0, 1], [t, t], [mag, mag[::-1]], [np.full(60, 0.05)] * 2)
    values, names, _ = extract_batch_with_reasons(b, FeatureSettings.from_dict({"zp": 22.0, "convert": None,
                                                                                "apply_weights": True}))
    fit = fit_batch(b.offsets, b.time, b.y, b.yerr, np.arange(2, dtype=np.int64), zp=22.0, convert=True)
    print(f"warm-up: {values.shape[1]} features, PSPL fit {fit.shape}, {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
