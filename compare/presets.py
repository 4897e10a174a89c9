"""Experiment presets: frozen dataclasses (no torch import) whose fields become CLI options.

A preset validates itself when it is built (``__post_init__`` calls ``validate``), so an invalid
preset never exists; the fields ``confidence`` and ``tolerance`` only change the analysis and are
never part of a cache key (:data:`compare.driver.ANALYSIS_FIELDS`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from theory.validation import InputError, require_fits, require_in_open_interval, require_int, require_positive

__all__ = ["ImageDimensionPreset", "SubspacesNetworksPreset", "DataPreset", "DigitsPreset", "GaussianMixturePreset", "HmmPreset", "LinearDenoiserPreset", "NetworksPreset", "PatchesPreset",
           "RegularizationPreset", "SubspacesPreset", "MixtureScalingPreset", "HmmScalingPreset",
           "SubspacesScalingPreset", "parse_int_list", "parse_float_list"]


def _check_device_seed_conf(preset):
    require_int("seed", preset.seed, 0)
    if not (preset.device in ("auto", "cpu") or preset.device.startswith("cuda")):
        raise InputError(f"device must be 'auto', 'cpu' or 'cuda[:k]', got {preset.device!r}")
    require_in_open_interval("confidence", preset.confidence, 0.0, 1.0)


#: Largest count any preset field may hold: torch indexes tensors with signed 64-bit sizes but
#: allocates and loops over counts; beyond 2^31 - 1 nothing runs on one machine.
MAX_COUNT = 2 ** 31 - 1


def _bound_count(name: str, value) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_COUNT:
        raise InputError(f"{name} must be at most 2^31 - 1 = {MAX_COUNT}, got {value}")


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:.3g} GiB"


class _SelfValidating:
    """Validate on construction (a frozen preset is valid for its whole life): every integer field
    at most :data:`MAX_COUNT`, then the preset's own checks, then its memory estimate
    (:meth:`footprint`) against this machine's physical memory, all before anything is allocated."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.name != "seed":  # a seed is a label, not a count (derived unit seeds exceed 2^31)
                _bound_count(f.name, getattr(self, f.name))
        self.validate()
        need = self.footprint()
        if need:
            what, biggest = max(need, key=lambda item: item[1])
            require_fits(f"the run (largest part: {what}, {_gib(biggest)})", sum(b for _, b in need))

    def footprint(self) -> list[tuple[str, float]]:
        """``[(what, bytes), ...]``: the largest arrays a run holds at once (an estimate; empty when
        small by construction)."""
        return []


@dataclass(frozen=True)
class GaussianMixturePreset(_SelfValidating):
    """Default CPU preset: finishes in well under a minute on two cores."""

    N: int = 128
    P: int = 5000
    mu: float = 1.0
    sigma: float = 1.0
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    pairs: int = 4000
    clone_steps: int = 120
    trajectories: int = 800
    steps: int = 250
    entropy_samples: int = 2000
    confidence: float = 0.95

    def validate(self) -> "GaussianMixturePreset":
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        require_int("N", self.N, 1)
        require_int("P", self.P, 2)
        require_positive("mu", self.mu)
        require_positive("sigma", self.sigma)
        require_int("pairs", self.pairs, 10)
        require_int("clone_steps", self.clone_steps, 10)
        require_int("trajectories", self.trajectories, 10)
        require_int("steps", self.steps, 10)
        require_int("entropy_samples", self.entropy_samples, 10)
        _check_device_seed_conf(self)
        if self.dtype not in ("float32", "float64"):
            raise InputError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.mu**2 * self.N <= self.sigma**2:
            raise InputError("mu^2 N must exceed sigma^2: the mixture never speciates otherwise")
        return self

    def footprint(self):
        """The training set (and the engine's copy), the trajectories and the entropy samples."""
        item = 4 if self.dtype == "float32" else 8
        return [("P x N (the training set, twice)", 2.0 * self.P * self.N * item),
                ("trajectories x N (the samplers' states)", 4.0 * self.trajectories * self.N * item),
                ("pairs x N (the cloned pairs)", 4.0 * self.pairs * self.N * item),
                ("entropy_samples x N", 2.0 * self.entropy_samples * self.N * item)]


