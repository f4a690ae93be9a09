"""Warm a cluster's workers while the client still prepares a job: imports and compiled drivers.

A worker's first prediction task pays, besides its lightcurves, the imports of the prediction
engine and of the model library (lia_dask.predict, lia_dask.train, scikit-learn, XGBoost) and the
load of the generated feature driver and its kernels from numba's cache. :class:`WarmPlugin`
starts that work on every worker as soon as the client is connected (workers that join later warm
on arrival), in a background thread of the worker process, so it runs while the client loads the
model, checks the output and plans the tasks. ``lia-dask predict`` registers it right after the
cluster starts (:func:`lia_dask.cluster.start_client`).

Warming computes nothing a task reads: it imports modules and runs the model's feature selection
on two synthetic lightcurves whose values are thrown away. Python's import lock, numba's compiler
lock and the driver cache's lock (``lia_dask.features.driver``) make a task that starts meanwhile
wait for what is being loaded, then use it. A failure while warming is logged (DEBUG) and ignored:
the task that needs the module or driver meets the same error and reports it as usual.

This module imports only the standard library and ``distributed``'s plugin base class, so the
plugin reaches a worker without dragging the engine's imports into its registration.
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from distributed.diagnostics.plugin import WorkerPlugin

log = logging.getLogger(__name__)

#: modules every lightcurve prediction task imports (the engine, the ensemble loader and XGBoost)
PREDICT_MODULES: tuple[str, ...] = ("lia_dask.predict.lightcurves", "lia_dask.features.extract",
                                    "lia_dask.train.ensemble", "xgboost")


@dataclass(frozen=True)
class WarmSpec:
    """What to warm on a worker.

    Attributes
    ----------
    modules : tuple of str
        Modules to import (a missing optional one, e.g. XGBoost for a forest, is skipped).
    feature_settings : dict or None
        The artifact's recorded feature settings; None: no feature driver is loaded.
    selected_features : tuple of str or None
        The model's selected features (the driver of exactly these columns is loaded).
    photometry : {"mag", "flux"}
        Photometry of the data the job classifies.
    fit_filter : bool
        Also load the physical stage's kernels (the candidate flag).
    """

    modules: tuple[str, ...] = PREDICT_MODULES
    feature_settings: dict | None = None
    selected_features: tuple[str, ...] | None = None
    photometry: str = "mag"
    fit_filter: bool = False


def warm_spec_for_model(manifest: dict, photometry: str, fit_filter: bool = False) -> WarmSpec:
    """The :class:`WarmSpec` of a lightcurve ensemble artifact (its manifest) for data of ``photometry``."""
    selected = manifest.get("selected_features")
    return WarmSpec(feature_settings=manifest.get("feature_settings") or None,
                    selected_features=tuple(selected) if selected else None, photometry=str(photometry),
                    fit_filter=bool(fit_filter))


def _synthetic_batch(photometry: str):
    """Two 60-epoch lightcurves (a constant star and a brightening), values thrown away after use."""
    import numpy as np

    from .batch import LightcurveBatch

    t = np.linspace(0.0, 600.0, 60)
    bump = 1.5 / np.sqrt(1.0 + ((t - 300.0) / 20.0) ** 2)
    wiggle = 0.01 * np.sin(t / 7.0)
    if photometry == "flux":
        ys = [1000.0 + 10.0 * wiggle * 100.0, 1000.0 * (1.0 + bump)]
        es = [np.full(60, 5.0), np.full(60, 5.0)]
    else:
        ys = [18.0 + wiggle, 18.0 - bump]
        es = [np.full(60, 0.02), np.full(60, 0.02)]
    return LightcurveBatch.from_lightcurves([0, 1], [t, t], ys, es, photometry=photometry)


def warm_process(spec: WarmSpec) -> float:
    """Import ``spec.modules`` and load the model's feature driver (and flag kernels) in this process.

    Returns
    -------
    float
        Seconds it took.
    """
    t0 = time.perf_counter()
    for name in spec.modules:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional library this model does not use
            log.debug("warm-up: %s not importable", name)
    if spec.feature_settings is not None:
        from .features.multiband import is_multiband

        if not is_multiband(spec.feature_settings):  # multi-band drivers depend on the bands present
            from .features.extract import extract_batch_with_reasons
            from .features.registry import model_feature_settings

            batch = _synthetic_batch(spec.photometry)
            settings = model_feature_settings(spec.feature_settings, spec.selected_features, spec.photometry)
            extract_batch_with_reasons(batch, settings)
            if spec.fit_filter:
                import numpy as np

                from .predict.fitfilter import fit_batch

                fit_batch(batch.offsets, batch.time, batch.y, batch.yerr, np.arange(len(batch), dtype=np.int64),
                          zp=float(batch.zeropoint), convert=batch.photometry == "mag")  # as predict's flag calls it
    return time.perf_counter() - t0


_THREADS: dict[str, threading.Thread] = {}  # plugin name -> this process's warm-up thread
_SECONDS: dict[str, float] = {}             # plugin name -> seconds its warm-up took here


def _run(name: str, spec: WarmSpec) -> None:
    try:
        _SECONDS[name] = warm_process(spec)
    except Exception as exc:  # the task that needs it reports the same error properly
        log.debug("warm-up %s failed: %s: %s", name, type(exc).__name__, exc)
        _SECONDS[name] = -1.0


class WarmPlugin(WorkerPlugin):
    """Starts :func:`warm_process` in a background thread of every worker (and of every later one)."""

    def __init__(self, name: str, spec: WarmSpec):
        self.name = name
        self.spec = spec

    def setup(self, worker) -> None:
        if self.name in _THREADS:
            return
        t = threading.Thread(target=_run, args=(self.name, self.spec), name=f"lia-dask-warm-{self.name[-8:]}",
                             daemon=True)
        _THREADS[self.name] = t
        t.start()


def warm_workers(client: Any, spec: WarmSpec) -> tuple[str, Callable[[], None]]:
    """Register :class:`WarmPlugin` for ``spec`` on ``client``'s workers; returns at once.

    Returns the plugin's name and the function that unregisters it (a warm-up under way finishes).
    """
    name = f"lia-dask-warm-{uuid.uuid4().hex[:8]}"
    return name, add_worker_plugin(client, WarmPlugin(name, spec), name)


def add_worker_plugin(client: Any, plugin: WorkerPlugin, name: str) -> Callable[[], None]:
    """Register ``plugin`` as ``name`` on every worker of ``client`` (and later ones); returns the
    function that unregisters it (nothing to do when the cluster went away)."""
    client.register_plugin(plugin, name=name)

    def remove() -> None:
        try:
            client.unregister_worker_plugin(name)
        except Exception:  # the cluster went away: nothing left to remove
            pass

    return remove


def warm_status(name: str, timeout: float | None = None) -> float | None:
    """On a worker (``client.run``): wait up to ``timeout`` s for warm-up ``name``; its seconds
    (-1: failed), or None when it has not run in this process or is still running."""
    t = _THREADS.get(name)
    if t is None:
        return None
    t.join(timeout)
    return _SECONDS.get(name)
