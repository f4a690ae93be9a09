"""The one prediction engine: the model sent to workers once, one task per part, one report.

Lightcurve archives (:mod:`.lightcurves`) and cutout stores (:mod:`.cutouts`) both hand
:func:`run_parts` a function ``part_fn(index, model, loc, job, *args) -> counts`` and the indices
to compute. The model travels as a :class:`BroadcastModel`, installed on every worker once as a worker
plugin (:func:`install_model`; tasks carry only an :class:`InstalledModel`, its digest); every
deserialization in a process is counted (:func:`received_counts`).
File rules (provenance, resume, deletion, summary) are :mod:`.writer`'s.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from distributed.diagnostics.plugin import WorkerPlugin

from ..archive import storage

_RECEIVED: Counter = Counter()  # digest -> times this process received (deserialized) the model
_LOADED: dict[str, Any] = {}    # digest -> classifier built from an artifact payload in this process
_LOCK = threading.Lock()


class BroadcastModel:
    """A classifier travelling to workers; counts how often a process deserializes it.

    Either holds the loaded classifier (ensembles: plain arrays and XGBoost boosters pickle
    well) or, with ``payload``, the artifact's bytes (a zip), loaded by ``loader`` at most once
    per process and model digest (CNNs: Keras models are rebuilt from their artifact).
    """

    def __init__(self, classifier: Any, digest: str, *, payload: bytes | None = None,
                 loader: Callable[[str], Any] | None = None):
        self._classifier = classifier
        self.digest = digest
        self.payload = payload
        self.loader = loader

    @classmethod
    def from_artifact(cls, path: str | os.PathLike, digest: str, loader: Callable[[str], Any]) -> "BroadcastModel":
        """A model shipped as its artifact bytes (a directory is zipped in memory)."""
        p = Path(path)
        if p.is_dir():
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
                for f in sorted(p.rglob("*")):
                    if f.is_file():
                        zf.write(f, f.relative_to(p).as_posix())
            data = buf.getvalue()
        else:
            data = p.read_bytes()
        return cls(None, digest, payload=data, loader=loader)

    @property
    def classifier(self) -> Any:
        if self._classifier is None:
            with _LOCK:
                if self.digest not in _LOADED:
                    d = tempfile.mkdtemp(prefix="lia-dask-model-")
                    zp = os.path.join(d, "model.zip")
                    try:
                        with open(zp, "wb") as fh:
                            fh.write(self.payload)
                        clf = self.loader(zp)  # the artifact's loader extracts the zip into its own directory
                    finally:
                        shutil.rmtree(d, ignore_errors=True)
                    if getattr(clf, "digest_", self.digest) != self.digest:
                        from ..errors import ArtifactError

                        raise ArtifactError(f"the model sent to this worker has digest {clf.digest_[:12]}, not "
                                            f"{self.digest[:12]}; rerun the job.")
                    _LOADED.clear()
                    _LOADED[self.digest] = clf
                self._classifier = _LOADED[self.digest]
        return self._classifier

    def __getstate__(self):
        if self.payload is not None:
            return {"classifier": None, "digest": self.digest, "payload": self.payload, "loader": self.loader}
        return {"classifier": self._classifier, "digest": self.digest, "payload": None, "loader": None}

    def __setstate__(self, state):
        self._classifier = state["classifier"]
        self.digest = state["digest"]
        self.payload = state.get("payload")
        self.loader = state.get("loader")
        _RECEIVED[self.digest] += 1


def received_counts() -> dict[str, int]:
    """How many times this process received each model (run on workers via ``client.run``)."""
    return dict(_RECEIVED)


class InstalledModel:
    """What a task graph carries instead of the model: its digest (see :func:`install_model`).

    The model itself reached each worker once, outside the graph and outside the worker's data
    store (so no spill, peer transfer or recomputation makes a worker receive it again).
    """

    def __init__(self, name: str, digest: str):
        self.name = name
        self.digest = digest

    def resolve(self) -> BroadcastModel:
        """The model installed in this process by this job's plugin."""
        try:
            return _INSTALLED[self.name]
        except KeyError:
            from ..errors import ArtifactError

            raise ArtifactError(f"model {self.digest[:12]} is not installed on this worker (the job was cancelled "
                                "or the worker joined after it ended); rerun the job.") from None

    @property
    def classifier(self) -> Any:
        return self.resolve().classifier


_INSTALLED: dict[str, BroadcastModel] = {}  # plugin name -> model installed in this process by ModelPlugin


class ModelPlugin(WorkerPlugin):
    """Carries a :class:`BroadcastModel` to every worker once (workers that join later get it on arrival)."""

    def __init__(self, name: str, model: BroadcastModel):
        self.name = name
        self.model = model

    def setup(self, worker) -> None:
        _INSTALLED[self.name] = self.model

    def teardown(self, worker) -> None:
        _INSTALLED.pop(self.name, None)


