"""Dataset formats (tiny files written here in the real formats, read back exactly), format
detection, class selection and subsampling, the preprocessing conventions, and one-line errors."""

import gzip
import pickle
import struct

import numpy as np
import pytest
from PIL import Image

from simulate.datasets import CONVENTIONS, apply_convention, load_dataset
from simulate.loaders import detect_format, read_dataset, read_idx
from theory.data import data_spectrum
from theory.validation import InputError


def write_idx(path, array: np.ndarray, *, compress: bool = False):
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}[array.dtype]
    body = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(body) if compress else body)
    return path


def mnist_like(folder, P=12, side=28, seed=0, compress=True, prefix="train"):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (P, side, side), dtype=np.uint8)
    labels = rng.integers(0, 3, P).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    gz = ".gz" if compress else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{gz}", images, compress=compress)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{gz}", labels, compress=compress)
    return images, labels


def cifar_like(folder, batches=2, per=5, side=32, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    all_rows, all_labels = [], []
    for b in range(batches):
        rows = rng.integers(0, 256, (per, 3 * side * side), dtype=np.uint8)
        labels = rng.integers(0, 10, per).tolist()
        with open(folder / f"data_batch_{b + 1}", "wb") as f:
            pickle.dump({b"data": rows, b"labels": labels, b"batch_label": b"x"}, f)
        all_rows.append(rows)
        all_labels += labels
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{k}".encode() for k in range(10)]}, f)
    return np.concatenate(all_rows), np.array(all_labels)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_files_read_exactly(tmp_path, compress):
    images, labels = mnist_like(tmp_path / "MNIST" / "raw", compress=compress)
    raw = read_dataset(tmp_path / "MNIST" / "raw" / f"train-images-idx3-ubyte{'.gz' if compress else ''}")
    assert raw.format == "idx" and raw.data.dtype == np.uint8 and raw.pixel_max == 255
    np.testing.assert_array_equal(raw.data[..., 0], images)
    np.testing.assert_array_equal(raw.labels, labels)
    # a folder in torchvision's layout is detected and read the same
    assert detect_format(tmp_path) == "idx"
    np.testing.assert_array_equal(read_dataset(tmp_path).data, raw.data)


def test_idx_test_split_and_truncation(tmp_path):
    mnist_like(tmp_path, seed=0)
    test_images, _ = mnist_like(tmp_path, seed=1, prefix="t10k")
    np.testing.assert_array_equal(read_dataset(tmp_path, split="test").data[..., 0], test_images)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    cut = tmp_path / "cut-images-idx3-ubyte"
    cut.write_bytes(raw[:-100])
    with pytest.raises(InputError, match="truncated IDX file"):
        read_idx(cut)
    (tmp_path / "junk-images-idx3-ubyte").write_bytes(b"\x01\x02")
    with pytest.raises(InputError, match="not an IDX file"):
        read_idx(tmp_path / "junk-images-idx3-ubyte")


def test_cifar_pickles_read_exactly_with_planes_as_channels(tmp_path):
    rows, labels = cifar_like(tmp_path / "cifar-10-batches-py")
    raw = read_dataset(tmp_path)
    assert raw.format == "cifar" and raw.data.shape == (10, 32, 32, 3) and raw.label_names[3] == "class3"
    # pixel (row r, column c, channel ch) of image i is byte ch * 1024 + r * 32 + c of its row
    i, r, c = 7, 5, 11
    assert [raw.data[i, r, c, ch] for ch in range(3)] == [rows[i, ch * 1024 + r * 32 + c] for ch in range(3)]
    np.testing.assert_array_equal(raw.labels, labels)


def test_cifar_pickle_of_the_wrong_shape_is_refused(tmp_path):
    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 1000), dtype=np.uint8), b"labels": [0, 1, 2, 3]}, f)
    with pytest.raises(InputError, match=r"'data' (must be|rows of)"):
        read_dataset(tmp_path, format="cifar")
    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(InputError, match="holds a dict"):
        read_dataset(tmp_path, format="cifar")


