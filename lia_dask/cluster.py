"""Where Dask runs: ``client(spec)`` gives a ``distributed.Client``.

Specs
-----
``"local"`` (default)
    ``distributed.LocalCluster``: one worker process per core, one thread each, a memory limit
    per worker (total memory / workers).
``"tcp://host:8786"`` (any scheduler address), or the path of a scheduler file (``*.json``)
    Connect to a running scheduler (e.g. one started by ``deploy/slurm/lia-dask.sbatch``).
``"slurm"``
    ``dask_jobqueue.SLURMCluster`` (needs the ``slurm`` extra): one SLURM job per worker, submitted
    from the login node. Settings from Dask config ``jobqueue.slurm.*``, overridden by
    ``lia_dask.cluster.slurm.*``, overridden by keyword arguments.
``"kubernetes"``
    The dask-kubernetes operator's ``KubeCluster`` (needs the ``kubernetes`` extra), created from
    the ``DaskCluster`` resource that :func:`kubernetes_spec` builds from
    ``lia_dask.cluster.kubernetes.*`` (image, worker cores/memory, worker count, secret with
    object-store credentials).

With no spec, ``lia_dask.cluster.spec`` is used, else Dask's ``scheduler-address`` (the
``DASK_SCHEDULER_ADDRESS`` variable a ``DaskJob`` sets in its job pod), else ``"local"``.
Settings come from Dask's configuration (YAML or environment, e.g.
``DASK_LIA_DASK__CLUSTER__N_WORKERS=4``); explicit arguments win. ``--workers N`` scales a
slurm / kubernetes cluster to N workers, ``--adapt MIN:MAX`` makes it adaptive.
"""
from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
from concurrent.futures import Future
from typing import Any, Callable, Iterator

import dask

from . import __version__
from .errors import ConfigError, MissingExtraError

#: default container image (build it with deploy/docker/Dockerfile and push it to your registry)
DEFAULT_IMAGE = f"ghcr.io/lia-dask/lia-dask:{__version__}"

#: defaults of ``lia_dask.cluster.kubernetes.*`` (the manifests in deploy/kubernetes/ agree with them)
KUBERNETES_DEFAULTS: dict[str, Any] = {
    "name": "lia-dask",
    "namespace": None,
    "image": DEFAULT_IMAGE,
    "n_workers": 4,
    "worker_cores": 4,
    "worker_memory": "16Gi",
    "worker_threads": None,  # default: worker_cores
    "scheduler_cores": 1,
    "scheduler_memory": "4Gi",
    "env": {},
    "env_from_secret": "lia-dask-storage",  # optional Secret: AWS_ACCESS_KEY_ID, ... for s3:// (None: none)
    "idle_timeout": 0,
    "scheduler_service_type": "ClusterIP",
}
_SLURM_REQUIRED = ("cores", "memory")

log = logging.getLogger(__name__)


def _cfg(key: str, default: Any = None) -> Any:
    return dask.config.get(f"lia_dask.cluster.{key}", default=default)


def _norm(d: dict | None) -> dict:
    """Config keys may use dashes (YAML style) or underscores (keyword style)."""
    return {str(k).replace("-", "_"): v for k, v in (d or {}).items()}


def local_cluster(n_workers: int | None = None, threads_per_worker: int | None = None,
                  memory_limit: str | int | None = None, processes: bool = True, **kwargs):
    """A LocalCluster: by default one single-threaded worker process per core."""
    from distributed import LocalCluster

    n_workers = n_workers or _cfg("n_workers") or os.cpu_count() or 1
    threads_per_worker = threads_per_worker or _cfg("threads_per_worker") or 1
    memory_limit = memory_limit or _cfg("memory_limit") or "auto"
    # LocalCluster sets Dask's loggers to WARNING unless told otherwise: keep a stricter level (the CLI's)
    kwargs.setdefault("silence_logs", max(logging.WARNING, logging.getLogger("distributed").getEffectiveLevel()))
    return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                        memory_limit=memory_limit, processes=processes,
                        dashboard_address=kwargs.pop("dashboard_address", ":0"), **kwargs)


