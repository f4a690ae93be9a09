"""Architectures (Keras functional models, one sigmoid output = P(positive class)).

* :func:`alexnet` — AlexNet (5 convolutions, 3 max-pools, 2 dense layers with dropout);
* :func:`vgg16` — VGG16's 13 convolutions in 5 blocks, with only as many blocks as the input
  size allows (a block halves the image; the last map stays >= 2 x 2);
* :func:`resnet_deeplens` — the CMU DeepLens layout (Lanusse et al. 2018): a 7x7 convolution with
  ELU and batch normalisation, then stages of pre-activated bottleneck residual units
  (BN-ELU-1x1, BN-ELU-3x3, BN-ELU-1x1), global average pooling and a sigmoid;
* :func:`cnn1d` — a Conv1D / max-pool / batch-norm stack for flux series (L, 2).

Every builder takes ``width``, a multiplier on the number of filters and units (1.0 = the
published sizes; tiny values give test-sized models).

Batch normalisation is :func:`batch_norm`: one fused TensorFlow kernel (``FusedBatchNormV3``,
oneDNN on CPU) per layer instead of Keras 3's separate moments, normalisation and moving-average
ops; the same arithmetic (running statistics updated with ``momentum``; TensorFlow's kernel uses
the Bessel-corrected batch variance for them), and 1.5x the training images per CPU-s of the small
ResNet, whose thin bottlenecks make the element-wise ops a large share of the step. Artifacts
saved with Keras' ``BatchNormalization`` still load.
"""
from __future__ import annotations

import math

from ..errors import InputError
from ._tf import keras

ARCHITECTURES = ("alexnet", "vgg16", "resnet", "cnn1d")
#: batch-norm momentum (0.9 rather than Keras' 0.99: small trainings reach usable running statistics)
BN_MOMENTUM = 0.9


_LAYERS: dict = {}


def _fused_bn_class():
    """Create (once) and return the registered :class:`FusedBatchNorm` layer class."""
    if _LAYERS:
        return _LAYERS["FusedBatchNorm"]
    from ._tf import tf

    K = keras()
    T = tf()

    @K.saving.register_keras_serializable(package="lia_dask")
    class FusedBatchNorm(K.layers.Layer):
        """Batch normalisation over the last axis of (N, H, W, C) or (N, L, C) inputs, one fused kernel.

        Training: normalise by the batch's mean and variance and move the running statistics by
        ``1 - momentum`` towards them; inference: normalise by the running statistics. ``gamma``,
        ``beta`` and the statistics stay float32 under mixed precision (the kernel takes float16
        inputs with float32 parameters).
        """

        def __init__(self, momentum: float = BN_MOMENTUM, epsilon: float = 1e-3, **kwargs):
            kwargs.setdefault("autocast", False)
            super().__init__(**kwargs)
            self.momentum, self.epsilon = float(momentum), float(epsilon)

        def build(self, input_shape):
            c = int(input_shape[-1])
            kw = dict(shape=(c,), dtype="float32", autocast=False)  # float32 whatever the policy's scope
            self.gamma = self.add_weight(initializer="ones", name="gamma", **kw)
            self.beta = self.add_weight(initializer="zeros", name="beta", **kw)
            self.moving_mean = self.add_weight(initializer="zeros", name="moving_mean", trainable=False, **kw)
            self.moving_variance = self.add_weight(initializer="ones", name="moving_variance", trainable=False, **kw)

        def call(self, x, training=None):
            x = T.convert_to_tensor(x)
            if x.dtype not in (T.float16, T.bfloat16, T.float32):
                x = T.cast(x, T.float32)
            flat = len(x.shape) == 3
            if flat:
                x = x[:, :, None, :]
            args = dict(scale=T.convert_to_tensor(self.gamma), offset=T.convert_to_tensor(self.beta),
                        mean=T.convert_to_tensor(self.moving_mean),
                        variance=T.convert_to_tensor(self.moving_variance), epsilon=self.epsilon)
            if training and self.trainable:
                y, mean, var = T.compat.v1.nn.fused_batch_norm(x, is_training=True,
                                                               exponential_avg_factor=1.0 - self.momentum, **args)
                self.moving_mean.assign(mean)
                self.moving_variance.assign(var)
            else:
                y, _, _ = T.compat.v1.nn.fused_batch_norm(x, is_training=False, **args)
            return y[:, :, 0, :] if flat else y

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}

    _LAYERS["FusedBatchNorm"] = FusedBatchNorm
    return FusedBatchNorm


def register_layers() -> None:
    """Register this module's custom Keras layers (before loading a saved model in a new process)."""
    _fused_bn_class()


def batch_norm(momentum: float = BN_MOMENTUM):
    """A :class:`FusedBatchNorm` layer (``momentum`` of the running statistics)."""
    return _fused_bn_class()(momentum=momentum)


def _n(base: int, width: float) -> int:
    return max(2, int(round(base * width)))


def alexnet(input_shape: tuple[int, int, int], width: float = 1.0, dropout: float = 0.5):
    """AlexNet sized to the input: first stride 4 / 2 / 1 for images >= 128 / >= 64 / smaller."""
    K = keras()
    L = K.layers
    H = min(input_shape[:2])
    stride = 4 if H >= 128 else 2 if H >= 64 else 1
    inp = K.Input(shape=input_shape)
    x = L.Conv2D(_n(96, width), 11, strides=stride, padding="same", activation="relu")(inp)
    x = batch_norm()(x)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = L.Conv2D(_n(256, width), 5, padding="same", activation="relu")(x)
    x = batch_norm()(x)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    for f in (384, 384, 256):
        x = L.Conv2D(_n(f, width), 3, padding="same", activation="relu")(x)
    x = batch_norm()(x)
    if x.shape[1] >= 4:
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = L.Flatten()(x)
    for _ in range(2):
        x = L.Dense(_n(4096, width), activation="relu")(x)
        x = L.Dropout(dropout)(x)
    out = L.Dense(1, activation="sigmoid", dtype="float32")(x)
    return K.Model(inp, out, name="alexnet")


