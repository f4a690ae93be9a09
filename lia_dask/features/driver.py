"""Batch driver of the MicroLIA 2.8.1 feature set: all 168 values for every object of a batch.

Flow for one batch (``compute_microlia``):

1. :func:`lia_dask.features.preprocess.preprocess_batch` (numba): flux pass and derivative pass
   of every object, as ragged arrays, plus a reason code per object (§1.10).
2. The tie order of §1.9.1: ``numpy.argsort`` (default kind) of each object's normalised flux
   and normalised derivative, computed in one Python loop and handed to numba as ragged int64
   arrays (this is the only per-object Python work).
3. One ``nogil`` numba loop over all objects calling the 84 kernels per pass in MicroLIA's
   order (§1.6) and applying the §1.5 post-processing (non-finite -> NaN, clipping at ±1e10 and
   1e-10). Its source is generated from the kernel tables (``FEATURES`` of ``kernels_a``,
   ``kernels_b``, ``kernels_c``) and written to a cache directory so numba can cache it; the
   file name carries a digest of the kernel sources, so a changed kernel gives a fresh compile.
4. Features listed in a module's ``OBJECT_MODE`` run in plain Python afterwards; features no
   module provides stay NaN and are listed in :data:`MISSING` (a TODO, never faked).

Objects with a non-zero reason code get an all-NaN row.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from .preprocess import REASONS, Prepared, preprocess_batch

#: the 84 feature functions of MicroLIA 2.8.1 in output order (§1.6: code-point sort of the names)
BASE_NAMES: tuple[str, ...] = (
    "AndersonDarling", "FluxPercentileRatioMid20", "FluxPercentileRatioMid35", "FluxPercentileRatioMid50",
    "FluxPercentileRatioMid65", "FluxPercentileRatioMid80", "Gskew", "LinearTrend", "MaxSlope",
    "PairSlopeTrend", "PercentAmplitude", "PercentDifferenceFluxPercentile", "above1", "above3", "above5",
    "abs_energy", "abs_sum_changes", "amplitude", "auto_corr", "below1", "below3", "below5",
    "benford_correlation", "c3", "check_for_duplicate", "check_for_max_duplicate", "check_for_min_duplicate",
    "check_max_last_loc", "check_min_last_loc", "complexity", "con_above1", "con_above3", "con_above5",
    "con_below1", "con_below3", "con_below5", "count_above", "count_below", "cusum", "first_loc_max",
    "first_loc_min", "half_mag_amplitude_ratio", "index_mass_quantile", "integrate", "kurtosis",
    "large_standard_deviation", "longest_strike_above", "longest_strike_below", "meanMag", "mean_abs_change",
    "mean_change", "mean_n_abs_max", "mean_second_derivative", "medianAbsDev", "median_buffer_range",
    "median_distance", "number_cwt_like_peaks", "number_of_crossings", "permutation_entropy",
    "prominence_peaks", "quantile_25", "quantile_5", "quantile_50", "quantile_75", "quantile_95",
    "ratio_recurring_points", "root_mean_squared", "sample_entropy", "shannon_entropy", "shapiro_wilk",
    "skewness", "std_over_mean", "stetsonJ", "stetsonK", "stetsonL", "sum_values", "symmetry_looking",
    "time_reversal_asymmetry", "time_reversal_asymmetry_normalized", "variance",
    "variance_larger_than_standard_deviation", "variation_coefficient", "vonNeumannRatio",
    "windowed_peak_fraction",
)
#: all 168 output names: the 84 on the flux series, then the 84 with ``_deriv`` on the derivative series
NAMES: tuple[str, ...] = BASE_NAMES + tuple(n + "_deriv" for n in BASE_NAMES)
#: features that receive the un-normalised series (§1.3, §1.4 step 7)
UNNORMALISED = ("amplitude", "median_buffer_range")

KERNEL_MODULES = ("kernels_a", "kernels_b", "kernels_c")
_HERE = Path(__file__).resolve().parent
_NOT_KERNEL_SOURCES = {"__init__.py", "driver.py", "extract.py", "registry.py", "_cli.py", "wide.py", "multiband.py", "multiband_fit.py"}


def _load_tables():
    """(numba kernels by name -> module, object-mode functions by name, missing names, source digest)."""
    njit_src: dict[str, str] = {}
    objmode: dict[str, object] = {}
    digest = hashlib.sha256()
    for fname in sorted(_HERE.glob("*.py")):  # any kernel or helper change invalidates the driver
        if fname.name not in _NOT_KERNEL_SOURCES:
            digest.update(fname.name.encode() + b"\0" + fname.read_bytes())
    for mod_name in KERNEL_MODULES:
        try:
            mod = importlib.import_module(f"{__package__}.{mod_name}")
        except ImportError:
            continue
        for name, fn in getattr(mod, "FEATURES", {}).items():
            if name in BASE_NAMES:
                njit_src[name] = f"{__package__}.{mod_name}"
        for name, fn in getattr(mod, "OBJECT_MODE", {}).items():
            if name in BASE_NAMES:
                objmode[name] = fn
                njit_src.pop(name, None)
    missing = tuple(n for n in BASE_NAMES if n not in njit_src and n not in objmode)
    return njit_src, objmode, missing, digest.hexdigest()[:16]


def _driver_source(njit_src: dict[str, str]) -> str:
    lines = [
        "# generated by lia_dask.features.driver: do not edit",
        "import numba", "import numpy as np", "",
    ]
    for k, name in enumerate(BASE_NAMES):
        if name in njit_src:
            lines.append(f"from {njit_src[name]} import f_{name} as k{k}")
    lines += [
        "",
        "@numba.njit(cache=True, nogil=True, error_model='numpy')",
        "def _post(v):",
        "    if not np.isfinite(v):",
        "        return np.nan",
        "    if v > 1e10:",
        "        return 1e10",
        "    if v < -1e10:",
        "        return -1e10",
        "    if 0.0 < v < 1e-10:",
        "        return 1e-10",
        "    return v",
        "",
        "@numba.njit(cache=True, nogil=True, error_model='numpy')",
        "def _sorted_by(v, o):",
        "    for k in range(1, o.shape[0]):",
        "        if not v[o[k - 1]] <= v[o[k]]:",
        "            return False",
        "    return True",
        "",
        "@numba.njit(cache=True, nogil=True, error_model='numpy')",
        "def run(off0, t0, x0, s0, f0, sf0, o0, off1, t1, d1, e1, o1, off2, t2, n2, e2, o2, reason, w, out):",
        "    for i in range(off0.shape[0] - 1):",
        "        if reason[i] != 0:",
        "            continue",
        "        a = off0[i]; b = off0[i + 1]",
        "        t = t0[a:b]; x = x0[a:b]; s = s0[a:b]; o = o0[a:b]",
        "        f = f0[a:b]; sf = sf0[a:b]",
        "        of = o if _sorted_by(f, o) else np.argsort(f, kind='mergesort')",
        "        a = off1[i]; b = off1[i + 1]",
        "        tu = t1[a:b]; du = d1[a:b]; eu = e1[a:b]; ou = o1[a:b]",
        "        a = off2[i]; b = off2[i + 1]",
        "        tn = t2[a:b]; xn = n2[a:b]; sn = e2[a:b]; on = o2[a:b]",
    ]
    nb = len(BASE_NAMES)
    for k, name in enumerate(BASE_NAMES):
        if name not in njit_src:
            continue
        if name in UNNORMALISED:
            lines.append(f"        out[i, {k}] = _post(k{k}(t, f, sf, w, of))")
            lines.append(f"        out[i, {k + nb}] = _post(k{k}(tu, du, eu, w, ou))")
        else:
            lines.append(f"        out[i, {k}] = _post(k{k}(t, x, s, w, o))")
            lines.append(f"        out[i, {k + nb}] = _post(k{k}(tn, xn, sn, w, on))")
    lines.append("    return out")
    return "\n".join(lines) + "\n"


def _cache_dir() -> Path:
    for cand in (os.environ.get("LIA_DASK_CACHE_DIR"), str(Path.home() / ".cache" / "lia_dask"),
                 os.path.join(tempfile.gettempdir(), f"lia_dask_cache_{os.getuid() if hasattr(os, 'getuid') else 0}")):
        if not cand:
            continue
        p = Path(cand) / "feature_drivers"
        try:
            p.mkdir(parents=True, exist_ok=True)
            probe = p / f".probe{os.getpid()}"
            probe.write_text("")
            probe.unlink()
            return p
        except OSError:
            continue
    raise OSError("no writable cache directory for the generated feature driver; set LIA_DASK_CACHE_DIR.")


def _build():
    njit_src, objmode, missing, digest = _load_tables()
    src = _driver_source(njit_src)
    digest = hashlib.sha256((digest + src).encode()).hexdigest()[:16]
    mod_name = f"_lia_dask_feature_driver_{digest}"
    if mod_name in sys.modules:
        return sys.modules[mod_name], njit_src, objmode, missing
    path = _cache_dir() / f"{mod_name}.py"
    if not path.exists() or path.read_text() != src:
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(src)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(mod_name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod
    spec.loader.exec_module(mod)
    return mod, njit_src, objmode, missing


_DRIVER = None
_DRIVER_LOCK = threading.Lock()


def _driver():
    """(generated module, numba kernel sources, object-mode functions, missing names); built once per process."""
    global _DRIVER
    if _DRIVER is None:
        with _DRIVER_LOCK:  # threaded Dask workers may call the first batch concurrently
            if _DRIVER is None:
                _DRIVER = _build()
    return _DRIVER


def missing_features() -> tuple[str, ...]:
    """Base names no kernel module provides yet (their columns are NaN)."""
    return _driver()[3]


def _orders(off: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Ragged per-object ``numpy.argsort`` permutation (default kind), local indices.

    NumPy's own sort is required where values tie (its tie order is the reference's, spec
    §1.9.1); it is also faster than numba's argsort here, so every object goes through it.
    """
    out = np.empty(len(values), np.int64)
    bounds = off.tolist()
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b - a > 1:
            out[a:b] = np.argsort(values[a:b])
        elif b > a:
            out[a] = 0
    return out


