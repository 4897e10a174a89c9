"""Every public definition of the three packages has a docstring (numpydoc sections for the main
entry points): every module-level function and class whose name does not start with ``_``, and
the public methods and properties those classes define."""

import importlib
import inspect
import pkgutil

import pytest

PACKAGES = ("theory", "simulate", "compare")


def _modules():
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        yield pkg
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
            yield importlib.import_module(info.name)


def public_definitions():
    seen = set()
    for module in _modules():
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)) or obj in seen:
                continue
            if getattr(obj, "__module__", None) != module.__name__:
                continue  # imported from elsewhere: checked where it is defined
            seen.add(obj)
            yield f"{obj.__module__}.{obj.__qualname__}", obj
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") and attr != "__call__":
                        continue
                    target = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                    if inspect.isfunction(target) or isinstance(member, property):
                        yield f"{obj.__module__}.{obj.__qualname__}.{attr}", target


def _own_doc(obj) -> str:
    """The object's own docstring: not inherited, and not the signature dataclasses write."""
    doc = (obj.__doc__ or "").strip()
    if inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("):
        return ""
    return doc


def test_every_public_definition_has_a_docstring():
    missing = sorted(name for name, obj in public_definitions() if not _own_doc(obj))
    assert not missing, f"{len(missing)} public definitions without a docstring:\n" + "\n".join(missing)


@pytest.mark.parametrize("qualname", [
    "theory.gaussian.collapse_time", "theory.gaussian.collapse_time_isotropic", "theory.roots.find_root_float64",
    "simulate.scores.EmpiricalScore", "simulate.engine.ScoreEngine", "simulate.sharded.ShardedEmpiricalScore",
    "simulate.observables.collapse_experiment", "simulate.observables.cloning_experiment",
    "compare.driver.Stage", "theory.result.SolverResult",
])
def test_numpydoc_sections_on_the_main_entry_points(qualname):
    module, _, name = qualname.rpartition(".")
    doc = inspect.getdoc(getattr(importlib.import_module(module), name))
    assert "Parameters\n----------" in doc or "Attributes\n----------" in doc, qualname
