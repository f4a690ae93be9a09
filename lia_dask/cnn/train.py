"""CNNClassifier: scikit-learn-like ``fit`` / ``predict_proba`` for cutouts and flux series,
configured by one :class:`CNNConfig`, saved as a ``.keras`` model plus a verified manifest.

Images come from a NumPy array (N, H, W, C) or a Zarr cutout store (streamed chunk by chunk,
see :mod:`lia_dask.cnn.data`); series (architecture ``cnn1d``) from an (N, L) array. Labels are
two classes; ``positive_class`` names the one whose probability the sigmoid gives.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ArtifactError, InputError
from .augment import AugmentConfig
from .channels import channel_names, psf_match_sigmas, residual_pairs
from .data import (ArraySource, Normalization, StreamSpec, as_source, balanced_dataset, fit_normalization,
                   image_dataset, positional_bands)

MODEL_FILE = "model.keras"
KNOWN_POSITIVES = ("LENS", "TRANSIT", "POSITIVE", "1", "True", "true")


@dataclass
class CNNConfig:
    """Everything a CNN training needs (stored in the artifact's manifest).

    Attributes
    ----------
    architecture : {"resnet", "alexnet", "vgg16", "cnn1d"}
    model_params : dict
        Passed to the builder (e.g. ``width``, ``stages``, ``units_per_stage``, ``dropout``).
    positive_class : str, optional
        Label of the positive class; default: ``LENS`` / ``TRANSIT`` / ``1`` when present.
    image_size : int, optional
        Centre crop fed to the network (after augmentation); default the full cutout.
    min_pixel, max_pixel : list of float, optional
        Per-band normalisation bounds (counts); default: 0.5 / 99.5 percentiles of the training set.
    stretch : {"linear", "asinh"}
        Input scaling (:class:`~lia_dask.cnn.data.Normalization`): min-max, or asinh with the
        training set's per-band sky noise as softening (faint arcs keep their contrast).
    colour_residuals : bool
        Append one lens-light-subtracted colour residual channel per band, ``b - k ref`` against
        the reddest band (:mod:`lia_dask.cnn.channels`; ``k`` from the central ``core_radius``
        pixels of each image), so the network sees the blue arc with the red lens removed.
    core_radius : float
        Radius (pixels) of the central aperture that sets each image's lens colour ``k``.
    psf_match : bool
        Blur the reference band to each band's seeing before the subtraction (Gaussian, sigma from
        the LSST median FWHM per band and the store's pixel scale, 0.2" if unrecorded:
        :func:`lia_dask.cnn.channels.psf_match_sigmas`), so a plain elliptical leaves no
        PSF-mismatch ring; bands without a known FWHM are not blurred.
    epochs, batch_size, learning_rate, optimizer, momentum
        Optimisation (``optimizer`` in adam, adamw, sgd, rmsprop).
    lr_schedule, decay, lr_drop_every, lr_drop_factor, warmup_epochs, lr_min_factor
        Learning-rate schedule (``constant``, ``step``: drop by ``lr_drop_factor`` every
        ``lr_drop_every`` epochs, ``cosine``: warm-up then cosine decay to ``lr_min_factor`` x
        the base over the run), see :func:`lia_dask.cnn.metrics.learning_rate_at`.
    balance : {"weight", "sample", "none"}
        Class balance by a positive-class weight in the loss, by half-positive batches, or not.
    pos_weight : float or "auto"
        Loss weight of positives; ``auto`` = n_negative / n_positive when ``balance="weight"``.
    monitor, patience, min_delta
        Early stopping on ``monitor`` (e.g. ``val_loss``, ``val_f1``, ``val_auc``,
        ``val_binary_accuracy``) after ``patience`` epochs without an improvement of at least
        ``min_delta`` (None: off); the best epoch's weights are restored.
    validation_fraction : float
        Stratified share of the training set held out for validation (when no validation data).
    augment : AugmentConfig, optional
        On-the-fly augmentation of training images (shift, flips, rotation, zoom, skew, masks).
    smooth, shift_augment
        ``cnn1d`` only: boxcar width of the smoothed channel; random circular shifts.
    chunk : int
        Images per read for in-memory arrays (stores use their own chunks).
    cache : bool or "auto"
        Keep the normalised training images in memory after the first epoch (``auto``: when
        they take at most ``cache_limit_mb``); otherwise Zarr chunks are re-read every epoch.
    mixed_precision, jit_compile : bool or "auto"
        float16 compute (float32 output and loss) and XLA compilation; ``auto`` = only when a GPU
        is visible to TensorFlow.
    steps_per_execution : int
        Training steps per call into the compiled graph (fewer Python round trips on CPU).
    average_orientations : bool
        Predict each cutout as the mean P over its 8 orientations (rotations by 90 degrees and
        mirror images, :func:`predict_block`); 8x the inference cost. Validation during training
        uses the plain prediction.
    seed : int
    verbose : int
        Keras verbosity.
    """

    architecture: str = "resnet"
    model_params: dict = field(default_factory=dict)
    positive_class: str | None = None
    image_size: int | None = None
    min_pixel: list[float] | None = None
    max_pixel: list[float] | None = None
    stretch: str = "linear"
    colour_residuals: bool = False
    core_radius: float = 2.0
    psf_match: bool = True
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    decay: float = 0.0
    lr_drop_every: int = 0
    lr_drop_factor: float = 0.5
    warmup_epochs: int = 0
    lr_schedule: str = "step"
    lr_min_factor: float = 0.01
    balance: str = "weight"
    pos_weight: float | str = "auto"
    monitor: str = "val_loss"
    patience: int | None = None
    min_delta: float = 0.0
    validation_fraction: float = 0.0
    augment: AugmentConfig | None = None
    smooth: int = 9
    shift_augment: bool = True
    chunk: int = 256
    cache: bool | str = "auto"
    cache_limit_mb: float = 1024.0
    mixed_precision: bool | str = "auto"
    jit_compile: bool | str = "auto"
    steps_per_execution: int = 1
    average_orientations: bool = False
    seed: int = 0
    verbose: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig(**self.augment)
        if self.balance not in ("weight", "sample", "none"):
            raise InputError(f"balance must be 'weight', 'sample' or 'none', got {self.balance!r}.")
        if self.lr_schedule not in ("constant", "step", "cosine"):
            raise InputError(f"lr_schedule must be 'constant', 'step' or 'cosine', got {self.lr_schedule!r}.")
        if self.stretch not in ("linear", "asinh"):
            raise InputError(f"stretch must be 'linear' or 'asinh', got {self.stretch!r}.")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise InputError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}.")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["augment"] = asdict(self.augment) if self.augment is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CNNConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _binary_labels(y, positive: str | None) -> tuple[np.ndarray, list[str]]:
    lab = np.asarray(y).astype(str)
    classes = sorted(set(lab.tolist()))
    if len(classes) > 2 or (positive is not None and len(classes) == 2 and positive not in classes):
        raise InputError(f"the CNN classifies two classes, got labels {classes}"
                         + (f" without positive_class {positive!r}" if positive else "") + ".")
    if positive is None:
        positive = next((c for c in KNOWN_POSITIVES if c in classes), None)
        if positive is None:
            raise InputError(f"cannot tell the positive class among {classes}; set positive_class.")
    negative = next((c for c in classes if c != positive), f"NOT_{positive}")
    return (lab == positive).astype(np.float32), [negative, positive]


def _split(y01: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    tr, va = [], []
    for cls in (0.0, 1.0):
        idx = np.flatnonzero(y01 == cls)
        idx = idx[rng.permutation(len(idx))]
        k = int(round(fraction * len(idx)))
        va.append(idx[:k])
        tr.append(idx[k:])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(va))


def _seed_all(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (Keras' ``set_random_seed``) before any TensorFlow op is made."""
    from ._tf import keras

    keras().utils.set_random_seed(seed)