def vgg16(input_shape: tuple[int, int, int], width: float = 1.0, dropout: float = 0.5):
    """VGG16 with ``min(5, log2(size) - 1)`` blocks, so small cutouts keep a >= 2 x 2 last map."""
    K = keras()
    L = K.layers
    blocks = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    nblocks = max(1, min(5, int(math.log2(min(input_shape[:2]))) - 1))
    inp = K.Input(shape=input_shape)
    x = inp
    for f, reps in blocks[:nblocks]:
        for _ in range(reps):
            x = L.Conv2D(_n(f, width), 3, padding="same", activation="relu")(x)
        x = batch_norm()(x)
        x = L.MaxPooling2D(2)(x)
    x = L.Flatten()(x)
    for _ in range(2):
        x = L.Dense(_n(4096, width), activation="relu")(x)
        x = L.Dropout(dropout)(x)
    out = L.Dense(1, activation="sigmoid", dtype="float32")(x)
    return K.Model(inp, out, name="vgg16")


def _bottleneck(x, filters: int, stride: int):
    """Pre-activated bottleneck unit (He et al. 2016) with ELU, as in DeepLens.

    Its convolutions have no bias: every path out of them meets a batch norm (the next unit's or
    the final one) before any non-linearity, and its mean subtraction cancels a constant offset
    (Ioffe & Szegedy 2015), so a bias would add variables and ops, not functions.
    """
    L = keras().layers
    conv = lambda f, k, s=1: L.Conv2D(f, k, strides=s, padding="same", use_bias=False)  # noqa: E731
    pre = L.ELU()(batch_norm()(x))
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv(filters, 1, stride)(pre)
    else:
        shortcut = x
    y = conv(max(2, filters // 4), 1)(pre)
    y = conv(max(2, filters // 4), 3, stride)(L.ELU()(batch_norm()(y)))
    y = conv(filters, 1)(L.ELU()(batch_norm()(y)))
    return L.Add()([shortcut, y])


def resnet_deeplens(input_shape: tuple[int, int, int], width: float = 1.0, stages: int = 3,
                    units_per_stage: int = 2, dropout: float = 0.0):
    """DeepLens-style ResNet: 7x7 conv (ELU + BN), ``stages`` x ``units_per_stage`` bottleneck units.

    Filters: 32 at the input convolution, 32 * 2**s in stage s (times ``width``); every stage
    after the first starts with a stride-2 unit.
    """
    K = keras()
    L = K.layers
    inp = K.Input(shape=input_shape)
    x = L.Conv2D(_n(32, width), 7, padding="same")(inp)
    x = batch_norm()(L.ELU()(x))
    for s in range(stages):
        for u in range(units_per_stage):
            x = _bottleneck(x, _n(32 * 2**s, width) * (2 if s == 0 else 1), 2 if (s > 0 and u == 0) else 1)
    x = L.ELU()(batch_norm()(x))
    x = L.GlobalAveragePooling2D()(x)
    if dropout:
        x = L.Dropout(dropout)(x)
    out = L.Dense(1, activation="sigmoid", dtype="float32")(x)
    return K.Model(inp, out, name="resnet_deeplens")


def cnn1d(input_shape: tuple[int, int], width: float = 1.0, blocks: int = 4, dropout: float = 0.3):
    """1D CNN for (L, 2) series: blocks of Conv1D-Conv1D-MaxPool-BN with doubling filters."""
    K = keras()
    L = K.layers
    inp = K.Input(shape=input_shape)
    x = inp
    length = input_shape[0]
    for b in range(blocks):
        if length < 8:
            break
        f = _n(16 * 2**b, width)
        x = L.Conv1D(f, 5, padding="same", activation="relu")(x)
        x = L.Conv1D(f, 5, padding="same", activation="relu")(x)
        x = L.MaxPooling1D(3, strides=2, padding="same")(x)
        x = batch_norm()(x)
        length = (length + 1) // 2
    x = L.GlobalMaxPooling1D()(x)
    x = L.Dense(_n(64, width), activation="relu")(x)
    x = L.Dropout(dropout)(x)
    out = L.Dense(1, activation="sigmoid", dtype="float32")(x)
    return K.Model(inp, out, name="cnn1d")


def build_model(architecture: str, input_shape: tuple[int, ...], **params):
    """Build ``architecture`` (one of :data:`ARCHITECTURES`) for ``input_shape`` with its ``params``."""
    builders = {"alexnet": alexnet, "vgg16": vgg16, "resnet": resnet_deeplens, "cnn1d": cnn1d}
    if architecture not in builders:
        raise InputError(f"unknown architecture {architecture!r}; choose one of {ARCHITECTURES}.")
    want = 2 if architecture == "cnn1d" else 3
    if len(input_shape) != want:
        raise InputError(f"{architecture} needs an input of {want} dimensions, got {tuple(input_shape)}.")
    return builders[architecture](tuple(int(v) for v in input_shape), **params)
