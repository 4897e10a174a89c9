"""Real data that ships inside installed packages (no downloads), and user arrays.

Every loader returns an :class:`ArrayDataset` with ``data`` a float64 array ``(P, N)`` (images
flattened row-major), integer ``labels`` where they exist, and the preprocessing applied:

1. pixels are mapped to ``[0, 1]`` (digits: ``/16``; ``uint8`` images: ``/255``; faces already are);
2. ``center=True`` subtracts the mean image;
3. ``scale="unit"`` divides by ``sqrt(tr C / N)`` so that the mean per-pixel variance is 1, the
   scale of the stationary law ``N(0, I)`` of the OU process (``scale="none"`` keeps it).

The scale changes every predicted time: use the normalisation your model was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

import os
from pathlib import Path

from theory.validation import InputError, require_int, validate_data

__all__ = ["ArrayDataset", "preprocess", "load_digits", "load_faces", "load_patches", "load_array", "from_array",
           "load_dataset", "apply_convention", "CONVENTIONS",
           "subset", "PATCH_IMAGES"]

#: Images bundled with scikit-image used for patches (grayscale and RGB).
PATCH_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "coins", "moon", "brick", "grass", "gravel")


@dataclass
class ArrayDataset:
    """A dataset as a float64 array ``data`` (P, N), integer ``labels`` or None, a ``name``, the
    original ``image_shape`` and the ``preprocessing`` applied (recorded in every output)."""

    data: np.ndarray
    labels: np.ndarray | None
    name: str
    image_shape: tuple | None = None
    preprocessing: dict = field(default_factory=dict)

    @property
    def P(self) -> int:
        """Number of samples."""
        return int(self.data.shape[0])

    @property
    def N(self) -> int:
        """Dimension (pixels times channels for images)."""
        return int(self.data.shape[1])


def preprocess(x: np.ndarray, *, center: bool = True, scale: str = "unit") -> tuple[np.ndarray, dict]:
    """Centre and scale rows of ``x`` as described in the module docstring."""
    x = validate_data(x)
    info = {"center": bool(center), "scale": scale}
    if center:
        x = x - x.mean(axis=0)
    if scale == "unit":
        s = float(np.sqrt(np.mean(np.var(x, axis=0, ddof=1))))
        if s == 0:
            raise InputError("data have zero variance: cannot scale to unit variance")
        x = x / s
        info["divided_by"] = s
    elif scale != "none":
        raise InputError(f"scale must be 'unit' or 'none', got {scale!r}")
    return x, info


def selection_indices(labels, n: int, name: str, *, classes=None, P: int | None = None, seed: int = 0) -> np.ndarray:
    """Sorted row indices of ``n`` rows that keep the given ``classes`` (label values) and/or a seeded
    random subset of ``P`` of them (numpy ``Generator`` with ``seed``); one-line errors naming
    ``classes`` or ``P``. Shared by :func:`subset` and :func:`simulate.loaders.select`."""
    keep = np.arange(n)
    if classes is not None:
        if labels is None:
            raise InputError(f"{name} has no labels: cannot select classes")
        classes = [int(c) for c in classes]
        present = np.unique(labels).tolist()
        missing = sorted(set(classes) - set(present))
        if missing:
            raise InputError(f"classes {missing} do not occur in {name} (labels {present[:20]})")
        keep = keep[np.isin(labels, classes)]
    if P is not None:
        P = require_int("P", P, 2)
        if P > keep.size:
            raise InputError(f"P must be <= {keep.size} (samples available), got {P}")
        keep = np.sort(np.random.default_rng(seed).choice(keep, size=P, replace=False))
    return keep


def subset(ds: ArrayDataset, *, classes=None, P: int | None = None, seed: int = 0) -> ArrayDataset:
    """Keep the given classes (labels) and/or a seeded random subset of ``P`` rows."""
    keep = selection_indices(ds.labels, ds.P, ds.name, classes=classes, P=P, seed=seed)
    return replace(ds, data=ds.data[keep], labels=None if ds.labels is None else ds.labels[keep])


def _finish(x, labels, name, image_shape, center, scale, extra=None):
    x, info = preprocess(x, center=center, scale=scale)
    info.update(extra or {})
    return ArrayDataset(x, labels, name, image_shape, info)


def load_digits(*, classes=None, P: int | None = None, seed: int = 0, center: bool = True,
                scale: str = "unit") -> ArrayDataset:
    """scikit-learn's handwritten digits: 1797 images of 8 x 8 (N = 64), labels 0..9.

    Class and size selection happen before preprocessing, so the statistics are those of the
    selected subset.
    """
    from sklearn.datasets import load_digits as _load

    raw = _load()
    ds = ArrayDataset(raw.data / 16.0, raw.target.astype(np.int64), "digits", (8, 8))
    ds = subset(ds, classes=classes, P=P, seed=seed)
    return _finish(ds.data, ds.labels, "digits", (8, 8), center, scale, {"pixels": "/16"})


def load_faces(*, P: int | None = None, seed: int = 0, center: bool = True, scale: str = "unit") -> ArrayDataset:
    """scikit-image's ``data.lfw_subset()``: 200 faces of 25 x 25 (N = 625), float in [0, 1].
    The first 100 are faces and the last 100 non-faces in that set: labels 1 / 0."""
    from skimage import data as skdata

    x = skdata.lfw_subset().reshape(200, -1)
    labels = np.r_[np.ones(100, dtype=np.int64), np.zeros(100, dtype=np.int64)]
    ds = subset(ArrayDataset(x, labels, "faces", (25, 25)), P=P, seed=seed)
    return _finish(ds.data, ds.labels, "faces", (25, 25), center, scale)


def load_patches(*, k: int = 8, P: int = 10_000, color: bool = False, images=PATCH_IMAGES, seed: int = 0,
                 center: bool = True, scale: str = "unit") -> ArrayDataset:
    """``P`` random ``k x k`` patches from images bundled with scikit-image (N = k^2, or 3 k^2 with
    ``color=True``, which uses only the RGB images). Positions are uniform, seeded; pixels in [0, 1];
    grayscale by ``skimage.color.rgb2gray``. Labels are the index of the source image."""
    from skimage import color as skcolor
    from skimage import data as skdata

    k, P = require_int("k", k, 2), require_int("P", P, 2)
    sources = []
    for name in images:
        try:
            im = getattr(skdata, name)()
        except AttributeError:
            raise InputError(f"unknown scikit-image image {name!r}") from None
        im = im.astype(np.float64) / (255.0 if im.dtype == np.uint8 else 1.0)
        if color:
            if im.ndim != 3:
                continue
            im = im[..., :3]
        elif im.ndim == 3:
            im = skcolor.rgb2gray(im[..., :3])
        if min(im.shape[:2]) >= k:
            sources.append(im)
    if not sources:
        raise InputError(f"k = {k}: no source image is k x k or larger"
                         + (" (and in colour, as color=True asks)" if color else ""))
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(sources), P)
    patches = np.empty((P, k * k * (3 if color else 1)))
    for j, im in enumerate(sources):
        rows = np.nonzero(which == j)[0]
        r = rng.integers(0, im.shape[0] - k + 1, rows.size)
        c = rng.integers(0, im.shape[1] - k + 1, rows.size)
        for n, (ri, ci) in zip(rows, zip(r, c)):
            patches[n] = im[ri:ri + k, ci:ci + k].reshape(-1)
    shape = (k, k, 3) if color else (k, k)
    return _finish(patches, which.astype(np.int64), f"patches{k}", shape, center, scale,
                   {"images": [n for n in images], "k": k})


def load_array(path: str | os.PathLike, *, keep_dtype: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Load ``(data, labels)`` from ``.npy`` or ``.npz`` (keys ``data``/``x`` and optional
    ``labels``/``y``; a single-array ``.npz`` is taken as the data). The data are validated as a
    float64 ``(P, N)`` array, or with ``keep_dtype`` returned as stored (any shape; 8-bit pixels stay
    8-bit), checked for numbers only."""
    check = (lambda a: _numeric(a, path)) if keep_dtype else validate_data
    path = Path(path)
    if not path.exists():
        raise InputError(f"path does not exist: {path}")
    try:
        if path.suffix == ".npy":
            return check(np.load(path, allow_pickle=False)), None
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                keys = list(z.files)
                data_key = next((k for k in ("data", "x", "X") if k in keys), keys[0] if len(keys) == 1 else None)
                if data_key is None:
                    raise InputError(f"{path} has arrays {keys}: name the data 'data' (and labels 'labels')")
                labels = next((z[k] for k in ("labels", "y") if k in keys), None)
                return check(z[data_key]), labels
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    raise InputError(f"path must end in .npy or .npz, got {path.name}")


