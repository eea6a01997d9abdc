"""The on-disk code cache: generated modules stored as real .py files named by the IR's hash.

Layout under the cache root (``$SYMBACKPROP_CACHE_DIR``, else the user's cache folder), all in one
folder ``symbackprop-v2/`` marked as symbackprop's by a CACHEDIR.TAG (the Cache Directory
Tagging standard, so backup tools skip it): ``modules/<ir-hash>.py`` with its bytecode in
``modules/__pycache__``, ``index/<key>.json`` mapping a hash of the compile request to a module
and the sha256 of its source and bytecode, ``kernels/`` for Numba's compiled code (see
kernels.py) and ``kernels.key``, the secret that signs it. Only folders carrying that tag are
counted or cleared: anything else under the root is the user's. A layout is built under a
temporary name and renamed into place, and clearing renames it away before deleting it, so no
process ever sees half a layout; every file is a temp file renamed into place, so no one sees
half a file. An entry that is missing, unreadable, changed or removed mid-way is rebuilt.

Generated code is executed, so what is run must be what symbackprop wrote: folders are private
(0700); an index entry, module, bytecode or kernel file that another account owns or could
have written is ignored (and rebuilt); the module's source and bytecode are checked against the
sha256 in its index entry, and are run from the bytes that were checked (:class:`Entry`), never
read again; a kernel file's HMAC is checked before it is unpickled.
"""

from __future__ import annotations

import _imp
import hashlib
import hmac
import importlib.util
import json
import marshal
import os
import secrets
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

from . import files

