"""The on-disk code cache: generated modules stored as real .py files named by the IR's hash.

Layout under the cache root (``$SYMBACKPROP_CACHE_DIR``, else the user's cache folder):
``modules/<ir-hash>.py`` (Numba keeps its compiled objects beside them, in __pycache__) and
``index/<key>.json`` mapping a hash of the compile request to a module and its source's sha256.
Every write is a temp file renamed into place, so readers never see half a file; an entry that
is missing, unreadable or whose source does not match its recorded hash is simply rebuilt.

Generated code is executed, so what is imported must be what symbackprop wrote: folders are
created private (0700); an index entry, module or bytecode file that another account owns or
could have written is ignored (and rebuilt), and the bytecode's sha256 is recorded beside the
source's, so neither a changed module nor a changed .pyc is ever run. Numba's own cache files
beside the modules rely on the private folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import py_compile
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from ..errors import SymbackpropError

ENV_VAR = "SYMBACKPROP_CACHE_DIR"
LAYOUT_VERSION = "v1"


def default_root() -> Path:
    """$SYMBACKPROP_CACHE_DIR, else the platform's per-user cache folder."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "symbackprop"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _uid() -> int | None:
    return os.getuid() if hasattr(os, "getuid") else None  # None: no POSIX owners (Windows)


def trusted(path: Path) -> bool:
    """True if ``path`` is owned by this user and writable by no one else.

    >>> import tempfile
    >>> trusted(Path(tempfile.mkdtemp()))
    True
    """
    uid = _uid()
    if uid is None:
        return True
    info = path.stat()
    return info.st_uid == uid and not info.st_mode & 0o022


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Cache:
    """One cache root. ``Cache(None)`` uses :func:`default_root`.

    If the root cannot be created or written, code goes to a private temporary folder instead,
    with a warning, so compiling still works (only the reuse across processes is lost).
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.base = self.root / LAYOUT_VERSION
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            for d in (self.base, self.base / "modules", self.base / "index"):
                d.mkdir(mode=0o700, exist_ok=True)
                _make_private(d)
            probe = self.base / "index"
            if not os.access(probe, os.W_OK):
                raise PermissionError(f"{probe} is not writable")
        except OSError as exc:
            self._use_temporary(f"symbackprop cache folder {self.root} is unusable ({exc})")

    def _use_temporary(self, why: str) -> None:
        """Switch to a private temporary folder, with a warning: compiling still works, only
        the reuse across processes is lost."""
        fallback = Path(tempfile.mkdtemp(prefix="symbackprop-"))
        warnings.warn(
            f"{why}; compiling into {fallback} for this process only", RuntimeWarning, stacklevel=4
        )
        self.root = fallback
        self.base = fallback / LAYOUT_VERSION
        for d in (self.base, self.base / "modules", self.base / "index"):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)

    def module_path(self, ir_hash: str) -> Path:
        return self.base / "modules" / f"m_{ir_hash}.py"

    def _index_path(self, key: str) -> Path:
        return self.base / "index" / f"{key}.json"

    def lookup(self, key: str) -> Path | None:
        """The verified module file for request ``key``, or None (missing, corrupt, changed or
        not ours: rebuild)."""
        try:
            index = self._index_path(key)
            if not trusted(index):
                return None
            entry = json.loads(index.read_text(encoding="utf-8"))
            path = self.module_path(entry["module"])
            if not trusted(path) or sha256(path.read_bytes()) != entry["sha256"]:
                return None
            pyc = Path(importlib.util.cache_from_source(str(path)))
            if pyc.exists() and (not trusted(pyc) or sha256(pyc.read_bytes()) != entry["pyc"]):
                return None
            return path
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, key: str, ir_hash: str, source: str) -> Path:
        """Write the module (unless an identical one is there) and then its index entry."""
        data = source.encode("utf-8")
        digest = sha256(data)
        path = self.module_path(ir_hash)
        try:
            current = path.read_bytes()
        except OSError:
            current = None
        if current is None or sha256(current) != digest:
            write_atomic(path, data)
        # Write the bytecode too (atomically), even under PYTHONDONTWRITEBYTECODE: a second
        # process then skips compiling a module that can have tens of thousands of lines.
        # Hash-checked bytecode is the same bytes from every process, so its recorded sha256
        # holds when processes store one module at once.
        pyc = py_compile.compile(
            str(path), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH
        )
        pyc_digest = sha256(Path(pyc).read_bytes())
        entry = json.dumps({"module": ir_hash, "sha256": digest, "pyc": pyc_digest}).encode()
        write_atomic(self._index_path(key), entry)
        return path

    def store_or_fallback(self, key: str, ir_hash: str, source: str) -> Path:
        """:meth:`store`, or, when the folder cannot be written (read-only, full), the same in a
        private temporary folder with a warning."""
        try:
            return self.store(key, ir_hash, source)
        except OSError as exc:
            self._use_temporary(f"cannot write to the symbackprop cache folder {self.root} ({exc})")
            return self.store(key, ir_hash, source)

    # -- inspection and clearing (``symbackprop cache info|clear``) -----------------------

    def _layouts(self) -> list[Path]:
        """This layout's folder and older ones (v0, ...): only what symbackprop wrote here."""
        return sorted(p for p in self.root.glob("v*") if p.is_dir() and p.name[1:].isdigit())

    def entries(self) -> list[str]:
        """The request keys with an index entry in the current layout (verified or not).

        >>> import tempfile
        >>> Cache(tempfile.mkdtemp()).entries()
        []
        """
        return sorted(p.stem for p in (self.base / "index").glob("*.json"))

    def modules(self) -> list[Path]:
        """The generated module files in the current layout."""
        return sorted((self.base / "modules").glob("*.py"))

    def size(self) -> int:
        """Bytes of every file symbackprop keeps here (modules, index, Numba's compiled code,
        older layouts).

        >>> import tempfile
        >>> Cache(tempfile.mkdtemp()).size()
        0
        """
        total = 0
        for layout in self._layouts():
            for path in layout.rglob("*"):
                try:
                    if path.is_file() and not path.is_symlink():
                        total += path.stat().st_size
                except OSError:
                    pass  # removed while we walked: not counted
        return total

    def clear(self) -> int:
        """Delete every cached module and index entry (all layouts); returns the bytes freed.

        Only the layout folders are removed, never other files under the root (which may be
        a folder the user chose through $SYMBACKPROP_CACHE_DIR); the empty layout is
        recreated so this object stays usable. A process compiling at the same moment just
        rebuilds its entry on the next run.

        >>> import tempfile, sympy as sp, symbackprop as sb
        >>> cache = Cache(tempfile.mkdtemp())
        >>> x = sp.Symbol("x")
        >>> _ = sb.compile(x**2, [x], cache_dir=cache.root)
        >>> len(cache.entries()), cache.clear() > 0, cache.entries(), cache.size()
        (1, True, [], 0)
        """
        freed = self.size()
        for layout in self._layouts():
            shutil.rmtree(layout, ignore_errors=True)
        for d in (self.base, self.base / "modules", self.base / "index"):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        return freed


def _make_private(folder: Path) -> None:
    """Refuse a folder another account owns; make one of ours private if it is not."""
    uid = _uid()
    if uid is None:
        return
    info = folder.stat()
    if info.st_uid != uid:
        raise PermissionError(f"{folder} belongs to another user (uid {info.st_uid})")
    if info.st_mode & 0o077:
        folder.chmod(0o700)


def check_writable_target(path: Path) -> None:
    if not path.parent.is_dir():
        raise SymbackpropError(f"cannot save to {path}: folder {path.parent} does not exist")
