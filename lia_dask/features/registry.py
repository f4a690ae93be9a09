"""The one registry of the feature stage: single features (``@feature``) and feature sets.

Single features
---------------
Every MicroLIA statistic is one numba kernel in a topic module (``percentiles``, ``moments``,
``thresholds``, ``differences``, ``peaks``, ``entropies``, ``variability``, ``positions``), declared
once with :func:`feature`: its name, MicroLIA output index, the series it receives and whether
it needs the sort permutation. The declaration table (:func:`kernel_table`) is the only list of
the 84 names; the batch driver (:mod:`lia_dask.features.driver`) is generated from it.

Kernel contract: ``f(t, x, s, weighted, order) -> float`` with ``t, x, s`` contiguous float64
arrays of shape (n,) of one lightcurve as the feature receives them (times in days; values and
errors in the units of the pass, ``shared/spec/FEATURES.md`` §1.3/§1.4), ``weighted`` MicroLIA's
``apply_weights`` (W when True, U when False), and ``order`` the int64 permutation
``numpy.argsort(x)`` (default kind: the tie order of the reference, §1.9.1), an empty array when
the declaration says ``needs_order=False``. A kernel returns one float64, NaN where the value is
undefined (±inf may be returned; the driver maps it to NaN and clips, §1.5) and never raises.
Its docstring states the formula, weighted (W) and unweighted (U).

Shared quantities (pass fusion): a kernel that declares ``needs=("weights",)`` has the signature
``f(t, x, s, weighted, order, w=None)``; the generated driver computes ``w = safe_weights(s)``
once per series and object and passes it to every such kernel, instead of ~30 kernels each
computing it again (weighted runs only: an unweighted run passes an empty array, so a kernel reads
``w`` only when ``weighted``); ``needs=("weights", "moments")`` adds ``m=None``, the tuple
``weighted_mean_var(x, w) = (μ_w, v_w, S_w)`` of the series (used only when ``weighted``); ``"wp"`` adds ``wp=None``, the tuple ``wp_cumulative(x, w, order)
= (xs, ws, C, S_w)`` of the weighted percentiles (only when ``weighted``; read, never written).
``"sorted"`` adds ``xs=None``, the sorted copy ``take_sorted(x, order)`` (W and U; read, never
written; :func:`lia_dask.features.order_stats.given_sorted`). ``"median"`` adds ``med=None``, the
median ``median_ordered(x, order)`` (W and U; :func:`lia_dask.features.order_stats.given_median`);
a kernel declaring it reads ``order`` for nothing else unless it also declares ``"wp"`` or
``"sorted"``, so a selection whose kernels on a series only need its median gets the medians of
the batch by selection (:func:`lia_dask.features.order_stats.batch_medians`, NumPy's order only
for the objects whose median is a zero) and no argsort. ``"sw"`` adds ``sw=None``, S_w =
``wsum(w)`` (weighted runs only; :func:`lia_dask.features.common.given_sw`), read off the shared
moments where the series has them (``weighted_mean_var`` sums w in the same order). ``"std0"`` adds ``sd0=None``, ``std0(x)``
(W and U); ``"std1"`` adds ``sd1=None``, ``std1(x)`` (unweighted runs only: NaN in weighted runs).
Each is the very call the kernel would make (:func:`lia_dask.features.common.given_std0`): a
sequential sum over the series is latency-bound (~0.2 µs per pass at 166 points), so the six
beyond-n-σ kernels each computing the same ``std0`` cost ~2 µs per series.
Called with five arguments (tests, the profile), the kernel computes ``w``
itself through :func:`lia_dask.features.common.given_weights`: the same function on the same
input, so the value is bit for bit the same either way. Only quantities whose sharing cannot
change a bit (element-wise, or the very call the kernel would make) belong in :data:`SHARED`.

Series: ``"normalised"`` -- the max-normalised flux (flux pass) / normalised derivative (derivative
pass), what nearly every feature receives; ``"raw"`` -- the un-normalised flux / derivative
(``amplitude``, ``median_buffer_range``; §1.3, §1.4 step 7).

Notation in the kernel docstrings: Δx_i = x_{i+1} - x_i; w_i the safe inverse-variance weights
(1/σ_i², 0 where σ_i <= 0 or non-finite); S_w = Σ w_i; μ_w, v_w, s_w = √v_w the population
weighted mean, variance and standard deviation; med the NumPy median; WM / WP(q) the weighted
median / percentile of §1.7; std₀/std₁, var₀ the ddof 0/1 standard deviations and variance.

Feature sets
------------
A feature set: name -> ordered column names, the batch kernel, default settings. The default set,
``"microlia-2.8.1"``, reproduces the 168 statistics of MicroLIA 2.8.1's ``extract_all`` (84 on
the normalised flux, then the same 84 on the derivative series with the suffix ``_deriv``) in
MicroLIA's order. Another set (a physical-model block, a multi-band block) is added with
:func:`register_feature_set`; everything downstream (``extract_*``, the CLI, model artifacts) only
sees its name, its names and its settings. A set that can compute a subset of its columns
cheaper than all of them gives ``FeatureSet.select``; :meth:`FeatureSet.restrict` uses it (or
computes all and keeps the requested columns).
"""
from __future__ import annotations

