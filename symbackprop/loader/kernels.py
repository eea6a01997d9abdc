"""Numba's compiled kernels for the modules in symbackprop's cache, kept in that cache and
checked before Numba unpickles them.

Numba's own cache files are pickles, looked for beside the module or in $NUMBA_CACHE_DIR (often
a shared folder); loading one runs whatever it holds. Each kernel of a cached module gets a
:class:`KernelCache` instead, whatever $NUMBA_CACHE_DIR says: one file per kernel and signature
in the layout's ``kernels/`` folder, signed by the cache (see ``Cache.read_kernel``), so a file
that is damaged, planted or writable by others is never unpickled: the kernel is compiled again.
"""

from __future__ import annotations

import hashlib
import pickle
import sys

import numba
from numba.core import compiler, serialize
from numba.core.caching import _Cache
from numba.core.dispatcher import Dispatcher


class KernelCache(_Cache):
    """Numba's per-function cache interface (what ``cache=True`` gives a dispatcher), storing
    through a symbackprop :class:`~symbackprop.loader.cache.Cache` (see :func:`attach`)."""

    def __init__(self, py_func, entry):
        self._py_func = py_func
        self._cache = entry.cache
        self._name = f"{entry.path.stem}.{py_func.__qualname__}"
        # What the compiled code depends on besides its signature and target (Numba's own
        # index key holds those): the module's source, and the Numba and Python that built it.
        self._stamp = (
            hashlib.sha256(entry.source).hexdigest(),
            hashlib.sha256(py_func.__code__.co_code).hexdigest(),
            numba.__version__,
            sys.implementation.cache_tag,
        )
        self._enabled = True

    @property
    def cache_path(self) -> str:
        return str(self._cache.base / "kernels")

    def enable(self):
        self._enabled = True

    def disable(self):
        self._enabled = False

    def flush(self):
        pass  # files are keyed by everything the code depends on: none can be stale

    def _key(self, sig, codegen) -> tuple:
        return (sig, codegen.magic_tuple(), self._stamp)

    def _file_name(self, key: tuple) -> str:
        # repr(key) names every part (types print their full names); the key stored in the
        # file is compared on loading, so equal names for unequal keys are only a miss.
        return f"{self._name}-{hashlib.sha256(repr(key).encode()).hexdigest()[:32]}.nbk"

    def load_overload(self, sig, target_context):
        target_context.refresh()  # as Numba's own cache does before rebuilding code
        if not self._enabled:
            return None
        key = self._key(sig, target_context.codegen())
        payload = self._cache.read_kernel(self._file_name(key))
        if payload is None:
            return None
        stored_key, reduced = pickle.loads(payload)  # signed by this cache: ours
        if stored_key != key:
            return None
        return compiler.CompileResult._rebuild(target_context, *reduced)

    def save_overload(self, sig, cres):
        if not self._enabled or not _cachable(cres):
            return
        key = self._key(sig, cres.codegen)
        payload = serialize.dumps((key, cres._reduce()))
        self._cache.store_kernel(self._file_name(key), payload)


def _cachable(cres) -> bool:
    """Numba's own test: code with lifted loops or dynamic globals cannot be cached."""
    return all(x.can_cache for x in cres.lifted) and not cres.library.has_dynamic_globals


def attach(module, entry) -> None:
    """Give every Numba kernel defined in ``module`` (run from cache ``entry``) a KernelCache,
    before any of them compiles. Per dispatcher: Numba itself is left as it is.

    >>> import tempfile, sympy as sp, symbackprop as sb
    >>> x = sp.Symbol("x")
    >>> module = sb.compile(x**2, [x], cache_dir=tempfile.mkdtemp())._first
    >>> type(module._value._cache).__name__, module._value.stats.cache_path.endswith("kernels")
    ('KernelCache', True)
    """
    for value in vars(module).values():
        if isinstance(value, Dispatcher) and value.py_func.__module__ == module.__name__:
            value._cache = KernelCache(value.py_func, entry)
