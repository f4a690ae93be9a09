"""Optuna tuning of a CNN: augmentation parameters (copies per positive, image size, shift,
blending, masks) and model parameters (learning rate, batch size, optimizer, decay), with
pruning of unpromising trials after each epoch.

Each trial grows the positive class offline with :func:`lia_dask.cnn.augment.augment_images`
(pyBIA's way: ``batch`` transformed copies per positive, plus blends and masks), crops the
negatives to the same ``image_size``, trains a :class:`CNNClassifier` and scores it on the
untouched validation set. Tuning works on in-memory arrays (a training subset that fits in
memory); the final model is then trained with the best configuration on the full store.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InputError
from .augment import AugmentConfig, augment_images, center_crop
from .metrics import monitor_mode
from .train import CNNClassifier, CNNConfig, _binary_labels


@dataclass
class TuneConfig:
    """Settings of :func:`tune`.

    ``metric`` is a validation metric of the Keras history (``val_loss``, ``val_auc``,
    ``val_f1``, ``val_binary_accuracy``); its best epoch scores a trial. ``pruner`` is
    ``median``, ``hyperband``, ``none`` or an ``optuna.pruners.BasePruner``. ``tune_augmentation`` / ``tune_model`` switch the two
    groups of parameters; ``max_copies`` bounds ``batch`` (copies per positive).
    """

    n_trials: int = 20
    timeout: float | None = None
    metric: str = "val_auc"
    pruner: object = "median"
    tune_augmentation: bool = True
    tune_model: bool = True
    max_copies: int = 4
    image_sizes: tuple[int, ...] | None = None
    seed: int = 0
    extra: dict = field(default_factory=dict)


def _pruning_callback(trial, metric: str):
    import optuna

    from ._tf import keras

    class _Prune(keras().callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            v = (logs or {}).get(metric)
            if v is None:
                return
            trial.report(float(v), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch} with {metric}={v:.4f}")

    return _Prune()


def suggest(trial, base: CNNConfig, tc: TuneConfig, image_shape: tuple[int, int, int]) -> tuple[CNNConfig, AugmentConfig | None]:
    """Draw one configuration: (CNN config, offline augmentation of the positives or None)."""
    cfg = base
    aug = None
    H = min(image_shape[:2])
    if tc.tune_model:
        cfg = replace(cfg, learning_rate=trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
                      batch_size=trial.suggest_categorical("batch_size", [16, 32, 64]),
                      optimizer=trial.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"]),
                      decay=trial.suggest_float("decay", 0.0, 0.2))
    if tc.tune_augmentation:
        sizes = tc.image_sizes or tuple(sorted({s for s in (H, H - 4, H - 8) if s >= 8}))
        size = trial.suggest_categorical("image_size", list(sizes))
        maxshift = max(1, H // 8)
        blend = trial.suggest_categorical("num_images_to_blend", [1, 2, 3])
        masks = trial.suggest_int("num_masks", 0, 2)
        aug = AugmentConfig(
            batch=trial.suggest_int("batch", 1, tc.max_copies),
            width_shift=trial.suggest_int("width_shift", 0, maxshift),
            height_shift=trial.suggest_int("height_shift", 0, maxshift),
            horizontal_flip=True, vertical_flip=True,
            rotation=trial.suggest_float("rotation", 0.0, 180.0),
            num_images_to_blend=blend,
            blend_multiplier=trial.suggest_float("blend_multiplier", 0.0, 1.0) if blend > 1 else 0.0,
            blending_func=trial.suggest_categorical("blending_func", ["mean", "max", "min", "random"]) if blend > 1 else "mean",
            mask_size=trial.suggest_int("mask_size", 2, max(2, H // 6)) if masks else None,
            num_masks=masks, fill_mode="nearest", image_size=size, seed=tc.seed + trial.number)
        cfg = replace(cfg, image_size=size)
    return cfg, aug


def tune(X: np.ndarray, y, X_val: np.ndarray, y_val, base: CNNConfig | None = None,
         config: TuneConfig | None = None):
    """Search augmentation and model parameters with Optuna (TPE sampler, pruning per epoch).

    Parameters
    ----------
    X, y : ndarray (N, H, W, C), labels (N,)
        Training images (raw counts) and labels.
    X_val, y_val
        Validation images and labels, never augmented.
    base : CNNConfig, optional
        Fixed settings (architecture, epochs, model_params, ...); the search overrides its fields.
    config : TuneConfig, optional

    Returns
    -------
    (optuna.Study, CNNConfig, AugmentConfig or None)
        The study, and the best trial's CNN configuration and offline augmentation.
    """
    import optuna

    base = base or CNNConfig()
    tc = config or TuneConfig()
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 4:
        raise InputError(f"tune needs images (N, H, W, C), got shape {X.shape}.")
    y01, classes = _binary_labels(y, base.positive_class)
    base = replace(base, positive_class=classes[1], verbose=0, patience=base.patience)
    pos, neg = X[y01 == 1], X[y01 == 0]
    direction = "minimize" if monitor_mode(tc.metric) == "min" else "maximize"
    if isinstance(tc.pruner, optuna.pruners.BasePruner):
        pruner = tc.pruner
    else:
        pruner = {"median": optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
                  "hyperband": optuna.pruners.HyperbandPruner(), "none": optuna.pruners.NopPruner()}.get(tc.pruner)
    if pruner is None:
        raise InputError(f"pruner must be 'median', 'hyperband' or 'none', got {tc.pruner!r}.")
    # fixed normalisation for every trial, from the unaugmented training set
    from .data import ArraySource, fit_normalization

    norm = fit_normalization(ArraySource(X))
    base = replace(base, min_pixel=norm.min_pixel, max_pixel=norm.max_pixel)

    def objective(trial):
        cfg, aug = suggest(trial, base, tc, X.shape[1:])
        size = cfg.image_size
        grown = augment_images(pos, aug) if aug is not None else center_crop(pos, size)
        xt = np.concatenate([grown, center_crop(neg, size)])
        yt = np.array([classes[1]] * len(grown) + [classes[0]] * len(neg))
        clf = CNNClassifier(cfg).fit(xt, yt, validation_data=(X_val, y_val),
                                     callbacks=[_pruning_callback(trial, tc.metric)])
        hist = clf.history_.get(tc.metric)
        if not hist:
            raise InputError(f"metric {tc.metric!r} is not in the training history {sorted(clf.history_)}.")
        return float(min(hist) if direction == "minimize" else max(hist))

    study = optuna.create_study(direction=direction, pruner=pruner,
                                sampler=optuna.samplers.TPESampler(seed=tc.seed))
    study.optimize(objective, n_trials=tc.n_trials, timeout=tc.timeout)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise InputError("no tuning trial completed; raise n_trials or timeout, or relax the pruner.")
    best_cfg, best_aug = suggest(optuna.trial.FixedTrial(study.best_params, study.best_trial.number), base, tc,
                                 X.shape[1:])
    return study, best_cfg, best_aug
