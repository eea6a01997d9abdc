"""sb.compile: front end -> IR -> derivative program -> optimizer passes -> printer -> loader.

Each stage is timed for the cost report. A compile request is hashed first (expressions,
variables, constants, package version, templates); a cached module for that hash is loaded
without any SymPy or Numba work.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp

from . import __version__, debug
from .cost import CostReport, count_ops
from .derivatives.program import scalar_program, vector_program
from .errors import SymbackpropError
from .frontend.scalar import finite_float, to_ir, variable_nodes
from .frontend.symbols import symbol_list
from .limits import check_size, check_variables, recursion_guard
from .loader.cache import Cache
from .loader.compiled import CompiledFunction, import_module
from .passes import optimize
from .printer.module import generator_digest
from .printer.numba import Kernel
from .printer.scalar_module import scalar_module_source

FIRST_ORDER_KERNELS = (
    Kernel("_value", ("xs",), returns=("value",), doc="f(x)"),
    Kernel("_grad_into", ("xs",), stores=("grad",), doc="grad[i] = df/dx_i: one reverse sweep"),
    Kernel(
        "_value_and_grad_into",
        ("xs",),
        stores=("grad",),
        returns=("value",),
        forward_first="value",
        doc="f(x), and its gradient into grad",
    ),
)
SECOND_ORDER_KERNELS = (
    Kernel(
        "_hessian_into",
        ("xs",),
        stores=("hessian",),
        doc="hessian[i, j] = d2f/dx_i dx_j: upper-triangle nonzeros, mirrored",
    ),
    Kernel(
        "_hvp_into", ("xs", "vs"), stores=("hvp",), doc="hvp = H(x) v: one sweep over grad f . v"
    ),
)
VECTOR_KERNELS = (
    Kernel("_value_into", ("xs",), stores=("value",), doc="value[i] = f_i(x)"),
    Kernel(
        "_jacobian_into",
        ("xs",),
        stores=("jacobian",),
        forward_first="value",
        doc="jacobian[i, j] = df_i/dx_j: one reverse sweep per output",
    ),
)


@dataclass(frozen=True)
class Request:
    """A validated compile request; ``key(order)`` names its cache entry."""

    exprs: tuple[sp.Expr, ...]
    variables: tuple[sp.Symbol, ...]
    constants: tuple[tuple[sp.Symbol, float], ...]
    vector: bool
    cache_dir: object = None

    def key(self, second_order: bool) -> str:
        return cache_key(
            "vector" if self.vector else "scalar",
            str(second_order),
            repr([sp.srepr(v) for v in self.variables]),
            repr(sorted((sp.srepr(k), float.hex(v)) for k, v in self.constants)),
            structural_digest(self.exprs),
        )


def cache_key(*parts: str | bytes) -> str:
    """The cache key of a request described by ``parts``, for this version of the generator
    (package version, templates and source), so a changed generator never reuses old code."""
    h = hashlib.sha256()
    for part in (__version__, generator_digest()) + parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def structural_digest(exprs) -> bytes:
    """A process-independent hash of SymPy expression trees (srepr is exact but slow: its
    printer takes ~1 ms per node; this walks each shared subtree once)."""
    digests: dict[sp.Basic, bytes] = {}
    for root in exprs:
        stack = [(root, False)]
        while stack:
            expr, ready = stack.pop()
            if expr in digests:
                continue
            if expr.args and not ready:
                stack.append((expr, True))
                stack.extend((a, False) for a in expr.args if a not in digests)
                continue
            h = hashlib.blake2b(type(expr).__name__.encode(), digest_size=16)
            if not expr.args:
                h.update(sp.srepr(expr).encode())
            for a in expr.args:
                h.update(digests[a])
            digests[expr] = h.digest()
    return b"".join(digests[e] for e in exprs)


def compile(f, vars, constants=None, *, data=None, rows=None, cache_dir=None):
    """Compile a SymPy expression (or a list of them) in ``vars`` to Numba functions.

    With ``data`` (a list of ``sympy.IndexedBase`` arrays read as ``t[i]`` or ``X[i, j]``, and
    plain Symbols for scalars), ``vars`` are the parameters and the data are call-time
    arguments, never differentiated: ``fn(theta, t=..., y=...)`` (or positionally after theta).
    Each ``Sum`` over the data is one loop in the generated code, whatever the number of rows.
    ``rows=i`` compiles a per-row residual r_i: ``fn(theta, ...)`` is (N,), ``fn.jacobian`` (N, P).
    See DataFunction.

    ``constants`` maps symbols (or their names) to numbers folded into the code. Value and
    gradient code (the Jacobian for a list) is generated now; Hessian and Hessian-vector
    product code on their first use (or by ``save``/``source``). Results are cached on disk
    (``cache_dir``, else $SYMBACKPROP_CACHE_DIR, else the user cache folder).

    >>> import sympy as sp, symbackprop as sb
    >>> x, y, a = sp.symbols("x y a")
    >>> fn = sb.compile(a * x**2 + sp.sin(y), [x, y], constants={a: 3})
    >>> fn.hessian([1.0, 0.0])
    array([[ 6.,  0.],
           [ 0., -0.]])
    """
    exprs, vector = _expressions(f)
    variables = symbol_list(vars, distinct=True)
    check_variables(len(variables))
    # One iterative walk: size and depth limits, free symbols, and hashes cached bottom-up (so
    # nothing below recurses through SymPy's own hashing or free_symbols on a deep tree).
    size = check_size(exprs, "f")
    _check_matrix(exprs, size)
    free = size.free_symbols
    consts = _constants(constants, variables, free)
    if data is not None or rows is not None:
        from .datamodels import compile_data  # the data front end builds on this module

        if data is None:
            raise SymbackpropError("rows= needs data=: the data arrays the rows index")
        return compile_data(
            exprs, vector, variables, data, rows, tuple(consts.items()), check_cache_dir(cache_dir)
        )
    _check_free_symbols(free, variables, consts)
    request = Request(
        tuple(exprs), tuple(variables), tuple(consts.items()), vector, check_cache_dir(cache_dir)
    )
    with recursion_guard("sb.compile", exprs):  # a safety net: the path above is iterative
        module, path, seconds = build(request, second_order=False)
    upgrade = None if vector else (lambda: _guarded_build(request))
    return CompiledFunction(module, path, seconds, upgrade)


def _guarded_build(request: Request):
    with recursion_guard("sb.compile (second derivatives)", request.exprs):
        return build(request, second_order=True)


def build(request: Request, second_order: bool):
    """(module, path, seconds by stage) for ``request``: from the cache, else generated."""

    def generate(timer: Stages) -> tuple[str, str]:
        leaves = variable_nodes(request.variables)
        nodes = to_ir(request.exprs, dict(zip(request.variables, leaves)), dict(request.constants))
        timer.stage("front end")
        optimize_timed = timer.timed("passes", optimize)
        if request.vector:
            raw, graph = vector_program(nodes, leaves, optimize_timed)
            groups = {"value": ["value"], "jacobian": ["value", "jacobian"]}
            kernels = VECTOR_KERNELS
        else:
            raw, graph = scalar_program(nodes[0], leaves, optimize_timed, second_order)
            groups = {"value": ["value"], "grad": ["grad"]}
            kernels = FIRST_ORDER_KERNELS
            if second_order:
                groups.update(hessian=["hessian"], hvp=["hvp"])
                kernels += SECOND_ORDER_KERNELS
        timer.stage("derivatives", minus=timer.seconds.get("passes", 0.0))
        cost = CostReport(
            {k: count_ops(raw[k], g) for k, g in groups.items()},
            {k: count_ops(graph, g) for k, g in groups.items()},
        )
        source = scalar_module_source(
            request.exprs,
            request.variables,
            request.constants,
            request.vector,
            graph,
            kernels,
            second_order,
            cost,
        )
        timer.stage("printer")
        return source, graph.digest()

    return cached_module(Cache(request.cache_dir), request.key(second_order), generate)


def cached_module(cache: Cache, key: str, generate):
    """Load the module cached under ``key``, or make it: ``generate(timer) -> (source, ir
    digest)``, then store (atomically) and import. Returns (module, path, seconds by stage)."""
    timer = Stages()
    entry = cache.lookup(key)
    if entry is not None:
        try:
            return import_module(entry), entry.path, {"cache load": timer.lap()}
        except Exception:  # an entry that verifies but will not import is rebuilt below
            pass
    source, ir_digest = generate(timer)
    ir_hash = hashlib.sha256((ir_digest + key).encode()).hexdigest()[:32]
    entry = cache.store_or_fallback(key, ir_hash, source)
    if debug.level():
        debug.log(f"generated {entry.path}" + (f":\n{source}" if debug.level() >= 3 else ""))
    module = import_module(entry)
    timer.stage("write and import")
    return module, entry.path, dict(timer.seconds)


# ---- input normalisation -----------------------------------------------------------------


def _expressions(f) -> tuple[list[sp.Basic], bool]:
    if isinstance(f, str):
        raise SymbackpropError(
            "f must be a SymPy expression, not a string; build it with "
            "sympy (e.g. sympy.Symbol) or check_derivative's parser"
        )
    if isinstance(f, (sp.MatrixBase, list, tuple)):
        items = list(f) if not isinstance(f, sp.MatrixBase) else list(f)
        if not items:
            raise SymbackpropError("f is an empty list: give at least one expression")
        return [_one_expression(e, k) for k, e in enumerate(items)], True
    return [_one_expression(f, None)], False


def _one_expression(e, k) -> sp.Basic:
    where = "f" if k is None else f"f[{k}]"
    if isinstance(e, (int, float, np.number)) and not isinstance(e, bool):
        return sp.Float(float(e)) if isinstance(e, (float, np.floating)) else sp.Integer(int(e))
    if not isinstance(e, sp.Expr):
        raise SymbackpropError(f"{where} must be a SymPy expression; got {type(e).__name__}: {e!r}")
    if isinstance(e, sp.MatrixExpr):
        raise SymbackpropError(
            f"{where} is a matrix expression; compile scalar expressions or a list of them"
        )
    return e


def _check_matrix(exprs, size) -> None:
    if any(issubclass(t, sp.MatrixExpr) for t in size.types):  # e.g. a MatrixSymbol's element
        raise SymbackpropError(
            "f contains a matrix expression; compile scalar expressions or a list of them"
        )


def check_cache_dir(cache_dir):
    """``cache_dir`` as a str (None stays None), or SymbackpropError naming it if it cannot be
    a folder path: not a str or os.PathLike, empty (that would be the working directory, not
    a cache folder), holding a NUL byte or text the file system cannot encode, or ~user of no
    such user. A folder that cannot be created or written is not refused: the cache falls back
    to a private temporary folder, with a warning.

    >>> check_cache_dir("a\\0b")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: cache_dir 'a\\x00b' holds a NUL byte (at position 1), \
