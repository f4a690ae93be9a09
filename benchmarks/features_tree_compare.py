"""The MicroLIA feature set of two package trees side by side: bits of every value, µs per lightcurve.

How a speed change of the feature kernels is checked (issue 14): the tree before the change (e.g.
``git archive <commit> | tar -x -C /tmp/before``, with ``/tmp/shared`` -> ``../shared``) and the
working tree, each in its own process::

    python benchmarks/features_tree_compare.py values /tmp/before /tmp/before.npy
    python benchmarks/features_tree_compare.py values .           /tmp/after.npy
    python benchmarks/features_tree_compare.py diff /tmp/before.npy /tmp/after.npy   # differing bits
    python benchmarks/features_tree_compare.py time /tmp/before   # then `time .`; alternate, repeat

``values``: the 168 values and the reason codes of 700 random series (0-1,000 points; every
8th kind: ties, a constant, a NaN, ±inf values / errors, zero errors, huge errors with -0.0
values, all-zero errors) for W and U, magnitudes and fluxes. ``diff`` compares the float64 bit
patterns (NaN payloads and signed zeros included). ``time``: CPU µs per lightcurve of
``compute_microlia`` on the 60 OGLE-II lightcurves x 5, best of 15, W and U.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np


def _use(root: str):
    sys.path.insert(0, str(Path(root).resolve()))
    sys.path.insert(0, str(Path(root).resolve() / "benchmarks"))
    from lia_dask.features.driver import compute_microlia
    return compute_microlia


def hostile_batch(seed: int = 14):
    """(offsets, t, y, e) of 700 random series with the hostile kinds of the module docstring."""
    rng = np.random.default_rng(seed)
    lens = rng.integers(0, 400, 700)
    lens[:20] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 20, 30, 50, 100, 166, 1000]
    off = np.concatenate([[0], np.cumsum(lens)])
    t = rng.uniform(0, 3000, off[-1])
    y = rng.normal(17, 1, off[-1])
    e = rng.uniform(0.001, 0.3, off[-1])
    for j, (a, b) in enumerate(zip(off[:-1], off[1:])):
        t[a:b] = np.sort(t[a:b])
        if b - a < 2:
            continue
        kind = j % 8
        if kind == 1:
            y[a:b] = np.round(y[a:b], 1)
        elif kind == 2:
            y[a:b] = 16.0
        elif kind == 3:
            y[a + (b - a) // 2] = np.nan
        elif kind == 4:
            y[a] = np.inf
            e[b - 1] = -np.inf
        elif kind == 5:
            e[a:b:3] = 0.0
        elif kind == 6:
            e[a:b:2] = 1e300
            y[a:b:5] = -0.0
        elif kind == 7:
            e[a:b] = 0.0
    return off, t, y, e


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    mode = argv[0]
    if mode == "diff":
        a = np.load(argv[1]).view(np.uint64)
        b = np.load(argv[2]).view(np.uint64)
        d = a != b
        print(f"{a.size} values, {int(d.sum())} with differing bits; columns {np.nonzero(d.any(0))[0][:20].tolist()}")
        return int(d.any())
    compute = _use(argv[1])
    if mode == "values":
        off, t, y, e = hostile_batch()
        outs = []
        for weighted in (True, False):
            for convert in (True, False):
                v, r = compute(off, t, y if convert else np.abs(y) * 100 + 1, e, zp=22.0, convert=convert,
                               apply_weights=weighted)
                outs += [v, r.astype(np.float64)[:, None]]
        np.save(argv[2], np.concatenate(outs, axis=1))
        return 0
    from features_vs_microlia import ogle_lightcurves

    lcs = ogle_lightcurves() * 5
    off = np.concatenate([[0], np.cumsum([len(a[0]) for a in lcs])])
    t, y, e = (np.concatenate([a[j] for a in lcs]) for j in range(3))
    for weighted in (True, False):
        compute(off, t, y, e, apply_weights=weighted)
        best = np.inf
        for _ in range(15):
            c = time.process_time()
            compute(off, t, y, e, apply_weights=weighted)
            best = min(best, time.process_time() - c)
        print(f"{argv[1]} {'W' if weighted else 'U'}: {best / len(lcs) * 1e6:.1f} µs per lightcurve")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