def _numeric(array: np.ndarray, path) -> np.ndarray:
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
        raise InputError(f"{path}: data must be numeric (real numbers), got dtype {array.dtype}")
    if array.ndim < 2 or array.shape[0] < 2:
        raise InputError(f"{path}: data must be 2-D (P, N) or image-shaped with P >= 2 samples, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise InputError(f"{path}: data must be finite (NaN or inf found)")
    return array


def from_array(array_or_path, labels=None, *, center: bool = False, scale: str = "none",
               name: str = "user") -> ArrayDataset:
    """A user's array (``(P, N)`` or image-shaped) or ``.npy`` / ``.npz`` file, validated.

    By default the data are used as given (no centring or scaling)."""
    if isinstance(array_or_path, (str, bytes)) or hasattr(array_or_path, "__fspath__"):
        x, file_labels = load_array(array_or_path)
        labels = file_labels if labels is None else labels
        name = str(array_or_path)
    else:
        x = validate_data(array_or_path)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (x.shape[0],):
            raise InputError(f"labels must have shape ({x.shape[0]},), got {labels.shape}")
    return _finish(x, labels, name, None, center, scale)


#: Preprocessing conventions of :func:`load_dataset` (docs/your-data.md):
#: ``unit``: pixels to [0, 1], each pixel centred, divided by the root mean per-pixel variance (the
#: scale of the OU stationary law N(0, I)); ``bbbm24``: pixels to [0, 1], MNIST-sized 28 x 28 grey
#: images zero-padded to 32 x 32, one scalar mean per channel subtracted, no scaling (the
#: convention of the largest eigenvalues published in [BBBM24]); ``raw``: the stored values.
CONVENTIONS = ("unit", "bbbm24", "raw")


def apply_convention(raw, convention: str = "unit") -> ArrayDataset:
    """A :class:`~simulate.loaders.RawImages` as an :class:`ArrayDataset` ``(P, N)`` in float64
    under ``convention`` (:data:`CONVENTIONS`); the steps taken are recorded in ``preprocessing``."""
    if convention not in CONVENTIONS:
        raise InputError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    x = np.asarray(raw.data, dtype=np.float64)
    info = {"convention": convention, "format": raw.format}
    shape = raw.image_shape
    if convention == "raw":
        x = validate_data(x.reshape(x.shape[0], -1))
        return ArrayDataset(x, raw.labels, raw.name, shape, info)
    if raw.pixel_max is not None:
        x = x / raw.pixel_max
        info["pixels"] = f"/{raw.pixel_max:g}"
    if convention == "unit":
        x, steps = preprocess(x.reshape(x.shape[0], -1), center=True, scale="unit")
        return ArrayDataset(x, raw.labels, raw.name, shape, {**info, **steps})
    # bbbm24
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if lo < -1e-12 or hi > 1 + 1e-12:
        raise InputError(f"convention bbbm24 needs pixels in [0, 1] (or 8-bit pixels, divided by 255); "
                         f"{raw.name} has values in [{lo:.4g}, {hi:.4g}]")
    if x.ndim == 2:  # flat samples: one channel
        x = x[:, :, None, None]
    if x.shape[1:] == (28, 28, 1):  # MNIST-sized: padded to 32 x 32 as [BBBM24] did (before the mean)
        x = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
        info["padded"] = "28x28 -> 32x32 (zeros)"
        shape = (32, 32, 1)
    means = x.mean(axis=(0, 1, 2))
    x = x - means
    info["channel_means"] = [float(m) for m in means]
    return ArrayDataset(validate_data(x.reshape(x.shape[0], -1)), raw.labels, raw.name, shape, info)


def load_dataset(path, *, format: str = "auto", convention: str = "unit", classes=None, P: int | None = None,
                 seed: int = 0, split: str = "train", mode: str | None = None, size: int | None = None) -> ArrayDataset:
    """Read a dataset in any supported format (:mod:`simulate.loaders`: IDX, CIFAR pickles, image
    folders, ``.npz``/``.npy``, saved Hugging Face datasets), select ``classes`` and a seeded
    subsample of ``P``, and preprocess it under ``convention`` (:data:`CONVENTIONS`; ``"auto"``:
    ``unit`` for images and 8-bit arrays, ``raw`` for float arrays).

    Examples
    --------
    >>> ds = load_dataset("MNIST/raw", convention="bbbm24", classes=[0, 1], P=2000)  # doctest: +SKIP
    >>> ds.preprocessing["padded"]  # doctest: +SKIP
    '28x28 -> 32x32 (zeros)'
    """
    from .loaders import read_dataset

    if convention not in ("auto", *CONVENTIONS):
        raise InputError(f"convention must be 'auto' or one of {', '.join(CONVENTIONS)}, got {convention!r}")
    raw = read_dataset(path, format=format, classes=classes, P=P, seed=seed, split=split, mode=mode, size=size)
    if convention == "auto":  # images and 8-bit arrays are pixels; float arrays are used as given
        convention = "raw" if raw.pixel_max is None else "unit"
    ds = apply_convention(raw, convention)
    ds.preprocessing.update({"path": str(path), "P_selected": P, "classes": None if classes is None else
                             [int(c) for c in classes], "seed": seed, "split": split})
    return ds