def gpu_available() -> bool:
    """Whether TensorFlow sees a GPU."""
    from ._tf import tf

    return bool(tf().config.list_physical_devices("GPU"))


def accelerator_settings(cfg: "CNNConfig") -> tuple[bool, bool]:
    """(mixed precision, XLA) for ``cfg``: ``auto`` turns both on only when a GPU is present."""
    gpu = None

    def resolve(v) -> bool:
        nonlocal gpu
        if v == "auto":
            gpu = gpu_available() if gpu is None else gpu
            return gpu
        return bool(v)

    return resolve(cfg.mixed_precision), resolve(cfg.jit_compile)


def predict_block(model, images: np.ndarray, norm: Normalization, image_size: int | None,
                  batch_size: int = 256, average_orientations: bool = False) -> np.ndarray:
    """P(positive) for raw images (n, H, W, C): normalise, crop, run ``model``; returns (n,) float64.

    ``average_orientations``: the mean P over the 8 orientations of each crop
    (:func:`lia_dask.cnn.augment.dihedral_views`: rotations by multiples of 90 degrees and their
    mirror images; 8x the inference cost), for models of problems that are invariant under them.
    """
    from .augment import center_crop, dihedral_views

    x = np.ascontiguousarray(center_crop(norm(images), image_size))
    n = len(x)
    if average_orientations and n:
        x = dihedral_views(x).reshape(8 * n, *x.shape[1:])
    out = np.empty(len(x), np.float64)
    for s in range(0, len(x), batch_size):
        out[s:s + batch_size] = np.asarray(model.predict_on_batch(x[s:s + batch_size])).reshape(-1)
    return out.reshape(8, n).mean(axis=0) if average_orientations and n else out


