"""Experiment presets: plain dataclasses (no torch import) whose fields become CLI options."""

from __future__ import annotations

from dataclasses import dataclass, fields

from theory.validation import require_in_open_interval, require_int, require_positive

__all__ = ["GaussianMixturePreset"]


@dataclass
class GaussianMixturePreset:
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
        require_int("N", self.N, 1)
        require_int("P", self.P, 2)
        require_positive("mu", self.mu)
        require_positive("sigma", self.sigma)
        require_int("seed", self.seed, 0)
        require_int("pairs", self.pairs, 10)
        require_int("clone_steps", self.clone_steps, 10)
        require_int("trajectories", self.trajectories, 10)
        require_int("steps", self.steps, 10)
        require_int("entropy_samples", self.entropy_samples, 10)
        require_in_open_interval("confidence", self.confidence, 0.0, 1.0)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:k]', got {self.device!r}")
        if self.mu**2 * self.N <= self.sigma**2:
            raise ValueError("mu^2 N must exceed sigma^2: the mixture never speciates otherwise")
        return self

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
