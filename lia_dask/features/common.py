"""Shared numba building blocks of the feature kernels (spec ``FEATURES.md`` §1.7), each written once.

Every function here is compiled by :func:`kernel`: ``numba.njit(nogil=True, error_model="numpy")``
with an on-disk cache whose validity stamp is the digest of *every* kernel source file of
``lia_dask.features`` (:func:`kernel_source_digest`), not numba's default stamp of the defining
file alone. numba inlines helpers into the machine code of their callers, so with the default
stamp an edit of a helper here would leave the cached code of every kernel that calls it stale;
with this stamp any edit of a kernel or helper source recompiles all of them once.
``error_model="numpy"`` matters: with numba's default ("python") a float division by zero
*raises* ``ZeroDivisionError`` instead of giving ±inf/NaN as NumPy (and so the reference) does.

Conventions
-----------
* ``x``, ``s`` (sigma), ``t`` are contiguous float64 1-D arrays of one lightcurve; ``order`` is
  the int64 ascending sort permutation of ``x`` from ``numpy.argsort(x)`` (default kind; §1.9.1).
* Sums are sequential (spec §1.9.3: agrees with NumPy's pairwise sums to ~1e-16 relative).
* Nothing here raises on empty input: functions return NaN (or 0 / empty where stated).

Function index (name -> what it returns)
----------------------------------------
Post-processing and filters
    ``post_value(v)``                              §1.5: non-finite -> NaN, clip at ±1e10, (0, 1e-10) -> 1e-10
    ``finite_rows(a, b, c) -> mask``               rows where all three are finite
Weights and moments
    ``safe_weights(s) -> w``                      w_i = 1/s_i² if s_i finite and > 0 else 0
    ``given_weights(s, w) -> w``                  the shared weights ``w``, or ``safe_weights(s)`` if None
    ``given_moments(x, w, m) -> m``               the shared moments ``m``, or ``weighted_mean_var(x, w)``
    ``wsum(w) -> S_w``                            plain sequential sum
    ``given_sw(w, sw) -> S_w``                    the shared ``S_w``, or ``wsum(w)`` if None
    ``weighted_mean_var(x, w) -> (mu_w, v_w, S_w)``  population weighted moments (NaN if S_w = 0)
    ``mean_var(x, s, weighted, w, m) -> (mu, v)``     (mu_w, v_w) when weighted and S_w > 0, else (mean, var0)
    ``mean(x)``, ``var0(x)``, ``std0(x)``, ``std1(x)``  NumPy conventions (NaN where NumPy gives NaN)
    ``given_std0(x, sd0)``, ``given_std1(x, sd1)``  the shared ``std0(x)`` / ``std1(x)``, or computed if None
Order statistics and weighted percentiles: :mod:`lia_dask.features.order_stats`
Bits
    ``popcount(w) -> int``                         number of set bits of a uint64 (LLVM ``ctpop``)
Runs, correlation, gradients
    ``run_step(cur, flag) -> int``                 length of the block of True ending here after one more flag
    ``pearson(a, b) -> float``                     numpy ``corrcoef`` r (NaN on zero variance)
    ``gradient_unit_at(y, i)``                     element i of ``np.gradient(y)`` (unit spacing)
    ``gradient_coords_at(ym, y0, yp, t, i, ...)``  element i of ``np.gradient(y, t)`` (uniform / non-uniform rule)
    ``uniform_steps(t) -> (uniform, h0)``          which of the two rules ``np.gradient`` applies
"""
from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path

import numba
import numpy as np
from numba import types as _types
from numba.core import caching as _caching
from numba.extending import intrinsic as _intrinsic

#: options every feature kernel and helper is compiled with (the cache is set by :func:`kernel`)
KERNEL_OPTIONS = dict(nogil=True, error_model="numpy")
#: modules of this package that hold no kernel code (orchestration); every other ``*.py`` is a kernel source
ORCHESTRATION_MODULES = frozenset({"__init__.py", "extract.py", "registry.py", "_cli.py", "driver.py",
                                   "physical.py", "multiband.py", "wide.py"})
#: kernel sources that form a group of their own: the physical block's and the multi-band joint fit's
#: kernels call one another across these files but nothing of the 168's (and the 168's never call them),
#: so they are stamped with the digest of this group (and this file), the others with the digest of the rest
PHYSICAL_GROUP = ("physical_*.py", "multiband_fit.py")
_HERE = Path(__file__).resolve().parent
_DIGEST: dict[str, str] = {}


def _group_of(name: str) -> str:
    return "physical" if any(fnmatch.fnmatch(name, p) for p in PHYSICAL_GROUP) else "microlia"


