"""Readers for the dataset formats researchers have on disk, without torchvision or a download.

Each reader returns :class:`RawImages`: the samples as stored (``uint8`` pixels stay ``0..255``),
image-shaped ``(P, H, W, C)`` where the format knows the shape, the labels and their names.
:func:`read_dataset` detects the format (``format="auto"``) and applies class selection and a
seeded subsample; :func:`simulate.datasets.load_dataset` then applies a preprocessing convention.

Formats
-------
``idx``
    MNIST-family IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST), gzipped or not: a path to the
    images file (``*-images-idx3-ubyte[.gz]``; its ``*-labels-idx1-ubyte[.gz]`` sibling is read
    when present) or a folder holding them (torchvision's ``MNIST/raw`` layout included; the
    training split unless ``split="test"``).
``cifar``
    CIFAR-10 / CIFAR-100 python pickles and the downsampled ImageNet batches that share their
    layout (a ``data`` array of ``3 s^2`` bytes per row, red then green then blue planes): a folder
    (``cifar-10-batches-py``, ``cifar-100-python``, torchvision's root above them) or one batch file.
``folder``
    Image files (PNG, JPEG, BMP, GIF, TIFF, WebP) read with Pillow: class sub-folders give the labels
    (sorted names), a flat folder has none. ``size`` resizes (the short side, then a centre crop to
    ``size x size``), ``mode`` is ``"L"`` (grey) or ``"RGB"``; without ``size`` every image must have
    the same size.
``npz`` / ``npy``
    Arrays (:func:`simulate.datasets.load_array`: keys ``data``/``x`` and ``labels``/``y``).
``hf``
    A Hugging Face ``datasets`` folder written by ``save_to_disk`` (needs the optional ``datasets``
    package; loaded from the path, never downloaded): the first image column, the ``label`` column.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from theory.validation import InputError, require_int

__all__ = ["RawImages", "FORMATS", "detect_format", "read_dataset", "read_idx", "read_cifar", "read_image_folder",
           "IMAGE_SUFFIXES"]

#: The formats :func:`read_dataset` knows (``"auto"`` detects one of them).
FORMATS = ("idx", "cifar", "folder", "npz", "npy", "hf")
#: Image files the folder reader opens.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass
class RawImages:
    """Samples as stored: ``data`` ``(P, H, W, C)`` for images (``(P, N)`` for arrays without a
    shape), ``labels`` (int64) or None, ``label_names`` where the format has them, ``pixel_max``
    (255 for 8-bit pixels, None when the scale is unknown), the ``format`` and a ``name``."""

    data: np.ndarray
    labels: np.ndarray | None
    name: str
    format: str
    pixel_max: float | None = None
    label_names: list | None = None

    @property
    def P(self) -> int:
        """Number of samples."""
        return int(self.data.shape[0])

    @property
    def image_shape(self) -> tuple | None:
        """``(H, W, C)``, or None for flat arrays."""
        return tuple(self.data.shape[1:]) if self.data.ndim == 4 else None


# -- IDX (MNIST family) ----------------------------------------------------------------------
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"),
              0x0E: np.dtype(">f8")}


def _open_maybe_gzip(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def read_idx(path) -> np.ndarray:
    """One IDX file as an array of its stored type and shape (a truncated or malformed file is an
    :class:`~theory.validation.InputError` naming it)."""
    path = Path(path)
    raw = _open_maybe_gzip(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise InputError(f"{path} is not an IDX file (magic number {raw[:4].hex() or 'missing'})")
    ndim = raw[3]
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise InputError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != need:
        raise InputError(f"{path}: truncated IDX file: the header promises {need} bytes of {shape} "
                         f"{dtype.name}, the file holds {len(body)}")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _idx_pair(path: Path, split: str) -> tuple[Path, Path | None]:
    """The images file and its labels sibling (or None) for a file or a folder."""
    if path.is_dir():
        candidates = sorted(p for p in path.rglob("*") if p.is_file() and "idx3" in p.name)
        prefix = "t10k" if split == "test" else "train"
        pick = [p for p in candidates if p.name.startswith(prefix)] or candidates
        if not pick:
            raise InputError(f"{path}: no IDX images file (*-images-idx3-ubyte[.gz]) in this folder")
        path = pick[0]
    labels = path.with_name(path.name.replace("images-idx3", "labels-idx1").replace("idx3", "idx1"))
    return path, (labels if labels != path and labels.exists() else None)


def read_idx_dataset(path, *, split: str = "train") -> RawImages:
    """MNIST-family images (and labels when the sibling file exists) as ``(P, H, W, 1)`` uint8."""
    images_path, labels_path = _idx_pair(Path(path), split)
    images = read_idx(images_path)
    if images.ndim not in (3, 4):
        raise InputError(f"{images_path}: IDX images must be (P, H, W) or (P, H, W, C), got shape {images.shape}")
    if images.ndim == 3:
        images = images[..., None]
    labels = None
    if labels_path is not None:
        labels = read_idx(labels_path).astype(np.int64)
        if labels.shape != (images.shape[0],):
            raise InputError(f"{labels_path}: {labels.shape[0] if labels.ndim else 0} labels for "
                             f"{images.shape[0]} images in {images_path.name}")
    pixel_max = 255.0 if images.dtype == np.uint8 else None
    return RawImages(images, labels, images_path.name, "idx", pixel_max)


# -- CIFAR pickles (and downsampled ImageNet) -------------------------------------------------
def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f, encoding="bytes")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"cannot read {path} as a CIFAR pickle: {exc}") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}: a CIFAR pickle holds a dict, got {type(obj).__name__}")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    d = _unpickle(path)
    if "data" not in d:
        raise InputError(f"{path}: a CIFAR pickle needs a 'data' entry, it has {sorted(d)}")
    data = np.asarray(d["data"])
    if data.ndim == 4 and data.shape[1:] in ((32, 32, 3),):  # some re-exports store HWC images
        images = data
    else:
        if data.ndim != 2 or data.dtype != np.uint8 or data.shape[1] % 3:
            raise InputError(f"{path}: 'data' must be (P, 3 s^2) uint8 (red, green, blue planes), got "
                             f"{data.dtype} {data.shape}")
        side = int(round(np.sqrt(data.shape[1] // 3)))
        if 3 * side * side != data.shape[1]:
            raise InputError(f"{path}: 'data' rows of {data.shape[1]} bytes are not 3 square planes")
        images = data.reshape(-1, 3, side, side).transpose(0, 2, 3, 1)
    key = next((k for k in ("labels", "fine_labels") if k in d), None)
    labels = None if key is None else np.asarray(d[key], dtype=np.int64).reshape(-1)
    if labels is not None and labels.shape[0] != images.shape[0]:
        raise InputError(f"{path}: {labels.shape[0]} labels for {images.shape[0]} images")
    return images, labels


def read_cifar(path, *, split: str = "train") -> RawImages:
    """CIFAR-10/100 batches (a folder or one file) as ``(P, s, s, 3)`` uint8 with labels."""
    path = Path(path)
    if path.is_file():
        files = [path]
    else:
        batches = sorted(p for p in path.rglob("*") if p.is_file() and not p.suffix and "meta" not in p.name
                         and p.name not in ("readme.html",))
        train = [p for p in batches if p.name.startswith(("data_batch", "train"))]
        test = [p for p in batches if p.name.startswith(("test_batch", "test", "val_data"))]
        files = test if split == "test" else train
        if not files:
            raise InputError(f"{path}: no CIFAR batch files (data_batch_*, test_batch, train, test) in this folder")
    parts = [_cifar_batch(p) for p in files]
    sizes = {p[0].shape[1:] for p in parts}
    if len(sizes) > 1:
        raise InputError(f"{path}: batches of different image sizes {sorted(sizes)}")
    images = np.concatenate([p[0] for p in parts])
    labels = None if any(p[1] is None for p in parts) else np.concatenate([p[1] for p in parts])
    names = None
    meta = next((p for p in (path if path.is_dir() else path.parent).rglob("*meta") if p.is_file()), None)
    if meta is not None:
        try:
            m = _unpickle(meta)
            raw_names = m.get("label_names") or m.get("fine_label_names")
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in raw_names] if raw_names else None
        except InputError:
            names = None
    return RawImages(images, labels, path.name, "cifar", 255.0, names)


# -- image folders ----------------------------------------------------------------------------
def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _load_image(path: Path, mode: str, size: int | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert(mode)
            if size is not None:
                # the short side to `size`, then the central size x size square
                w, h = im.size
                scale = size / min(w, h)
                im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
                w, h = im.size
                left, top = (w - size) // 2, (h - size) // 2
                im = im.crop((left, top, left + size, top + size))
            arr = np.asarray(im)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InputError(f"cannot read image {path}: {exc}") from None
    return arr[..., None] if arr.ndim == 2 else arr


def read_image_folder(path, *, mode: str = "RGB", size: int | None = None) -> RawImages:
    """Images of a folder (class sub-folders, or flat) as ``(P, H, W, C)`` uint8."""
    path = Path(path)
    if mode not in ("L", "RGB"):
        raise InputError(f"mode must be 'L' (grey) or 'RGB', got {mode!r}")
    if size is not None:
        size = require_int("size", size, 1)
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and _image_files(p))
    if subdirs:
        files = [(f, k) for k, d in enumerate(subdirs) for f in _image_files(d)]
        names = [d.name for d in subdirs]
    else:
        files = [(f, -1) for f in _image_files(path)]
        names = None
    if not files:
        raise InputError(f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder or its sub-folders")
    arrays, shapes = [], {}
    for f, _ in files:
        arr = _load_image(f, mode, size)
        shapes.setdefault(arr.shape, f)
        arrays.append(arr)
    if len(shapes) > 1:
        examples = ", ".join(f"{s[1]}x{s[0]} ({p.name})" for s, p in list(shapes.items())[:3])
        raise InputError(f"{path}: images of different sizes ({examples}); pass a size to resize and centre-crop "
                         "them to one square")
    labels = np.array([k for _, k in files], dtype=np.int64) if names else None
    return RawImages(np.stack(arrays), labels, path.name, "folder", 255.0, names)


# -- arrays and Hugging Face ------------------------------------------------------------------
def _read_array(path: Path) -> RawImages:
    from .datasets import load_array

    data, labels = load_array(path, keep_dtype=True)
    if data.ndim == 3:  # (P, H, W): grey images
        data = data[..., None]
    elif data.ndim == 4 and data.shape[1] in (1, 3) and data.shape[-1] not in (1, 3):  # (P, C, H, W)
        data = data.transpose(0, 2, 3, 1)
    elif data.ndim not in (2, 4):
        raise InputError(f"{path}: data must be (P, N), (P, H, W), (P, H, W, C) or (P, C, H, W), got {data.shape}")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape[0] != data.shape[0]:
            raise InputError(f"{path}: {labels.shape[0]} labels for {data.shape[0]} samples")
        if not np.issubdtype(labels.dtype, np.integer):
            raise InputError(f"{path}: labels must be integers, got {labels.dtype}")
        labels = labels.astype(np.int64)
    pixel_max = 255.0 if data.dtype == np.uint8 else None
    return RawImages(data, labels, path.name, path.suffix.lstrip("."), pixel_max)


def _read_hf(path: Path) -> RawImages:
    try:
        from datasets import load_from_disk
    except ImportError:
        raise InputError("format 'hf' needs the optional 'datasets' package (pip install datasets)") from None
    try:
        ds = load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise InputError(f"cannot load {path} with datasets.load_from_disk: {exc}") from None
    if hasattr(ds, "keys"):  # a DatasetDict: the training split
        ds = ds["train"] if "train" in ds else ds[next(iter(ds.keys()))]
    image_col = next((c for c, f in ds.features.items() if type(f).__name__ == "Image"), None)
    if image_col is None:
        raise InputError(f"{path}: no image column (features: {list(ds.features)})")
    arrays = [np.asarray(im) for im in ds[image_col]]
    if len({a.shape for a in arrays}) > 1:
        raise InputError(f"{path}: images of different sizes in column {image_col!r}")
    data = np.stack(arrays)
    data = data[..., None] if data.ndim == 3 else data
    label_col = "label" if "label" in ds.features else ("labels" if "labels" in ds.features else None)
    labels = None if label_col is None else np.asarray(ds[label_col], dtype=np.int64)
    names = getattr(ds.features.get(label_col), "names", None) if label_col else None
    return RawImages(data, labels, path.name, "hf", 255.0 if data.dtype == np.uint8 else None, names)


# -- detection and selection ------------------------------------------------------------------
def detect_format(path) -> str:
    """The format of ``path`` (one of :data:`FORMATS`), or an :class:`InputError` saying what it saw."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"path does not exist: {path}")
    if path.is_file():
        name = path.name.lower()
        if name.endswith((".npz", ".npy")):
            return name.rsplit(".", 1)[1]
        if "idx" in name and "ubyte" in name:
            return "idx"
        head = _open_maybe_gzip(path)[:4] if name.endswith(".gz") or "idx" in name else path.read_bytes()[:4]
        if len(head) == 4 and head[:2] == b"\x00\x00" and head[2] in _IDX_TYPES:
            return "idx"
        if head[:1] == b"\x80":  # a pickle protocol header
            return "cifar"
        raise InputError(f"{path}: cannot tell its format (not .npy/.npz, IDX or a CIFAR pickle); pass --format")
    if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
        return "hf"
    files = [p for p in path.rglob("*") if p.is_file()]
    if any("idx3" in p.name for p in files):
        return "idx"
    if any(p.name.startswith(("data_batch", "test_batch")) or p.name in ("train", "test") for p in files):
        return "cifar"
    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in files):
        return "folder"
    raise InputError(f"{path}: cannot tell the dataset format of this folder (no IDX files, CIFAR batches, "
                     "images or a saved Hugging Face dataset); pass --format")