# ------------------------------------------------------------------------ SLURM
def slurm_settings(**overrides) -> dict:
    """The keyword arguments :func:`slurm_cluster` passes to ``SLURMCluster``.

    ``jobqueue.slurm.*`` is read by dask-jobqueue itself; this returns only what overrides it:
    ``lia_dask.cluster.slurm.*`` updated by ``overrides`` (``None`` values ignored).

    Raises
    ------
    ConfigError
        Cores or memory per job are set nowhere.
    """
    settings = _norm(_cfg("slurm", {}))
    settings.update({k: v for k, v in _norm(overrides).items() if v is not None})
    missing = [k for k in _SLURM_REQUIRED
               if settings.get(k) is None and dask.config.get(f"jobqueue.slurm.{k}", None) is None]
    if missing:
        raise ConfigError(f"SLURM cluster configuration is incomplete: {' and '.join(missing)} per job not set; "
                          f"set jobqueue.slurm.{missing[0]} in ~/.config/dask/jobqueue.yaml (template: "
                          "deploy/slurm/jobqueue.yaml) or lia_dask.cluster.slurm.{missing[0]}.")
    return settings


def slurm_cluster(**overrides):
    """A ``dask_jobqueue.SLURMCluster`` from Dask config (no jobs are submitted until it scales).

    Parameters
    ----------
    **overrides
        Any ``SLURMCluster`` keyword (``cores``, ``memory``, ``walltime``, ``queue``, ``account``,
        ``processes``, ``job_extra_directives``, ...); they win over the configuration.
    """
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as exc:
        raise MissingExtraError.for_extra("--cluster slurm", "slurm", "dask-jobqueue") from exc
    settings = slurm_settings(**overrides)
    try:
        return SLURMCluster(**settings)
    except (TypeError, ValueError) as exc:
        unknown = sorted(k for k in settings if f"'{k}'" in str(exc) and "unexpected keyword" in str(exc))
        if unknown:
            raise ConfigError(f"SLURM cluster setting {unknown[0]!r} is not understood by dask-jobqueue's SLURMCluster; "
                              "fix lia_dask.cluster.slurm in your Dask config (see deploy/slurm/jobqueue.yaml).") from exc
        raise ConfigError(f"SLURM cluster configuration is invalid ({exc}); check jobqueue.slurm and "
                          "lia_dask.cluster.slurm in your Dask config (see deploy/slurm/jobqueue.yaml).") from exc


# ------------------------------------------------------------------------ Kubernetes
def kubernetes_settings(**overrides) -> dict:
    """``KUBERNETES_DEFAULTS`` updated by ``lia_dask.cluster.kubernetes.*``, then by ``overrides``."""
    settings = dict(KUBERNETES_DEFAULTS)
    settings.update(_norm(_cfg("kubernetes", {})))
    settings.update({k: v for k, v in _norm(overrides).items() if v is not None})
    for key in ("image", "worker_cores", "worker_memory", "n_workers"):
        if settings.get(key) in (None, ""):
            raise ConfigError(f"Kubernetes cluster configuration is incomplete: lia_dask.cluster.kubernetes.{key} "
                              "is empty; set it in your Dask config (see deploy/kubernetes/README.md).")
    if int(settings["n_workers"]) < 0:
        raise ConfigError(f"lia_dask.cluster.kubernetes.n_workers must be >= 0, got {settings['n_workers']}.")
    return settings


def _resources(cores, memory) -> dict:
    # CPU request only (a CPU limit throttles numba loops); memory request = limit (no overcommit)
    return {"requests": {"cpu": str(cores), "memory": str(memory)}, "limits": {"memory": str(memory)}}


