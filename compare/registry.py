"""Registry of comparison experiments: each pairs a theory prediction with a simulation.

An :class:`Experiment` has a name (the CLI subcommand), a one-line description, a preset
dataclass (its fields become CLI options) and the module that implements
``run(preset, out, resume=, progress=, log=)`` (returning an object with a tidy ``table``) and
``simulate(...)``. The module is imported on first use, so that ``regimes theory`` never pays
for importing torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from .presets import (
    DigitsPreset,
    GaussianMixturePreset,
    HmmPreset,
    LinearDenoiserPreset,
    NetworksPreset,
    PatchesPreset,
    RegularizationPreset,
    SubspacesPreset,
)

__all__ = ["Experiment", "EXPERIMENTS", "DEFAULT_EXPERIMENT", "get_experiment"]


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    preset: type
    module_name: str

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self.module_name)

    def run(self, *args, **kwargs):
        return self.module.run(*args, **kwargs)

    def simulate(self, *args, **kwargs):
        return self.module.simulate(*args, **kwargs)

    @property
    def stages(self) -> tuple[str, ...]:
        return self.module.STAGES

    def to_markdown(self, table) -> str:
        return self.module.to_markdown(table)

    def summary_line(self, table) -> str:
        return self.module.summary_line(table)


EXPERIMENTS: dict[str, Experiment] = {
    "gaussian-mixture": Experiment(
        "gaussian-mixture",
        "Two-class Gaussian mixture: speciation time t_S (cloning) and collapse time t_C (empirical score).",
        GaussianMixturePreset,
        "compare.experiments.gaussian_mixture",
    ),
    "subspaces": Experiment(
        "subspaces",
        "Linear-manifold data: per-subspace critical times from empirical-score Jacobians vs two rules.",
        SubspacesPreset,
        "compare.experiments.subspaces",
    ),
    "digits": Experiment(
        "digits",
        "scikit-learn digits, two classes: speciation (cloning) and collapse vs the spectrum and entropy estimates.",
        DigitsPreset,
        "compare.experiments.digits",
    ),
    "patches": Experiment(
        "patches",
        "Image patches at fixed N: predicted t_C(P) (Gaussian and entropy estimates) against measured collapse.",
        PatchesPreset,
        "compare.experiments.patches",
    ),
    "linear-denoiser": Experiment(
        "linear-denoiser",
        "Linear one-step denoiser: generated variance vs its finite-n law, Pr(Delta > 0) vs n.",
        LinearDenoiserPreset,
        "compare.experiments.linear_denoiser",
    ),
    "regularization": Experiment(
        "regularization",
        "Tikhonov and floored empirical scores: memorised fraction and residual distance vs c and tau.",
        RegularizationPreset,
        "compare.experiments.regularization",
    ),
    "hmm": Experiment(
        "hmm",
        "Hidden-manifold data: collapse, onset, basin size and generalisation times vs the REM theory.",
        HmmPreset,
        "compare.experiments.hmm",
    ),
    "networks": Experiment(
        "networks",
        "Trained MLP denoisers at several P and widths: memorisation and collapse vs the empirical score.",
        NetworksPreset,
        "compare.experiments.networks",
    ),
}
DEFAULT_EXPERIMENT = "gaussian-mixture"


def get_experiment(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ValueError(f"experiment must be one of {sorted(EXPERIMENTS)}, got {name!r}") from None
