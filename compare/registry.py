"""Registry of comparison experiments.

Each entry names an experiment (the CLI subcommand), gives a one-line description and its preset
class (whose fields become CLI options), and points at the :class:`~compare.driver.Experiment`
subclass that declares its stages, reconciliation and figures. The class is imported on first
use, so that ``regimes theory`` never pays for importing torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property

from theory.validation import InputError

from .presets import (
    DataPreset,
    DigitsPreset,
    GaussianMixturePreset,
    HmmPreset,
    ImageDimensionPreset,
    LinearDenoiserPreset,
    NetworksPreset,
    PatchesPreset,
    RegularizationPreset,
    SubspacesNetworksPreset,
    SubspacesPreset,
)

__all__ = ["ExperimentSpec", "EXPERIMENTS", "DEFAULT_EXPERIMENT", "get_experiment"]


@dataclass(frozen=True)
class ExperimentSpec:
    """A registered experiment: ``name``, ``description``, ``preset`` class and ``target``
    (``"module:Class"`` of its :class:`~compare.driver.Experiment`)."""

    name: str
    description: str
    preset: type
    target: str

    @cached_property
    def definition(self):
        """The experiment object (its class imported on first use)."""
        module, _, cls = self.target.partition(":")
        experiment = getattr(importlib.import_module(module), cls)()
        if experiment.name != self.name or experiment.preset_type is not self.preset:
            raise TypeError(f"{self.target} does not match the registry entry {self.name!r}")
        return experiment

    def run(self, preset=None, out=None, **kwargs):
        """:func:`compare.driver.run_experiment` of this experiment."""
        from .driver import run_experiment

        return run_experiment(self.definition, preset, out, **kwargs)

    def simulate(self, preset=None, out=None, **kwargs):
        """:func:`compare.driver.simulate_experiment` of this experiment."""
        from .driver import simulate_experiment

        return simulate_experiment(self.definition, preset, out, **kwargs)

    def stage_names(self, preset=None) -> list[str]:
        """Names of the stages this preset runs."""
        preset = preset if preset is not None else self.preset()
        experiment = self.definition
        return [s.name for s in experiment.stages(preset, experiment.setup(preset))]

    def to_markdown(self, table) -> str:
        """The experiment's table as Markdown."""
        return self.definition.to_markdown(table)

    def summary_line(self, table) -> str:
        """The experiment's one-line summary of a table."""
        return self.definition.summary_line(table)


_SPECS = [
    ExperimentSpec("gaussian-mixture",
                   "Two-class Gaussian mixture: speciation time t_S (cloning) and collapse time t_C (empirical score).",
                   GaussianMixturePreset, "compare.experiments.gaussian_mixture:GaussianMixture"),
    ExperimentSpec("subspaces",
                   "Linear-manifold data: per-subspace critical times from empirical-score Jacobians vs two rules.",
                   SubspacesPreset, "compare.experiments.subspaces:Subspaces"),
    ExperimentSpec("subspaces-networks",
                   "Linear-manifold data: per-subspace loss times of trained MLP denoisers vs the empirical score and "
                   "both rules.", SubspacesNetworksPreset, "compare.experiments.subspaces_networks:SubspacesNetworks"),
    ExperimentSpec("image-dimension",
                   "Digits and image patches: Jacobian local dimension of trained MLP denoisers vs the empirical "
                   "score against t and P.", ImageDimensionPreset, "compare.experiments.image_dimension:ImageDimension"),
    ExperimentSpec("digits",
                   "scikit-learn digits, two classes: speciation (cloning) and collapse vs the spectrum and entropy "
                   "estimates.", DigitsPreset, "compare.experiments.digits:Digits"),
    ExperimentSpec("data",
                   "Your dataset (any supported format): speciation (cloning) and collapse vs the spectrum and "
                   "entropy estimates, with warnings where the data make them meaningless.", DataPreset,
                   "compare.experiments.user_data:UserData"),
    ExperimentSpec("patches",
                   "Image patches at fixed N: predicted t_C(P) (Gaussian and entropy estimates) against measured "
                   "collapse.", PatchesPreset, "compare.experiments.patches:Patches"),
    ExperimentSpec("linear-denoiser",
                   "Linear one-step denoiser: generated variance vs its finite-n law, Pr(Delta > 0) vs n.",
                   LinearDenoiserPreset, "compare.experiments.linear_denoiser:LinearDenoiser"),
    ExperimentSpec("regularization",
                   "Tikhonov and floored empirical scores: memorised fraction and residual distance vs c and tau.",
                   RegularizationPreset, "compare.experiments.regularization:Regularization"),
    ExperimentSpec("hmm",
                   "Hidden-manifold data: collapse, onset, basin size and generalisation times vs the REM theory.",
                   HmmPreset, "compare.experiments.hmm:HiddenManifold"),
    ExperimentSpec("networks",
                   "Trained MLP denoisers at several P and widths: memorisation and collapse vs the empirical score.",
                   NetworksPreset, "compare.experiments.networks:Networks"),
]
EXPERIMENTS: dict[str, ExperimentSpec] = {s.name: s for s in _SPECS}
DEFAULT_EXPERIMENT = "gaussian-mixture"


def get_experiment(name: str) -> ExperimentSpec:
    """The registered experiment called ``name``."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise InputError(f"experiment must be one of {sorted(EXPERIMENTS)}, got {name!r}") from None