def kubernetes_spec(**overrides) -> dict:
    """The ``DaskCluster`` resource (a dict) that ``--cluster kubernetes`` creates.

    Workers get ``worker_cores`` CPUs and ``worker_memory`` (requests; memory also as limit and as
    Dask's ``--memory-limit``), ``worker_threads`` threads (default: one per core). Both pods take
    their environment from ``env`` and, when ``env_from_secret`` names one, from that Secret
    (optional: pods start without it, e.g. on clusters whose nodes have an IAM role).
    """
    s = kubernetes_settings(**overrides)
    try:
        from dask_kubernetes.operator import make_cluster_spec
    except ImportError as exc:
        raise MissingExtraError.for_extra("--cluster kubernetes", "kubernetes", "dask-kubernetes") from exc
    spec = make_cluster_spec(name=s["name"], image=s["image"], n_workers=int(s["n_workers"]),
                             resources=_resources(s["worker_cores"], s["worker_memory"]),
                             env={str(k): str(v) for k, v in (s["env"] or {}).items()},
                             scheduler_service_type=s["scheduler_service_type"], idle_timeout=int(s["idle_timeout"]))
    sched = spec["spec"]["scheduler"]["spec"]["containers"][0]
    # `dask scheduler` / `dask worker`: the dask-scheduler / dask-worker scripts are gone from distributed
    sched["args"] = ["dask", "scheduler", *sched["args"][1:]]
    sched["resources"] = _resources(s["scheduler_cores"], s["scheduler_memory"])
    worker = spec["spec"]["worker"]["spec"]["containers"][0]
    worker["resources"] = _resources(s["worker_cores"], s["worker_memory"])
    threads = str(s["worker_threads"] or s["worker_cores"])
    worker["args"] = ["dask", "worker", *worker["args"][1:], "--nthreads", threads,
                      "--memory-limit", str(s["worker_memory"])]
    for c in (sched, worker):
        if not c.get("env"):
            c.pop("env", None)
        if s["env_from_secret"]:
            c["envFrom"] = [{"secretRef": {"name": str(s["env_from_secret"]), "optional": True}}]
    return spec


def kubernetes_cluster(**overrides):
    """The operator's ``KubeCluster`` for :func:`kubernetes_spec` (needs a reachable Kubernetes API)."""
    try:
        from dask_kubernetes.operator import KubeCluster
    except ImportError as exc:
        raise MissingExtraError.for_extra("--cluster kubernetes", "kubernetes", "dask-kubernetes") from exc
    spec = kubernetes_spec(**overrides)
    namespace = kubernetes_settings(**overrides)["namespace"]
    try:
        return KubeCluster(custom_cluster_spec=spec, namespace=namespace, quiet=True)
    except Exception as exc:  # kubernetes_asyncio raises config, API and timeout errors of many types
        raise ConfigError(f"could not create DaskCluster {spec['metadata']['name']!r} ({type(exc).__name__}: {exc}); "
                          "check that kubectl reaches the cluster and that the dask-kubernetes operator is "
                          "installed (deploy/kubernetes/README.md).") from exc


# ------------------------------------------------------------------------ entry points
def client(spec: str | None = "local", *, n_workers: int | None = None, adapt: tuple[int, int] | None = None,
           **kwargs):
    """Start or connect to a cluster and return a ``distributed.Client``.

    Parameters
    ----------
    spec : str, optional
        ``"local"`` (default), a scheduler address ``"tcp://host:port"``, a scheduler file
        ``"*.json"``, ``"slurm"`` or ``"kubernetes"``; ``None`` looks at the configuration
        (module docstring).
    n_workers : int, optional
        Workers to start (local) or to scale to (slurm, kubernetes).
    adapt : (int, int), optional
        Adaptive scaling bounds for slurm / kubernetes.
    **kwargs
        Passed to the cluster (e.g. ``threads_per_worker``, ``memory_limit`` for local; any
        ``SLURMCluster`` keyword for slurm; any ``lia_dask.cluster.kubernetes`` key for kubernetes).

    Returns
    -------
    distributed.Client
        Its dashboard link is logged at INFO (logger ``lia_dask.cluster``).
    """
    from distributed import Client

    spec = spec or _cfg("spec") or dask.config.get("scheduler-address", None) or "local"
    spec = str(spec)
    if spec == "local":
        cluster = local_cluster(n_workers=n_workers, **kwargs)
    elif "://" in spec or spec.endswith(".json"):
        try:
            c = Client(scheduler_file=spec) if spec.endswith(".json") else Client(spec)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {spec} ({exc}); start it first "
                              "(`dask scheduler`) or check the address.") from exc
        log_dashboard(c, f"connected to {spec}")
        return c
    elif spec == "slurm":
        cluster = slurm_cluster(**kwargs)
    elif spec == "kubernetes":
        if n_workers and not adapt:
            kwargs["n_workers"] = n_workers  # created at that size
        cluster = kubernetes_cluster(**kwargs)
    else:
        raise ConfigError(f"unknown cluster spec {spec!r}; use 'local', 'tcp://host:port', a scheduler file "
                          "'*.json', 'slurm' or 'kubernetes'.")
    if spec in ("slurm", "kubernetes"):
        if adapt:
            cluster.adapt(minimum=adapt[0], maximum=adapt[1])
        elif n_workers and spec == "slurm":
            cluster.scale(n_workers)
    c = _owning_client_class()(cluster)
    log_dashboard(c, f"started a {spec} cluster")
    return c