def read_dataset(path, *, format: str = "auto", classes=None, P: int | None = None, seed: int = 0,
                 split: str = "train", mode: str | None = None, size: int | None = None) -> RawImages:
    """Read ``path`` in ``format`` (``"auto"``: :func:`detect_format`), keep the ``classes`` (label
    values) and a seeded subsample of ``P`` rows (numpy ``Generator`` with ``seed``, sorted indices).

    ``mode`` (``"L"`` or ``"RGB"``) and ``size`` apply to image folders; ``mode="L"`` also turns
    colour images of the other formats grey (ITU-R 601-2 luma, as Pillow does)."""
    path = Path(os.fspath(path))
    fmt = detect_format(path) if format == "auto" else format
    if fmt not in FORMATS:
        raise InputError(f"format must be 'auto' or one of {', '.join(FORMATS)}, got {format!r}")
    if split not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    if not path.exists():
        raise InputError(f"path does not exist: {path}")
    if fmt != "folder" and size is not None:
        raise InputError("size (resize and centre-crop) applies to image folders only")
    if fmt == "idx":
        raw = read_idx_dataset(path, split=split)
    elif fmt == "cifar":
        raw = read_cifar(path, split=split)
    elif fmt == "folder":
        raw = read_image_folder(path, mode=mode or "RGB", size=size)
    elif fmt == "hf":
        raw = _read_hf(path)
    else:
        if path.is_dir():
            raise InputError(f"format {fmt!r} needs a file, got the folder {path}")
        raw = _read_array(path)
    if mode == "L" and raw.image_shape is not None and raw.image_shape[-1] == 3:
        grey = raw.data.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        data = np.rint(grey).astype(np.uint8) if raw.data.dtype == np.uint8 else grey
        raw = replace(raw, data=data[..., None])
    return select(raw, classes=classes, P=P, seed=seed)


def select(raw: RawImages, *, classes=None, P: int | None = None, seed: int = 0) -> RawImages:
    """Keep the given ``classes`` (label values) and/or a seeded random subset of ``P`` rows
    (:func:`simulate.datasets.selection_indices`)."""
    from .datasets import selection_indices

    keep = selection_indices(raw.labels, raw.P, raw.name, classes=classes, P=P, seed=seed)
    if keep.size < 2:
        raise InputError(f"{raw.name}: {keep.size} sample(s) left after the selection; at least 2 are needed")
    return replace(raw, data=raw.data[keep], labels=None if raw.labels is None else raw.labels[keep])
