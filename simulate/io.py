"""Atomic, verified file output (standard library and numpy only: importing it never loads torch).

Every file is written to a temporary name in the target directory, flushed to disk and moved into
place with ``os.replace``, so an interrupted run never leaves a half-written file. The temporary
name records the writer's process id, so that :func:`remove_orphans` can delete what a killed run
left behind without touching a live writer's file; the file gets the permissions the user's umask
gives a new file (not the 0600 of a temporary file). Arrays are
stored as ``.npz`` with a SHA-256 of the exact bytes in a JSON sidecar, and read back only when
the digest matches: a truncated, damaged or edited result is recomputed, never used.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["atomic_write_bytes", "atomic_write_text", "sha256_hex", "save_npz", "load_npz", "config_hash",
           "CacheMiss", "remove_orphans"]

_UMASK_LOCK = threading.Lock()
_TMP = re.compile(r"^\..+\.pid(\d+)\.[^.]+\.tmp$")


def _new_file_mode() -> int:
    """``0o666`` less the process umask (read without changing it for longer than two calls)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_orphans(folder: str | os.PathLike, *, recursive: bool = True) -> int:
    """Delete the temporary files that writers killed mid-write left in ``folder`` (their process
    is gone); returns how many. Files of live writers and any other file are left alone."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in (folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")):
        m = _TMP.match(path.name)
        if m and path.is_file() and not _alive(int(m.group(1))):
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
    return removed


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.pid{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), _new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def sha256_hex(payload: bytes) -> str:
    """Hex SHA-256 digest of ``payload``."""
    return hashlib.sha256(payload).hexdigest()


def config_hash(config: dict) -> str:
    """Stable 16-hex-digit hash of a JSON-serialisable configuration (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class CacheMiss(Exception):
    """A cached file is absent, unreadable or does not match its recorded digest or configuration."""


def save_npz(path: str | os.PathLike, arrays: dict, *, meta: dict | None = None) -> Path:
    """Write ``arrays`` to ``path`` (compressed ``.npz``) and ``path.json`` with ``meta`` plus the
    SHA-256 of the ``.npz`` bytes; both atomically, the sidecar last (it commits the entry)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    payload = buf.getvalue()
    path = atomic_write_bytes(path, payload)
    sidecar = {**(meta or {}), "sha256": sha256_hex(payload), "arrays": sorted(arrays)}
    atomic_write_text(Path(path).with_suffix(".json"), json.dumps(sidecar, indent=2, sort_keys=True, default=str))
    return path


def load_npz(path: str | os.PathLike, *, expect: dict | None = None) -> dict:
    """Read arrays written by :func:`save_npz`, verified against the sidecar's digest (and, with
    ``expect``, against the configuration it records). Raises :class:`CacheMiss` otherwise."""
    path = Path(path)
    try:
        payload = path.read_bytes()
        sidecar = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError) as exc:
        raise CacheMiss(f"it cannot be read ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(sidecar, dict) or sidecar.get("sha256") != sha256_hex(payload):
        raise CacheMiss("its contents do not match the recorded SHA-256")
    if expect is not None:
        recorded = {k: sidecar.get(k) for k in expect}
        if json.loads(json.dumps(recorded, default=str)) != json.loads(json.dumps(expect, default=str)):
            raise CacheMiss("its recorded configuration is not this one")
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CacheMiss(f"its arrays cannot be read ({exc})") from None
    if sorted(arrays) != sidecar.get("arrays", sorted(arrays)):
        raise CacheMiss("its arrays differ from the recorded names")
    return arrays
