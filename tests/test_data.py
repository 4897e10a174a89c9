"""Theory from data arrays, the dataset loaders and the entropy-based collapse time."""

import math

import numpy as np
import pytest
import torch

from compare.data_theory import entropy_collapse_time, summarize_data
from simulate import EmpiricalScore, excess_entropy_estimate, isotropic_gaussian
from simulate.datasets import from_array, load_digits, load_faces, load_patches, preprocess, subset
from theory import collapse_time_isotropic, excess_entropy_isotropic
from simulate.datasets import load_array
from theory.data import (
    collapse_time_from_spectrum,
    data_spectrum,
    samples_for_collapse_below,
    speciation_hierarchy,
    validate_data,
)


# -- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad,match", [
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "finite"),
    (np.arange(5.0), "2-D"),
    (np.ones((1, 4)), "P >= 2"),
    (np.array([["a", "b"], ["c", "d"]]), "numeric"),
    (np.array([[1, None], [2, 3]], dtype=object), "numeric"),
    (np.ones((2, 2, 2, 2, 2)), "at most 4"),
])
def test_validate_data_rejects(bad, match):
    with pytest.raises(ValueError, match=match):
        validate_data(bad)


def test_validate_data_flattens_images():
    x = validate_data(np.zeros((5, 3, 4, 2), dtype=np.uint8))
    assert x.shape == (5, 24) and x.dtype == np.float64


def test_load_array(tmp_path):
    x = np.arange(12.0).reshape(4, 3)
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "b.npz", data=x, labels=np.arange(4))
    np.savez(tmp_path / "c.npz", x)
    np.savez(tmp_path / "d.npz", u=x, v=x)
    assert np.array_equal(load_array(tmp_path / "a.npy")[0], x)
    data, labels = load_array(tmp_path / "b.npz")
    assert np.array_equal(data, x) and np.array_equal(labels, np.arange(4))
    assert np.array_equal(load_array(tmp_path / "c.npz")[0], x)
    with pytest.raises(ValueError, match="name the data"):
        load_array(tmp_path / "d.npz")
    with pytest.raises(ValueError, match=".npy or .npz"):
        (tmp_path / "e.txt").write_text("1 2")
        load_array(tmp_path / "e.txt")
    with pytest.raises(ValueError, match="does not exist"):
        load_array(tmp_path / "missing.npy")


# -- spectrum and speciation against closed forms ------------------------------------------------------
@pytest.fixture(scope="module")
def known_gaussian():
    rng = np.random.default_rng(1)
    lam = np.concatenate([[9.0, 4.0, 2.0], np.full(47, 0.5)])
    q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    x = (rng.standard_normal((20000, 50)) * np.sqrt(lam)) @ q.T + 5.0
    return lam, x


def test_spectrum_and_speciation_time_on_known_covariance(known_gaussian):
    lam, x = known_gaussian
    est, method = data_spectrum(x)
    assert method == "exact"
    # top sample eigenvalues: standard error sqrt(2/P) relative; 5 standard errors
    np.testing.assert_allclose(est[:3], lam[:3], rtol=5 * math.sqrt(2 / 20000))
    t_s = 0.5 * math.log(est[0])
    assert t_s == pytest.approx(0.5 * math.log(9.0), abs=5 * math.sqrt(2 / 20000) / 2)
    np.testing.assert_allclose(speciation_hierarchy(est, count=3), 0.5 * np.log(est[:3]))
    assert speciation_hierarchy([0.5, 0.2]).size == 0  # nothing above 1 never speciates


def test_lanczos_matches_exact(known_gaussian):
    _, x = known_gaussian
    exact, _ = data_spectrum(x)
    top, method = data_spectrum(x, top=6, method="lanczos")
    assert method == "lanczos"
    np.testing.assert_allclose(top, exact[:6], rtol=1e-9)


def test_partial_spectrum_collapse_and_inversion(known_gaussian):
    lam, x = known_gaussian
    full, _ = data_spectrum(x)
    exact = collapse_time_from_spectrum(lam, 20000).value
    # a top-3 spectrum plus the trace fills the bulk with its mean, exact here (flat bulk)
    partial = collapse_time_from_spectrum(lam[:3], 20000, N=50, trace=lam.sum()).value
    assert partial == pytest.approx(exact, rel=1e-12)
    # the "how many samples" inversion is the inverse of t_C(P)
    for P in [100, 20000, 10**7]:
        t_c = collapse_time_from_spectrum(lam, P).value
        assert samples_for_collapse_below(lam, t_c) == pytest.approx(math.log(P), rel=1e-10)
    assert np.all(np.diff(samples_for_collapse_below(lam, [0.05, 0.1, 0.5])) < 0)


