"""Lazy package attributes (PEP 562), so that importing a light submodule never loads torch or
matplotlib: ``__getattr__, __dir__ = lazy_exports(__name__, {"Name": "submodule", ...})``."""

from __future__ import annotations

import importlib
import sys


def lazy_exports(package: str, exports: dict[str, str]):
    """``(__getattr__, __dir__)`` for ``package``: each name in ``exports`` is imported from its
    submodule on first access and then kept in the package's namespace."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str):
        if name in exports:
            value = getattr(importlib.import_module(f".{exports[name]}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
