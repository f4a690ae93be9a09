"""Batched augmentation in TensorFlow ops, for the tf.data input pipeline.

:func:`augment_batch` applies the online part of an :class:`~lia_dask.cnn.augment.AugmentConfig`
(flips, rotations by multiples of 90 degrees, integer shifts, rotation, zoom, skew, circular masks) to a whole batch (B, H, W, C) at
once: every image gets its own draw from stateless random ops seeded by one ``(2,)`` int64 seed,
and one projective resampling (``ImageProjectiveTransformV3``, bilinear; integer shifts are exact)
does shift, rotation, zoom and skew together, every band alike. The geometry matches the NumPy
kernel :func:`lia_dask.cnn.augment.affine` (same angle, shear and fill-mode conventions), which
stays the reference for offline augmentation. Graph-only: no Python runs per image.
"""
from __future__ import annotations

import math

from ..errors import InputError
from ._tf import tf

_FILL = {"constant": "CONSTANT", "nearest": "NEAREST", "reflect": "REFLECT", "wrap": "WRAP"}


def crop_batch(x, size: int | None):
    """Central ``size x size`` crop of a batch (B, H, W, C) tensor (no-op for ``None``)."""
    if size is None:
        return x
    H, W = int(x.shape[1]), int(x.shape[2])
    if size > min(H, W):
        raise InputError(f"image_size {size} is larger than the cutouts ({H} x {W}); choose image_size <= {min(H, W)}.")
    r0, c0 = (H - size) // 2, (W - size) // 2
    return x[:, r0:r0 + size, c0:c0 + size, :]


def affine_transforms(dy, dx, rotation_deg, zoom, skew_deg, height: int, width: int):
    """(B, 8) projective transforms (output pixel -> input pixel, (x=col, y=row)) of the content map.

    The content moves by ``(dy, dx)`` pixels and is rotated counter-clockwise on screen by
    ``rotation_deg``, magnified by ``zoom`` and sheared (x' = x + tan(skew) y) about the centre,
    as in :func:`lia_dask.cnn.augment.affine`.
    """
    T = tf()
    a = rotation_deg * (math.pi / 180.0)
    ca, sa = T.cos(a), T.sin(a)
    t = T.tan(skew_deg * (math.pi / 180.0))
    # forward map in (row, col): fwd = zoom * R @ S, R = [[cos a, -sin a], [sin a, cos a]], S = [[1, 0], [t, 1]]
    r00, r01, r10, r11 = ca, -sa, sa, ca
    f00, f01 = zoom * (r00 + r01 * t), zoom * r01
    f10, f11 = zoom * (r10 + r11 * t), zoom * r11
    det = f00 * f11 - f01 * f10
    i00, i01, i10, i11 = f11 / det, -f01 / det, -f10 / det, f00 / det  # inverse, (row, col)
    cr, cc = (height - 1) / 2.0, (width - 1) / 2.0
    # input (row, col) = c + inv @ (out - c - shift)
    o_r = cr - (i00 * (cr + dy) + i01 * (cc + dx))
    o_c = cc - (i10 * (cr + dy) + i11 * (cc + dx))
    z = T.zeros_like(f00)
    # in (x=col, y=row): x_in = i11 x + i10 y + o_c ; y_in = i01 x + i00 y + o_r
    return T.stack([i11, i10, o_c, i01, i00, o_r, z, z], axis=1)


def augment_batch(x, seed, cfg):
    """Augment a batch (B, H, W, C) float32 with one stateless draw per image.

    Parameters
    ----------
    x : tf.Tensor, shape (B, H, W, C)
    seed : tf.Tensor, shape (2,), int64
        Same seed, same batch -> same output.
    cfg : AugmentConfig
        Online fields only (``batch`` and blending are offline, see :func:`augment_images`).

    Returns
    -------
    tf.Tensor, shape (B, H, W, C) (uncropped; see :func:`crop_batch`)
    """
    T = tf()
    R = T.random.experimental
    B = T.shape(x)[0]
    H, W = int(x.shape[1]), int(x.shape[2])
    seeds = R.stateless_split(T.cast(seed, T.int64), 10)

    def u(k, lo, hi):
        return T.random.stateless_uniform([B], seeds[k], lo, hi)

    if cfg.horizontal_flip:
        x = T.where((u(0, 0.0, 1.0) < 0.5)[:, None, None, None], T.reverse(x, [2]), x)
    if cfg.vertical_flip:
        x = T.where((u(1, 0.0, 1.0) < 0.5)[:, None, None, None], T.reverse(x, [1]), x)
    if cfg.rot90:
        if H != W:
            raise InputError(f"rot90 augmentation needs square images, got {H} x {W}.")
        # k x 90 degrees counter-clockwise (np.rot90): transpose for odd k, then reverse rows for k in
        # {1, 2} and columns for k in {2, 3}
        k = T.random.stateless_uniform([B], seeds[9], 0, 4, dtype=T.int32)[:, None, None, None]
        x = T.where(k % 2 == 1, T.transpose(x, [0, 2, 1, 3]), x)
        x = T.where((k == 1) | (k == 2), T.reverse(x, [1]), x)
        x = T.where(k >= 2, T.reverse(x, [2]), x)
    if cfg.geometric:
        zero = T.zeros([B])

        def ishift(k, s):
            if not s:
                return zero
            return T.cast(T.random.stateless_uniform([B], seeds[k], -s, s + 1, dtype=T.int32), T.float32)

        dy, dx = ishift(2, cfg.height_shift), ishift(3, cfg.width_shift)
        rot = u(4, -cfg.rotation, cfg.rotation) if cfg.rotation else zero
        zoom = u(5, *cfg.zoom_range) if cfg.zoom_range else T.ones([B])
        sk = u(6, -cfg.skew, cfg.skew) if cfg.skew else zero
        tr = affine_transforms(dy, dx, rot, zoom, sk, H, W)
        x = T.raw_ops.ImageProjectiveTransformV3(images=x, transforms=tr, output_shape=[H, W],
                                                 fill_value=float(cfg.fill_value), interpolation="BILINEAR",
                                                 fill_mode=_FILL[cfg.fill_mode])
    if cfg.mask_size and cfg.num_masks:
        m = cfg.num_masks
        cy = T.random.stateless_uniform([B, m], seeds[7], 0.0, H - 1.0)
        cx = T.random.stateless_uniform([B, m], seeds[8], 0.0, W - 1.0)
        rr = T.range(H, dtype=T.float32)[None, None, :, None]
        cc = T.range(W, dtype=T.float32)[None, None, None, :]
        d2 = (rr - cy[..., None, None]) ** 2 + (cc - cx[..., None, None]) ** 2
        hit = T.reduce_any(d2 <= (cfg.mask_size / 2.0) ** 2, axis=1)[..., None]
        x = T.where(hit, T.cast(cfg.fill_value, x.dtype), x)
    return x
