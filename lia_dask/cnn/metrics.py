"""Training pieces: weighted binary cross-entropy, the epoch metrics, learning-rate schedules and
early stopping (Keras objects are built lazily; :func:`learning_rate_at`, :func:`binned_auc` and
:func:`epoch_metrics` are pure NumPy functions).

Where the epoch metrics are computed: in the traced training step only what is cheap to trace
and to run (binary accuracy, F1 from three sums, and the AUC from a 2 x :data:`AUC_BINS` score
histogram: one ``bincount`` per step, instead of Keras' ``AUC`` with its 200-threshold confusion
matrices, which took ~2 CPU-s of tracing and ~10 % of the step); the validation metrics
(``val_loss``, ``val_binary_accuracy``, ``val_f1``, ``val_auc``) in NumPy at the end of each epoch,
on the validation predictions (:class:`ValidationMetrics`, exact rank AUC), so Keras traces no
evaluation step at all.
"""
from __future__ import annotations

import math

import numpy as np

from ._tf import keras, tf

#: Score bins of the in-step training AUC (bin width 0.001 in probability).
AUC_BINS = 1000

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

    @K.saving.register_keras_serializable(package="lia_dask")
    class BinnedAUC(K.metrics.Metric):
        """ROC AUC from a histogram of the scores per class (``bins`` equal bins on [0, 1]).

        One ``bincount`` per step; the result is :func:`binned_auc` of the accumulated counts
        (ties within a bin count one half), exact to the bin width.
        """

        def __init__(self, bins: int = AUC_BINS, name: str = "auc", **kwargs):
            super().__init__(name=name, **kwargs)
            self.bins = int(bins)
            self.counts = self.add_variable(shape=(2 * self.bins,), initializer="zeros", name="counts")

        def update_state(self, y_true, y_pred, sample_weight=None):
            p = T.clip_by_value(T.reshape(T.cast(y_pred, T.float32), [-1]), 0.0, 1.0)
            b = T.minimum(T.cast(p * self.bins, T.int32), self.bins - 1)
            y = T.cast(T.reshape(y_true, [-1]) > 0.5, T.int32)
            w = None if sample_weight is None else T.reshape(T.cast(sample_weight, T.float32), [-1])
            self.counts.assign_add(T.math.bincount(b + self.bins * y, weights=w, minlength=2 * self.bins,
                                                   maxlength=2 * self.bins, dtype=T.float32))

        def result(self):
            neg, pos = self.counts[:self.bins], self.counts[self.bins:]
            above = T.reduce_sum(pos) - T.cumsum(pos)  # positives in higher bins
            return T.math.divide_no_nan(T.reduce_sum(neg * (above + 0.5 * pos)), T.reduce_sum(pos) * T.reduce_sum(neg))

        def reset_state(self):
            self.counts.assign(T.zeros_like(self.counts))

        def get_config(self):
            return {**super().get_config(), "bins": self.bins}

    class ValidationMetrics(K.callbacks.Callback):
        """At each epoch end: predict the validation stream and add :func:`epoch_metrics` as ``val_*`` logs.

        Must come first among the callbacks (early stopping, pruning and the history read the logs
        it fills). The stream yields ``(x, y)`` or ``(x, y, w)`` batches in a fixed order.
        """

        def __init__(self, dataset, pos_weight: float = 1.0):
            super().__init__()
            self.dataset, self.pos_weight = dataset, float(pos_weight)

        def on_epoch_end(self, epoch, logs=None):
            ys, ps = [], []
            for batch in self.dataset:
                ps.append(np.asarray(self.model.predict_on_batch(batch[0]), np.float64).reshape(-1))
                ys.append(np.asarray(batch[1]).reshape(-1))
            m = epoch_metrics(np.concatenate(ys), np.concatenate(ps), self.pos_weight)
            if logs is not None:
                logs.update({f"val_{k}": v for k, v in m.items()})

    @K.saving.register_keras_serializable(package="lia_dask")
    class FusedAdam(K.optimizers.Adam):
        """Keras' Adam with each variable's update as one fused ``ResourceApplyAdam`` op.

        The same arithmetic (``m += (g - m)(1 - beta_1)``, ``v += (g^2 - v)(1 - beta_2)``,
        ``var -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) m / (sqrt(v) + epsilon)``), one kernel per
        variable instead of ~15 element-wise Keras ops: the train step's trace is shorter (the
        optimizer was most of the first step's Python time) and runs fewer ops. ``amsgrad`` falls
        back to Keras' update.
        """

        def update_step(self, gradient, variable, learning_rate):
            if self.amsgrad or isinstance(gradient, T.IndexedSlices):
                return super().update_step(gradient, variable, learning_rate)
            dt = variable.dtype
            step = T.cast(self.iterations + 1, dt)
            b1, b2 = T.cast(self.beta_1, dt), T.cast(self.beta_2, dt)
            i = self._get_variable_index(variable)
            T.raw_ops.ResourceApplyAdam(var=variable.handle, m=self._momentums[i].handle,
                                        v=self._velocities[i].handle, beta1_power=T.pow(b1, step),
                                        beta2_power=T.pow(b2, step), lr=T.cast(learning_rate, dt), beta1=b1,
                                        beta2=b2, epsilon=T.cast(self.epsilon, dt), grad=T.cast(gradient, dt),
                                        use_locking=False)

    _REGISTERED.update(WeightedBinaryCrossentropy=WeightedBinaryCrossentropy, F1Score=F1Score, BinnedAUC=BinnedAUC,
                       ValidationMetrics=ValidationMetrics, FusedAdam=FusedAdam)
    return _REGISTERED