ENV_VAR = "SYMBACKPROP_CACHE_DIR"
LAYOUT = "symbackprop-v2"
TAG = "CACHEDIR.TAG"
_TAG_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55\n"  # fixed by the standard
_TAG_OWNER = "# This folder is symbackprop's cache of generated code"
_TAG_TEXT = (
    f"{_TAG_SIGNATURE}{_TAG_OWNER} (layout {LAYOUT}); it is rebuilt when needed.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
KERNEL_KEY = "kernels.key"
_FOLDERS = ("modules", "modules/__pycache__", "index", "kernels")
_BOOKKEEPING = {TAG, KERNEL_KEY}  # a layout's own files: not cache content
_TRIES = 5  # writes restarted after a concurrent clear removed the layout under them


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
    return _private(path.stat())


def _private(info: os.stat_result, forbidden: int = 0o022) -> bool:
    """True if the file ``info`` describes is this user's and no one else has ``forbidden``
    access to it (write, by default)."""
    uid = _uid()
    return uid is None or (info.st_uid == uid and not info.st_mode & forbidden)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole (a temp file beside it, renamed), private to this user."""
    with files.replacing(path, mode=0o600) as fh:
        fh.write(data)


@dataclass(frozen=True)
class Entry:
    """A module ready to run: its file's path, the source and code object that were checked
    (or just written), and the cache its compiled kernels belong to.

    >>> import tempfile
    >>> cache = Cache(tempfile.mkdtemp())
    >>> entry = cache.store("request", "0" * 32, "ANSWER = 42")
    >>> entry.path.name, entry.source, cache.lookup("request").source
    ('m_00000000000000000000000000000000.py', b'ANSWER = 42', b'ANSWER = 42')
    """

    path: Path
    source: bytes
    code: CodeType
    cache: Cache


class Cache:
    """One cache root. ``Cache(None)`` uses :func:`default_root`.

    If the root cannot be created or written, or its layout folder holds something symbackprop
    did not make, code goes to a private temporary folder instead, with a warning, so compiling
    still works (only the reuse across processes is lost).
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.base = self.root / LAYOUT
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            if os.path.lexists(self.base):
                self._ensure_layout()
                probe = self.base / "index"
            else:  # made by the first store: a compile that is refused leaves no file
                probe = self.root
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
        self.base = fallback / LAYOUT
        _create_layout(self.base)  # a fresh private folder: nothing there to check

    def _ensure_layout(self) -> None:
        """Make sure ``self.base`` is a private layout symbackprop made, creating it if missing.

        Raises PermissionError for a folder of that name without our tag (the user's own) or
        another account's."""
        for _ in range(_TRIES):
            try:
                if _is_layout(self.base):
                    for folder in (self.base, *(self.base / f for f in _FOLDERS)):
                        _make_private(folder)
                    return
                if not os.path.lexists(self.base):
                    _create_layout(self.base)
                # else: untagged, or a layout that another process cleared or made while we
                # looked (a layout has its tag from the moment it appears): look again
            except FileNotFoundError:
                pass  # cleared while we looked, or while it was being made: start again
        if os.path.lexists(self.base) and not _is_layout(self.base):
            raise PermissionError(f"{self.base} was not made by symbackprop (no {TAG})")
        raise FileNotFoundError(f"{self.base} keeps being removed while it is created")

    def module_path(self, ir_hash: str) -> Path:
        return self.base / "modules" / f"m_{ir_hash}.py"

    def _index_path(self, key: str) -> Path:
        return self.base / "index" / f"{key}.json"

    def lookup(self, key: str) -> Entry | None:
        """The verified module for request ``key``, or None (missing, corrupt, changed, not
        ours or removed while reading: rebuild)."""
        try:
            entry = json.loads(_read_trusted(self._index_path(key)))
            path = self.module_path(entry["module"])
            source = _read_trusted(path)
            if sha256(source) != entry["sha256"]:
                return None
            try:
                pyc = _read_trusted(Path(importlib.util.cache_from_source(str(path))))
            except FileNotFoundError:
                code = None  # no bytecode (removed): compile the verified source
            else:
                if sha256(pyc) != entry["pyc"]:
                    return None
                code = _code_from_pyc(pyc, source, path)
            return Entry(path, source, code or _compile(source, path), self)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, key: str, ir_hash: str, source: str) -> Entry:
        """Write the module (unless an identical one is there), its bytecode, then its index
        entry; returns the entry to run.

        A concurrent clear may remove the layout at any moment: the writes then start again in a
        new one, and if it keeps vanishing the entry is run from memory, uncached."""
        data = source.encode("utf-8")
        for _ in range(_TRIES):
            try:
                return self._write(key, ir_hash, data)
            except FileNotFoundError:
                continue
        path = self.module_path(ir_hash)
        return Entry(path, data, _compile(data, path), self)

    def _write(self, key: str, ir_hash: str, data: bytes) -> Entry:
        self._ensure_layout()
        digest = sha256(data)
        path = self.module_path(ir_hash)
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            current = None
        if current is None or sha256(current) != digest:
            write_atomic(path, data)
        # Bytecode too, even under PYTHONDONTWRITEBYTECODE: a second process then skips
        # compiling a module that can have tens of thousands of lines. It is written here, not
        # by py_compile, which would recreate a cleared layout's folders without their tag.
        code = _compile(data, path)
        pyc = _hash_pyc(code, data)
        write_atomic(Path(importlib.util.cache_from_source(str(path))), pyc)
        entry = json.dumps({"module": ir_hash, "sha256": digest, "pyc": sha256(pyc)}).encode()
        write_atomic(self._index_path(key), entry)
        return Entry(path, data, code, self)

    def store_or_fallback(self, key: str, ir_hash: str, source: str) -> Entry:
        """:meth:`store`, or, when the folder cannot be written (read-only, full), the same in a
        private temporary folder with a warning."""
        try:
            return self.store(key, ir_hash, source)
        except OSError as exc:
            self._use_temporary(f"cannot write to the symbackprop cache folder {self.root} ({exc})")
            return self.store(key, ir_hash, source)

    # -- Numba's compiled kernels (kernels.py decides what to store; here, how) -----------

    def _kernel_key(self) -> bytes | None:
        """The secret that signs this layout's kernel files: None if missing or not private."""
        try:
            key = _read_trusted(self.base / KERNEL_KEY, readable_by_others=False)
        except (OSError, ValueError):
            return None
        return key if len(key) == 32 else None

    def read_kernel(self, name: str) -> bytes | None:
        """The payload of kernel file ``name`` if this cache wrote it: ours, private and its
        HMAC intact; else None (never unpickle it)."""
        key = self._kernel_key()
        if key is None:
            return None
        try:
            data = _read_trusted(self.base / "kernels" / name)
        except (OSError, ValueError):
            return None
        mac, payload = data[:32], data[32:]
        if not hmac.compare_digest(mac, hmac.new(key, payload, "sha256").digest()):
            return None
        return payload

    def store_kernel(self, name: str, payload: bytes) -> None:
        """Sign ``payload`` and write it as kernel file ``name``."""
        try:
            self._ensure_layout()
            key = self._kernel_key()
            if key is not None:
                mac = hmac.new(key, payload, "sha256").digest()
                write_atomic(self.base / "kernels" / name, mac + payload)
        except OSError:
            pass  # the kernel is compiled and in use: only the next process's reuse is lost

    # -- inspection and clearing (``symbackprop cache info|clear``) -----------------------

    def _layouts(self) -> list[Path]:
        """Every folder under the root that symbackprop made (tagged, ours): this layout,
        others' versions, and any a crash left half made or half cleared."""
        try:
            folders = sorted(self.root.iterdir())
        except OSError:
            return []
        return [f for f in folders if _is_layout(f) and _owned(f)]

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
        """Bytes of every file symbackprop keeps here (modules, bytecode, index, compiled
        kernels, other layouts), and of nothing else under the root.

        >>> import tempfile
        >>> Cache(tempfile.mkdtemp()).size()
        0
        """
        return sum(_content_bytes(layout) for layout in self._layouts())

    def clear(self) -> int:
        """Delete every layout folder symbackprop made here; returns the bytes freed.

        Nothing else under the root is touched (it may be a folder the user chose through
        $SYMBACKPROP_CACHE_DIR). Each layout is first renamed away, so a process compiling at
        the same moment sees it whole or not at all, and rebuilds what it needs.

        >>> import tempfile, sympy as sp, symbackprop as sb
        >>> cache = Cache(tempfile.mkdtemp())
        >>> x = sp.Symbol("x")
        >>> _ = sb.compile(x**2, [x], cache_dir=cache.root)
        >>> len(cache.entries()), cache.clear() > 0, cache.entries(), cache.size()
        (1, True, [], 0)
        """
        freed = 0
        for layout in self._layouts():
            size = _content_bytes(layout)
            trash = layout.with_name(f".symbackprop-clearing-{secrets.token_hex(8)}")
            try:
                os.rename(layout, trash)
            except FileNotFoundError:
                continue  # another process cleared it first
            shutil.rmtree(trash, ignore_errors=True)
            freed += size
        return freed


