"""Orchestration: lay out a training set, simulate it in partitions on Dask, write the archive.

The requested objects (classes in order, ``n_per_class`` each) are cut into ranges of
``config.partition_size``; each range is one task that simulates its objects
(``engine.simulate_range``) and writes one archive part (and, optionally, one feature part).
Tasks are streamed (:func:`stream_tasks`): a bounded window is in flight, so the client's memory
does not grow with the requested count and parts are written from the start.
The cadence pool and the configuration are small and go to the workers once. Each object's
lightcurve depends only on (seed, class, index within class), so the result is the same for any
partition size, number of workers or scheduler.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import dask
import numpy as np
import pandas as pd

from .. import schema as S
from ..batch import LightcurveBatch, concat_batches
from ..errors import InputError, LiaDaskError, PartitionError
from .cadence import CadencePool, load_cadences
from .config import SimulationConfig
from .engine import simulate_range

SIMULATION_MANIFEST = "_simulation.json"
FEATURE_DIR = "features"


def plan_training_set(n_per_class: int | Mapping[str, int], classes: tuple[str, ...]) -> list[tuple[str, int]]:
    """``[(label, count), ...]`` in output order.

    Raises
    ------
    InputError
        A count is not a positive integer, or a mapping names an unknown class.
    """
    if isinstance(n_per_class, Mapping):
        unknown = [c for c in n_per_class if c not in S.CLASSES]
        if unknown:
            raise InputError(f"unknown class name(s) {unknown} in n_per_class; choose from {list(S.CLASSES)}.")
        plan = [(c, n_per_class.get(c, 0)) for c in classes if c in n_per_class]
    else:
        plan = [(c, n_per_class) for c in classes]
    for c, n in plan:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise InputError(f"n_per_class must be a positive integer, got {n!r} for class {c}.")
    if not plan:
        raise InputError("n_per_class names none of the classes to simulate.")
    return [(c, int(n)) for c, n in plan]


def _ranges(plan: list[tuple[str, int]], size: int) -> Iterator[tuple[int, int, int]]:
    """``(part index, start, stop)`` of every part, lazily (no list of all parts is ever built)."""
    total = sum(n for _, n in plan)
    return ((i, a, min(a + size, total)) for i, a in enumerate(range(0, total, size)))


def stream_tasks(fn, args: Iterable[tuple], shared: tuple, client=None, window: int | None = None) -> list:
    """Run ``fn(*a, *shared)`` for every ``a`` of ``args`` with at most ``window`` tasks in flight.

    The task graph is never built whole: the client holds ``window`` tasks and the (small)
    results, so its memory does not grow with the number of parts still to come, and the first
    parts are written at once. With ``client=None`` Dask's default scheduler runs windows of tasks.
    """
    import itertools

    it = iter(args)
    results = []
    if client is not None:
        from distributed import as_completed

        window = window or max(2, 2 * sum(client.nthreads().values()))
        ac = as_completed()
        for a in itertools.islice(it, window):
            ac.add(client.submit(fn, *a, *shared, pure=False))
        for fut in ac:
            results.append(fut.result())
            fut.release()
            nxt = next(it, None)
            if nxt is not None:
                ac.add(client.submit(fn, *nxt, *shared, pure=False))
        return results
    window = window or max(2, 2 * (os.cpu_count() or 1))
    while True:
        batch = list(itertools.islice(it, window))
        if not batch:
            return results
        results.extend(dask.compute(*[dask.delayed(fn, pure=False)(*a, *shared) for a in batch]))


def simulate_batch(cadences, n_per_class: int | Mapping[str, int], config: SimulationConfig | None = None, *,
                   start: int = 0, stop: int | None = None) -> LightcurveBatch:
    """Simulate a training set (or the objects ``start:stop`` of it) in memory, in this process.

    Parameters
    ----------
    cadences : CadencePool, archive path, directory, LightcurveBatch or list of arrays
        See ``load_cadences``.
    n_per_class : int or dict of str to int
    config : SimulationConfig, optional

    Returns
    -------
    LightcurveBatch
        One row per (object, band); object ids are global positions in the training set.
    """
    cfg = config or SimulationConfig()
    plan = plan_training_set(n_per_class, cfg.classes)
    pool = load_cadences(cadences, min_epochs=cfg.min_epochs)
    total = sum(n for _, n in plan)
    stop = total if stop is None else min(stop, total)
    return concat_batches([simulate_range(plan, a, b, pool, cfg)
                           for a, b in [(x, min(x + cfg.partition_size, stop)) for x in range(start, stop,
                                                                                          cfg.partition_size)]])


def _simulate_part(index: int, start: int, stop: int, plan, pool: CadencePool, cfg: SimulationConfig, out: str,
                   features_out: str | None, feature_settings) -> dict:
    from ..archive import write_partition

    try:
        batch = simulate_range(plan, start, stop, pool, cfg)
    except LiaDaskError:
        raise  # already one sentence naming the object and the setting to change
    except Exception as exc:  # noqa: BLE001 - wrap with the range so it can be rerun alone
        raise PartitionError(index, f"objects {start}:{stop}; rerun with simulate_batch(..., start={start}, "
                                    f"stop={stop})", exc) from exc
    info = write_partition(batch, out, index)
    first = np.r_[True, batch.object_id[1:] != batch.object_id[:-1]]  # rows of one object are adjacent
    labels, counts = np.unique(batch.label[first].astype(str), return_counts=True)
    info["per_class"] = {str(k): int(v) for k, v in zip(labels, counts)}
    info["attempts"] = int(batch.extra["sim_attempts"].sum())
    if features_out is not None:
        from .features import write_feature_part
        write_feature_part(batch, features_out, index, feature_settings)
    return info


def _prepare_out(out: Path, overwrite: bool) -> None:
    """An empty directory for the training archive; ``overwrite`` removes only a lia_dask archive's
    own files (:func:`lia_dask.archive.lightcurves.clear_archive`)."""
    from ..archive.lightcurves import clear_archive

    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} is a file; give a directory for the training archive.")
    try:
        clear_archive(out, overwrite)
    except InputError as exc:
        if "already exists" in str(exc):
            raise InputError(f"output archive {out} already exists and is not empty; choose another --out or "
                             f"use --overwrite.") from exc
        raise


def _prepare_features_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} is a file; give a directory for the feature table.")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise InputError(f"feature directory {out} already exists and is not empty; choose another "
                             "--features-out or use --overwrite.")
        for f in out.glob(S.PART_GLOB):
            f.unlink()
    out.mkdir(parents=True, exist_ok=True)


def config_to_json(cfg: SimulationConfig) -> dict:
    """The configuration as JSON-able values (the noise model included)."""
    def conv(v):
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (tuple, list)):
            return [conv(x) for x in v]
        if isinstance(v, float) and not np.isfinite(v):
            return repr(v)
        return v
    return conv(cfg)


def simulate_training_set(cadences, n_per_class: int | Mapping[str, int], out: str | os.PathLike,
                          config: SimulationConfig | None = None, *, client=None, overwrite: bool = False,
                          features_out: str | os.PathLike | None = None, feature_settings=None):
    """Simulate a labelled training set on the survey's cadences and write it as a nested archive.

    Parameters
    ----------
    cadences : CadencePool, archive path, directory of text lightcurves, LightcurveBatch or list of arrays
        Where the epochs come from (``load_cadences``), or a ``synthetic_cadences`` pool.
    n_per_class : int or dict of str to int
        Lightcurves per class.
    out : path-like
        Training archive directory (``part.*.parquet`` with ``label`` and ``sim_*`` truth columns).
    config : SimulationConfig, optional
        Classes, magnitudes, noise, seed, model and quality-cut settings.
    client : distributed.Client, optional
        Run on this cluster; ``None`` uses Dask's default scheduler (an active Client if any).
    overwrite : bool
        Replace an existing archive at ``out``.
    features_out : path-like, optional
        Also write the feature table (one Parquet part per archive part) computed with
        ``lia_dask.features`` inside the same tasks.
    feature_settings : optional
        Settings passed to the feature extraction (its defaults when None).

    Returns
    -------
    lia_dask.archive.Archive
        The written archive.
    """
    from ..archive import open_archive
    from ..archive.lightcurves import write_summary

    cfg = config or SimulationConfig()
    plan = plan_training_set(n_per_class, cfg.classes)
    pool = load_cadences(cadences, min_epochs=cfg.min_epochs)
    out = Path(out)
    _prepare_out(out, overwrite)
    if features_out is not None:
        from ..features.registry import get_feature_set
        from .features import default_feature_settings

        feature_settings = feature_settings or default_feature_settings()
        get_feature_set(feature_settings.feature_set)  # load (and compile) once here, not racing in threads
        _prepare_features_out(Path(features_out), overwrite)
        features_out = str(features_out)
    from ..cluster import active_client

    client = active_client(client)
    if client is not None:
        pool_ref, cfg_ref = client.scatter([pool, cfg], broadcast=True)
    else:
        pool_ref, cfg_ref = pool, cfg
    parts = stream_tasks(_simulate_part, _ranges(plan, cfg.partition_size),
                         (plan, pool_ref, cfg_ref, str(out), features_out, feature_settings), client)
    parts.sort(key=lambda p: p["index"])
    per_class: dict[str, int] = {}
    for p in parts:
        for k, v in p.pop("per_class").items():
            per_class[k] = per_class.get(k, 0) + v
    counts = {"per_class": per_class, "attempts": int(sum(p.pop("attempts") for p in parts)), "seed": cfg.seed}
    (out / SIMULATION_MANIFEST).write_text(json.dumps(
        {"plan": plan, "config": config_to_json(cfg), "n_cadences": pool.n_cadences,
         "cadence_bands": list(pool.band_names), "counts": counts}, indent=1))
    write_summary(out, parts, cfg.photometry, cfg.output_zeropoint, S.DEFAULT_TIME_SYSTEM, counts)
    return open_archive(out)


def class_counts(batch: LightcurveBatch) -> pd.Series:
    """Objects per label in a simulated batch (an object with several bands counts once)."""
    df = pd.DataFrame({"object_id": batch.object_id, "label": batch.label})
    return df.drop_duplicates("object_id")["label"].value_counts().sort_index()
