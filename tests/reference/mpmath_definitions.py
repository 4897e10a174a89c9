"""Every ``mpmath`` reference value recomputed from its defining equation, independently of the
project's solvers (plain mpmath: sums, ``quad`` and ``findroot``; no import of ``theory``).

``compute(name)`` returns the value at :data:`DPS` digits; the formulas are those derived in
docs/conventions.md, docs/gaussian-mixture.md, docs/subspaces.md, docs/networks.md and docs/hmm.md.
"""

from __future__ import annotations

from functools import lru_cache

import mpmath as mp

DPS = 30


def _root(f, x0, x1):
    return mp.findroot(f, (mp.mpf(x0), mp.mpf(x1)), solver="anderson")


# -- conventions and Gaussian data ------------------------------------------------------------------
def ddpm_t(k: int, steps: int = 1000):
    b0, b1 = mp.mpf("1e-4"), mp.mpf("2e-2")
    return -mp.fsum(mp.log(1 - (b0 + (b1 - b0) * j / (steps - 1))) for j in range(k + 1)) / 2


def phi(kappa):
    k = mp.mpf(kappa)
    s = mp.sqrt(k)
    f = lambda z: mp.npdf(z) / (1 + mp.exp(-(2 * k + 2 * s * z)))
    return mp.quad(f, [-mp.inf, -s, 0, mp.inf])


def t_c_isotropic(alpha):
    return mp.log1p(1 / mp.expm1(2 * alpha)) / 2


def t_c_two_level():
    a = mp.log(10 ** 4) / 1000
    f = lambda t: a - (10 * mp.log1p(50 / mp.expm1(2 * t)) + 990 * mp.log1p(mp.mpf("0.5") / mp.expm1(2 * t))) / 2000
    return _root(f, 1.5, 2.5)


# -- per-subspace rules: blocks (2, 5, 23), variances (1, 0.09, 1e-12), P = 1000 --------------------------
DIMS, VARS = (2, 5, 23), (mp.mpf(1), mp.mpf("0.09"), mp.mpf("1e-12"))


def _lnP():
    return mp.log(1000)


def tau_rem(s, g):
    lp, s2 = _lnP(), mp.fsum(d * v * v for d, v in zip(DIMS, VARS))
    return (s + mp.sqrt(s * s + 4 * g * lp * s2)) / (4 * lp)


def tau_block(k):
    return VARS[k] / mp.expm1(2 * _lnP() / DIMS[k])


def tau_collapse_blocks():
    f = lambda u: mp.fsum(d * mp.log1p(v / mp.exp(u)) for d, v in zip(DIMS, VARS)) / 2 - _lnP()
    return mp.exp(_root(f, -4, -3))


# -- relative distance [H24] ------------------------------------------------------------------------------
X = [(0, 0), (1, 0), (0, 2)]
MEAN, COV = (mp.mpf("0.3"), mp.mpf("0.4")), (mp.mpf("0.5"), mp.mpf("0.8"))
EPS2 = mp.mpf(1) / 3  # eps = s m^{-1/d} = 3^{-1/2}


