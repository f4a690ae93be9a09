"""The public API: the whole lia_dask flow in a few verbs, re-exported from ``lia_dask``.

>>> import lia_dask as lia
>>> client = lia.client()                                  # the current Dask client, else a LocalCluster
>>> real = lia.ingest(lia.ogle2_samples(), "ogle2").archive  # text lightcurves -> archive
^>>> training = lia.simulate_training_set(real, 500, "train")  # the survey's own cadences and noise
>>> model = lia.train_classifier(lia.extract_features(training), out="model")
>>> model.predict(time, mag, magerr)                       # one lightcurve (MicroLIA's habit)
>>> report = lia.predict_archive(real, model, "predictions")
>>> lia.candidates("predictions", top=10)

Every function takes an :class:`~lia_dask.archive.Archive` or its path alike, and ``client=``:
``None`` uses the current ``distributed.Client`` if there is one, else starts a LocalCluster once
(see :func:`client`). Long steps show a progress bar in terminals and a widget in notebooks
(``progress=False`` turns it off; default from ``lia_dask.progress`` in the Dask config).
Heavy libraries are imported inside the functions, so ``import lia_dask`` stays cheap.

Names: training is :func:`train_classifier`, not ``train``, because ``lia_dask.train`` is the
training sub-package (a function of that name would be replaced by the module once it is imported).
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from .classifier import Classifier
from .errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .archive import Archive, IngestReport
    from .predict import PredictReport

log = logging.getLogger("lia_dask")

#: the client :func:`client` started itself (reused by later calls while it is running)
_OWN_CLIENT: Any = None
#: ids of the clients whose dashboard link was already logged
_ANNOUNCED: set[int] = set()

# ------------------------------------------------------------------------ cluster
def client(spec: str | None = None, **kwargs: Any):
    """The Dask client every lia_dask function uses by default.

    Parameters
    ----------
    spec : str, optional
        ``None``: the current ``distributed.Client`` if there is one (e.g. one the user made),
        else one made from the configuration (``lia_dask.cluster.spec``, Dask's
        ``scheduler-address``, else a LocalCluster), started once and reused. Any other value (``"local"``,
        ``"tcp://host:8786"``, a scheduler file, ``"slurm"``, ``"kubernetes"``) always makes a
        new client, see :func:`lia_dask.cluster.client`.
    **kwargs
        Passed to :func:`lia_dask.cluster.client` (``n_workers=``, ``adapt=``, cluster keywords).

    Returns
    -------
    distributed.Client
        Its dashboard link is logged (logger ``lia_dask``) whichever way it was obtained.
    """
    global _OWN_CLIENT
    from . import cluster

    if spec is None and not kwargs:
        current = cluster.current_client()
        if current is not None:
            if id(current) not in _ANNOUNCED:
                cluster.log_dashboard(current, "using the current client")
                _ANNOUNCED.add(id(current))
            return current
    c = cluster.client(spec, **kwargs)  # None: lia_dask.cluster.spec, Dask's scheduler-address, else local
    _OWN_CLIENT = c
    _ANNOUNCED.add(id(c))
    return c


def _client(client: Any) -> Any:
    return client if client is not None else globals()["client"]()


# ------------------------------------------------------------------------ archives
def open_archive(archive: Archive | str | os.PathLike, storage_options: dict | None = None) -> Archive:
    """An :class:`~lia_dask.archive.Archive` from a path or URL (an ``Archive`` is returned as is).

    Parameters
    ----------
    archive : Archive, path-like or URL
    storage_options : dict, optional
        fsspec options for a URL.
    """
    from .archive import Archive, open_archive as _open

    return archive if isinstance(archive, Archive) else _open(archive, storage_options)


def ogle2_samples() -> Path:
    """Directory of the 60 bundled OGLE-II lightcurves (``microlensing/``, ``variables/``)."""
    from .data import ogle2_samples as _samples

    return _samples()


def ingest(source: str | os.PathLike | Sequence[str], out: str | os.PathLike, *,
           columns: Mapping[str, str] | None = None, preset: str | None = None, labels: bool | None = None,
           pattern: str = "*", files_per_partition: int | None = None, overwrite: bool = False,
           config: Any = None, client: Any = None, progress: bool | None = None,
           storage_options: dict | None = None) -> IngestReport:
    """Ingest survey files into a lightcurve archive.

    Parameters
    ----------
    source : path, URL, glob or list of them
        A directory of text lightcurves (one object per file; sub-directories are labels), or
        long tables (Parquet / CSV, one row per epoch) with ``columns`` or ``preset``.
    out : path-like or URL
        Archive directory to write.
    columns : dict, optional
        Long tables: source column -> archive column (``object_id``, ``time``, ``mag`` ...).
    preset : str, optional
        Long tables: a named mapping, e.g. ``"rubin-dia"`` (:data:`lia_dask.archive.PRESETS`).
    labels : bool, optional
        Text directories: store the sub-directory as label (default: when there are any).
    pattern : str
        Text directories: glob of the data files.
    files_per_partition : int, optional
        Text directories: files per archive part (default from :class:`~lia_dask.archive.IngestConfig`).
    overwrite : bool
        Replace an existing archive at ``out``.
    config : IngestConfig, optional
        Every other ingest setting (photometry, zero point, validation rules).
    client, progress, storage_options
        See the module docstring; fsspec options for URLs.

    Returns
    -------
    IngestReport
        Counts (``read == archived + quarantined``) and ``.archive``, the written archive.
    """
    from dataclasses import replace

    from .archive import IngestConfig, ingest_directory, ingest_long
    from .cluster import progress_setting

    cfg = config or IngestConfig()
    changes = {k: v for k, v in (("overwrite", overwrite or cfg.overwrite),
                                 ("files_per_partition", files_per_partition)) if v is not None}
    cfg = replace(cfg, **changes)
    c = _client(client)
    with progress_setting(progress):
        if columns is None and preset is None:
            return ingest_directory(source, out, cfg, labels=labels, pattern=pattern, client=c,
                                    storage_options=storage_options)
        return ingest_long(list(source) if isinstance(source, (list, tuple)) else source, out,
                           dict(columns) if columns else None, cfg, preset=preset, client=c,
                           storage_options=storage_options)


# ------------------------------------------------------------------------ simulation
def simulate_training_set(cadences: Any, n_per_class: int | Mapping[str, int], out: str | os.PathLike, *,
                          noise: Any = "cadences", seed: int | None = 0, config: Any = None,
                          overwrite: bool = False, client: Any = None, progress: bool | None = None,
                          **settings: Any) -> Archive:
    """Simulate a labelled training set on a survey's own cadences (and, by default, its noise).

    Parameters
    ----------
    cadences : Archive, path, directory of text lightcurves, LightcurveBatch or CadencePool
        Where the epochs are drawn from.
    n_per_class : int or dict of str to int
        Lightcurves per class (ML, CV, LPV, VARIABLE, CONSTANT), or a count per class.
    out : path-like
        Training archive directory.
    noise : "cadences", NoiseModel or None
        ``"cadences"`` (default): the σ(mag) relation fitted to the ``cadences`` lightcurves
        when they are real photometry (an archive, a batch), else photon noise; a
        :class:`~lia_dask.simulate.NoiseModel`; ``None``: photon noise.
    seed : int, optional
        Random seed (one seed gives one training set, whatever the cluster).
    config : SimulationConfig, optional
        Every other simulation setting; ``noise``, ``seed`` and ``settings`` override it.
    overwrite : bool
        Replace an existing archive at ``out``.
    **settings
        Any :class:`~lia_dask.simulate.SimulationConfig` field, e.g. ``min_mag=14, max_mag=20``.
    client, progress
        See the module docstring.

    Returns
    -------
    Archive
        The training archive (``label`` and ``sim_*`` truth columns).
    """
    from dataclasses import replace

    from .archive import Archive
    from .batch import LightcurveBatch
    from .cluster import progress_setting
    from .simulate import NoiseModel, SimulationConfig
    from .simulate.simulate import simulate_training_set as _simulate

    cfg = config or SimulationConfig()
    if isinstance(noise, str):
        if noise != "cadences":
            raise InputError(f"noise must be 'cadences', a NoiseModel or None, got {noise!r}.")
        noise = cfg.noise
        if noise is None and isinstance(cadences, (Archive, LightcurveBatch, str, os.PathLike)):
            real = _as_batch(cadences)
            noise = None if real is None else NoiseModel.from_batch(real)
    cfg = replace(cfg, noise=noise, **({"seed": seed} if seed is not None else {}), **settings)
    src = cadences.path if isinstance(cadences, Archive) else cadences
    with progress_setting(progress):
        return _simulate(src, n_per_class, out, cfg, client=_client(client), overwrite=overwrite)


def _as_batch(source: Any):
    """All lightcurves of an archive (or a batch) for the noise fit; None for other cadence sources."""
    from .archive import Archive
    from .batch import LightcurveBatch, concat_batches

    if isinstance(source, LightcurveBatch):
        return source
    if not isinstance(source, Archive):
        p = Path(source)
        if not (p.is_dir() and any(p.glob("part.*.parquet"))):
            return None  # a directory of text files: load_cadences reads them, photon noise here
        source = open_archive(p)
    return concat_batches(list(source.batches()))


def plot_simulated(archive: Archive | str | os.PathLike, n_per_class: int = 3, *, path: str | os.PathLike | None = None,
                   seed: int = 0):
    """A few lightcurves per class of a training archive, one row per class (times in days, with units).

    Parameters
    ----------
    archive : Archive or path
        A simulated training archive (its first partition is drawn from).
    n_per_class : int
        Examples per class.
    path : path-like, optional
        Also save the figure there.
    seed : int
        Which examples.

    Returns
    -------
    matplotlib.figure.Figure
        Shown inline when it is the last expression of a notebook cell.
    """
    from .simulate.plots import plot_simulated as _plot

    arch = open_archive(archive)
    return _plot(arch.read_batch(0), n_per_class, path=path, seed=seed, time_system=arch.time_system)


# ------------------------------------------------------------------------ features and training
def extract_features(archive: Archive | str | os.PathLike, out: str | os.PathLike | None = None, *,
                     settings: Any = None, feature_set: str | None = None, client: Any = None,
                     progress: bool | None = None):
    """The feature table of an archive (MicroLIA's 168 statistics by default).

    Parameters
    ----------
    archive : Archive or path
    out : path-like, optional
        Write the table as Parquet (one part per archive part) and return the path, for tables
        too large to hold in memory; by default the table is returned as a pandas DataFrame.
    settings : FeatureSettings, optional
        Default: the archive's own zero point, magnitudes converted to flux (MicroLIA's way).
    feature_set : str, optional
        A registered feature set instead of the settings' (e.g. ``"microlia-2.8.1+physical"``, the
        training recipe's: MicroLIA's 168 statistics and the physical model block).
    client, progress
        See the module docstring.

    Returns
    -------
    pandas.DataFrame or Path
        One row per (object, band): ``object_id``, ``band``, ``label`` (training archives), the
        features, ``feature_reason``. ``df.attrs["feature_settings"]`` holds the resolved settings,
        which :func:`train_classifier` records in the model so prediction computes the same features.
    """
    from dataclasses import replace

    from .cluster import compute_with_progress, progress_setting
    from .features import FeatureSettings, extract_archive

    arch = open_archive(archive)
    fs = settings or FeatureSettings(zp=None, convert=None)
    if feature_set is not None:
        fs = replace(fs, feature_set=feature_set)
    zp, _ = fs.resolve(arch.photometry, arch.zeropoint)
    resolved = replace(fs, zp=zp).to_dict()
    c = _client(client)
    ddf = extract_archive(arch, fs, client=c)
    with progress_setting(progress):
        if out is not None:
            compute_with_progress([ddf.to_parquet(str(out), compute=False, write_index=False)], c)
            return Path(out)
        import pandas as pd

        parts = compute_with_progress(ddf.to_delayed(), c)
        df = pd.concat(parts, ignore_index=True) if parts else ddf._meta
    df.attrs["feature_settings"] = resolved
    return df


def train_classifier(features: Any, labels: str | Sequence = "label", *, out: str | os.PathLike | None = None,
          model: str = "xgb", feature_settings: Mapping[str, Any] | None = None, evaluate: bool = True,
          overwrite: bool = False, client: Any = None, hard_negatives: Any = None, hard_top: int = 1000,
          alert_negatives: Any = None, max_false_alerts_per_million: float | None = 100.0,
          **train_settings: Any) -> "Classifier":
    """Train an ensemble classifier (KNN imputation, optional Boruta-SHAP selection and Optuna tuning).

    Parameters
    ----------
    features : pandas.DataFrame, path of a feature table, or Archive / archive path
        A table from :func:`extract_features` (an archive is turned into one first, with the training
        recipe's feature set ``microlia-2.8.1+physical``).
    labels : str or sequence
        The label column of ``features`` (default ``"label"``), or the labels themselves.
    out : path-like, optional
        Save the model artifact there (no pickle).
    model : {"xgb", "rf", "nn"}
    feature_settings : dict, optional
        The settings the features were computed with; default: ``features.attrs`` (set by
        :func:`extract_features`), else the feature set's defaults.
    evaluate : bool
        Also compute out-of-fold probabilities (``cv`` folds, default 3): their metrics go into the
        artifact (``metrics["kfold"]``) and :meth:`Classifier.plot_report` draws them.
    overwrite : bool
        Replace an existing artifact at ``out``.
    hard_negatives : pandas.DataFrame, optional
        Features of labelled simulated non-events (another seed, same feature settings): a first model
        scores them and the ``hard_top`` most event-like join the training set (``lia-dask train
        --hard-negatives``).
    alert_negatives : pandas.DataFrame, optional
        Features of labelled non-events that set the alert threshold for ``max_false_alerts_per_million``
        (default: the out-of-fold training non-events); the alert stage (calibration, prior shift,
        threshold, docs/alerts.md) is fitted when ``evaluate`` and the labels include ``ML``.
    **train_settings
        Any :class:`~lia_dask.train.TrainConfig` field: ``tune_trials``, ``select_trials``, ``cv``,
        ``random_state``, ``params`` ...
    client
        See the module docstring (tuning trials run on the cluster).

    Returns
    -------
    Classifier
        With ``predict(time, mag, magerr)`` for single lightcurves.
    """
    import pandas as pd

    from .archive import Archive
    from .features import get_feature_set
    from .train import EnsembleClassifier

    if isinstance(features, Archive) or (isinstance(features, (str, os.PathLike)) and _is_archive(features)):
        from .features import FeatureSettings
        from .train.negatives import TRAIN_FEATURE_SET

        features = extract_features(features, settings=FeatureSettings(zp=None, convert=None, feature_set=TRAIN_FEATURE_SET),
                                    client=client)
    elif isinstance(features, (str, os.PathLike)):
        features = pd.read_parquet(features)
    if not isinstance(features, pd.DataFrame):
        raise InputError(f"train needs a feature table (pandas DataFrame or Parquet path), got {type(features).__name__}.")
    settings = dict(feature_settings or features.attrs.get("feature_settings") or {})
    set_name = settings.get("feature_set") or get_feature_set().name
    names = [n for n in get_feature_set(set_name).names if n in features.columns]
    if not names:
        raise InputError(f"the feature table has none of the columns of feature set {set_name!r}; "
                         "make it with lia_dask.extract_features.")
    if isinstance(labels, str) and labels not in features.columns:
        raise InputError(f"the feature table has no label column {labels!r}; pass labels=... .")
    y = features[labels] if isinstance(labels, str) else np.asarray(labels)
    train_settings.setdefault("cv", 3)
    c = _client(client)
    for what, table in (("hard_negatives", hard_negatives), ("alert_negatives", alert_negatives)):
        other = getattr(table, "attrs", {}).get("feature_settings") if table is not None else None
        if other and settings and dict(other) != settings:
            raise InputError(f"{what} were computed with feature settings {dict(other)}, the training features with "
                             f"{settings}; extract both with the same settings (lia.extract_features(..., feature_set=...)).")
    if hard_negatives is not None:
        from .train.negatives import mine_hard_negatives

        rows = mine_hard_negatives(features[names], np.asarray(y), hard_negatives[names], hard_negatives["label"].to_numpy(),
                                   hard_top, client=c, model=model, **{k: v for k, v in train_settings.items()
                                                                     if k in ("cv", "random_state", "params", "impute")})
        features = pd.concat([features[names].assign(label=np.asarray(y)),
                              hard_negatives.iloc[rows][names].assign(label=hard_negatives["label"].to_numpy()[rows])],
                             ignore_index=True)
        y, labels = features["label"], "label"
    clf = EnsembleClassifier(model=model, **train_settings)
    clf.fit(features[names], y, client=c, feature_set=set_name, feature_settings=settings or None)
    oof = None
    if evaluate and clf.cv >= 2:
        from .train import classification_metrics, cross_val_proba

        y_arr = np.asarray(y)
        proba = cross_val_proba(clf, features[names], y_arr, cv=clf.cv, client=c)
        m = classification_metrics(y_arr, proba, clf.classes_)
        clf.metrics_["kfold"] = {**{k: m[k] for k in ("accuracy", "f1_macro", "recall", "precision",
                                                       "confusion_matrix")}, "k": clf.cv}
        oof = (y_arr, proba, clf.cv)
        if "ML" in {str(k) for k in clf.classes_}:
            from .train.calibrate import AlertConfig

            neg = None if alert_negatives is None else (clf.raw_proba(alert_negatives[names]),
                                                        alert_negatives["label"].to_numpy())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # an unresolved target is recorded in the artifact
                clf.fit_alerts(proba, y_arr, AlertConfig(max_false_alerts_per_million=max_false_alerts_per_million),
                               negatives=neg)
    if out is not None:
        clf.save(out, overwrite=overwrite)
        clf = EnsembleClassifier.load(out)  # the artifact as prediction will see it (digest, manifest)
    result = Classifier(clf)
    result.out_of_fold = oof
    return result


def _is_archive(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "_archive.json").exists()


def load_model(path: str | os.PathLike) -> "Classifier":
    """Load a model artifact (directory or .zip; verified, never unpickled) as a :class:`Classifier`."""
    from .predict import load_model as _load

    if isinstance(path, Classifier):
        return path
    return Classifier(_load(path).classifier)


# ------------------------------------------------------------------------ prediction
def predict_archive(archive: Archive | str | os.PathLike, model: Any, out: str | os.PathLike, *,
                    fit_filter: bool = False, resume: bool = True, config: Any = None, client: Any = None,
                    progress: bool | None = None) -> PredictReport:
    """Classify every lightcurve of an archive, one output file per partition, resumably.

    Parameters
    ----------
    archive : Archive or path
    model : Classifier, EnsembleClassifier or artifact path
        Sent to every worker once.
    out : path-like or URL
        Output directory (``part.NNNNN.parquet`` per partition, ``_summary.json``).
    fit_filter : bool
        PSPL fit of the objects predicted ``ML``: adds ``fit_*`` and ``passes_fit``.
    resume : bool
        Skip partitions this model already predicted.
    config : PredictConfig, optional
        Every other setting (fit-filter cuts, slice size); ``fit_filter``, ``resume`` override it.
    client, progress
        See the module docstring.

    Returns
    -------
    PredictReport
        Counts (``n_input == predicted + quarantined``), time, throughput.
    """
    from dataclasses import replace

    from .predict import PredictConfig, predict_archive as _predict

    cfg = replace(config or PredictConfig(), fit_filter=fit_filter or (config is not None and config.fit_filter),
                  resume=resume, show_progress=progress)
    est = model.estimator if isinstance(model, Classifier) else model
    return _predict(open_archive(archive), est, out, client=_client(client), config=cfg)


def read_predictions(out: str | os.PathLike) -> pd.DataFrame:
    """All predictions of an output directory as one pandas DataFrame."""
    from .predict import read_predictions as _read

    return _read(out)


def candidates(predictions: str | os.PathLike, top: int = 20, *, plots: str | os.PathLike | None = None,
               archive: Archive | str | os.PathLike | None = None, require_fit: bool | None = None) -> pd.DataFrame:
    """The best microlensing candidates of a prediction output, optionally with one plot each.

    Parameters
    ----------
    predictions : path
        Output directory of :func:`predict_archive`.
    top : int
        How many (>= 1).
    plots : path-like, optional
        Directory for one PNG per candidate (lightcurve in every band, PSPL fit).
    archive : Archive or path, optional
        The archive that was classified (default: the one recorded in ``_summary.json``).
    require_fit : bool, optional
        Keep only objects passing the PSPL fit filter (default: when the outputs have one).

    Returns
    -------
    pandas.DataFrame
        Best first; ``df.attrs["plots"]`` lists the PNG paths when ``plots`` is given.
    """
    import json

    from .predict.candidates import plot_candidates, top_candidates

    if top < 1:
        raise InputError(f"top must be >= 1, got {top}.")
    cands = top_candidates(predictions, top, require_fit=require_fit)
    if plots is not None and len(cands):
        if archive is None:
            summary = Path(predictions) / "_summary.json"
            if not summary.exists():
                raise InputError(f"{predictions} has no _summary.json naming its archive; pass archive=... .")
            archive = json.loads(summary.read_text())["input"]
        cands.attrs["plots"] = [str(p) for p in plot_candidates(cands, open_archive(archive), plots)]
    return cands


__all__ = ["Classifier", "candidates", "client", "extract_features", "ingest", "load_model", "ogle2_samples",
           "open_archive", "plot_simulated", "predict_archive", "read_predictions", "simulate_training_set",
           "train_classifier"]