def weighted_bce(pos_weight: float = 1.0):
    """The weighted binary cross-entropy loss object."""
    return _classes()["WeightedBinaryCrossentropy"](pos_weight)


def f1_metric(threshold: float = 0.5):
    """The F1 metric object (name ``f1``; ``val_f1`` on validation data)."""
    return _classes()["F1Score"](threshold)


def default_metrics() -> list:
    """The training step's ``binary_accuracy``, ``f1`` and ``auc`` (binned; Keras adds ``loss``)."""
    K = keras()
    return [K.metrics.BinaryAccuracy(name="binary_accuracy"), f1_metric(), _classes()["BinnedAUC"]()]


def validation_metrics(dataset, pos_weight: float = 1.0):
    """The epoch-end callback that writes ``val_loss``, ``val_binary_accuracy``, ``val_f1``, ``val_auc``."""
    return _classes()["ValidationMetrics"](dataset, pos_weight)


def binned_auc(neg_counts, pos_counts) -> float:
    """ROC AUC from per-bin counts of negatives and positives (bins in increasing score).

    ``sum_b neg[b] (pos above b + pos[b] / 2) / (n_pos n_neg)``: a pair in the same bin counts
    one half, so the value is the exact AUC when no two scores of different classes share a bin.
    NaN without both classes.
    """
    neg = np.asarray(neg_counts, np.float64)
    pos = np.asarray(pos_counts, np.float64)
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos <= 0 or n_neg <= 0:
        return float("nan")
    above = n_pos - np.cumsum(pos)
    return float(np.sum(neg * (above + 0.5 * pos)) / (n_pos * n_neg))


def rank_auc(y, p) -> float:
    """Exact ROC AUC (ties count one half; scikit-learn's ``roc_auc_score``) of scores ``p`` for binary
    ``y``, shape (N,); NaN without both classes (where scikit-learn raises)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).reshape(-1) > 0.5
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, np.asarray(p, np.float64).reshape(-1)))


def epoch_metrics(y, p, pos_weight: float = 1.0, threshold: float = 0.5) -> dict:
    """The epoch metrics of predictions ``p`` (N,) for labels ``y`` (N,) in {0, 1}, in NumPy.

    Returns ``loss`` (the mean weighted binary cross-entropy of :func:`weighted_bce`, p clipped to
    [1e-7, 1 - 1e-7]), ``binary_accuracy`` (positive when p > ``threshold``, as Keras'
    ``BinaryAccuracy``), ``f1`` of the positive class (positive when p >= ``threshold``, as
    :func:`f1_metric`) and ``auc`` (:func:`rank_auc`, exact).
    """
    y = (np.asarray(y).reshape(-1) > 0.5).astype(np.float64)
    p = np.asarray(p, np.float64).reshape(-1)
    if len(y) != len(p):
        from ..errors import InputError

        raise InputError(f"epoch_metrics got {len(y)} labels for {len(p)} predictions.")
    q = np.clip(p, 1e-7, 1.0 - 1e-7)
    loss = -(pos_weight * y * np.log(q) + (1.0 - y) * np.log(1.0 - q))
    hit = p >= threshold
    tp = float(np.sum(hit & (y == 1)))
    fp = float(np.sum(hit & (y == 0)))
    fn = float(np.sum(~hit & (y == 1)))
    return {"loss": float(loss.mean()) if len(y) else float("nan"),
            "binary_accuracy": float(np.mean((p > threshold) == (y == 1))) if len(y) else float("nan"),
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
            "auc": rank_auc(y, p)}


def make_optimizer(name: str, learning_rate: float, momentum: float = 0.9):
    """``adam`` (Keras' Adam with fused updates, ``FusedAdam``), ``sgd`` (with ``momentum``,
    Nesterov), ``rmsprop`` or ``adamw``."""
    from ..errors import InputError

    K = keras()
    opts = {
        "adam": lambda: _classes()["FusedAdam"](learning_rate),
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