def install_model(client, model: BroadcastModel) -> tuple[InstalledModel, Callable[[], None]]:
    """Send ``model`` to every worker of ``client`` once, as a worker plugin; for graphs built by others.

    A graph built by another library (lsdb) carries the returned :class:`InstalledModel` (a digest);
    a task resolves it to the model with ``.resolve()``. Returns the handle and the function that
    removes the model from the workers when the job ends. ``received_counts()`` on a worker shows
    one receipt per job.
    """
    from ..cluster_warm import add_worker_plugin

    name = f"lia-dask-model-{model.digest[:16]}-{uuid.uuid4().hex[:8]}"
    return InstalledModel(name, model.digest), add_worker_plugin(client, ModelPlugin(name, model), name)


def resolve_model(model: Any) -> Any:
    """A task's model argument as the model: an :class:`InstalledModel` is looked up, others pass."""
    return model.resolve() if isinstance(model, InstalledModel) else model


def loaded_models() -> list[str]:
    """Digests of the artifact payloads this process built a classifier from (at most one)."""
    return list(_LOADED)


@dataclass
class PredictReport:
    """What a prediction job did; ``n_input == predicted + quarantined`` always.

    Attributes
    ----------
    out : Path or str
        Output directory (a URL for remote outputs).
    input : str
        The archive or cutout store.
    n_input, predicted, quarantined : int
        Objects (rows) in, predicted, kept out.
    partitions, skipped : int
        Output parts of the job, and those already done by an earlier run.
    seconds : float
    model_digest : str
    input_complete : bool
        False when the archive was read with ``allow_incomplete`` and some listed parts were not there.
    """

    out: Path | str
    input: str
    n_input: int
    predicted: int
    quarantined: int
    partitions: int
    skipped: int
    seconds: float
    model_digest: str
    input_complete: bool = True
    #: objects classified by this run (partitions done by an earlier run not counted); -1: n_input
    n_classified: int = -1

    @property
    def classified(self) -> int:
        return self.n_input if self.n_classified < 0 else self.n_classified

    @property
    def throughput(self) -> float:
        """Objects classified by this run per second (0 when a resume found nothing to do)."""
        return self.classified / self.seconds if self.seconds > 0 else float("nan")

    def __str__(self) -> str:
        tail = "" if self.input_complete else " (input archive incomplete: only its intact parts were read)"
        if self.classified == 0:
            return (f"nothing to do: all {self.partitions} partitions ({self.n_input} objects) were already "
                    f"classified by this model ({self.seconds:.1f} s) -> {self.out}{tail}")
        return (f"classified {self.classified} objects in {self.partitions} partitions ({self.skipped} already done, "
                f"{self.n_input} in all): predicted {self.predicted}, quarantined {self.quarantined}; "
                f"{self.seconds:.1f} s, {self.throughput:,.0f} objects/s -> {self.out}{tail}")


def run_parts(part_fn: Callable[..., dict], indices: list[int], model: BroadcastModel, args: tuple,
              client=None, show_progress: bool | None = None, label: str = "lia-predict") -> list[dict]:
    """Run ``part_fn(index, model, *args)`` for every index; the model goes to each worker once.

    With ``client=None`` the tasks run on the active distributed Client if there is one, else on
    Dask's default scheduler in this process.
    """
    show = show_progress
    if not indices:
        return []
    from ..cluster import active_client

    client = active_client(client)  # Dask's default scheduler may be a distributed Client: broadcast to it too
    if client is not None:
        ref, remove = install_model(client, model)
        try:
            tag = uuid.uuid4().hex[:8]
            futures = [client.submit(part_fn, i, ref, *args, key=f"{label}-{i}-{tag}") for i in indices]
            from ..cluster import show_progress

            show_progress(futures, show)  # a widget displayed in notebooks, a text bar in terminals
            return client.gather(futures)
        finally:
            remove()
    import dask

    from ..cluster import compute_with_progress

    tasks = [dask.delayed(part_fn, pure=False)(i, model, *args) for i in indices]
    return compute_with_progress(tasks, None, show=show)


def finish(loc: storage.Location, input_path: str, input_identity: str, kind: str, n_input: int,
           stats: list[dict], seconds: float, digest: str, input_complete: bool = True) -> PredictReport:
    """Check ``n_input == predicted + quarantined``, write ``_summary.json``, return the report."""
    from .writer import SUMMARY_FILE, summary_dict

    predicted = sum(s["predicted"] for s in stats)
    quarantined = sum(s["quarantined"] for s in stats)
    if n_input != predicted + quarantined:
        raise AssertionError(f"prediction counts do not reconcile: {n_input} input != {predicted} predicted + "
                             f"{quarantined} quarantined")
    report = PredictReport(loc.path if loc.remote else Path(loc.path), str(input_path), n_input, predicted,
                           quarantined, len(stats), sum(bool(s["skipped"]) for s in stats), seconds, digest,
                           input_complete, sum(s["predicted"] + s["quarantined"] for s in stats if not s["skipped"]))
    loc.write_json(summary_dict(report, kind, input_identity), SUMMARY_FILE)
    return report