def _objmode_pass(p: Prepared, objmode: dict, weighted: bool, out: np.ndarray) -> None:
    nb = len(BASE_NAMES)
    for name, fn in objmode.items():
        k = BASE_NAMES.index(name)
        for i in np.flatnonzero(p.reason == 0):
            a, b = p.off0[i], p.off0[i + 1]
            if name in UNNORMALISED:
                flux = (p.t0[a:b], p.f0[a:b], p.sf0[a:b])
                c, d = p.off1[i], p.off1[i + 1]
                deriv = (p.t1[c:d], p.d1[c:d], p.e1[c:d])
            else:
                flux = (p.t0[a:b], p.x0[a:b], p.s0[a:b])
                c, d = p.off2[i], p.off2[i + 1]
                deriv = (p.t2[c:d], p.n2[c:d], p.e2[c:d])
            for col, (tt, xx, ss) in ((k, flux), (k + nb, deriv)):
                try:
                    v = float(fn(tt, xx, ss, weighted, np.argsort(xx)))
                except Exception:  # the reference turns any exception into NaN (§1.5)
                    v = np.nan
                out[i, col] = _post_py(v)


def _post_py(v: float) -> float:
    if not np.isfinite(v):
        return np.nan
    if v > 1e10:
        return 1e10
    if v < -1e10:
        return -1e10
    if 0.0 < v < 1e-10:
        return 1e-10
    return v


