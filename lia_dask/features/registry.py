"""Registry of feature sets: name -> ordered column names, the batch kernel, default settings.

The default set, ``"microlia-2.8.1"``, reproduces the 168 statistics of MicroLIA 2.8.1's
``extract_all`` (84 on the normalised flux, then the same 84 on the derivative series with the
suffix ``_deriv``) in MicroLIA's order. Another set is added with :func:`register_feature_set`;
everything downstream (``extract_*``, the CLI, model artifacts) only sees its name, its names and
its settings.
"""
from __future__ import annotations

import threading

from dataclasses import asdict, dataclass, field, fields
from typing import Callable

from ..errors import ConfigError, InputError

DEFAULT_FEATURE_SET = "microlia-2.8.1"


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
    """

    zp: float | None = 22.0
    convert: bool | None = True
    apply_weights: bool = True
    feature_set: str = DEFAULT_FEATURE_SET

    def to_dict(self) -> dict:
        """Plain JSON-able dict (stored in model artifacts)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureSettings":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown feature settings {sorted(unknown)}; known: {sorted(known)}.")
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
    """

    name: str
    names: tuple[str, ...]
    compute: BatchKernel
    reasons: dict = field(default_factory=dict)
    description: str = ""
    default_settings: FeatureSettings = field(default_factory=FeatureSettings)


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


_DEFAULT_LOCK = threading.Lock()


def _ensure_default() -> None:
    if DEFAULT_FEATURE_SET in _REGISTRY:
        return
    with _DEFAULT_LOCK:  # threaded workers may get here at the same time
        if DEFAULT_FEATURE_SET in _REGISTRY:
            return
        _register_default()


def _register_default() -> None:
    from .driver import NAMES, compute_microlia
    from .preprocess import REASONS

    register_feature_set(FeatureSet(
        name=DEFAULT_FEATURE_SET,
        names=NAMES,
        compute=compute_microlia,
        reasons=dict(REASONS),
        description="MicroLIA 2.8.1 extract_all: 84 statistics on the max-normalised flux, "
                    "then the same 84 on the derivative series (suffix _deriv).",
        default_settings=FeatureSettings(),
    ))
    # --- physical model block (issue 11; lia_dask/features/physical.py): two more sets
    from .physical import register_physical_sets

    register_physical_sets()
