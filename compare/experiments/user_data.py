"""A researcher's own dataset (``regimes compare data PATH``): the digits reconciliation on it.

Any format of :mod:`simulate.loaders` under any convention of :mod:`simulate.datasets`; predicted
``t_S`` (top eigenvalue) and ``t_C`` (Gaussian with the data's spectrum, and the entropy estimator)
against cloning and collapse measured with the exact empirical score of the selected samples.
Where the data make the numbers meaningless (a spectrum at the Marchenko-Pastur noise edge, raw
pixels, no generalisation window, too few samples) the run says so in its caveats
(:func:`compare.data_theory.data_warnings`). The cache key holds a fingerprint of the loaded data,
so an edited file is never answered from an old run.
"""

from __future__ import annotations

import hashlib

import numpy as np

from theory.validation import InputError

from ..data_theory import data_warnings
from ..presets import DataPreset
from .digits import Digits, _theory
from .real_data import GAUSSIAN_T_C_CAVEAT

__all__ = ["UserData"]


class UserData(Digits):
    """The digits reconciliation (stages, table, figures) on a dataset read from disk."""

    name = "data"
    caveats = (GAUSSIAN_T_C_CAVEAT,)
    preset_type = DataPreset
    version = 1

    def setup(self, preset):
        """The dataset read and preprocessed as the preset says, and its predictions (the warnings
        follow in :meth:`reconcile`, once the entropy estimate is known)."""
        from simulate.datasets import load_dataset

        if not str(preset.path).strip():
            raise InputError("path: give the dataset to compare (regimes compare data PATH)")
        ds = load_dataset(preset.path, format=preset.format, convention=preset.convention,
                          classes=preset.class_list(), P=preset.P or None, seed=preset.seed, split=preset.split,
                          mode=preset.mode or None, size=preset.size or None)
        if ds.labels is None:
            raise InputError(f"{preset.path}: the data have no labels; cloning needs classes (a labelled format, "
                             "class sub-folders, or 'labels' in the .npz)")
        if np.unique(ds.labels).size < 2:
            raise InputError(f"{preset.path}: cloning needs at least two classes, the selection has "
                             f"{np.unique(ds.labels).tolist()}")
        th = _theory(ds)
        th["preprocessing"] = ds.preprocessing
        fingerprint = hashlib.sha256(np.ascontiguousarray(ds.data).tobytes()).hexdigest()[:16]
        return {"dataset": ds, "theory": th, "fingerprint": fingerprint}

    def stages(self, preset, setup):
        """cloning, collapse, entropy; keyed by the data's fingerprint as well as the preset."""
        import dataclasses

        data_fields = ("path", "format", "convention", "classes", "P", "split", "mode", "size", "seed")
        return [dataclasses.replace(stage, uses=tuple(u for u in stage.uses if u not in ("classes", "scale"))
                                    + data_fields, params={**stage.params, "fingerprint": setup["fingerprint"]})
                for stage in super().stages(preset, setup)]

    def reconcile(self, preset, setup, raw):
        """The digits reconciliation, with the data's warnings as caveats."""
        rec = super().reconcile(preset, setup, raw)
        th = rec.theory
        warnings = data_warnings(setup["dataset"].data, np.asarray(th["spectrum"]), th,
                                 entropy_samples=preset.entropy_samples, entropy_ci=tuple(th["t_C_entropy_ci"]))
        th["warnings"] = warnings
        rec.caveats = list(rec.caveats) + [f"data: {w}" for w in warnings]
        return rec

    def figures(self, preset, setup, raw, rec):
        """speciation, collapse, entropy (as for digits), titled with the dataset's name."""
        figs = super().figures(preset, setup, raw, rec)
        name = setup["dataset"].name
        for fig in figs.values():
            for ax in fig.axes:
                ax.set_title(ax.get_title().replace(f"Digits {preset.classes}", name or "data"))
        return figs