_OWNING_CLIENT: Any = None


def _owning_client_class() -> type:
    """A ``distributed.Client`` that closes its cluster when it is closed (the cluster is lia_dask's).

    Without it a ``with client(...)`` block leaves the cluster to be torn down at interpreter
    exit, after the CLI's logging is gone (Dask's "worker still alive" warnings on the terminal).
    """
    global _OWNING_CLIENT
    if _OWNING_CLIENT is None:
        from distributed import Client

        class OwningClient(Client):
            def close(self, timeout: Any = None):  # noqa: D102 - Client.close, then the cluster
                cluster = getattr(self, "cluster", None)
                if type(cluster).__name__ == "LocalCluster" and self.status == "running":
                    with contextlib.suppress(Exception):  # workers already gone: nothing to arm
                        self.run(arm_quick_exit, os.getpid())
                try:
                    return super().close(timeout=timeout) if timeout is not None else super().close()
                finally:
                    cluster = getattr(self, "cluster", None)
                    if cluster is not None and getattr(cluster, "status", None) is not None:
                        with contextlib.suppress(Exception):  # already closed / closing at exit
                            cluster.close()

        _OWNING_CLIENT = OwningClient
    return _OWNING_CLIENT


def _quick_exit() -> None:  # pragma: no cover - runs in a worker process at its exit
    from ._cli_common import exit_without_teardown

    atexit.unregister(_quick_exit)
    exit_without_teardown(0)  # every other exit handler still runs


def arm_quick_exit(client_pid: int) -> bool:
    """In a worker process of a LocalCluster being closed: end the process without the interpreter's
    module teardown (exit handlers still run), which takes seconds once XGBoost, scikit-learn and
    numba are loaded; the nanny waits for it before the cluster is closed. Nothing is armed in the
    client's own process (a cluster of threads), whose exit code is its own. Returns whether armed."""
    if os.getpid() == int(client_pid):
        return False
    atexit.register(_quick_exit)
    return True


def current_client() -> Any:
    """The ``distributed.Client`` in use (``Client.current()``), or None when there is none."""
    if "distributed" not in sys.modules:
        return None  # nobody made a client: do not pay distributed's import
    from distributed import Client

    try:
        c = Client.current(allow_global=True)
    except ValueError:
        return None
    return c if c.status == "running" else None


def log_dashboard(c: Any, what: str) -> str:
    """Log (INFO) and return the dashboard link of any client, whoever made it."""
    link = getattr(c, "dashboard_link", None) or "none (the scheduler serves no dashboard)"
    log.info("%s; dashboard: %s", what, link)
    return link


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
    """The client for CLI arguments ``--cluster``, ``--workers``, ``--adapt`` (no ``--cluster``: see ``client``).

    Local worker processes start with SIGINT blocked: on Ctrl-C the CLI ends them itself and
    prints one line, instead of every worker printing a traceback.
    """
    from ._cli_common import sigint_ignored

    adapt = parse_adapt(getattr(args, "adapt", None))
    with sigint_ignored():
        return client(getattr(args, "cluster", None), n_workers=getattr(args, "workers", None), adapt=adapt)