# -- loaders (offline, documented shapes) ----------------------------------------------------------------
def test_digits_loader():
    all_digits = load_digits(scale="none", center=False)
    assert all_digits.data.shape == (1797, 64) and all_digits.labels.shape == (1797,)
    assert all_digits.data.min() == 0.0 and all_digits.data.max() == 1.0
    two = load_digits(classes=[3, 8])
    assert two.data.shape[1] == 64 and set(np.unique(two.labels)) == {3, 8}
    np.testing.assert_allclose(two.data.mean(axis=0), 0, atol=1e-12)
    assert np.mean(np.var(two.data, axis=0, ddof=1)) == pytest.approx(1.0, rel=1e-12)
    small = load_digits(classes=[0, 1], P=50, seed=3)
    again = load_digits(classes=[0, 1], P=50, seed=3)
    assert small.data.shape == (50, 64) and np.array_equal(small.data, again.data)


def test_faces_and_patches_loaders():
    faces = load_faces()
    assert faces.data.shape == (200, 625) and faces.image_shape == (25, 25)
    p = load_patches(k=6, P=500, seed=1)
    assert p.data.shape == (500, 36)
    assert np.array_equal(p.data, load_patches(k=6, P=500, seed=1).data)
    c = load_patches(k=4, P=200, color=True)
    assert c.data.shape == (200, 48)


@pytest.mark.parametrize("call,match", [
    (lambda: load_digits(classes=[0, 11]), "do not occur"),
    (lambda: load_digits(classes=[0, 1], P=10_000), "P must be <="),
    (lambda: load_patches(images=("nonexistent",)), "unknown scikit-image image"),
    (lambda: preprocess(np.ones((5, 3))), "zero variance"),
    (lambda: from_array(np.ones((4, 3)), labels=np.ones(3)), "labels must have shape"),
    (lambda: from_array("not-a-file.npy"), "does not exist"),
])
def test_loader_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_subset_without_labels():
    ds = from_array(np.random.default_rng(0).standard_normal((10, 3)))
    with pytest.raises(ValueError, match="no labels"):
        subset(ds, classes=[0])


# -- the entropy estimator against the Gaussian closed form -------------------------------------------------
def test_leave_one_out_estimator_matches_closed_form_above_collapse():
    N, P = 64, 10_000
    g = torch.Generator().manual_seed(8)
    es = EmpiricalScore(isotropic_gaussian(N, P, generator=g).data)
    a = math.log(P) / N
    t_c = collapse_time_isotropic(a).value
    t = np.array([1.5, 2.0, 3.0]) * t_c
    est = excess_entropy_estimate(es, t, 3000, generator=g, disable=True)
    z = 3.29  # 99.9% two-sided per point
    theory = excess_entropy_isotropic(t, a)
    assert np.all(np.abs(est.f_rest - theory) <= z * est.stderr_rest)
    # the full estimator sits on the same curve there (the planted term is negligible)
    np.testing.assert_allclose(est.f, est.f_rest, atol=3 * est.stderr.max())


def test_entropy_collapse_time_within_interval_and_bias_shrinks():
    """At N = 512, P = 20000 the isotropic t_C lies inside the estimator's 95% interval; at N = 64
    the estimator's O(1/N) bias is visible and larger (docs/real-data.md)."""
    out = {}
    for N, P in [(64, 10_000), (512, 20_000)]:
        g = torch.Generator().manual_seed(5)
        data = isotropic_gaussian(N, P, generator=g, dtype=torch.float32).data.double().numpy()
        t_c = collapse_time_isotropic(math.log(P) / N).value
        est, lo, hi, _ = entropy_collapse_time(data, t_c, samples=2000, seed=1, device="cpu")
        out[N] = (t_c, est, lo, hi)
    t_c, est, lo, hi = out[512]
    assert lo <= t_c <= hi
    rel = {N: (v[1] - v[0]) / v[0] for N, v in out.items()}
    assert 0 < rel[512] < rel[64] < 0.10


def test_summarize_data_keys():
    rng = np.random.default_rng(2)
    s = summarize_data(rng.standard_normal((400, 16)) * 1.5, samples=300)
    for key in ["N", "P", "alpha", "t_S", "t_C_gaussian", "t_C_entropy", "t_C_entropy_ci", "speciation_hierarchy"]:
        assert key in s
    assert s["N"] == 16 and s["P"] == 400
    lo, hi = s["t_C_entropy_ci"]
    assert lo <= s["t_C_entropy"] <= hi
    rows = s["samples_for_collapse_below"]
    assert rows[-1]["t"] == pytest.approx(5.000250016667917e-05)  # first DDPM step: "t_C = 0 in practice"
    # at t = t_C_gaussian the needed size is the actual P
    back = summarize_data(np.random.default_rng(2).standard_normal((400, 16)) * 1.5, samples=300,
                          collapse_below=[s["t_C_gaussian"]])["samples_for_collapse_below"][0]
    assert back["log10_P"] == pytest.approx(math.log10(400), rel=1e-9)
