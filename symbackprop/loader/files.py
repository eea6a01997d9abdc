"""Files symbackprop writes for the user (saved modules, trained parameters): checked before any
work, then written whole or not at all (a temp file beside the target, renamed over it), with
the permissions ``open(path, "w")`` would give, and never over a file the user made read-only.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import SymbackpropError


def as_path(path, what: str = "path") -> Path:
    """``path`` (a str or os.PathLike) as a Path; anything else is refused, naming ``what``.

    >>> as_path("params.npz").name
    'params.npz'
    >>> as_path(3, "save path")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: save path must be a str or path; got int
    """
    if not isinstance(path, (str, os.PathLike)):
        raise SymbackpropError(f"{what} must be a str or path; got {type(path).__name__}")
    return Path(path)


def target(path, suffix: str) -> Path:
    """``path`` as a Path that can be saved to: it ends in ``suffix``, its folder exists and
    can be written, and it is not a folder, a special file or a read-only file.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> target(folder / "net.py", ".py") == folder / "net.py"
    True
    >>> target("net.txt", ".py")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: save path net.txt must end in .py
    """
    path = as_path(path, "save path")
    if path.suffix != suffix:
        raise SymbackpropError(f"save path {path} must end in {suffix}")
    folder = path.parent
    if not folder.is_dir():
        raise SymbackpropError(f"cannot save to {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SymbackpropError(f"cannot save to {path}: folder {folder} is not writable")
    try:
        info = path.stat()
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise SymbackpropError(f"cannot save to {path}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise SymbackpropError(f"cannot save to {path}: it is a folder")
    if not stat.S_ISREG(info.st_mode):
        raise SymbackpropError(f"cannot save to {path}: it is not a regular file")
    # The mode bits as well as access(): for root, access() says yes to a 0444 file.
    if not info.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise SymbackpropError(f"cannot save to {path}: the file is read-only")
    return path


@contextmanager
def replacing(path: Path, mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary file for ``path``'s new content. When the block ends normally it replaces
    ``path`` in one rename; on any exception (or a kill) ``path`` keeps its old content.

    A new file gets the permissions the umask gives (0644 typically), an existing one keeps its
    own, as with ``open(path, "w")``; ``mode`` sets them instead (the cache's private files).

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with replacing(path) as fh:
    ...     _ = fh.write(b"all or nothing")
    >>> path.read_bytes()
    b'all or nothing'
    """
    keep_mode = mode
    if keep_mode is None:
        try:
            keep_mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            pass
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())  # the data is on disk before the rename can be
        if keep_mode is not None:
            os.chmod(tmp, keep_mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new empty temp file in ``path``'s folder (so the rename stays on one file system)."""
    # os.open with mode 0o666 rather than mkstemp (always 0600): the kernel applies the umask,
    # which Python can only read by setting it, a process-wide change other threads would see.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