def kernel_source_digest(group: str = "microlia") -> str:
    """sha256 (hex, 16) of every kernel and helper source file of ``lia_dask.features`` in ``group``.

    ``"microlia"`` (the 168's kernels and helpers, this file included) or ``"physical"`` (the files of
    :data:`PHYSICAL_GROUP`, plus this file). The cache stamp of every compiled kernel of the group (and,
    for ``"microlia"``, of the generated driver): an edit in any of these files invalidates all cached
    machine code that may have inlined it.
    """
    if group not in _DIGEST:
        h = hashlib.sha256()
        for f in sorted(_HERE.glob("*.py")):
            if f.name in ORCHESTRATION_MODULES:
                continue
            if _group_of(f.name) == group or f.name == "common.py":
                h.update(f.name.encode() + b"\0" + f.read_bytes())
        _DIGEST[group] = h.hexdigest()[:16]
    return _DIGEST[group]


class _PackageStampMixin:
    """numba cache locator whose source stamp is :func:`kernel_source_digest` of the function's group."""

    def get_source_stamp(self):
        return kernel_source_digest(_group_of(Path(self._py_file).name))


class _InTreeLocator(_PackageStampMixin, _caching.InTreeCacheLocator):
    pass


class _UserWideLocator(_PackageStampMixin, _caching.UserWideCacheLocator):
    pass


class _UserProvidedLocator(_PackageStampMixin, _caching.UserProvidedCacheLocator):
    pass


class _KernelCacheImpl(_caching.CompileResultCacheImpl):
    _locator_classes = [_UserProvidedLocator, _InTreeLocator, _UserWideLocator]


class _KernelCache(_caching.FunctionCache):
    _impl_class = _KernelCacheImpl


def kernel(func=None, **options):
    """Compile a kernel or helper: ``numba.njit(**KERNEL_OPTIONS, **options)`` with the package-stamped cache.

    Used bare (``@kernel``) or with further numba options (``@kernel(fastmath={...})``).
    """
    if func is None:
        return lambda f: kernel(f, **options)
    disp = numba.njit(**KERNEL_OPTIONS, **options)(func)
    try:
        disp._cache = _KernelCache(func)  # what numba's own ``enable_caching`` does, with our locator
    except RuntimeError:  # no writable cache location: compile every process
        pass
    return disp


# ------------------------------------------------------------------ post-processing and filters
@kernel
def post_value(v):
    """§1.5 post-processing of one value: non-finite -> NaN, clip to ±1e10, (0, 1e-10) -> 1e-10."""
    if not np.isfinite(v):
        return np.nan
    if v > 1e10:
        return 1e10
    if v < -1e10:
        return -1e10
    if 0.0 < v < 1e-10:
        return 1e-10
    return v


@kernel
def finite_rows(a, b, c):
    """Boolean mask, shape (n,): rows where ``a``, ``b`` and ``c`` are all finite."""
    n = a.shape[0]
    m = np.empty(n, np.bool_)
    for i in range(n):
        m[i] = np.isfinite(a[i]) and np.isfinite(b[i]) and np.isfinite(c[i])
    return m


# ------------------------------------------------------------------ weights and moments
@kernel
def safe_weights(s):
    """Safe inverse-variance weights, shape (n,): ``1/s²`` (square first) for finite s > 0, else 0."""
    n = s.shape[0]
    w = np.empty(n, np.float64)
    for i in range(n):
        si = s[i]
        if np.isfinite(si) and si > 0.0:
            w[i] = 1.0 / (si * si)
        else:
            w[i] = 0.0
    return w


@kernel
def wsum(w):
    """Sequential sum of ``w``."""
    acc = 0.0
    for i in range(w.shape[0]):
        acc += w[i]
    return acc


@kernel
def weighted_mean_var(x, w):
    """(μ_w, v_w, S_w): ``Σwx/S_w`` and the population ``Σw(x-μ)²/S_w``; μ, v NaN if S_w == 0."""
    n = x.shape[0]
    sw = 0.0
    swx = 0.0
    for i in range(n):
        sw += w[i]
        swx += w[i] * x[i]
    if sw == 0.0:
        return np.nan, np.nan, sw
    mu = swx / sw
    acc = 0.0
    for i in range(n):
        d = x[i] - mu
        acc += w[i] * (d * d)
    return mu, acc / sw, sw


@kernel
def given_weights(s, w):
    """``w`` as the driver shares it (the series' :func:`safe_weights`), or computed here when None."""
    if w is None:
        return safe_weights(s)
    return w


@kernel
def given_sw(w, sw):
    """``sw`` as the driver shares it (``wsum(w)`` of the series' weights, weighted runs), or computed when None."""
    if sw is None:
        return wsum(w)
    return sw


@kernel
def given_moments(x, w, m):
    """``m`` as the driver shares it (``weighted_mean_var(x, w)`` of the series), or computed when None."""
    if m is None:
        return weighted_mean_var(x, w)
    return m