def compute_microlia(offsets, time, y, yerr, *, zp: float = 22.0, convert: bool = True,
                     apply_weights: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """All 168 MicroLIA 2.8.1 features for a ragged batch.

    Parameters
    ----------
    offsets : ndarray of int, shape (n + 1,)
    time, y, yerr : ndarray, shape (>= offsets[-1],)
        Days; magnitudes (``convert=True``) or fluxes (``convert=False``) and errors.
    zp : float
        Zero point of the magnitude -> flux conversion.
    convert, apply_weights : bool
        As MicroLIA's ``extract_all``.

    Returns
    -------
    values : ndarray of float64, shape (n, 168)
        Columns in the order of :data:`NAMES`; NaN where undefined.
    reason : ndarray of int8, shape (n,)
        0 where computed, else a code of :data:`lia_dask.features.preprocess.REASONS` (row all NaN).
    """
    mod, njit_src, objmode, _missing = _driver()
    p = preprocess_batch(offsets, time, y, yerr, zp, convert)
    n = len(p.reason)
    out = np.full((n, len(NAMES)), np.nan)
    if n == 0:
        return out, p.reason
    o0 = _orders(p.off0, p.x0)
    o1 = _orders(p.off1, p.d1)
    o2 = _orders(p.off2, p.n2)
    mod.run(p.off0, p.t0, p.x0, p.s0, p.f0, p.sf0, o0, p.off1, p.t1, p.d1, p.e1, o1,
            p.off2, p.t2, p.n2, p.e2, o2, p.reason, bool(apply_weights), out)
    if objmode:
        _objmode_pass(p, objmode, bool(apply_weights), out)
    return out, p.reason


__all__ = ["BASE_NAMES", "NAMES", "REASONS", "compute_microlia", "missing_features"]