which no file name can
    """
    if cache_dir is None:
        return None
    if not isinstance(cache_dir, (str, os.PathLike)):
        raise SymbackpropError(
            f"cache_dir must be a folder path (str or pathlib.Path) or None; got "
            f"{type(cache_dir).__name__}: {cache_dir!r}"
        )
    try:
        text = os.fspath(cache_dir)
    except Exception as exc:  # a user's PathLike whose __fspath__ fails
        raise SymbackpropError(f"cache_dir {cache_dir!r} is not a path: {exc}") from None
    if not isinstance(text, str):
        raise SymbackpropError(f"cache_dir must be a str path; {cache_dir!r} gives {text!r}")
    if not text.strip():
        raise SymbackpropError("cache_dir is an empty string; give a folder, or None")
    if "\0" in text:
        raise SymbackpropError(
            f"cache_dir {text!r} holds a NUL byte (at position {text.index(chr(0))}), which no "
            "file name can"
        )
    try:
        os.fsencode(text)
        Path(text).expanduser()
    except UnicodeEncodeError as exc:
        raise SymbackpropError(
            f"cache_dir {text!r} cannot be encoded for the file system ({exc.reason} at "
            f"position {exc.start})"
        ) from None
    except RuntimeError as exc:  # ~name of no such user
        raise SymbackpropError(f"cache_dir {text!r}: ~ cannot be expanded ({exc})") from None
    return text


def _constants(constants, variables, free) -> dict[sp.Symbol, float]:
    if constants is None:
        return {}
    if not isinstance(constants, Mapping):
        raise SymbackpropError("constants must be a dict mapping symbols to numbers")
    # A name means the symbol of that name in the expressions or variables, whatever its
    # assumptions (Symbol("a") and Symbol("a", real=True) are different symbols to SymPy).
    by_name: dict[str, sp.Symbol] = {}
    for sym in set(variables) | set(free):
        by_name.setdefault(str(sym), sym)
    out: dict[sp.Symbol, float] = {}
    for k, v in constants.items():
        sym = by_name.get(k, sp.Symbol(k)) if isinstance(k, str) else k
        if not isinstance(sym, sp.Symbol):
            raise SymbackpropError(f"constant key {k!r} is not a symbol or a name")
        if sym in variables:
            raise SymbackpropError(f"{sym} is both a variable and a constant")
        out[sym] = finite_float(v, f"constant {sym} =")
    return out


def _check_free_symbols(free, variables, consts) -> None:
    known = set(variables) | set(consts)
    for s in sorted(set(free) - known, key=str):
        raise SymbackpropError(
            f"free symbol {s} is neither a variable nor a constant; add it to vars or "
            f"give its value with constants={{{s}: ...}}"
        )


class Stages:
    """Wall-clock seconds per compile stage."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        return elapsed

    def stage(self, name: str, minus: float = 0.0) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + self.lap() - minus

    def timed(self, name: str, fn):
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

        return run