@kernel
def mean_var(x, s, weighted, w=None, m=None):
    """(mean, variance): weighted -> (μ_w, v_w) when S_w > 0; unweighted or S_w = 0 -> (mean, var₀).

    ``w``, ``m``: the series' safe weights and weighted moments when the caller has them (None: computed).
    """
    if weighted:
        mu, v, sw = given_moments(x, given_weights(s, w), m)
        if sw > 0.0:
            return mu, v
    return mean(x), var0(x)


@kernel
def mean(x):
    """Arithmetic mean; NaN for empty input."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    acc = 0.0
    for i in range(n):
        acc += x[i]
    return acc / n


@kernel
def _var(x, ddof):
    n = x.shape[0]
    if n - ddof <= 0:
        return np.nan
    mu = mean(x)
    acc = 0.0
    for i in range(n):
        d = x[i] - mu
        acc += d * d
    return acc / (n - ddof)


@kernel
def var0(x):
    """Population variance (ddof = 0); NaN for empty input."""
    return _var(x, 0)


@kernel
def std0(x):
    """Population standard deviation (ddof = 0); NaN for empty input."""
    return np.sqrt(_var(x, 0))


@kernel
def std1(x):
    """Sample standard deviation (ddof = 1); NaN for n < 2."""
    return np.sqrt(_var(x, 1))


@kernel
def given_std0(x, sd0):
    """``sd0`` as the driver shares it (``std0(x)`` of the series), or computed when None."""
    if sd0 is None:
        return std0(x)
    return sd0


@kernel
def given_std1(x, sd1):
    """``sd1`` as the driver shares it (``std1(x)`` of the series, unweighted runs), or computed when None."""
    if sd1 is None:
        return std1(x)
    return sd1


# ------------------------------------------------------------------ bits
@_intrinsic
def _ctpop(typingctx, w):
    if w != _types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])

    return _types.uint64(_types.uint64), codegen


@kernel
def popcount(w):
    """Number of set bits of the uint64 ``w`` (one ``ctpop`` instruction where the CPU has it)."""
    return _ctpop(w)


# ------------------------------------------------------------------ runs, correlation, gradients
@kernel
def run_step(cur, flag):
    """Length of the block of consecutive True flags ending at this one, given ``cur`` for the one before.

    Streams the runs of a flag sequence without storing it: the longest block is the maximum of the
    values, and a maximal block of length >= L is counted once where the value reaches L.
    """
    return cur + 1 if flag else 0


@kernel
def pearson(a, b):
    """Pearson r as numpy ``corrcoef``: NaN when either side has zero variance or n == 0."""
    n = a.shape[0]
    if n == 0:
        return np.nan
    ma = mean(a)
    mb = mean(b)
    sab = 0.0
    saa = 0.0
    sbb = 0.0
    for i in range(n):
        da = a[i] - ma
        db = b[i] - mb
        sab += da * db
        saa += da * da
        sbb += db * db
    return sab / np.sqrt(saa * sbb)


@kernel
def gradient_unit_at(y, i):
    """Element ``i`` of ``np.gradient(y)`` (unit spacing), n = len(y) >= 2, 0 <= i < n."""
    n = y.shape[0]
    if i == 0:
        return (y[1] - y[0]) / 1.0
    if i == n - 1:
        return (y[n - 1] - y[n - 2]) / 1.0
    return (y[i + 1] - y[i - 1]) / 2.0


@kernel
def uniform_steps(t):
    """(every step of ``t`` exactly equal to the first, first step ``h0``) as ``np.gradient`` decides it; n >= 2."""
    n = t.shape[0]
    h0 = t[1] - t[0]
    for i in range(1, n - 1):
        if (t[i + 1] - t[i]) != h0:
            return False, h0
    return True, h0


@kernel
def gradient_coords_at(ym, y0, yp, t, i, uniform, h0):
    """Element ``i`` of ``np.gradient(y, t)`` from ``y[i-1], y[i], y[i+1]`` (the ones it reads).

    ``uniform, h0`` from :func:`uniform_steps`; n = len(t) >= 2; ``ym`` is not read at i = 0,
    ``yp`` not at i = n - 1.
    """
    n = t.shape[0]
    if i == 0:
        return (yp - y0) / h0
    if i == n - 1:
        return (y0 - ym) / (t[n - 1] - t[n - 2])
    if uniform:
        return (yp - ym) / (2.0 * h0)
    dx1 = t[i] - t[i - 1]
    dx2 = t[i + 1] - t[i]
    a = -(dx2) / (dx1 * (dx1 + dx2))
    b = (dx2 - dx1) / (dx1 * dx2)
    c = dx1 / (dx2 * (dx1 + dx2))
    return a * ym + b * y0 + c * yp
