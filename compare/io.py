"""File output for :mod:`compare`: the atomic, verified writers of :mod:`simulate.io` (torch-free)
and the conversion of results to standard JSON."""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
from pathlib import Path

import numpy as np

from simulate.io import CacheMiss, atomic_write_bytes, atomic_write_text, config_hash, load_npz, remove_orphans, save_npz

__all__ = ["atomic_write_bytes", "atomic_write_text", "config_hash", "save_npz", "load_npz", "CacheMiss",
           "to_json_ready", "check_writable", "warn_recompute", "strict_cache", "set_strict_cache",
           "strict_cache_enabled", "remove_orphans", "prepare_output"]

#: ``--strict-cache``: a cached file that cannot be used is an error instead of a recomputation.
_STRICT = contextvars.ContextVar("strict_cache", default=False)


def set_strict_cache(enabled: bool = True) -> None:
    """Turn ``--strict-cache`` on (or off) for the rest of the current context (the CLI option's
    callback; :func:`compare.cli.main` restores the previous setting when the command returns)."""
    _STRICT.set(bool(enabled))


def strict_cache_enabled() -> bool:
    """Whether :func:`warn_recompute` currently raises instead of warning."""
    return _STRICT.get()


@contextlib.contextmanager
def strict_cache(enabled: bool = True):
    """Within the block, :func:`warn_recompute` raises instead of warning (``--strict-cache``)."""
    token = _STRICT.set(bool(enabled))
    try:
        yield
    finally:
        _STRICT.reset(token)


def to_json_ready(obj):
    """Numpy scalars and arrays -> Python values, NaN and inf -> None (standard JSON), keys -> str."""
    if isinstance(obj, dict):
        return {str(k): to_json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json_ready(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if np.isfinite(v) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj


def check_writable(path, name: str, *, directory: bool) -> Path:
    """Refuse, before any work, an output ``path`` that cannot be written: one under a file, in a
    place that cannot be created or written, a file where a folder is wanted (and the reverse).
    The folder (for a file: its parent) is created now, as the run would create it later. ``name``
    is the option named in the one-line error."""
    from theory.validation import InputError

    path = Path(path)
    if path.exists() and path.is_dir() != directory:
        raise InputError(f"{name}: {path} is {'a file' if directory else 'a folder'}, "
                         f"not {'a folder' if directory else 'a file'}")
    folder = path if directory else path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{name}: cannot write {path}: a file stands where a folder is needed") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot create {folder}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{name}: cannot write {path}: no write permission in {folder}")
    return path


def warn_recompute(what: str, path, problem: str) -> None:
    """One warning line on stderr for a cached file that is not used: which file, and why. Under
    :func:`strict_cache` an :class:`~theory.validation.InputError` instead (the CLI: one line, exit 2)."""
    if strict_cache_enabled():
        from theory.validation import InputError

        raise InputError(f"--strict-cache: {what} {path}: {problem}; not recomputing")
    print(f"warning: {what} {path}: {problem}; recomputing", file=sys.stderr)


def prepare_output(path, name: str) -> Path:
    """:func:`check_writable` for an output folder, then delete the temporary files that killed
    runs left in it (one line on stderr says how many)."""
    path = check_writable(path, name, directory=True)
    removed = remove_orphans(path)
    if removed:
        print(f"note: removed {removed} temporary file(s) left by interrupted runs in {path}", file=sys.stderr)
    return path