class CNNClassifier:
    """A binary CNN classifier of cutouts or flux series with ``fit`` / ``predict_proba``.

    Parameters
    ----------
    config : CNNConfig, optional
    **overrides
        Fields of :class:`CNNConfig` to change.

    Attributes (after ``fit`` or ``load``)
    --------------------------------------
    model_ : keras.Model
    classes_ : list of str
        ``[negative, positive]``; ``predict_proba`` columns follow this order.
    norm_ : Normalization or None
    input_shape_ : tuple
    history_ : dict
        Per-epoch ``loss``, ``binary_accuracy``, ``f1``, ``auc`` and their ``val_`` versions.
    digest_ : str or None
        The artifact digest once saved or loaded.
    """

    def __init__(self, config: CNNConfig | None = None, **overrides: Any):
        self.config = replace(config or CNNConfig(), **overrides)
        self.model_ = None
        self.classes_: list[str] = []
        self.norm_: Normalization | None = None
        self.input_shape_: tuple = ()
        self.history_: dict = {}
        self.bands_: list[str] | None = None
        self.training_digest_: str | None = None
        self.digest_: str | None = None

    @property
    def is_series(self) -> bool:
        return self.config.architecture == "cnn1d"

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, validation_data: tuple | None = None, callbacks: list | None = None) -> "CNNClassifier":
        """Train on images (array or cutout store / path) or series; returns ``self``.

        Parameters
        ----------
        X : ndarray (N, H, W, C) / (N, L), CutoutStore or path
        y : array of labels (N,), optional
            Default: the store's ``label`` array.
        validation_data : (X_val, y_val), optional
            Otherwise ``config.validation_fraction`` of the training set.
        callbacks : list, optional
            Extra Keras callbacks (e.g. Optuna pruning).
        """
        from ._tf import import_in_background, keras

        import_in_background()  # TensorFlow imports on the other core while the data are read and prepared
        from .metrics import (callbacks as make_callbacks, default_metrics, make_optimizer, validation_metrics,
                              weighted_bce)
        from .models import build_model

        cfg = self.config
        if self.is_series:
            prep = self._fit_series_data(X, y, validation_data)
        else:
            prep = self._fit_image_data(X, y, validation_data)
        train_ds, val_ds, steps, n_pos, n_neg, self.training_digest_ = prep
        if n_pos == 0 or n_neg == 0:
            raise InputError(f"the training set needs both classes, got {n_pos} positives and {n_neg} negatives.")
        pw = cfg.pos_weight
        if pw == "auto":
            pw = n_neg / n_pos if cfg.balance == "weight" else 1.0
        mixed, jit = accelerator_settings(cfg)
        K = keras()
        policy = K.mixed_precision.dtype_policy()
        try:
            if mixed:
                K.mixed_precision.set_dtype_policy("mixed_float16")
            self.model_ = build_model(cfg.architecture, self.input_shape_, **cfg.model_params)
        finally:
            K.mixed_precision.set_dtype_policy(policy)
        opt = make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.momentum)
        if mixed:
            opt = K.optimizers.LossScaleOptimizer(opt)
        self.model_.compile(optimizer=opt, loss=weighted_bce(float(pw)), metrics=default_metrics(),
                            jit_compile=jit, steps_per_execution=max(1, int(cfg.steps_per_execution)))
        # the optimizer's slot variables now, eagerly: Keras (no distribution strategy) defers them to
        # the first trace of the train step, and a tf.function that creates variables is traced twice
        self.model_.optimizer.build(self.model_.trainable_variables)
        self.accelerator_ = {"device": "GPU" if gpu_available() else "CPU", "mixed_precision": mixed, "jit_compile": jit}
        cbs = make_callbacks(cfg) if val_ds is not None or cfg.patience is None else \
            make_callbacks(replace(cfg, monitor=cfg.monitor.removeprefix("val_")))
        # validation metrics in NumPy at each epoch end (first, so the other callbacks see them):
        # Keras then traces no evaluation step with metrics, only the forward pass
        if val_ds is not None:
            cbs = [validation_metrics(val_ds, float(pw))] + cbs
        hist = self.model_.fit(train_ds, epochs=cfg.epochs, steps_per_epoch=steps,
                               callbacks=cbs + list(callbacks or []), verbose=cfg.verbose, shuffle=False)
        self.history_ = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        self.pos_weight_ = float(pw)
        self.digest_ = None
        return self

    def _fit_image_data(self, X, y, validation_data):
        from ..artifact import array_digest

        cfg = self.config
        src = as_source(X, cfg.chunk)
        if y is None:
            lab = getattr(getattr(src, "store", None), "label", None)
            if lab is None:
                raise InputError("fit needs labels: pass y or use a cutout store with a 'label' array.")
            y = lab
        if len(y) != src.n:
            raise InputError(f"y has {len(y)} labels for {src.n} images; give one label per image.")
        y01, self.classes_ = _binary_labels(y, cfg.positive_class)
        self.bands_ = [str(b) for b in src.store.bands] if hasattr(src, "store") else \
            [f"band{i}" for i in range(src.shape[-1])]
        pairs = residual_pairs(self.bands_) if cfg.colour_residuals else []
        idx = np.arange(src.n)
        val = None
        if validation_data is not None:
            vsrc = as_source(validation_data[0], cfg.chunk, bands=self.bands_)
            if vsrc.shape[-1] != src.shape[-1]:
                raise InputError(f"validation images have {vsrc.shape[-1]} bands, the training images {src.shape[-1]}.")
            vy = (np.asarray(validation_data[1]).astype(str) == self.classes_[1]).astype(np.float32)
            val = (vsrc, np.arange(vsrc.n), vy)
        elif cfg.validation_fraction > 0:
            idx, vidx = _split(y01, cfg.validation_fraction, cfg.seed)
            val = (src, vidx, y01)
        scale = getattr(getattr(src, "store", None), "pixel_scale", None)
        sig = psf_match_sigmas(self.bands_, pairs, scale) if pairs and cfg.psf_match else None
        rep = dict(residual_pairs=pairs, core_radius=cfg.core_radius, match_sigma=sig)
        if cfg.min_pixel is not None and cfg.max_pixel is not None:
            c = src.shape[-1] + len(pairs)
            soft = fit_normalization(src, indices=idx, stretch="asinh", **rep).softening \
                if cfg.stretch == "asinh" else None
            self.norm_ = Normalization(np.broadcast_to(cfg.min_pixel, c), np.broadcast_to(cfg.max_pixel, c),
                                       cfg.stretch, soft, **rep)
        else:
            self.norm_ = fit_normalization(src, indices=idx, stretch=cfg.stretch, **rep)
        S = cfg.image_size or src.shape[0]
        self.input_shape_ = (S, S, len(self.norm_.min_pixel))
        cache = cfg.cache
        if cache == "auto":
            cache = len(idx) * int(np.prod(src.shape)) * 4 <= cfg.cache_limit_mb * 2**20
        spec = StreamSpec(idx, self.norm_, cfg.image_size, cfg.augment, shuffle=True, seed=cfg.seed, repeat=True,
                          cache=bool(cache))
        _seed_all(cfg.seed)  # the first TensorFlow use: waits for the import started by fit
        # endless streams with steps_per_epoch: augmentation seeds keep counting across epochs
        steps = max(1, math.ceil(len(idx) / cfg.batch_size))
        if cfg.balance == "sample":
            train = balanced_dataset(src, spec, y01, cfg.batch_size)
        else:
            train = image_dataset(src, spec, y01, batch_size=cfg.batch_size)
        vds = None
        if val is not None:
            vds = image_dataset(val[0], StreamSpec(val[1], self.norm_, cfg.image_size, cache=True), val[2],
                                batch_size=cfg.batch_size)
        ids = getattr(getattr(src, "store", None), "object_id", None)
        digest = array_digest(np.asarray(y).astype(str), ids if ids is not None else np.arange(src.n),
                              np.asarray(src.shape), np.asarray(self.norm_.min_pixel), np.asarray(self.norm_.max_pixel))
        n_pos = int(y01[idx].sum())
        return train, vds, steps, n_pos, len(idx) - n_pos, digest

    def _fit_series_data(self, X, y, validation_data):
        from ..artifact import array_digest
        from .series import prepare_series, series_dataset

        cfg = self.config
        if y is None:
            raise InputError("fit on flux series needs labels y (one per series).")
        flux = np.asarray(X)
        y01, self.classes_ = _binary_labels(y, cfg.positive_class)
        _seed_all(cfg.seed)
        x = prepare_series(flux, cfg.smooth)
        self.input_shape_ = tuple(x.shape[1:])
        self.norm_ = None
        idx = np.arange(len(x))
        vds = None
        if validation_data is not None:
            vx = prepare_series(np.asarray(validation_data[0]), cfg.smooth)
            vy = (np.asarray(validation_data[1]).astype(str) == self.classes_[1]).astype(np.float32)
            vds = series_dataset(vx, vy, cfg.batch_size)
        elif cfg.validation_fraction > 0:
            idx, vidx = _split(y01, cfg.validation_fraction, cfg.seed)
            vds = series_dataset(x[vidx], y01[vidx], cfg.batch_size)
        balanced = cfg.balance == "sample"
        train = series_dataset(x[idx], y01[idx], cfg.batch_size, balanced=balanced, shift=cfg.shift_augment,
                               seed=cfg.seed, shuffle=True)
        steps = max(1, math.ceil(len(idx) / cfg.batch_size)) if balanced else None
        n_pos = int(y01[idx].sum())
        return train, vds, steps, n_pos, len(idx) - n_pos, array_digest(flux, np.asarray(y).astype(str))

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise InputError("this CNNClassifier is not fitted; call fit() or CNNClassifier.load() first.")

    def predict_positive(self, X, batch_size: int = 256) -> np.ndarray:
        """P(positive class), shape (N,) float64; images (array, store, path) or series (N, L)."""
        self._check_fitted()
        if self.is_series:
            from .series import prepare_series

            x = prepare_series(np.asarray(X), self.config.smooth)
            if x.shape[1:] != tuple(self.input_shape_):
                raise InputError(f"series of length {x.shape[1]} do not fit the model's input {self.input_shape_}.")
            return np.concatenate([np.asarray(self.model_.predict_on_batch(x[s:s + batch_size])).reshape(-1)
                                   for s in range(0, len(x), batch_size)] or [np.empty(0)]).astype(np.float64)
        src = as_source(X, self.config.chunk, bands=self.bands_)
        S = self.input_shape_[0]
        if src.shape[-1] != self.norm_.n_bands or min(src.shape[:2]) < S:
            raise InputError(f"images of shape {src.shape} do not fit the model's input {self.input_shape_} "
                             f"({self.norm_.n_bands} bands {self.bands_}, cutouts at least image_size).")
        out = [predict_block(self.model_, src.read(s, min(src.n, s + src.chunk)), self.norm_, S, batch_size,
                             self.config.average_orientations)
               for s in range(0, src.n, src.chunk)]
        return np.concatenate(out) if out else np.empty(0)

    def predict_proba(self, X, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, 2) in the order of ``classes_`` ([negative, positive])."""
        p = self.predict_positive(X, batch_size)
        return np.column_stack([1.0 - p, p])

    def predict(self, X, threshold: float = 0.5) -> np.ndarray:
        """Class labels (N,) at ``threshold`` on P(positive)."""
        p = self.predict_positive(X)
        return np.where(p >= threshold, self.classes_[1], self.classes_[0]).astype(object)

    # ------------------------------------------------------------------ artifact
    def save(self, path: str | os.PathLike, overwrite: bool = False, metrics: dict | None = None) -> dict:
        """Write the artifact directory: ``model.keras`` + ``manifest.json`` (kind ``cnn``); returns the manifest."""
        from ..artifact import prepare_dir, write_manifest

        self._check_fitted()
        d = prepare_dir(path, overwrite=overwrite)
        self.model_.save(d / MODEL_FILE)
        last = {k: v[-1] for k, v in self.history_.items() if v}
        settings = {
            "config": self.config.to_dict(),
            "architecture": self.config.architecture,
            "input_shape": list(self.input_shape_),
            "image_size": None if self.is_series else int(self.input_shape_[0]),
            "bands": self.bands_,
            "normalization": self.norm_.to_dict() if self.norm_ is not None else None,
            "input": self.input_representation(),
            "positive_class": self.classes_[1],
            "pos_weight": getattr(self, "pos_weight_", None),
            "history": self.history_,
        }
        manifest = write_manifest(d, {"kind": "cnn", "classes": list(self.classes_), "settings": settings,
                                      "training_digest": self.training_digest_,
                                      "metrics": {**{k: (v if math.isfinite(v) else None) for k, v in last.items()},
                                                  **(metrics or {})}},
                                  [MODEL_FILE])
        self.digest_ = manifest["digest"]
        return manifest

    def input_representation(self) -> dict | None:
        """What the network's input channels are: bands, derived channels, scaling (artifact record)."""
        if self.norm_ is None:
            return None
        pairs = [tuple(p) for p in self.norm_.residual_pairs]
        return {"bands": list(self.bands_ or []), "channels": channel_names(self.bands_ or [], pairs),
                "colour_residuals": [list(p) for p in pairs], "core_radius": self.norm_.core_radius,
                "psf_match_sigma_pixels": self.norm_.match_sigma,
                "stretch": self.norm_.stretch, "bands_by_name": not positional_bands(self.bands_ or [])}

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CNNClassifier":
        """Load an artifact written by :meth:`save` (verified; Keras safe mode, no pickle)."""
        from ..artifact import read_manifest
        from ._tf import keras

        m = read_manifest(path, expected_kind="cnn")
        s = m.get("settings") or {}
        try:
            cfg = CNNConfig.from_dict(s["config"])
        except (KeyError, TypeError) as exc:
            raise ArtifactError(f"CNN artifact {path} has no usable 'settings.config' ({exc}); re-create it.") from None
        self = cls(cfg)
        from .models import register_layers

        register_layers()
        self.model_ = keras().models.load_model(Path(m["path"]) / MODEL_FILE, compile=False, safe_mode=True)
        self.classes_ = list(m["classes"])
        self.input_shape_ = tuple(s["input_shape"])
        self.norm_ = Normalization(**s["normalization"]) if s.get("normalization") else None
        self.bands_ = s.get("bands")
        self.history_ = s.get("history") or {}
        self.training_digest_ = m.get("training_digest")
        self.digest_ = m["digest"]
        return self


def load_artifact(path: str | os.PathLike) -> CNNClassifier:
    """Load a CNN artifact (the ``cnn`` entry of :data:`lia_dask.artifact.LOADERS`)."""
    return CNNClassifier.load(path)


__all__ = ["ArraySource", "CNNClassifier", "CNNConfig", "load_artifact", "predict_block"]