import importlib
import inspect
import threading
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Callable, Sequence

from ..errors import ConfigError, InputError

DEFAULT_FEATURE_SET = "microlia-2.8.1"
#: Parquet key-value metadata key of a feature table holding its resolved settings (JSON)
SETTINGS_METADATA_KEY = "lia_dask.feature_settings"


#: the revision of settings read from a record that has none (it predates revisions): never replaced by the
#: code's on re-saving, judged by :func:`check_revision` like a missing one
UNRECORDED = "unrecorded"


@dataclass(frozen=True)
class FeatureSettings:
    """Settings of one feature extraction (one dataclass for the whole stage).

    Attributes
    ----------
    zp : float or None
        Zero point for magnitude -> flux. None: the batch's / archive's own zero point.
    convert : bool or None
        True: the values are magnitudes, converted to flux with ``zp``. False: the values are
        used as fluxes. None: decided by the data (``photometry`` of the batch or archive).
        A flux batch is never converted; asking for ``convert=True`` on one is an error.
    apply_weights : bool
        MicroLIA's ``apply_weights``: the weighted (W) or unweighted (U) variant of each feature.
    feature_set : str
        Registry name of the feature set.
    features : tuple of str or None
        Compute only these columns of the feature set (in the set's order); None: all of them.
    revision : str or None
        Revision of the feature set's computed values (:attr:`FeatureSet.revision`) the features were
        computed with. None: the code's (filled in by :meth:`to_dict`, so every feature table and
        artifact records it); a recorded value comes from the table or artifact; :data:`UNRECORDED`:
        read (:meth:`from_dict`) from a record that predates revisions, kept as such by :meth:`to_dict`
        so that re-saving old settings never stamps them with today's revision.
    """

    zp: float | None = 22.0
    convert: bool | None = True
    apply_weights: bool = True
    feature_set: str = DEFAULT_FEATURE_SET
    features: tuple[str, ...] | None = None
    revision: str | None = field(default=None, compare=False)  # checked by differences / check_revision

    def __post_init__(self):
        if self.features is not None and not isinstance(self.features, tuple):
            object.__setattr__(self, "features", tuple(self.features))

    def to_dict(self) -> dict:
        """Plain JSON-able dict (stored in model artifacts and feature-table metadata), with the
        feature set's revision (the code's when not recorded, :func:`current_revision`)."""
        d = asdict(self)
        d["features"] = None if self.features is None else list(self.features)
        if d["revision"] is None:
            d["revision"] = current_revision(self.feature_set)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureSettings":
        """Settings from a record (:meth:`to_dict`); a record without ``revision`` reads as :data:`UNRECORDED`."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown feature settings {sorted(unknown)}; known: {sorted(known)}.")
        d = dict(d)
        if d.get("revision") is None:
            d["revision"] = UNRECORDED
        return cls(**d)

    def resolve(self, photometry: str, zeropoint: float) -> tuple[float, bool]:
        """(zp, convert) for data of the given photometry kind and zero point."""
        zp = float(zeropoint if self.zp is None else self.zp)
        if photometry == "flux":
            if self.convert is True:
                raise InputError(
                    "feature settings ask to convert magnitudes (convert=True) but the data hold fluxes; "
                    "use convert=None or convert=False (CLI: --flux).")
            return zp, False
        return zp, (True if self.convert is None else bool(self.convert))

    def resolved(self, photometry: str, zeropoint: float) -> "FeatureSettings":
        """These settings with ``zp`` and ``convert`` fixed for data of this photometry and zero point.

        What is recorded with a feature table and a model artifact: applying the resolved settings
        to other data computes exactly the same features.
        """
        zp, convert = self.resolve(photometry, zeropoint)
        return replace(self, zp=zp, convert=convert)

    def check_applies_to(self, photometry: str, what: str) -> None:
        """Refuse (one sentence) resolved settings that cannot apply to data of ``photometry``.

        Features learned on converted magnitudes cannot be computed from fluxes, nor the other way.
        """
        if self.convert is False and photometry != "flux":
            raise InputError(
                f"{what} was computed on fluxes (convert=False) but the data hold magnitudes; "
                "give it a flux archive, or retrain on features of magnitudes.")
        if self.convert is True and photometry == "flux":
            raise InputError(
                f"{what} was computed on magnitudes converted with zp {self.zp} but the data hold fluxes; "
                "give it a magnitude archive, or retrain on features of fluxes.")

    def differences(self, other: "FeatureSettings") -> list[str]:
        """``"field: mine vs other"`` for every field that changes the values (not ``features``)."""
        out = []
        for f in fields(self):
            if f.name == "features":
                continue
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "revision" and (a in (None, UNRECORDED) or b in (None, UNRECORDED)):
                continue  # unrecorded: the code's (model_feature_settings judges artifacts without one)
            if a != b and not (isinstance(a, (int, float)) and isinstance(b, (int, float)) and float(a) == float(b)):
                out.append(f"{f.name} {a!r} vs {b!r}")
        return out

    def require_same(self, other: "FeatureSettings", what: str, other_what: str) -> None:
        """Refuse (one sentence) two resolved settings that would give different feature values."""
        diff = self.differences(other)
        if diff:
            raise InputError(f"{what} and {other_what} use different feature settings ({'; '.join(diff)}); "
                             "features must be computed exactly as the model learned them: recompute the features "
                             "with the model's settings or drop the conflicting option.")


#: batch kernel of a feature set: (offsets, time, y, yerr, zp, convert, apply_weights) -> (values, reason)
BatchKernel = Callable[..., tuple]


@dataclass(frozen=True)
class FeatureSet:
    """One registered feature set.

    Attributes
    ----------
    name : str
    names : tuple of str
        Output columns in order.
    compute : callable
        ``compute(offsets, time, y, yerr, *, zp, convert, apply_weights) -> (values (n, len(names)),
        reason (n,) int8)``; pure, nogil inside.
    reasons : dict of int to str
        Meaning of the reason codes ``compute`` returns (0 = computed).
    description : str
    default_settings : FeatureSettings
    select : callable or None
        ``select(names) -> compute`` for a subset of ``names`` (in the set's order), computing only
        what those columns need. None: :meth:`restrict` computes all columns and keeps the subset.
    revision : str
        Revision of the values ``compute`` gives, bumped whenever a column's definition changes (e.g.
        ``"physical-3"``); recorded with every feature table and artifact, and a model recorded with
        another revision is refused (:func:`model_feature_settings`). ``""``: values fixed by contract
        (MicroLIA 2.8.1's statistics, held to it by the conformance suite), nothing to check.
    """

    name: str
    names: tuple[str, ...]
    compute: BatchKernel
    reasons: dict = field(default_factory=dict)
    description: str = ""
    default_settings: FeatureSettings = field(default_factory=FeatureSettings)
    select: Callable[[tuple[str, ...]], BatchKernel] | None = None
    revision: str = ""

    def restrict(self, names: Sequence[str] | None) -> "FeatureSet":
        """This set restricted to the columns ``names`` (kept in the set's order); None: itself.

        Raises
        ------
        ConfigError
            A name that is not a column of this set.
        """
        if names is None:
            return self
        wanted = set(names)
        unknown = sorted(wanted - set(self.names))
        if unknown:
            raise ConfigError(f"feature set {self.name!r} has no column(s) {unknown[:5]}"
                              f"{' ...' if len(unknown) > 5 else ''}; see `lia-dask features --list`.")
        kept = tuple(n for n in self.names if n in wanted)
        if kept == self.names:
            return self
        if self.select is not None:
            compute = self.select(kept)
        else:
            idx = [self.names.index(n) for n in kept]
            full = self.compute

            def compute(*args, **kwargs):
                vals, reason = full(*args, **kwargs)
                return vals[:, idx], reason
        return replace(self, names=kept, compute=compute, select=None)


_REGISTRY: dict[str, FeatureSet] = {}


def register_feature_set(fs: FeatureSet, *, replace: bool = False) -> None:
    """Add a feature set to the registry (``replace=True`` to overwrite one of the same name)."""
    if fs.name in _REGISTRY and not replace:
        raise ConfigError(f"feature set {fs.name!r} is already registered; pass replace=True to overwrite it.")
    if len(set(fs.names)) != len(fs.names):
        raise ConfigError(f"feature set {fs.name!r} has duplicate column names.")
    _REGISTRY[fs.name] = fs


def get_feature_set(name: str = DEFAULT_FEATURE_SET) -> FeatureSet:
    """The registered feature set ``name``."""
    _ensure_default()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown feature set {name!r}; registered: {sorted(_REGISTRY)}.") from None


def feature_sets() -> list[str]:
    """Names of all registered feature sets."""
    _ensure_default()
    return sorted(_REGISTRY)


def current_revision(name: str) -> str | None:
    """The code's revision of feature set ``name`` (:attr:`FeatureSet.revision`); None if not registered."""
    _ensure_default()
    fs = _REGISTRY.get(name)
    return None if fs is None else fs.revision


def check_revision(recorded: dict | None, what: str = "the model") -> None:
    """Refuse (one sentence) features recorded with another revision of their feature set.

    A recorded revision that differs from the code's means the same column names now hold other
    values (a changed fit, a new competitor): the model would silently get features it never learned.
    A record without a revision predates the guard: accepted for a set whose values are fixed by
    contract (revision ``""``: MicroLIA 2.8.1's statistics, nothing can have changed), refused for a
    set with computed blocks (the physical block changed its FRED columns in the release that added
    the guard, so an unrecorded model most likely learned other values; a warning would be lost in a
    batch run while its alerts silently degrade).

    Raises
    ------
    InputError
        The revisions differ, or the record has none and the set's revision is not ``""``.
    """
    d = dict(recorded or {})
    name = d.get("feature_set", DEFAULT_FEATURE_SET)
    code = current_revision(name)
    if code is None:
        return  # unknown set: get_feature_set refuses it with its own sentence
    if d.get("revision") in (None, UNRECORDED):
        if code:
            raise InputError(
                f"{what} records no revision of its feature set {name!r}, so it predates the revision guard "
                f"and may have learned other values than today's {code!r} columns; retrain it with this "
                "release, or predict with the release it was trained with.")
        return
    if str(d["revision"]) != code:
        raise InputError(
            f"{what} was trained on revision {d['revision']!r} of feature set {name!r} but this code computes "
            f"revision {code!r} (the columns changed meaning); retrain it with this release, or predict "
            "with the release it was trained with.")


def model_feature_settings(recorded: dict | None, selected: Sequence[str] | None, photometry: str,
                           what: str = "the model") -> FeatureSettings:
    """The settings a model's features are computed with at prediction: exactly those it learned.

    Parameters
    ----------
    recorded : dict or None
        The artifact's ``feature_settings`` (resolved when the artifact records them so).
    selected : sequence of str or None
        The model's selected features: only these are computed (when all are columns of its set).
    photometry : {"mag", "flux"}
        Photometry of the data to classify.
    what : str
        Names the model in the refusal.

    Raises
    ------
    InputError
        The data's photometry contradicts the model's (magnitudes for a flux model or the reverse), or
        the model's feature-set revision is not the code's (:func:`check_revision`).
    """
    check_revision(recorded, what)
    s = FeatureSettings.from_dict(dict(recorded or {}))
    s.check_applies_to(photometry, what)
    if selected:
        names = set(get_feature_set(s.feature_set).names)
        if all(n in names for n in selected):
            s = replace(s, features=tuple(selected))
    return s


# ------------------------------------------------------------------ single features
#: series a kernel may receive (see the module docstring)
SERIES = ("normalised", "raw")


@dataclass(frozen=True)
class FeatureSpec:
    """Declaration of one feature kernel (made by :func:`feature`).

    Attributes
    ----------
    name : str
        MicroLIA's name of the statistic (the flux-pass column; ``name + "_deriv"`` is the
        derivative-pass column).
    index : int
        Position in MicroLIA's output within one pass (0..83).
    series : {"normalised", "raw"}
        The series the kernel receives.
    needs_order : bool
        Whether the kernel reads ``order`` (the driver skips the argsort when no selected kernel does,
        and when the selected kernels read it only for the shared median: :attr:`reads_order`).
    kernel : numba dispatcher
        ``kernel(t, x, s, weighted, order) -> float``.
    module : str
        Topic module that defines it.
    needs : tuple of str
        Per-series shared quantities (:data:`SHARED`) the kernel receives after ``order``, as
        parameters of the same names defaulting to None (a direct 5-argument call computes them).
    """

    name: str
    index: int
    series: str
    needs_order: bool
    kernel: Callable
    module: str
    needs: tuple[str, ...] = ()

    @property
    def reads_order(self) -> bool:
        """Whether the driver must give this kernel the argsort (not only the series' median)."""
        return self.needs_order and ("median" not in self.needs or "wp" in self.needs or "sorted" in self.needs)

    @property
    def doc(self) -> str:
        return self.kernel.py_func.__doc__ or ""


_KERNELS: dict[str, FeatureSpec] = {}
#: topic modules holding the ``@feature`` kernels of the MicroLIA set
TOPIC_MODULES = ("percentiles", "moments", "thresholds", "differences", "peaks", "entropies", "variability",
                 "positions")


#: per-series quantities the generated driver computes once per series and object and hands to the
#: kernels that declare them in ``needs`` -> how it computes them (``lia_dask.features.common``, ``.order_stats``)
#: (``{x}``, ``{s}``, ``{o}``: the series' values, errors, order; ``w_{x}``: its weights), in dependency order
SHARED = {"weights": "safe_weights({s}) if w else ef",  # w: apply_weights; ef: empty float64
          "moments": "weighted_mean_var({x}, w_{x}) if w else (np.nan, np.nan, 0.0)",
          # S_w: the third element of the moments where the series has them (the same sequential sum)
          "sw": "wsum(w_{x}) if w else 0.0",
          "wp": "wp_cumulative({x}, w_{x}, {o}) if w else (ef, ef, ef, 0.0)",
          "sorted": "take_sorted({x}, {o})",
          # where no selected kernel of the series reads the order otherwise, the driver takes the
          # medians of the whole batch by selection instead (order_stats.batch_medians) and sorts nothing
          "median": "median_ordered({x}, {o})",
          "std0": "std0({x})",
          "std1": "np.nan if w else std1({x})"}
#: parameter name of each shared quantity in a kernel's signature
SHARED_PARAMS = {"weights": "w", "moments": "m", "sw": "sw", "wp": "wp", "sorted": "xs", "median": "med",
                 "std0": "sd0", "std1": "sd1"}
#: shared quantities another one is computed from
SHARED_REQUIRES = {"moments": ("weights",), "sw": ("weights",), "wp": ("weights",)}


def feature(name: str, *, index: int, series: str = "normalised", needs_order: bool = True,
            needs: tuple[str, ...] = ()):
    """Declare and compile one feature kernel (contract in the module docstring).

    Parameters
    ----------
    name : str
        Column name (flux pass).
    index : int
        MicroLIA output index within a pass.
    series : {"normalised", "raw"}
    needs_order : bool
        The kernel reads the sort permutation ``order``.
    needs : tuple of str
        Shared quantities of :data:`SHARED` the kernel receives (parameters after ``order``, in
        this order, named as :data:`SHARED_PARAMS`, default None).
    """
    if series not in SERIES:
        raise ConfigError(f"feature {name!r}: series must be one of {SERIES}, got {series!r}.")
    needs = tuple(needs)
    unknown = [q for q in needs if q not in SHARED]
    if unknown:
        raise ConfigError(f"feature {name!r}: unknown shared quantities {unknown}; known: {sorted(SHARED)}.")
    if [q for q in SHARED if q in needs] != list(needs) or any(
            r not in needs for q in needs for r in SHARED_REQUIRES.get(q, ())):
        raise ConfigError(f"feature {name!r}: needs={needs} must list its shared quantities in the order of "
                          f"SHARED {tuple(SHARED)}, each with those it is computed from ({SHARED_REQUIRES}).")

    def deco(func):
        from .common import kernel

        if not (func.__doc__ or "").strip():
            raise ConfigError(f"feature kernel {func.__qualname__} has no docstring; state its formula (W and U).")
        params = list(inspect.signature(func).parameters.values())
        extra = [(p.name, p.default) for p in params[5:]]
        if extra != [(SHARED_PARAMS[q], None) for q in needs]:
            raise ConfigError(f"feature kernel {func.__qualname__} declares needs={needs} but its parameters after "
                              f"order are {[p for p, _ in extra]}; give it {[SHARED_PARAMS[q] + '=None' for q in needs]}.")
        disp = kernel(func)
        spec = FeatureSpec(name, int(index), series, bool(needs_order), disp, func.__module__, needs)
        old = _KERNELS.get(name)
        if old is not None and old.module != spec.module:
            raise ConfigError(f"feature {name!r} is declared twice ({old.module} and {spec.module}).")
        _KERNELS[name] = spec
        return disp

    return deco


def kernel_table() -> tuple[FeatureSpec, ...]:
    """Every declared feature kernel, in MicroLIA output order (imports the topic modules)."""
    for mod in TOPIC_MODULES:
        importlib.import_module(f"{__package__}.{mod}")
    table = tuple(sorted(_KERNELS.values(), key=lambda sp: sp.index))
    if [sp.index for sp in table] != list(range(len(table))):
        raise ConfigError("feature kernel indices are not 0..n-1 without gaps; check the @feature declarations.")
    return table


_DEFAULT_LOCK = threading.Lock()


def _ensure_default() -> None:
    if DEFAULT_FEATURE_SET in _REGISTRY:
        return
    with _DEFAULT_LOCK:  # threaded workers may get here at the same time
        if DEFAULT_FEATURE_SET in _REGISTRY:
            return
        _register_default()


def _register_default() -> None:
    from .driver import NAMES, compute_microlia, microlia_subset
    from .preprocess import REASONS

    register_feature_set(FeatureSet(
        name=DEFAULT_FEATURE_SET,
        names=NAMES,
        compute=compute_microlia,
        reasons=dict(REASONS),
        description="MicroLIA 2.8.1 extract_all: 84 statistics on the max-normalised flux, "
                    "then the same 84 on the derivative series (suffix _deriv).",
        default_settings=FeatureSettings(),
        select=microlia_subset,
    ))
    # --- physical model block (issue 11; lia_dask/features/physical.py): two more sets
    from .physical import register_physical_sets

    register_physical_sets()
