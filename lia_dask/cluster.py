"""Where Dask runs: ``client(spec)`` gives a ``distributed.Client``.

Specs
-----
``"local"`` (default)
    ``distributed.LocalCluster``: one worker process per core, one thread each, a memory limit
    per worker (total memory / workers).
``"tcp://host:8786"`` (any scheduler address)
    Connect to a running scheduler.
``"slurm"``
    ``dask_jobqueue.SLURMCluster`` configured from Dask config (``jobqueue.slurm.*``), needs the
    ``slurm`` extra.
``"kubernetes"``
    The dask-kubernetes operator's ``KubeCluster``, needs the ``kubernetes`` extra.

Settings come from Dask's configuration under ``lia_dask.cluster`` (YAML or environment,
e.g. ``DASK_LIA_DASK__CLUSTER__N_WORKERS=4``); explicit arguments win.
"""
from __future__ import annotations

import os
import sys
from typing import Any

import dask

from .errors import ConfigError, MissingExtraError


def _cfg(key: str, default: Any = None) -> Any:
    return dask.config.get(f"lia_dask.cluster.{key}", default=default)


def local_cluster(n_workers: int | None = None, threads_per_worker: int | None = None,
                  memory_limit: str | int | None = None, processes: bool = True, **kwargs):
    """A LocalCluster: by default one single-threaded worker process per core."""
    from distributed import LocalCluster

    n_workers = n_workers or _cfg("n_workers") or os.cpu_count() or 1
    threads_per_worker = threads_per_worker or _cfg("threads_per_worker") or 1
    memory_limit = memory_limit or _cfg("memory_limit") or "auto"
    return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                        memory_limit=memory_limit, processes=processes,
                        dashboard_address=kwargs.pop("dashboard_address", ":0"), **kwargs)


def _slurm_cluster(**kwargs):
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as exc:
        raise MissingExtraError.for_extra("--cluster slurm", "slurm", "dask-jobqueue") from exc
    overrides = dict(_cfg("slurm", {}) or {})
    overrides.update({k: v for k, v in kwargs.items() if v is not None})
    try:
        return SLURMCluster(**overrides)
    except ValueError as exc:
        raise ConfigError(f"SLURM cluster configuration is incomplete ({exc}); set jobqueue.slurm.cores and "
                          "jobqueue.slurm.memory in your Dask config (see deploy/slurm/).") from exc


def _kubernetes_cluster(**kwargs):
    try:
        from dask_kubernetes.operator import KubeCluster
    except ImportError as exc:
        raise MissingExtraError.for_extra("--cluster kubernetes", "kubernetes", "dask-kubernetes") from exc
    settings = dict(_cfg("kubernetes", {}) or {})
    settings.update({k: v for k, v in kwargs.items() if v is not None})
    return KubeCluster(**settings)


def client(spec: str | None = "local", *, n_workers: int | None = None, adapt: tuple[int, int] | None = None,
           **kwargs):
    """Start or connect to a cluster and return a ``distributed.Client``.

    Parameters
    ----------
    spec : str, optional
        ``"local"`` (default), a scheduler address ``"tcp://host:port"``, ``"slurm"`` or ``"kubernetes"``.
    n_workers : int, optional
        Workers to start (local) or to scale to (slurm, kubernetes).
    adapt : (int, int), optional
        Adaptive scaling bounds for slurm / kubernetes.
    **kwargs
        Passed to the cluster class (e.g. ``threads_per_worker``, ``memory_limit`` for local).

    The dashboard link is printed to stderr.
    """
    from distributed import Client

    spec = spec or _cfg("spec", "local")
    if spec == "local":
        cluster = local_cluster(n_workers=n_workers, **kwargs)
    elif "://" in spec:
        c = Client(spec)
        print(f"lia-dask: connected to {spec}; dashboard: {c.dashboard_link}", file=sys.stderr)
        return c
    elif spec == "slurm":
        cluster = _slurm_cluster(**kwargs)
    elif spec == "kubernetes":
        cluster = _kubernetes_cluster(**kwargs)
    else:
        raise ConfigError(f"unknown cluster spec {spec!r}; use 'local', 'tcp://host:port', 'slurm' or 'kubernetes'.")
    if spec in ("slurm", "kubernetes"):
        if adapt:
            cluster.adapt(minimum=adapt[0], maximum=adapt[1])
        elif n_workers:
            cluster.scale(n_workers)
    c = Client(cluster)
    print(f"lia-dask: {spec} cluster; dashboard: {c.dashboard_link}", file=sys.stderr)
    return c


def parse_adapt(text: str | None) -> tuple[int, int] | None:
    """Parse ``"MIN:MAX"`` into a tuple of ints."""
    if not text:
        return None
    try:
        lo, hi = (int(v) for v in text.split(":"))
    except ValueError as exc:
        raise ConfigError(f"--adapt must look like MIN:MAX (two integers), got {text!r}.") from exc
    if lo < 0 or hi < lo:
        raise ConfigError(f"--adapt needs 0 <= MIN <= MAX, got {text!r}.")
    return lo, hi


def client_from_args(args) -> Any:
    """The client for CLI arguments ``--cluster``, ``--workers``, ``--adapt``."""
    return client(getattr(args, "cluster", None) or "local", n_workers=getattr(args, "workers", None),
                  adapt=parse_adapt(getattr(args, "adapt", None)))


def compute_with_progress(tasks: list, client=None, show: bool | None = None) -> list:
    """Compute a list of delayed tasks on ``client`` (or Dask's default scheduler) with a progress bar.

    The bar is shown when stderr is a terminal or ``show=True``.
    """
    show = sys.stderr.isatty() if show is None else show
    if client is not None:
        futures = client.compute(tasks)
        if show:
            from distributed import progress

            progress(futures)
        return client.gather(futures)
    if show:
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            return list(dask.compute(*tasks))
    return list(dask.compute(*tasks))