def _is_layout(folder: Path) -> bool:
    """True if ``folder`` carries symbackprop's cache tag."""
    try:
        with open(folder / TAG, encoding="utf-8") as fh:
            text = fh.read(len(_TAG_SIGNATURE) + len(_TAG_OWNER))
    except (OSError, UnicodeDecodeError):
        return False
    return text == _TAG_SIGNATURE + _TAG_OWNER


def _owned(folder: Path) -> bool:
    try:
        return trusted(folder)
    except OSError:
        return False  # removed meanwhile


def _create_layout(base: Path) -> None:
    """Build a layout (tag, folders, kernel key) under a temporary name and rename it to
    ``base``; if another process's layout got there first, that one is used."""
    tmp = Path(tempfile.mkdtemp(prefix=".symbackprop-new-", dir=base.parent))  # 0700
    try:
        (tmp / TAG).write_text(_TAG_TEXT, encoding="utf-8")
        for folder in _FOLDERS:
            (tmp / folder).mkdir(mode=0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp / KERNEL_KEY, flags, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        try:
            os.rename(tmp, base)
        except OSError:
            if not os.path.lexists(base):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_trusted(path: Path, readable_by_others: bool = True) -> bytes:
    """The bytes of ``path``; ValueError if another account owns it or could write it (or,
    with ``readable_by_others=False``, read it). Checked on the open file, so a file swapped
    in between the check and the read is not read."""
    with open(path, "rb") as fh:
        if not _private(os.fstat(fh.fileno()), 0o022 if readable_by_others else 0o077):
            raise ValueError(f"{path} is not private to this user")
        return fh.read()


def _compile(source: bytes, path: Path) -> CodeType:
    # dont_inherit: this module's own __future__ imports must not change the generated code's.
    return compile(source, str(path), "exec", dont_inherit=True)


def _hash_pyc(code: CodeType, source: bytes) -> bytes:
    """A checked-hash .pyc (PEP 552) of ``code``: the same bytes from every process, so the
    sha256 recorded for it holds when processes store one module at once."""
    flags = (0b11).to_bytes(4, "little")  # hash-based, checked against the source
    return (
        importlib.util.MAGIC_NUMBER
        + flags
        + importlib.util.source_hash(source)
        + (marshal.dumps(code))
    )


def _code_from_pyc(pyc: bytes, source: bytes, path: Path) -> CodeType | None:
    """The code object in ``pyc`` if it was compiled from ``source`` by this Python, else None."""
    if pyc[:4] != importlib.util.MAGIC_NUMBER or pyc[8:16] != importlib.util.source_hash(source):
        return None
    code = marshal.loads(memoryview(pyc)[16:])
    # The file names recorded inside are where it was compiled; point them here, as importlib
    # does, for a cache folder that was moved.
    _imp._fix_co_filename(code, str(path))
    return code


def _content_bytes(layout: Path) -> int:
    """Bytes of the cache files in ``layout`` (not its tag and key)."""
    total = 0
    # os.walk skips a folder removed while it walks (a concurrent clear); rglob raises.
    for folder, _, names in os.walk(layout):
        for name in names:
            path = Path(folder) / name
            try:
                if not path.is_symlink() and path.is_file() and name not in _BOOKKEEPING:
                    total += path.stat().st_size
            except OSError:
                pass  # removed while we walked: not counted
    return total


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
