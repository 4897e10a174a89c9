"""Reference values the tests pin, each with its provenance (docs/reference.md lists them).

Every value is one of:

* ``mpmath``: recomputed by :mod:`reference.mpmath_definitions` from the defining equation at 40
  digits, independently of the project's solvers (``tests/test_reference.py`` checks each one
  against the stored digits at every test run);
* ``replica-symmetric``: the replica-symmetric hidden-manifold formulas of docs/hmm.md, evaluated
  by :class:`theory.hmm.HiddenManifoldModel` at doubled quadrature order (no mpmath path exists for
  the four-dimensional nested integral; ``tests/test_reference.py::test_replica_symmetric_values``,
  marked slow, recomputes them), stated to the 1e-5 the quadrature supports; they agree with an
  independent computation delivered with the project's physics brief;
* ``closed form``: a formula evaluated in the test itself (noted in the source string).

Values are stored with the digits they were published with; ``tol`` is half a unit of the last
digit (the tests compare at that tolerance or looser).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Ref", "REF", "ref"]


@dataclass(frozen=True)
class Ref:
    """A pinned value: ``value`` (digits as published), ``tol`` (half a unit of the last digit),
    ``source`` (``"mpmath"``, ``"replica-symmetric"`` or ``"closed form"``) and ``what``."""

    value: float
    tol: float
    source: str
    what: str


def _r(text: str, source: str, what: str) -> Ref:
    """Build a Ref from the published digits: the tolerance is half a unit of the last digit."""
    mantissa = text.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(text.lower().split("e")[1]) if "e" in text.lower() else 0
    return Ref(float(text), 0.5 * 10.0 ** (exponent - decimals), source, what)


M, RS = "mpmath", "replica-symmetric"

REF: dict[str, Ref] = {
    # -- conventions and Gaussian data [BBBM24] (docs/conventions.md, docs/gaussian-mixture.md)
    "ddpm_t_499": _r("1.2717729485", M, "DDPM linear beta 1e-4..2e-2 over 1000 steps: t_k = -ln(alphabar_k)/2 at k = 499"),
    "ddpm_t_999": _r("5.0588567712", M, "the same at k = 999"),
    "alpha_N256_P20000": _r("0.0386855", M, "alpha = ln P / N, N = 256, P = 20000"),
    "t_S_N1024": _r("3.4662239", M, "t_S = ln(Lambda)/2, mixture mu = sigma = 1, N = 1024 (Lambda = 1025)"),
    "t_S_N256": _r("2.7745380", M, "the same at N = 256"),
    "phi_kappa_0.1": _r("0.5456703", M, "cloning probability phi = E sigmoid(2 kappa + 2 sqrt(kappa) z), kappa = 0.1"),
    "phi_kappa_0.5": _r("0.6750567", M, "the same, kappa = 0.5"),
    "phi_kappa_1": _r("0.7752002454", M, "the same, kappa = 1 (PHI_AT_BIMODALITY)"),
    "phi_kappa_2": _r("0.8844909", M, "the same, kappa = 2"),
    "phi_kappa_10": _r("0.9987943", M, "the same, kappa = 10"),
    "t_C_iso_N256_P20000": _r("1.2987896868", M, "isotropic t_C = ln(1 + 1/(e^{2 alpha} - 1))/2, N = 256, P = 20000"),
    "t_C_iso_N1024_P20000": _r("1.9775467186", M, "the same, N = 1024"),
    "f_over_alpha_N1024_P20000_t2": _r("0.0443216", M, "isotropic f(t)/alpha at t = 2, N = 1024, P = 20000"),
    "t_C_two_level": _r("1.9140420274", M, "root of f = 0, spectrum 50 (x10) and 0.5 (x990), N = 1000, P = 1e4"),
    # -- per-subspace critical noise levels [AVS+24] (docs/subspaces.md): blocks (2, 5, 23),
    #    variances (1, 0.09, 1e-12), P = 1000
    "tau_rem_g0_s1": _r("0.0723824137", M, "per-direction Gaussian-REM tau*, g = 0, s = 1: s/(2 ln P)"),
    "t_rem_g0_s1": _r("0.0349413641", M, "its time t* = ln(1 + tau*)/2"),
    "tau_rem_g0_s0.09": _r("0.00651441723", M, "the same rule, s = 0.09"),
    "tau_rem_g1_s1": _r("0.3103407299", M, "per-direction rule, g = 1 (sum of s_j^2 over all 30 directions), s = 1"),
    "tau_rem_g1_s0.09": _r("0.2750269033", M, "the same, s = 0.09"),
    "tau_rem_g1_s1e-12": _r("0.2717501748", M, "the same, s = 1e-12"),
    "tau_block_1": _r("0.001001001001", M, "exact per-block rule, block 1: s/(P^{2/d} - 1)"),
    "tau_block_2": _r("0.00606104199662", M, "the same, block 2"),
    "tau_collapse_blocks": _r("0.0310115104518", M, "global collapse: ln P = sum_k (d_k/2) ln(1 + s_k/tau)"),
    # -- relative distance [H24] (docs/networks.md): X = {(0,0), (1,0), (0,2)}, s = 1,
    #    p_G = N((0.3, 0.4), diag(0.5, 0.8))
    "int_pK2": _r("0.108526237", M, "int p_K^2 of the training-set kernel (eps = 3^{-1/2})"),
    "int_pG_pK": _r("0.102823789", M, "int p_G p_K"),
    "int_pG2": _r("0.12582303", M, "int p_G^2"),
    "l2_pG_pK": _r("0.0287016887", M, "||p_G - p_K||^2"),
    # -- regularised scores [BDKOS25] (docs/networks.md): VE, sigma = 0.5, data (-1, 0), (1, 0)
    "w1_at_0.2_0.3": _r("0.167981615", M, "softmax weight of (-1, 0) at x = (0.2, 0.3) (the brief's 0.16798162 "
                                          "is 1 - w2 rounded up)"),
    "w2_at_0.2_0.3": _r("0.83201839", M, "softmax weight of (1, 0) at x = (0.2, 0.3)"),
    "sN1_at_0.2_0.3": _r("1.85614708", M, "empirical score, first component, at x = (0.2, 0.3)"),
    "tik1_at_0.2_0.3": _r("1.32581934", M, "Tikhonov score (c = 0.1), first component"),
    "tik2_at_0.2_0.3": _r("-0.85714286", M, "Tikhonov score (c = 0.1), second component"),
    "ptilde_at_0.2_1.5": _r("0.00371231629", M, "unnormalised density sum_n phi_n at x = (0.2, 1.5)"),
    "floor1_at_0.2_1.5": _r("0.06890605", M, "floored score (tau = 0.1), first component, at x = (0.2, 1.5)"),
    "floor2_at_0.2_1.5": _r("-0.22273898", M, "floored score (tau = 0.1), second component"),
    # -- hidden-manifold model, N -> infinity (docs/hmm.md)
    "mp_0.1_0.1_g_c": _r("0.6679075", M, "linear phi, MP spectrum, alpha = 0.1, alpha_D = 0.1: g_c"),
    "mp_0.1_0.1_t_c": _r("0.45758772", M, "the same: t_c"),
    "mp_0.1_0.1_g_o": _r("0.27104986", M, "the same: g_o"),
    "mp_0.1_0.1_t_o": _r("0.77264785", M, "the same: t_o"),
    "mp_0.1_0.1_basin": Ref(0.49744957, 2e-6, M, "the same: basin r* at t = 0.615118 (the 8 digits belong to the "
                                                  "unrounded t; rounding t to 6 decimals moves r* by up to 2e-6)"),
    "mp_0.1_0.1_tau_g": _r("0.12973009", M, "the same: tau_g (fresh-point REM)"),
    "mp_0.3_0.3_g_c": _r("2.2068319", M, "linear phi, MP spectrum, alpha = 0.3, alpha_D = 0.3: g_c"),
    "mp_0.3_0.3_t_c": _r("0.18686277", M, "the same: t_c"),
    "mp_0.3_0.3_g_o": _r("0.89631573", M, "the same: g_o"),
    "mp_0.3_0.3_t_o": _r("0.37468773", M, "the same: t_o"),
    "mp_0.3_0.3_basin": Ref(0.46639055, 2e-6, M, "the same: basin r* at t = 0.280775 (t rounded as above)"),
    "mp_0.3_0.3_tau_g": _r("0.11606827", M, "the same: tau_g"),
    "orth_0.2_0.5_g_c": _r("0.61277046", M, "linear phi, orthogonal F, alpha = 0.2, alpha_D = 0.5: g_c"),
    "orth_0.2_0.5_t_c": _r("0.48385917", M, "the same: t_c"),
    "orth_0.2_0.5_g_o": _r("0.27826297", M, "the same: g_o"),
    "orth_0.2_0.5_t_o": _r("0.76234540", M, "the same: t_o"),
    "orth_0.2_0.5_tau_g": _r("0.48470920", M, "the same: tau_g"),
    "iso_0.2_g_c": _r("0.49182470", M, "isotropic data (alpha_D -> infinity), alpha = 0.2: g_c"),
    "iso_0.2_t_c": _r("0.55481647", M, "the same: t_c"),
    "iso_0.2_g_o": _r("0.23407624", M, "the same: g_o"),
    "iso_0.2_t_o": _r("0.83121555", M, "the same: t_o"),
    "iso_0.2_tau_g": _r("0.79510870", M, "the same: tau_g"),
    "tanh_var": _r("0.39429449", M, "Var tanh(h), h ~ N(0, 1)"),
    "tanh_kappa_raw": _r("0.4644029", M, "E[tanh'(h)^2]"),
    "relu_mean": _r("0.39894228", M, "E relu(h) = 1/sqrt(2 pi)"),
    "relu_var": _r("0.34084506", M, "Var relu(h) = 1/2 - 1/(2 pi)"),
    "tanh_0.3_0.3_g_c": Ref(2.0713115, 2e-4, RS, "standardised tanh, alpha = alpha_D = 0.3: g_c (g = 1/(e^{2t} - 1) "
                                                 "amplifies the 1e-5 of t by 2 g (1 + g))"),
    "tanh_0.3_0.3_t_c": Ref(0.19696135, 1e-5, RS, "the same: t_c"),
    "tanh_0.3_0.3_g_o": Ref(0.83093219, 1e-4, RS, "the same: g_o (amplified likewise)"),
    "tanh_0.3_0.3_t_o": Ref(0.39501616, 1e-5, RS, "the same: t_o"),
    "tanh_0.3_0.3_basin": Ref(0.46176748, 1e-5, RS, "the same: basin r* at t = 0.295989"),
    "relu_0.3_0.3_g_c": Ref(1.9768153, 1e-5, RS, "standardised relu, alpha = alpha_D = 0.3: g_c"),
    "relu_0.3_0.3_t_c": Ref(0.20468346, 1e-5, RS, "the same: t_c"),
    "relu_0.3_0.3_g_o": Ref(0.81767295, 1e-5, RS, "the same: g_o"),
    "relu_0.3_0.3_t_o": Ref(0.39942496, 1e-5, RS, "the same: t_o"),
    "relu_0.3_0.3_basin": Ref(0.47566882, 1e-5, RS, "the same: basin r* at t = 0.302054"),
    # -- statistics
    "wilson_50_100_low": _r("0.4038315", M, "Wilson 95% interval of 50/100, lower end"),
    "wilson_50_100_high": _r("0.5961685", M, "the same, upper end"),
}


def ref(name: str) -> float:
    """The pinned value called ``name``."""
    return REF[name].value