def test_image_folder_with_classes_reads_exactly(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for k in range(3):
            a = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            Image.fromarray(a).save(tmp_path / cls / f"{k}.png")
            arrays[(cls, k)] = a
    raw = read_dataset(tmp_path)
    assert raw.format == "folder" and raw.data.shape == (6, 6, 5, 3) and raw.label_names == ["cats", "dogs"]
    np.testing.assert_array_equal(raw.data[4], arrays[("dogs", 1)])
    np.testing.assert_array_equal(raw.labels, [0, 0, 0, 1, 1, 1])
    grey = read_dataset(tmp_path, mode="L")
    assert grey.data.shape == (6, 6, 5, 1)
    square = read_dataset(tmp_path, size=4)
    assert square.data.shape == (6, 4, 4, 3)


def test_image_folder_of_mixed_sizes_is_refused_by_name(tmp_path):
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((5, 4), dtype=np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(InputError, match="images of different sizes.*pass a size"):
        read_dataset(tmp_path)
    assert read_dataset(tmp_path, size=4).data.shape == (2, 4, 4, 3)


def test_npz_and_selection(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(40, 6))
    labels = np.repeat(np.arange(4), 10)
    np.savez(tmp_path / "d.npz", data=data, labels=labels)
    raw = read_dataset(tmp_path / "d.npz", classes=[1, 3], P=8, seed=5)
    keep = np.flatnonzero(np.isin(labels, [1, 3]))
    chosen = np.sort(np.random.default_rng(5).choice(keep, size=8, replace=False))
    np.testing.assert_array_equal(raw.data, data[chosen])
    np.testing.assert_array_equal(raw.labels, labels[chosen])
    with pytest.raises(InputError, match=r"classes \[7\] do not occur"):
        read_dataset(tmp_path / "d.npz", classes=[7])
    with pytest.raises(InputError, match="P must be <= 40"):
        read_dataset(tmp_path / "d.npz", P=41)


def test_undetectable_and_missing_paths(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="cannot tell"):
        detect_format(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="does not exist"):
        read_dataset(tmp_path / "nothing")
    with pytest.raises(InputError, match="format must be"):
        read_dataset(tmp_path, format="tfrecord")


def _bbbm24_by_hand(images_uint8: np.ndarray, pad: bool) -> np.ndarray:
    """The [BBBM24] convention written out directly: /255, MNIST padded by 2, one scalar mean per channel."""
    x = images_uint8.astype(np.float64) / 255.0
    if pad:
        x = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    x = x - x.mean(axis=(0, 1, 2), keepdims=True)
    return x.reshape(len(x), -1)


def test_bbbm24_convention_lambda_equals_a_direct_numpy_computation(tmp_path):
    images, _ = mnist_like(tmp_path, P=60)
    ds = load_dataset(tmp_path, convention="bbbm24")
    assert ds.N == 32 * 32 and ds.preprocessing["padded"].startswith("28x28") and ds.preprocessing["convention"] == "bbbm24"
    x = _bbbm24_by_hand(images[..., None], pad=True)
    np.testing.assert_allclose(ds.data, x, rtol=0, atol=1e-15)
    direct = np.linalg.eigvalsh(np.cov(x, rowvar=False))[-1]
    assert abs(data_spectrum(ds.data)[0][0] - direct) <= 1e-10 * direct
    # CIFAR: three channel means, no padding
    rows, _ = cifar_like(tmp_path / "c", batches=1, per=30)
    cds = load_dataset(tmp_path / "c", convention="bbbm24")
    images_c = rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(cds.data, _bbbm24_by_hand(images_c, pad=False), rtol=0, atol=1e-15)
    assert len(cds.preprocessing["channel_means"]) == 3 and "padded" not in cds.preprocessing


def test_conventions_differ_as_documented(tmp_path):
    images, _ = mnist_like(tmp_path, P=30, side=8)
    unit = load_dataset(tmp_path, convention="unit")
    raw = load_dataset(tmp_path, convention="raw")
    np.testing.assert_array_equal(raw.data, images.reshape(30, -1).astype(float))
    np.testing.assert_allclose(unit.data.mean(axis=0), 0, atol=1e-12)
    assert abs(np.mean(np.var(unit.data, axis=0, ddof=1)) - 1) < 1e-12
    assert set(CONVENTIONS) == {"unit", "bbbm24", "raw"}
    np.savez(tmp_path / "big.npz", data=np.full((4, 3), 7.0))
    with pytest.raises(InputError, match=r"bbbm24 needs pixels in \[0, 1\]"):
        load_dataset(tmp_path / "big.npz", convention="bbbm24")
    with pytest.raises(InputError, match="convention must be one of"):
        apply_convention(read_dataset(tmp_path), "zscore")


def _cli(*args):
    import contextlib
    import io

    from compare.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_theory_data_cli_records_the_convention_and_warns_on_noise(tmp_path):
    import json

    images, _ = mnist_like(tmp_path / "raw", P=80, side=28)
    code, out, err = _cli("theory", "data", str(tmp_path / "raw"), "--convention", "bbbm24", "--samples", "200",
                          "--json", "--entropy-P", "40")
    assert code == 0, err
    s = json.loads(out)
    assert s["preprocessing"]["convention"] == "bbbm24" and s["N"] == 1024 and s["entropy_P"] == 40
    x = _bbbm24_by_hand(images[..., None], pad=True)
    assert abs(s["Lambda"] - np.linalg.eigvalsh(np.cov(x, rowvar=False))[-1]) <= 1e-10 * s["Lambda"]
    # uniform noise pixels: no structure above the Marchenko-Pastur edge, too few samples
    assert any("noise edge" in w for w in s["warnings"]) and any("too few" in w for w in s["warnings"])
    code, out, _ = _cli("theory", "data", str(tmp_path / "raw"), "--samples", "200", "--quiet")
    assert code == 0 and "convention: unit (format idx, pixels /255" in out and "warning: the top eigenvalue" in out


def test_theory_data_spectrum_second_moment(tmp_path):
    import json

    rng = np.random.default_rng(1)
    data = rng.normal(size=(50, 6)) + 2.0
    np.save(tmp_path / "x.npy", data)
    code, out, err = _cli("theory", "data", str(tmp_path / "x.npy"), "--spectrum", "second-moment", "--json",
                          "--samples", "100")
    assert code == 0, err
    assert json.loads(out)["Lambda"] == pytest.approx(np.linalg.eigvalsh(data.T @ data / 50)[-1], rel=1e-12)


@pytest.mark.parametrize("damage,needle", [
    ("truncated", "truncated IDX file"),
    ("mixed", "images of different sizes"),
    ("pickle", "'data' must be"),
])
def test_bad_files_are_one_line_errors_with_exit_2(tmp_path, damage, needle):
    if damage == "truncated":
        mnist_like(tmp_path, compress=False)
        path = tmp_path / "train-images-idx3-ubyte"
        path.write_bytes(path.read_bytes()[:-7])
    elif damage == "mixed":
        Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "a.png")
        Image.fromarray(np.zeros((6, 4), dtype=np.uint8)).save(tmp_path / "b.png")
    else:
        with open(tmp_path / "data_batch_1", "wb") as f:
            pickle.dump({b"data": np.zeros((3, 7), dtype=np.uint8), b"labels": [0, 1, 2]}, f)
    for command in (["theory", "data", str(tmp_path), "--quiet"], ["compare", "data", str(tmp_path), "--quiet",
                                                                       "--out", str(tmp_path / "o")]):
        code, _, err = _cli(*command)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and needle in lines[0], err


def test_compare_data_on_unlabelled_data_says_why(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(30, 4)))
    code, _, err = _cli("compare", "data", str(tmp_path / "x.npy"), "--quiet", "--out", str(tmp_path / "o"))
    assert code == 2 and "no labels; cloning needs classes" in err


def test_saved_hugging_face_dataset_reads_exactly(tmp_path):
    datasets = pytest.importorskip("datasets")
    rng = np.random.default_rng(3)
    arrays = [rng.integers(0, 256, (6, 6), dtype=np.uint8) for _ in range(6)]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["a", "b"])})
    ds = datasets.Dataset.from_dict({"image": [Image.fromarray(a) for a in arrays], "label": [0, 1, 0, 1, 1, 0]},
                                    features=features)
    ds.save_to_disk(str(tmp_path / "hf"))
    raw = read_dataset(tmp_path / "hf")
    assert raw.format == "hf" and raw.label_names == ["a", "b"] and raw.data.shape == (6, 6, 6, 1)
    np.testing.assert_array_equal(raw.data[..., 0], np.stack(arrays))
    np.testing.assert_array_equal(raw.labels, [0, 1, 0, 1, 1, 0])
