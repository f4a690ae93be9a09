"""Image augmentation: seeded random transforms applied identically to every band of an image.

Kernels (pure NumPy / SciPy, arrays in, arrays out):

* :func:`affine` — shift, rotation, zoom and skew (shear) in one resampling, with the fill modes
  ``constant``, ``nearest``, ``reflect`` (``abcd|dcba``) and ``wrap`` (``abcd|abcd``);
* :func:`flip`, :func:`dihedral_views` (the 8 orientations, for averaging at prediction), :func:`center_crop`, :func:`circular_masks`, :func:`blend`.

Drivers:

* :func:`random_transform` — one image, one random draw (what the tf.data pipeline applies on
  the fly, see :mod:`lia_dask.cnn.data`);
* :func:`augment_images` — offline, pyBIA-style: ``batch`` augmented copies per image, then
  optional blending of several images and circular masks, then the crop to ``image_size``
  (used to grow the positive or negative class before training).

Images are ``(H, W, C)`` (or a stack ``(N, H, W, C)``), float32; shifts in pixels, angles in degrees.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError

FILL_MODES = {"constant": "grid-constant", "nearest": "nearest", "reflect": "reflect", "wrap": "grid-wrap"}
BLEND_FUNCS = ("mean", "max", "min", "random")


@dataclass
class AugmentConfig:
    """Augmentation settings (pyBIA's names where it has them).

    Attributes
    ----------
    batch : int
        Offline only: augmented copies made per input image.
    width_shift, height_shift : int
        Maximum shift in pixels along x (columns) / y (rows); drawn uniformly in [-s, s] (integers).
    horizontal_flip, vertical_flip : bool
        Flip left-right / up-down with probability 1/2.
    rot90 : bool
        Rotate square images by k x 90 degrees, k drawn uniformly in 0..3 (after the flips). With
        both flips every one of the 8 orientations of the square (the dihedral group D4) is drawn
        with probability 1/8: a lens stays a lens under all of them, and unlike ``rotation`` no
        resampling blurs the pixels or fills the corners.
    rotation : float
        Maximum rotation angle in degrees, drawn uniformly in [-r, r].
    fill_mode : {"constant", "nearest", "reflect", "wrap"}
        How pixels that come from outside the image are filled; ``fill_value`` for ``constant``.
    zoom_range : (float, float) or None
        Magnification factor drawn uniformly in this range (> 1 enlarges the image content).
    skew : float
        Maximum shear angle in degrees, drawn uniformly in [-s, s].
    image_size : int or None
        Final centre crop to ``image_size x image_size`` (None keeps the size).
    mask_size : int or None
        Diameter in pixels of the circular masks (pixels set to ``fill_value`` in every band).
    num_masks : int
        Masks per image (centres uniform over the image).
    num_images_to_blend : int
        Offline only: images combined per blended image (1 disables blending).
    blend_multiplier : float
        Offline only: blended images made = ``round(blend_multiplier * N)``.
    blending_func : {"mean", "max", "min", "random"}
        Pixel-wise combination; ``random`` draws one of the other three per blended image.
    seed : int
        Seed of the random draws.
    """

    batch: int = 1
    width_shift: int = 0
    height_shift: int = 0
    horizontal_flip: bool = False
    vertical_flip: bool = False
    rot90: bool = False
    rotation: float = 0.0
    fill_mode: str = "nearest"
    fill_value: float = 0.0
    zoom_range: tuple[float, float] | None = None
    skew: float = 0.0
    image_size: int | None = None
    mask_size: int | None = None
    num_masks: int = 0
    num_images_to_blend: int = 1
    blend_multiplier: float = 0.0
    blending_func: str = "mean"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.fill_mode not in FILL_MODES:
            raise InputError(f"fill_mode must be one of {sorted(FILL_MODES)}, got {self.fill_mode!r}.")
        if self.blending_func not in BLEND_FUNCS:
            raise InputError(f"blending_func must be one of {BLEND_FUNCS}, got {self.blending_func!r}.")
        if self.batch < 1 or self.num_images_to_blend < 1 or self.num_masks < 0:
            raise InputError("augmentation needs batch >= 1, num_images_to_blend >= 1 and num_masks >= 0.")
        if self.zoom_range is not None:
            self.zoom_range = (float(self.zoom_range[0]), float(self.zoom_range[1]))
            if min(self.zoom_range) <= 0:
                raise InputError(f"zoom_range must be positive factors, got {self.zoom_range}.")

    @property
    def geometric(self) -> bool:
        return bool(self.width_shift or self.height_shift or self.rotation or self.skew or self.zoom_range)


# ------------------------------------------------------------------------------- kernels
def _as_hwc(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise InputError(f"an image must have shape (H, W, C) or (H, W), got {image.shape}.")
    return image


def affine(image: np.ndarray, shift: tuple[float, float] = (0.0, 0.0), rotation: float = 0.0,
           zoom: float = 1.0, skew: float = 0.0, fill_mode: str = "nearest", fill_value: float = 0.0,
           order: int = 1) -> np.ndarray:
    """Shift, rotate, zoom and skew an image about its centre, every band alike.

    Parameters
    ----------
    image : ndarray, shape (H, W, C)
    shift : (dy, dx)
        Pixels; content moves down by ``dy`` rows and right by ``dx`` columns.
    rotation : float
        Degrees, counter-clockwise as displayed with the origin at the top-left.
    zoom : float
        Magnification (> 1 enlarges).
    skew : float
        Shear angle in degrees (x' = x + tan(skew) y).
    fill_mode, fill_value
        See :class:`AugmentConfig`.
    order : int
        Spline order of the resampling (1 = bilinear; integer shifts are exact).

    Returns
    -------
    ndarray, shape (H, W, C), float32
    """
    image = _as_hwc(image)
    H, W, _ = image.shape
    a = -np.deg2rad(rotation)  # counter-clockwise on screen (rows grow downwards)
    # forward map in (row, col) coordinates about the centre
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    shear = np.array([[1.0, 0.0], [np.tan(np.deg2rad(skew)), 1.0]])
    fwd = rot @ shear * float(zoom)
    inv = np.linalg.inv(fwd)
    c = np.array([(H - 1) / 2.0, (W - 1) / 2.0])
    offset = c - inv @ (c + np.asarray(shift, dtype=float))
    out = np.empty_like(image)
    for b in range(image.shape[2]):
        out[..., b] = ndimage.affine_transform(image[..., b], inv, offset=offset, order=order,
                                               mode=FILL_MODES[fill_mode], cval=fill_value, prefilter=False)
    return out


def flip(image: np.ndarray, horizontal: bool = False, vertical: bool = False) -> np.ndarray:
    """Mirror left-right (``horizontal``) and/or up-down (``vertical``); shape (H, W, C) kept."""
    image = _as_hwc(image)
    if horizontal:
        image = image[:, ::-1]
    if vertical:
        image = image[::-1]
    return np.ascontiguousarray(image)


def dihedral_views(images: np.ndarray) -> np.ndarray:
    """The 8 orientations of square images: rotations by 0, 90, 180, 270 degrees, each also mirrored.

    Parameters
    ----------
    images : ndarray, shape (N, S, S, C)

    Returns
    -------
    ndarray, shape (8, N, S, S, C), float32
        View ``2 k + m`` is ``np.rot90`` by ``k`` (counter-clockwise as displayed) of the image,
        mirrored left-right first when ``m = 1``; view 0 is the image itself.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] != x.shape[2]:
        raise InputError(f"dihedral views need square images (N, S, S, C), got shape {x.shape}.")
    return np.stack([np.rot90(v, k, axes=(1, 2)) for k in range(4) for v in (x, x[:, :, ::-1])])


def center_crop(image: np.ndarray, size: int | None) -> np.ndarray:
    """Central ``size x size`` crop of (H, W, C) or (N, H, W, C) images (no-op for ``None``)."""
    if size is None:
        return image
    H, W = image.shape[-3], image.shape[-2]
    if size > min(H, W):
        raise InputError(f"image_size {size} is larger than the cutouts ({H} x {W}); choose image_size <= {min(H, W)}.")
    r0, c0 = (H - size) // 2, (W - size) // 2
    return image[..., r0:r0 + size, c0:c0 + size, :]


def disk(shape: tuple[int, int], center: tuple[float, float], radius: float) -> np.ndarray:
    """Boolean (H, W) mask of the pixels whose centres lie within ``radius`` of ``center`` (row, col)."""
    rr, cc = np.ogrid[: shape[0], : shape[1]]
    return (rr - center[0]) ** 2 + (cc - center[1]) ** 2 <= radius**2


def circular_masks(image: np.ndarray, centers, radius: float, fill_value: float = 0.0) -> np.ndarray:
    """Set every band of the disks of ``radius`` around ``centers`` ((row, col) pairs) to ``fill_value``."""
    image = _as_hwc(image).copy()
    for ctr in centers:
        image[disk(image.shape[:2], ctr, radius)] = fill_value
    return image


def blend(images: np.ndarray, func: str = "mean") -> np.ndarray:
    """Pixel-wise ``mean``, ``max`` or ``min`` of a stack (K, H, W, C) -> (H, W, C)."""
    if func not in ("mean", "max", "min"):
        raise InputError(f"blend func must be 'mean', 'max' or 'min', got {func!r}.")
    return getattr(np, func)(np.asarray(images, dtype=np.float32), axis=0).astype(np.float32)


# ------------------------------------------------------------------------------- drivers
def random_transform(image: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator, crop: bool = True) -> np.ndarray:
    """One random draw of flips, shift, rotation, zoom, skew and masks applied to all bands.

    Parameters
    ----------
    image : ndarray, shape (H, W, C)
    cfg : AugmentConfig
    rng : numpy.random.Generator
        Source of the draws (seed it for reproducibility).
    crop : bool
        Finish with the centre crop to ``cfg.image_size``.

    Returns
    -------
    ndarray, shape (image_size, image_size, C) or (H, W, C), float32
    """
    img = flip(image, cfg.horizontal_flip and rng.random() < 0.5, cfg.vertical_flip and rng.random() < 0.5)
    if cfg.rot90:
        if img.shape[0] != img.shape[1]:
            raise InputError(f"rot90 augmentation needs square images, got {img.shape[0]} x {img.shape[1]}.")
        img = np.ascontiguousarray(np.rot90(img, int(rng.integers(0, 4))))
    if cfg.geometric:
        dy = int(rng.integers(-cfg.height_shift, cfg.height_shift + 1)) if cfg.height_shift else 0
        dx = int(rng.integers(-cfg.width_shift, cfg.width_shift + 1)) if cfg.width_shift else 0
        rot = float(rng.uniform(-cfg.rotation, cfg.rotation)) if cfg.rotation else 0.0
        zoom = float(rng.uniform(*cfg.zoom_range)) if cfg.zoom_range else 1.0
        sk = float(rng.uniform(-cfg.skew, cfg.skew)) if cfg.skew else 0.0
        img = affine(img, (dy, dx), rot, zoom, sk, cfg.fill_mode, cfg.fill_value)
    img = _masks(img, cfg, rng)
    return center_crop(img, cfg.image_size) if crop else img


def _masks(img: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    if not cfg.mask_size or not cfg.num_masks:
        return img
    H, W = img.shape[:2]
    centers = np.column_stack([rng.uniform(0, H - 1, cfg.num_masks), rng.uniform(0, W - 1, cfg.num_masks)])
    return circular_masks(img, centers, cfg.mask_size / 2.0, cfg.fill_value)


def blend_set(images: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """``round(blend_multiplier * N)`` blends of ``num_images_to_blend`` distinct random images each.

    Returns (M, H, W, C) float32 (M may be 0).
    """
    n = len(images)
    m = int(round(cfg.blend_multiplier * n))
    k = cfg.num_images_to_blend
    if m == 0 or k < 2:
        return np.empty((0, *images.shape[1:]), np.float32)
    if k > n:
        raise InputError(f"num_images_to_blend={k} is larger than the {n} images given; lower it.")
    out = np.empty((m, *images.shape[1:]), np.float32)
    for j in range(m):
        pick = rng.choice(n, size=k, replace=False)
        func = cfg.blending_func if cfg.blending_func != "random" else str(rng.choice(["mean", "max", "min"]))
        out[j] = blend(images[pick], func)
    return out


def augment_images(images: np.ndarray, cfg: AugmentConfig, seed: int | None = None) -> np.ndarray:
    """Offline augmentation: ``cfg.batch`` transformed copies per image, plus blends, cropped.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
        Images of one class (e.g. the positives to grow).
    cfg : AugmentConfig
    seed : int, optional
        Overrides ``cfg.seed``.

    Returns
    -------
    ndarray, shape (N * batch + M, S, S, C), float32
        The augmented copies (image by image, copy by copy) followed by the M blended images;
        S = ``cfg.image_size`` or H.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise InputError(f"augment_images needs a stack (N, H, W, C), got shape {images.shape}.")
    rng = np.random.default_rng(cfg.seed if seed is None else seed)
    copies = np.stack([random_transform(img, cfg, rng, crop=False) for img in images for _ in range(cfg.batch)]) \
        if len(images) else images
    blends = blend_set(copies, cfg, rng)
    if len(blends):
        blends = np.stack([_masks(b, cfg, rng) for b in blends])
    out = np.concatenate([copies, blends]) if len(blends) else copies
    return np.ascontiguousarray(center_crop(out, cfg.image_size))