def int_pK2():
    tot = mp.fsum(mp.exp(-((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) / (4 * EPS2)) for a in X for b in X)
    return tot / 9 / (4 * mp.pi * EPS2)


def int_pG_pK():
    var = [c + EPS2 for c in COV]
    dens = lambda y: mp.exp(-sum((y[i] - MEAN[i]) ** 2 / (2 * var[i]) for i in range(2))) / (2 * mp.pi * mp.sqrt(var[0] * var[1]))
    return mp.fsum(dens(y) for y in X) / 3


def int_pG2():
    return 1 / (4 * mp.pi * mp.sqrt(COV[0] * COV[1]))


# -- regularised scores [BDKOS25]: VE, sigma = 0.5, data (-1, 0), (1, 0) -----------------------------------
DATA, SIGMA2 = [(-1, 0), (1, 0)], mp.mpf("0.25")


def _weights(x):
    logits = [-((x[0] - a[0]) ** 2 + (x[1] - a[1]) ** 2) / (2 * SIGMA2) for a in DATA]
    z = mp.fsum(mp.exp(v) for v in logits)
    return [mp.exp(v) / z for v in logits], z


def _mean(x):
    w, _ = _weights(x)
    return [mp.fsum(wi * a[i] for wi, a in zip(w, DATA)) for i in range(2)]


def empirical_score(x, i, c=0):
    return (_mean(x)[i] - x[i]) / (SIGMA2 + c)


def floored_score(x, i, tau):
    _, p = _weights(x)
    return empirical_score(x, i) * p / max(p, mp.mpf(tau))


# -- hidden-manifold model, linear phi ---------------------------------------------------------------------
def _average(kind, aD, f, g):
    """(1/N) sum_k f(g c_k) over the spectrum of C = F F^T / D."""
    aD = mp.mpf(aD)
    if kind == "isotropic":
        return f(g)
    if kind == "orthogonal":
        return aD * f(g / aD)
    c = aD  # Marchenko-Pastur, alpha_D <= 1: D eigenvalues lambda / alpha_D
    lam = lambda th: 1 + c + 2 * mp.sqrt(c) * mp.cos(th)
    return aD * mp.quad(lambda th: (2 / mp.pi) * mp.sin(th) ** 2 / lam(th) * f(g * lam(th) / aD), [0, mp.pi])


def _i(kind, aD, g):
    return _average(kind, aD, lambda v: mp.log1p(v) / 2, g)


def _b(kind, aD, g):
    return _average(kind, aD, lambda v: v / (1 + v), g)


@lru_cache(maxsize=None)
def hmm_linear(kind: str, alpha: str, aD: str) -> dict:
    """g_c, t_c, g_o, t_o and tau_g of the linear hidden-manifold model (docs/hmm.md)."""
    a = mp.mpf(alpha)
    t_of = lambda g: mp.log1p(1 / g) / 2
    g_c = mp.exp(_root(lambda u: _i(kind, aD, mp.exp(u)) - a, -1, 1))
    g_o = mp.exp(_root(lambda u: _i(kind, aD, mp.exp(u)) + _b(kind, aD, mp.exp(u)) / 2 - a, -2, 0))
    rem = lambda v: mp.log1p(v) / 2 - v / (2 * (1 + v) ** 2)
    v = mp.exp(_root(lambda u: _average(kind, aD, rem, mp.exp(u)) - a, 0, 2))
    gamma = _average(kind, aD, lambda x: x / (1 + x) + x / (1 + x) ** 2, v) / v
    return {"g_c": g_c, "t_c": t_of(g_c), "g_o": g_o, "t_o": t_of(g_o), "tau_g": gamma}


def hmm_basin(kind, alpha, aD, t):
    g = 1 / mp.expm1(2 * mp.mpf(t))
    return 1 + 2 * (_i(kind, aD, g) - mp.mpf(alpha)) / _b(kind, aD, g)


# -- activations and statistics ------------------------------------------------------------------------------
def gauss_mean(f):
    return mp.quad(lambda h: mp.npdf(h) * f(h), [-mp.inf, 0, mp.inf])


def wilson(k, n, confidence):
    z = mp.sqrt(2) * mp.erfinv(mp.mpf(confidence))
    p = mp.mpf(k) / n
    centre, half = p + z * z / (2 * n), z * mp.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


_HMM = {"mp_0.1_0.1": ("mp", "0.1", "0.1", "0.615118"), "mp_0.3_0.3": ("mp", "0.3", "0.3", "0.280775"),
        "orth_0.2_0.5": ("orthogonal", "0.2", "0.5", None), "iso_0.2": ("isotropic", "0.2", "1", None)}


def compute(name: str):
    """The reference value called ``name``, recomputed at :data:`DPS` digits."""
    with mp.workdps(DPS):
        table = {
            "ddpm_t_499": lambda: ddpm_t(499),
            "ddpm_t_999": lambda: ddpm_t(999),
            "alpha_N256_P20000": lambda: mp.log(20000) / 256,
            "t_S_N1024": lambda: mp.log(1025) / 2,
            "t_S_N256": lambda: mp.log(257) / 2,
            "phi_kappa_0.1": lambda: phi("0.1"),
            "phi_kappa_0.5": lambda: phi("0.5"),
            "phi_kappa_1": lambda: phi(1),
            "phi_kappa_2": lambda: phi(2),
            "phi_kappa_10": lambda: phi(10),
            "t_C_iso_N256_P20000": lambda: t_c_isotropic(mp.log(20000) / 256),
            "t_C_iso_N1024_P20000": lambda: t_c_isotropic(mp.log(20000) / 1024),
            "f_over_alpha_N1024_P20000_t2": lambda: 1 - mp.log1p(1 / mp.expm1(4)) / 2 / (mp.log(20000) / 1024),
            "t_C_two_level": t_c_two_level,
            "tau_rem_g0_s1": lambda: tau_rem(VARS[0], 0),
            "t_rem_g0_s1": lambda: mp.log1p(tau_rem(VARS[0], 0)) / 2,
            "tau_rem_g0_s0.09": lambda: tau_rem(VARS[1], 0),
            "tau_rem_g1_s1": lambda: tau_rem(VARS[0], 1),
            "tau_rem_g1_s0.09": lambda: tau_rem(VARS[1], 1),
            "tau_rem_g1_s1e-12": lambda: tau_rem(VARS[2], 1),
            "tau_block_1": lambda: tau_block(0),
            "tau_block_2": lambda: tau_block(1),
            "tau_collapse_blocks": tau_collapse_blocks,
            "int_pK2": int_pK2,
            "int_pG_pK": int_pG_pK,
            "int_pG2": int_pG2,
            "l2_pG_pK": lambda: int_pG2() - 2 * int_pG_pK() + int_pK2(),
            "w1_at_0.2_0.3": lambda: _weights((mp.mpf("0.2"), mp.mpf("0.3")))[0][0],
            "w2_at_0.2_0.3": lambda: _weights((mp.mpf("0.2"), mp.mpf("0.3")))[0][1],
            "sN1_at_0.2_0.3": lambda: empirical_score((mp.mpf("0.2"), mp.mpf("0.3")), 0),
            "tik1_at_0.2_0.3": lambda: empirical_score((mp.mpf("0.2"), mp.mpf("0.3")), 0, mp.mpf("0.1")),
            "tik2_at_0.2_0.3": lambda: empirical_score((mp.mpf("0.2"), mp.mpf("0.3")), 1, mp.mpf("0.1")),
            "ptilde_at_0.2_1.5": lambda: _weights((mp.mpf("0.2"), mp.mpf("1.5")))[1],
            "floor1_at_0.2_1.5": lambda: floored_score((mp.mpf("0.2"), mp.mpf("1.5")), 0, "0.1"),
            "floor2_at_0.2_1.5": lambda: floored_score((mp.mpf("0.2"), mp.mpf("1.5")), 1, "0.1"),
            "tanh_var": lambda: gauss_mean(lambda h: mp.tanh(h) ** 2),
            "tanh_kappa_raw": lambda: gauss_mean(lambda h: mp.sech(h) ** 4),
            "relu_mean": lambda: 1 / mp.sqrt(2 * mp.pi),
            "relu_var": lambda: mp.mpf(1) / 2 - 1 / (2 * mp.pi),
            "wilson_50_100_low": lambda: wilson(50, 100, "0.95")[0],
            "wilson_50_100_high": lambda: wilson(50, 100, "0.95")[1],
        }
        if name in table:
            return table[name]()
        prefix, _, quantity = name.rpartition("_")
        if prefix.endswith("_g") or prefix.endswith("_t") or prefix.endswith("_tau"):
            prefix, _, head = prefix.rpartition("_")
            quantity = f"{head}_{quantity}"
        kind, alpha, aD, t_basin = _HMM[prefix]
        if quantity == "basin":
            return hmm_basin(kind, alpha, aD, t_basin)
        return hmm_linear(kind, alpha, aD)[quantity]
