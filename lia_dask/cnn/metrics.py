"""Training pieces: weighted binary cross-entropy, the F1 metric, learning-rate schedules and
early stopping (Keras objects are built lazily; :func:`learning_rate_at` is a pure function)."""
from __future__ import annotations

import math

from ._tf import keras, tf

_REGISTERED: dict = {}


def learning_rate_at(epoch: int, base: float, drop_every: int = 0, drop_factor: float = 0.5,
                     warmup_epochs: int = 0, decay: float = 0.0, schedule: str = "step",
                     total_epochs: int = 1, min_factor: float = 0.01) -> float:
    """Learning rate of ``epoch`` (0-based).

    ``base`` ramps up linearly over ``warmup_epochs`` (epoch e gets base * (e + 1) / warmup).
    ``schedule="step"`` then drops by ``drop_factor`` every ``drop_every`` epochs (0 = never);
    ``"cosine"`` follows ``min + (1 - min) (1 + cos(pi t)) / 2`` times base, t running from 0 at
    the end of the warm-up to 1 at the last of ``total_epochs`` (``min = min_factor``);
    ``"constant"`` keeps base. All divide by ``1 + decay * epoch`` (the classic Keras ``decay``).
    """
    lr = float(base)
    if warmup_epochs and epoch < warmup_epochs:
        lr *= (epoch + 1) / warmup_epochs
    elif schedule == "cosine":
        span = max(1, total_epochs - 1 - warmup_epochs)
        t = min(1.0, max(0.0, (epoch - warmup_epochs) / span))
        lr *= min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * t))
    if schedule == "step" and drop_every:
        lr *= drop_factor ** (epoch // drop_every)
    return lr / (1.0 + decay * epoch)


def _classes():
    """Create (once) and return the registered Keras loss and metric classes."""
    if _REGISTERED:
        return _REGISTERED
    K = keras()
    T = tf()

    @K.saving.register_keras_serializable(package="lia_dask")
    class WeightedBinaryCrossentropy(K.losses.Loss):
        """``-mean(w * y log p + (1 - y) log(1 - p))`` with ``w = pos_weight`` (p clipped to [1e-7, 1 - 1e-7])."""

        def __init__(self, pos_weight: float = 1.0, name: str = "weighted_bce", **kwargs):
            super().__init__(name=name, **kwargs)
            self.pos_weight = float(pos_weight)

        def call(self, y_true, y_pred):
            y = T.cast(T.reshape(y_true, [-1]), T.float32)
            p = T.clip_by_value(T.reshape(T.cast(y_pred, T.float32), [-1]), 1e-7, 1.0 - 1e-7)
            return -(self.pos_weight * y * T.math.log(p) + (1.0 - y) * T.math.log(1.0 - p))

        def get_config(self):
            return {**super().get_config(), "pos_weight": self.pos_weight}

    @K.saving.register_keras_serializable(package="lia_dask")
    class F1Score(K.metrics.Metric):
        """F1 of the positive class at a probability ``threshold``."""

        def __init__(self, threshold: float = 0.5, name: str = "f1", **kwargs):
            super().__init__(name=name, **kwargs)
            self.threshold = float(threshold)
            self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")
            self.fp = self.add_variable(shape=(), initializer="zeros", name="fp")
            self.fn = self.add_variable(shape=(), initializer="zeros", name="fn")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y = T.cast(T.reshape(y_true, [-1]) > 0.5, T.float32)
            p = T.cast(T.reshape(y_pred, [-1]) >= self.threshold, T.float32)
            self.tp.assign_add(T.reduce_sum(y * p))
            self.fp.assign_add(T.reduce_sum((1 - y) * p))
            self.fn.assign_add(T.reduce_sum(y * (1 - p)))

        def result(self):
            return T.math.divide_no_nan(2 * self.tp, 2 * self.tp + self.fp + self.fn)

        def reset_state(self):
            for v in (self.tp, self.fp, self.fn):
                v.assign(0.0)

        def get_config(self):
            return {**super().get_config(), "threshold": self.threshold}

    _REGISTERED.update(WeightedBinaryCrossentropy=WeightedBinaryCrossentropy, F1Score=F1Score)
    return _REGISTERED


def weighted_bce(pos_weight: float = 1.0):
    """The weighted binary cross-entropy loss object."""
    return _classes()["WeightedBinaryCrossentropy"](pos_weight)


def f1_metric(threshold: float = 0.5):
    """The F1 metric object (name ``f1``; ``val_f1`` on validation data)."""
    return _classes()["F1Score"](threshold)


def default_metrics() -> list:
    """``binary_accuracy``, ``f1`` and ``auc`` (Keras adds ``loss`` and the ``val_`` versions)."""
    K = keras()
    return [K.metrics.BinaryAccuracy(name="binary_accuracy"), f1_metric(), K.metrics.AUC(name="auc")]


def make_optimizer(name: str, learning_rate: float, momentum: float = 0.9):
    """``adam``, ``sgd`` (with ``momentum``, Nesterov), ``rmsprop`` or ``adamw``."""
    from ..errors import InputError

    K = keras()
    opts = {
        "adam": lambda: K.optimizers.Adam(learning_rate),
        "adamw": lambda: K.optimizers.AdamW(learning_rate),
        "sgd": lambda: K.optimizers.SGD(learning_rate, momentum=momentum, nesterov=True),
        "rmsprop": lambda: K.optimizers.RMSprop(learning_rate),
    }
    if name not in opts:
        raise InputError(f"optimizer must be one of {sorted(opts)}, got {name!r}.")
    return opts[name]()


def monitor_mode(metric: str) -> str:
    """``min`` for losses, ``max`` for accuracy / F1 / AUC."""
    return "min" if metric.endswith("loss") else "max"


def callbacks(cfg) -> list:
    """Learning-rate schedule and (if ``cfg.patience``) early stopping for a :class:`CNNConfig`."""
    K = keras()
    out = [K.callbacks.LearningRateScheduler(
        lambda e, lr=None: learning_rate_at(e, cfg.learning_rate, cfg.lr_drop_every, cfg.lr_drop_factor,
                                            cfg.warmup_epochs, cfg.decay, cfg.lr_schedule, cfg.epochs,
                                            cfg.lr_min_factor))]
    if cfg.patience is not None:
        out.append(K.callbacks.EarlyStopping(monitor=cfg.monitor, mode=monitor_mode(cfg.monitor),
                                             patience=int(cfg.patience), min_delta=cfg.min_delta,
                                             restore_best_weights=True))
    return out


def finite_or_none(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None