@contextlib.contextmanager
def start_client(args, on_start: Callable[[Any], None] | None = None) -> Iterator[Future]:
    """Start the CLI's client (:func:`client_from_args`) in a background thread; yields its Future.

    The caller does its own start-up work meanwhile (load the model, check the output, plan the
    tasks) and hands the Future to a stage that takes ``client=`` (:func:`active_client` waits for
    it where the client is first needed). ``on_start(client)`` runs in the background thread
    before the Future is set (e.g. :func:`lia_dask.cluster_warm.warm_workers`). The thread starts
    with SIGINT blocked, so the worker processes inherit the blocked signal as with
    :func:`client_from_args`; on leaving the block the start is waited for and the client (and the
    cluster it owns) closed, also when the caller failed first.
    """
    from ._cli_common import sigint_ignored

    future: Future = Future()

    def run() -> None:
        try:
            c = client_from_args(args)
        except BaseException as exc:  # handed to whoever waits for the client
            future.set_exception(exc)
            return
        try:
            if on_start is not None:
                on_start(c)
        except BaseException as exc:
            c.close()
            future.set_exception(exc)
            return
        future.set_result(c)

    with sigint_ignored():  # the thread (and Dask's event loop it starts) inherits the mask
        thread = threading.Thread(target=run, name="lia-dask-cluster-start", daemon=True)
        thread.start()
    try:
        yield future
    finally:
        thread.join()
        if future.exception() is None:
            future.result().close()


# ------------------------------------------------------------------------ progress
def in_notebook() -> bool:
    """True inside a Jupyter kernel (where progress is a widget sent to ``IPython.display``)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def progress_wanted(show: bool | None = None) -> bool:
    """Whether to show progress: ``show``, else ``lia_dask.progress`` in the Dask config, else
    when stderr is a terminal or the code runs in a notebook."""
    if show is None:
        show = dask.config.get("lia_dask.progress", default=None)
    if show is None:
        return sys.stderr.isatty() or in_notebook()
    return bool(show)


@contextlib.contextmanager
def progress_setting(show: bool | None) -> Iterator[None]:
    """Within the block, :func:`progress_wanted` answers ``show`` (None: leave the setting alone)."""
    if show is None:
        yield
        return
    with dask.config.set({"lia_dask.progress": bool(show)}):
        yield


def show_progress(futures: list, show: bool | None = None) -> Any:
    """Show the progress of ``futures``: a widget displayed in a notebook, a text bar in a terminal.

    In a notebook the widget is handed to ``IPython.display.display`` (``distributed.progress``
    alone only returns it) and this returns at once; in a terminal it blocks until the futures
    finish. Returns the widget (notebook) or None.
    """
    if not futures or not progress_wanted(show):
        return None
    from distributed import progress

    if in_notebook():
        try:
            bar = progress(futures, notebook=True, multi=False)
        except ImportError:  # no ipywidgets: a text bar in the cell output
            progress(futures, notebook=False)
            return None
        from IPython.display import display

        display(bar)
        return bar
    progress(futures, notebook=False)
    return None


class _NoBar:
    """What :func:`progress_bar` returns when no progress is shown."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, show: bool | None = None) -> Any:
    """A progress bar over ``total`` steps of a loop lia_dask drives itself (tuning trials, ...).

    tqdm's notebook bar (a widget, displayed by tqdm) in a notebook, a text bar on stderr in a
    terminal, an object with the same ``update`` / ``close`` that shows nothing otherwise.
    """
    if not progress_wanted(show):
        return _NoBar()
    try:
        if in_notebook():
            from tqdm.notebook import tqdm
        else:
            from tqdm import tqdm
        return tqdm(total=total, desc=desc, leave=True)
    except ImportError:  # tqdm (or ipywidgets for the notebook bar) missing: no bar
        return _NoBar()


def compute_with_progress(tasks: list, client=None, show: bool | None = None) -> list:
    """Compute a list of delayed tasks on ``client`` (or Dask's default scheduler) with progress.

    Parameters
    ----------
    tasks : list of dask.delayed.Delayed
    client : distributed.Client, optional
    show : bool, optional
        Progress display (see :func:`progress_wanted` for the default).

    Returns
    -------
    list
        The results, in the order of ``tasks``.
    """
    if client is not None:
        futures = client.compute(tasks)
        show_progress(futures, show)
        return client.gather(futures)
    if progress_wanted(show):
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            return list(dask.compute(*tasks))
    return list(dask.compute(*tasks))


def active_client(client=None):
    """``client`` (waited for when it is a Future of one), else the active distributed Client (Dask's
    default), else None.

    A ``scheduler`` set in the Dask config (e.g. ``dask.config.set(scheduler="sync")``) wins over
    an active Client, as it does for ``dask.compute``.
    """
    if isinstance(client, Future):  # a client still starting (:func:`start_client`)
        return client.result()
    if client is not None or dask.config.get("scheduler", None) is not None:
        return client
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None