def parse_int_list(name: str, text: str) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]``; an :class:`~theory.validation.InputError` naming ``name`` otherwise."""
    items = str(text).split(",")
    if not str(text).strip():
        raise InputError(f"{name} must not be empty")
    try:
        values = [int(v) for v in items]
    except ValueError:
        raise InputError(f"{name} must be a comma-separated list of integers, got {text!r}") from None
    for v in values:
        _bound_count(name, v)
    return values


def parse_float_list(name: str, text: str) -> list[float]:
    """``"0.1,1e-3"`` -> ``[0.1, 0.001]``; an :class:`~theory.validation.InputError` naming ``name`` otherwise."""
    items = str(text).split(",")
    if not str(text).strip():
        raise InputError(f"{name} must not be empty")
    try:
        values = [float(v) for v in items]
    except ValueError:
        raise InputError(f"{name} must be a comma-separated list of numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{name} must be finite numbers, got {text!r}")
    return values


@dataclass(frozen=True)
class SubspacesPreset(_SelfValidating):
    """Default sweep of [AVS+24]: N = 30, blocks (2, 5, 23) and (5, 10, 15) with standard
    deviations (1, 0.3, 0.01), P in {250, 500, 1000, 20000}, raw (g = 1) and sphere-normalised
    (g = 0) data. About a minute and a half on two CPU cores."""

    dims: str = "2,5,23;5,10,15"
    std: str = "1,0.3,0.01"
    P: str = "250,500,1000,20000"
    normalized: str = "both"
    times: int = 24
    points: int = 150
    tau_min: float = 3e-4
    tau_max: float = 1.0
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95
    tolerance: float = 0.25

    def configs(self) -> list[tuple[list[int], list[float]]]:
        """``[(dims, stds), ...]``: one block configuration per ``;``-separated part of ``dims``."""
        stds = parse_float_list("std", self.std)
        out = []
        for part in str(self.dims).split(";"):
            dims = parse_int_list("dims", part)
            if len(dims) != len(stds):
                raise InputError(f"dims {dims} and std {stds} must have the same number of blocks")
            out.append((dims, stds))
        return out

    def sizes(self) -> list[int]:
        """The dataset sizes, as integers."""
        return [require_int("P", p, 2) for p in parse_int_list("P", self.P)]

    def normalizations(self) -> list[bool]:
        """Which normalisations to run: ``[False]`` (raw, g = 1), ``[True]`` (sphere, g = 0) or both."""
        table = {"both": [False, True], "yes": [True], "no": [False]}
        if self.normalized not in table:
            raise InputError(f"normalized must be 'both', 'yes' or 'no', got {self.normalized!r}")
        return table[self.normalized]

    def validate(self) -> "SubspacesPreset":
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        for dims, stds in self.configs():
            [require_int("dims", d, 1) for d in dims]
            require_positive("std", stds)
        self.sizes()
        self.normalizations()
        require_int("times", self.times, 4)
        require_int("points", self.points, 10)
        require_positive("tau_min", self.tau_min)
        require_positive("tau_max", self.tau_max)
        if not self.tau_min < self.tau_max:
            raise InputError(f"tau_min must be < tau_max, got {self.tau_min} and {self.tau_max}")
        _check_device_seed_conf(self)
        require_positive("tolerance", self.tolerance)
        return self

    def footprint(self):
        """The largest arrays of a run (:meth:`_SelfValidating.footprint`)."""
        N = max(sum(dims) for dims, _ in self.configs())
        return [("P x N (the training set)", 2.0 * max(self.sizes()) * N * 8),
                ("points x N x N (the Jacobians)", 2.0 * self.points * N * N * 8)]


def _check_common(preset):
    _check_device_seed_conf(preset)
    if preset.scale not in ("unit", "none"):
        raise InputError(f"scale must be 'unit' or 'none', got {preset.scale!r}")


@dataclass(frozen=True)
class DigitsPreset(_SelfValidating):
    """Two digit classes of scikit-learn's digits (N = 64, ~360 points): speciation by cloning
    with the empirical score, collapse, and both t_C estimates. About 30 s on two CPU cores."""

    classes: str = "0,1"
    scale: str = "unit"
    pairs: int = 1000
    clone_steps: int = 150
    trajectories: int = 500
    steps: int = 200
    entropy_samples: int = 2000
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95

    def class_list(self) -> list[int]:
        """The selected digit classes (at least two distinct, 0..9)."""
        classes = parse_int_list("classes", self.classes)
        if len(classes) < 2 or len(set(classes)) != len(classes) or not all(0 <= c <= 9 for c in classes):
            raise InputError(f"classes must be at least two distinct digits 0..9, got {self.classes!r}")
        return classes

    def validate(self) -> "DigitsPreset":
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        self.class_list()
        for name in ("pairs", "clone_steps", "trajectories", "steps", "entropy_samples"):
            require_int(name, getattr(self, name), 10)
        _check_common(self)
        return self


@dataclass(frozen=True)
class DataPreset(_SelfValidating):
    """A researcher's own dataset (``regimes compare data PATH``): the digits reconciliation
    (predicted t_S and both t_C estimates against cloning and collapse measured with the empirical
    score of that dataset). ``path`` is required; ``classes`` empty keeps every class, ``P = 0``
    every sample, ``mode`` empty and ``size = 0`` keep the images as stored."""

    path: str = ""
    format: str = "auto"
    convention: str = "auto"
    classes: str = ""
    P: int = 0
    split: str = "train"
    mode: str = ""
    size: int = 0
    pairs: int = 1000
    clone_steps: int = 150
    trajectories: int = 500
    steps: int = 200
    entropy_samples: int = 2000
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95

    def class_list(self) -> list[int] | None:
        """The labels to keep (None: all)."""
        return parse_int_list("classes", self.classes) if str(self.classes).strip() else None

    def validate(self) -> "DataPreset":
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self.
        An empty ``path`` is refused when the run starts (a default preset can be listed)."""
        from simulate.datasets import CONVENTIONS
        from simulate.loaders import FORMATS

        if self.format not in ("auto", *FORMATS):
            raise InputError(f"format must be 'auto' or one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.convention not in ("auto", *CONVENTIONS):
            raise InputError(f"convention must be 'auto' or one of {', '.join(CONVENTIONS)}, got {self.convention!r}")
        if self.split not in ("train", "test"):
            raise InputError(f"split must be 'train' or 'test', got {self.split!r}")
        if self.mode not in ("", "L", "RGB"):
            raise InputError(f"mode must be '' (as stored), 'L' or 'RGB', got {self.mode!r}")
        self.class_list()
        require_int("P", self.P, 0)
        if self.P == 1:
            raise InputError("P must be 0 (every sample) or at least 2, got 1")
        require_int("size", self.size, 0)
        for name in ("pairs", "clone_steps", "trajectories", "steps", "entropy_samples"):
            require_int(name, getattr(self, name), 10)
        _check_device_seed_conf(self)
        return self


@dataclass(frozen=True)
class PatchesPreset(_SelfValidating):
    """k x k grayscale patches of scikit-image's bundled images at several P (fixed N = k^2):
    predicted t_C(P), Gaussian and entropy estimates, against measured collapse. About a minute
    on two CPU cores."""

    k: int = 8
    P: str = "1000,3000,10000,30000"
    scale: str = "unit"
    trajectories: int = 300
    steps: int = 150
    entropy_samples: int = 1500
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95

    def sizes(self) -> list[int]:
        """The dataset sizes, as integers."""
        return [require_int("P", p, 2) for p in parse_int_list("P", self.P)]

    def validate(self) -> "PatchesPreset":
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        require_int("k", self.k, 2)
        self.sizes()
        for name in ("trajectories", "steps", "entropy_samples"):
            require_int(name, getattr(self, name), 10)
        _check_common(self)
        return self


@dataclass(frozen=True)
class LinearDenoiserPreset(_SelfValidating):
    """Linear one-step denoiser [H24]: generated variance and Pr(Delta > 0) against n (d = 10)."""

    d: int = 10
    T: float = 1.0
    ell: float = 0.5
    s: float = 1.0
    n: str = "4,8,12,16,24,40,80,200"
    repeats: int = 1000
    fresh: int = 2000
    seed: int = 0
    device: str = "cpu"
    confidence: float = 0.95

    def sizes(self) -> list[int]:
        """The dataset sizes, as integers."""
        return [require_int("n", v, 2) for v in parse_int_list("n", self.n)]

    def validate(self):
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        require_int("d", self.d, 1)
        require_positive("T", self.T)
        require_positive("ell", self.ell)
        require_positive("s", self.s)
        self.sizes()
        require_int("repeats", self.repeats, 10)
        require_int("fresh", self.fresh, 10)
        _check_device_seed_conf(self)
        return self

    def footprint(self):
        """The largest arrays of a run (:meth:`_SelfValidating.footprint`)."""
        return [("repeats x n x d (the training sets)", 2.0 * self.repeats * max(self.sizes()) * self.d * 8),
                ("fresh x d (the fresh samples)", 2.0 * self.fresh * self.d * 8),
                ("d x d", 4.0 * self.d * self.d * 8)]


@dataclass(frozen=True)
class RegularizationPreset(_SelfValidating):
    """Tikhonov (c) and floored (tau) empirical scores [BDKOS25] on N = 8 isotropic data, P = 64."""

    N: int = 8
    P: int = 64
    c: str = "0,0.001,0.01,0.1,0.3"
    tau: str = "1e-300,1e-6,1e-3,0.1,0.5"
    trajectories: int = 400
    steps: int = 200
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95

    def validate(self):
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        require_int("N", self.N, 1)
        require_int("P", self.P, 2)
        if any(v < 0 for v in parse_float_list("c", self.c)):
            raise InputError("c must be >= 0")
        require_positive("tau", parse_float_list("tau", self.tau))
        require_int("trajectories", self.trajectories, 10)
        require_int("steps", self.steps, 10)
        _check_device_seed_conf(self)
        return self

    def footprint(self):
        """The largest arrays of a run (:meth:`_SelfValidating.footprint`)."""
        return [("P x N (the training set)", 2.0 * self.P * self.N * 8),
                ("trajectories x N", 4.0 * self.trajectories * self.N * 8)]


@dataclass(frozen=True)
class HmmPreset(_SelfValidating):
    """Hidden-manifold data [AALMV25] at N = 64, alpha = 0.15 (P = e^{alpha N} = 14765): collapse,
    onset, basins, Hessian and dynamics checks, kernel test NLL, for several (phi, alpha_D), plus a
    size scan N = 32, 48, 64 for the first configuration. A few minutes on two CPU cores."""

    N: int = 64
    alpha: float = 0.15
    configs: str = "linear:0.25,tanh:0.25,relu:0.5,relu:0.1"
    samples: int = 400
    hessian_points: int = 40
    trajectories: int = 100
    steps: int = 100
    test_points: int = 400
    scan_N: str = "32,48,64"
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95

    @property
    def P(self) -> int:
        """``round(e^{alpha N})``: the number of training points."""
        return int(round(math.exp(self.alpha * self.N)))

    def parsed_configs(self) -> list[tuple[str, float]]:
        """``[(phi, alpha_D), ...]`` from ``configs``."""
        out = []
        for item in self.configs.split(","):
            phi, _, aD = item.strip().partition(":")
            if phi not in ("linear", "tanh", "relu", "sign") or not aD:
                raise InputError(f"configs must be 'phi:alpha_D,...' with phi in linear/tanh/relu/sign, got {item!r}")
            try:
                out.append((phi, float(require_positive("alpha_D", parse_float_list("alpha_D", aD)[0]))))
            except InputError as exc:
                raise InputError(f"configs: {exc}") from None
        return out

    def validate(self):
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        require_int("N", self.N, 8)
        require_positive("alpha", self.alpha)
        if self.alpha * self.N > math.log(10 ** 7):  # before e^{alpha N}, which can overflow
            raise InputError(f"alpha * N = {self.alpha * self.N:.4g} gives P = e^(alpha N) > 10^7: lower alpha or N")
        self.parsed_configs()
        require_int("samples", self.samples, 10)
        require_int("hessian_points", self.hessian_points, 2)
        require_int("trajectories", self.trajectories, 10)
        require_int("steps", self.steps, 10)
        require_int("test_points", self.test_points, 10)
        for n in parse_float_list("scan_N", self.scan_N):
            n = require_int("scan_N", n, 8)
            if self.alpha * n > math.log(10 ** 7):
                raise InputError(f"scan_N: alpha * {n} gives P = e^(alpha N) > 10^7: lower alpha or scan_N")
        _check_device_seed_conf(self)
        return self


@dataclass(frozen=True)
class SubspacesNetworksPreset(_SelfValidating):
    """Geometric memorisation in trained networks [AVS+24]: MLP denoisers of two widths trained on
    linear-manifold data (N = 30, blocks 2, 5, 23 with standard deviations 1, 0.3, 0.01) at three
    P spanning the per-block critical sizes, their Jacobians measured with the empirical score's
    lost rule at the same points. About three minutes on two CPU cores."""

    dims: str = "2,5,23"
    std: str = "1,0.3,0.01"
    P: str = "250,1000,4000"
    width: str = "128,512"
    normalized: str = "no"
    train_steps: int = 4000
    batch_size: int = 256
    times: int = 16
    points: int = 60
    tau_min: float = 3e-4
    tau_max: float = 1.0
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95
    tolerance: float = 0.25

    def block_dims(self) -> list[int]:
        """The block dimensions."""
        return [require_int("dims", d, 1) for d in parse_int_list("dims", self.dims)]

    def stds(self) -> list[float]:
        """The block standard deviations."""
        return parse_float_list("std", self.std)

    def sizes(self) -> list[int]:
        """The dataset sizes."""
        return [require_int("P", p, 2) for p in parse_int_list("P", self.P)]

    def widths(self) -> list[int]:
        """The network widths."""
        return [require_int("width", w, 1) for w in parse_int_list("width", self.width)]

    def validate(self) -> "SubspacesNetworksPreset":
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        if len(self.block_dims()) != len(self.stds()):
            raise InputError(f"dims {self.dims!r} and std {self.std!r} must have the same number of blocks")
        if self.normalized not in ("yes", "no"):
            raise InputError(f"normalized must be 'yes' (sphere-projected, g = 0) or 'no' (raw, g = 1), got {self.normalized!r}")
        require_positive("std", self.stds())
        self.sizes()
        self.widths()
        for name in ("train_steps", "batch_size", "times", "points"):
            require_int(name, getattr(self, name), 2)
        require_positive("tau_min", self.tau_min)
        require_positive("tau_max", self.tau_max)
        if not self.tau_min < self.tau_max:
            raise InputError(f"tau_min and tau_max must satisfy 0 < tau_min < tau_max, got {self.tau_min}, {self.tau_max}")
        require_positive("tolerance", self.tolerance)
        _check_device_seed_conf(self)
        return self

    def footprint(self):
        """The largest arrays of a run (:meth:`_SelfValidating.footprint`)."""
        N, W = sum(self.block_dims()), max(self.widths())
        return [("P x N (the training set)", 2.0 * max(self.sizes()) * N * 8),
                ("points x N x N (the Jacobians, two probes each)", 6.0 * self.points * N * N * 8),
                ("width x width (the network)", 16.0 * W * W)]


@dataclass(frozen=True)
class ImageDimensionPreset(_SelfValidating):
    """Local dimension of trained MLP denoisers on images [AVS+24]: scikit-learn digits (8 x 8) and
    8 x 8 patches of scikit-image's images, at two P each, against the exact empirical score at the
    same noised training points, over t. About 45 s on two CPU cores."""

    digits_P: str = "200,1797"
    patches_P: str = "1000,10000"
    width: int = 256
    train_steps: int = 3000
    batch_size: int = 256
    times: int = 16
    points: int = 16
    t_min: float = 2e-3
    t_max: float = 2.0
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95

    def datasets(self) -> list[tuple[str, int]]:
        """``[(dataset, P), ...]``."""
        digits = [require_int("digits_P", p, 2) for p in parse_int_list("digits_P", self.digits_P)]
        if any(p > 1797 for p in digits):
            raise InputError(f"digits_P must be at most 1797 (the digits there are), got {self.digits_P!r}")
        patches = [require_int("patches_P", p, 2) for p in parse_int_list("patches_P", self.patches_P)]
        return [("digits", p) for p in digits] + [("patches", p) for p in patches]

    def validate(self) -> "ImageDimensionPreset":
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        self.datasets()
        for name in ("width", "train_steps", "batch_size", "times", "points"):
            require_int(name, getattr(self, name), 2)
        require_positive("t_min", self.t_min)
        require_positive("t_max", self.t_max)
        if not self.t_min < self.t_max:
            raise InputError(f"t_min and t_max must satisfy 0 < t_min < t_max, got {self.t_min}, {self.t_max}")
        _check_device_seed_conf(self)
        return self

    def footprint(self):
        """The largest arrays of a run (:meth:`_SelfValidating.footprint`)."""
        P = max(p for _, p in self.datasets())
        return [("P x 64 (the training set)", 2.0 * P * 64 * 8), ("points x 64 x 64 (the Jacobians)", 6.0 * self.points * 64 * 64 * 8),
                ("width x width (the network)", 16.0 * self.width**2)]


@dataclass(frozen=True)
class NetworksPreset(_SelfValidating):
    """Small MLP denoisers trained at several P (N = 8 isotropic data), against the empirical
    score and the theory t_C. A few minutes on two CPU cores."""

    N: int = 8
    P: str = "8,64,512"
    width: str = "64,256"
    steps: str = "1000,3000"
    batch_size: int = 256
    trajectories: int = 400
    sampler_steps: int = 150
    tikhonov: float = 0.0
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95

    def validate(self):
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        require_int("N", self.N, 1)
        [require_int("P", p, 2) for p in parse_int_list("P", self.P)]
        [require_int("width", w, 1) for w in parse_int_list("width", self.width)]
        [require_int("steps", v, 1) for v in parse_int_list("steps", self.steps)]
        for name in ("batch_size", "trajectories", "sampler_steps"):
            require_int(name, getattr(self, name), 1)
        if not (self.tikhonov >= 0 and math.isfinite(self.tikhonov)):
            raise InputError(f"tikhonov must be a finite c >= 0, got {self.tikhonov!r}")
        _check_device_seed_conf(self)
        return self

    def footprint(self):
        """The largest arrays of a run (:meth:`_SelfValidating.footprint`)."""
        P, W = max(parse_int_list("P", self.P)), max(parse_int_list("width", self.width))
        return [("P x N (the training set)", 2.0 * P * self.N * 4), ("width x width (the network)", 16.0 * W * W),
                ("batch_size x width", 16.0 * self.batch_size * W), ("trajectories x N", 4.0 * self.trajectories * self.N * 4)]


# -- finite-size scaling studies (compare.scaling) ---------------------------------------------
def _denominator(x: float) -> int:
    """The smallest n with x n an integer (x a decimal such as 0.25 or 0.1)."""
    from fractions import Fraction

    return Fraction(str(x)).limit_denominator(10 ** 6).denominator


class _ScalingPreset(_SelfValidating):
    """Shared fields and checks of the scaling presets: ``sizes`` (at least two distinct N),
    ``seeds`` (at least two: the spread between seeds is the interval), ``alpha = ln P / N``."""

    #: The largest training set a preset may ask for.
    MAX_P = 10 ** 7
    MIN_N = 8

    def size_list(self) -> list[int]:
        """The sizes, sorted, distinct, at least two, each at least ``MIN_N``."""
        sizes = sorted(set(parse_int_list("sizes", self.sizes)))
        if len(sizes) < 2:
            raise InputError(f"sizes must hold at least 2 distinct N, got {self.sizes!r}")
        for n in sizes:
            if n < self.MIN_N:
                raise InputError(f"sizes must be >= {self.MIN_N}, got {n}")
        return sizes

    def P_of(self, N: int) -> int:
        """``round(e^{alpha N})``."""
        return int(round(math.exp(self.alpha * N)))

    def _validate_scaling(self):
        sizes = self.size_list()
        require_int("seeds", self.seeds, 2)
        require_positive("alpha", self.alpha)
        if self.alpha * sizes[-1] > math.log(self.MAX_P):
            raise InputError(f"alpha * max(sizes) gives P = e^{self.alpha * sizes[-1]:.3g} > 10^7: lower alpha or the "
                             "sizes")
        if self.P_of(sizes[0]) < 2:
            raise InputError(f"alpha * min(sizes) gives P < 2: raise alpha or the sizes")
        _check_device_seed_conf(self)


@dataclass(frozen=True)
class MixtureScalingPreset(_ScalingPreset):
    """Two-class mixture at alpha = 0.06, N = 64, 96, 128, 192 (P = 47 .. 1.0e5), 6 seeds:
    collapse (lock-in, REM condensation, entropy-estimator zero) and speciation. About 4.5
    minutes on two CPU cores cold (measured 4:28)."""

    sizes: str = "64,96,128,192"
    seeds: int = 6
    alpha: float = 0.06
    mu: float = 1.0
    sigma: float = 1.0
    pairs: int = 1000
    clone_steps: int = 80
    trajectories: int = 300
    steps: int = 240
    entropy_samples: int = 800
    dtype: str = "float32"
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95

    def unit(self, N: int, seed: int) -> GaussianMixturePreset:
        """The mixture preset of one ``(N, seed)`` unit, with ``P = round(e^{alpha N})``."""
        return GaussianMixturePreset(N=N, P=self.P_of(N), mu=self.mu, sigma=self.sigma, seed=seed, device=self.device,
                                     dtype=self.dtype, pairs=self.pairs, clone_steps=self.clone_steps,
                                     trajectories=self.trajectories, steps=self.steps,
                                     entropy_samples=self.entropy_samples, confidence=self.confidence)

    def validate(self):
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        self._validate_scaling()
        self.unit(self.size_list()[0], self.seed)  # the mixture preset's own checks, at the smallest N
        return self


@dataclass(frozen=True)
class HmmScalingPreset(_ScalingPreset):
    """Hidden-manifold data at alpha = 0.095, N = 40, 60, 80, 120 (P = 45 .. 8.9e4), 8 seeds (each
    its own F): t_c and t_o for linear alpha_D = 0.25, relu alpha_D = 0.5 and relu alpha_D = 0.1.
    About 7.5 minutes on two CPU cores cold (measured 7:20).

    Every ``alpha_D N`` must be an integer: ``D = round(alpha_D N)`` otherwise moves the intensive
    parameter with ``N`` (sizes 32, 48, 64, 96 give alpha_D = 0.094, 0.104, 0.094, 0.104 for 0.1,
    and the measured times follow that zigzag)."""

    sizes: str = "40,60,80,120"
    seeds: int = 8
    alpha: float = 0.095
    configs: str = "linear:0.25,relu:0.5,relu:0.1"
    samples: int = 200
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95

    def unit(self, N: int, seed: int) -> HmmPreset:
        """The hmm preset of one ``(N, seed)`` unit (the same ``alpha`` and configurations)."""
        return HmmPreset(N=N, alpha=self.alpha, configs=self.configs, samples=self.samples, scan_N=str(N), seed=seed,
                         device=self.device, confidence=self.confidence)

    def validate(self):
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        self._validate_scaling()
        unit = self.unit(self.size_list()[0], self.seed)  # the hmm preset's own checks (configs, samples)
        for phi, aD in unit.parsed_configs():
            for n in self.size_list():
                if abs(aD * n - round(aD * n)) > 1e-9:
                    raise InputError(f"sizes: alpha_D N must be an integer at every size (alpha_D = {aD:g}, N = {n} "
                                     f"gives D = {aD * n:g}); choose sizes that are multiples of {_denominator(aD)}")
        return self


@dataclass(frozen=True)
class SubspacesScalingPreset(_ScalingPreset):
    """Sphere-normalised block spectrum with block dimensions in the fixed fractions 2 : 5 : 23
    (rounded) and standard deviations (1, 0.3, 0.01), at alpha = 0.12, N = 30, 45, 60, 90
    (P = 37 .. 4.9e4), 6 seeds. About 3 minutes on two CPU cores cold (measured 2:58)."""

    sizes: str = "30,45,60,90"
    seeds: int = 6
    alpha: float = 0.12
    fractions: str = "2,5,23"
    std: str = "1,0.3,0.01"
    times: int = 16
    points: int = 60
    tau_min: float = 3e-4
    tau_max: float = 1.0
    seed: int = 0
    device: str = "auto"
    confidence: float = 0.95
    MIN_N = 4

    def fraction_list(self) -> list[float]:
        """The block fractions, normalised to sum to 1."""
        f = parse_float_list("fractions", self.fractions)
        require_positive("fractions", f)
        return [v / sum(f) for v in f]

    def dims_at(self, N: int) -> list[int]:
        """Block dimensions at size ``N``: the fractions rounded, the last block takes the rest."""
        f = self.fraction_list()
        dims = [max(1, int(math.floor(v * N + 0.5))) for v in f[:-1]]
        last = N - sum(dims)
        if last < 1:
            raise InputError(f"sizes: N = {N} is too small for the fractions {self.fractions!r}")
        return dims + [last]

    def unit(self, N: int, seed: int) -> SubspacesPreset:
        """The subspaces preset of one ``(N, seed)`` unit: one configuration (rounded fractions), one P,
        sphere-normalised."""
        return SubspacesPreset(dims=",".join(map(str, self.dims_at(N))), std=self.std, P=str(self.P_of(N)),
                               normalized="yes", times=self.times, points=self.points, tau_min=self.tau_min,
                               tau_max=self.tau_max, seed=seed, device=self.device, confidence=self.confidence)

    def validate(self):
        """Check every field (one-line :class:`~theory.validation.InputError` naming it); returns self."""
        self._validate_scaling()
        stds = parse_float_list("std", self.std)
        require_positive("std", stds)
        if len(stds) != len(self.fraction_list()):
            raise InputError(f"std and fractions must have the same number of blocks, got {self.std!r} and "
                             f"{self.fractions!r}")
        for n in self.size_list():
            self.dims_at(n)
        require_int("times", self.times, 4)
        require_int("points", self.points, 10)
        require_positive("tau_min", self.tau_min)
        require_positive("tau_max", self.tau_max)
        if not 0 < self.tau_min < self.tau_max:
            raise InputError(f"tau_min must be < tau_max, got {self.tau_min} and {self.tau_max}")
        return self
