"""Resource limits: expression size and depth, the symbolic simplification budget, the size of
a dense Hessian and of a network. Each limit has a documented default that an environment
variable overrides (read at each check, so a running process can change it); exceeding one
raises SymbackpropError.

=================  =================================  ==========  ==========================
limit              environment variable               default     checked by
=================  =================================  ==========  ==========================
MAX_NODES          SYMBACKPROP_MAX_NODES              50000       sb.compile, sb.grad, ...
MAX_DEPTH          SYMBACKPROP_MAX_DEPTH              100000      sb.compile, sb.grad, ...
MAX_VARIABLES      SYMBACKPROP_MAX_VARIABLES          2000        sb.compile
SIMPLIFY_SECONDS   SYMBACKPROP_SIMPLIFY_SECONDS       5.0         sb.grad(simplify="full")
MAX_HESSIAN_BYTES  SYMBACKPROP_MAX_HESSIAN_BYTES      2 GiB       fn.hessian, model.hessian
MAX_PARAM_BYTES    SYMBACKPROP_MAX_PARAM_BYTES        2 GiB       sb.Sequential
MAX_LAYERS         SYMBACKPROP_MAX_LAYERS             100         sb.Sequential
MAX_PIECES         SYMBACKPROP_MAX_PIECES             10          sb.Maxout
=================  =================================  ==========  ==========================

Nodes are distinct subexpressions (a shared subtree counts once), depth is the longest chain
from the root to a leaf. MAX_NODES and MAX_VARIABLES bound what Numba is asked to compile:
its compile time grows faster than linearly in the size of one straight-line function (about
45 s for a gradient over 1000 variables, 220 s over 2000), so larger requests are refused
rather than left to run for hours. Every traversal here is iterative, so depth is bounded only by
MAX_DEPTH; SymPy's own recursive algorithms (``diff``, ``simplify``, printing) are not, and a
RecursionError from them becomes SymbackpropError naming the depth (``recursion_guard``).

A network is checked when it is built, before anything is allocated or generated (so also from
a spec file and the command line): MAX_PARAM_BYTES bounds its float64 parameters (init_params,
the gradient and an optimizer's state each hold that much again); MAX_LAYERS and MAX_PIECES
bound the generated code, which grows with each layer and, for a Maxout layer, with the square
of its pieces (each piece's gradient re-evaluates the max over all of them: the module of a
Maxout of 10 pieces is 200 KB, of 32 pieces 4.4 MB), while Numba's compile time grows faster.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sympy as sp

from .errors import SymbackpropError

# Defaults; the environment variables in ENVIRONMENT override them.
MAX_NODES = 50_000
MAX_DEPTH = 100_000
MAX_VARIABLES = 2000
SIMPLIFY_SECONDS = 5.0
MAX_HESSIAN_BYTES = 2 * 1024**3
MAX_PARAM_BYTES = 2 * 1024**3
MAX_LAYERS = 100
MAX_PIECES = 10

ENVIRONMENT = {
    "MAX_NODES": "SYMBACKPROP_MAX_NODES",
    "MAX_DEPTH": "SYMBACKPROP_MAX_DEPTH",
    "MAX_VARIABLES": "SYMBACKPROP_MAX_VARIABLES",
    "SIMPLIFY_SECONDS": "SYMBACKPROP_SIMPLIFY_SECONDS",
    "MAX_HESSIAN_BYTES": "SYMBACKPROP_MAX_HESSIAN_BYTES",
    "MAX_PARAM_BYTES": "SYMBACKPROP_MAX_PARAM_BYTES",
    "MAX_LAYERS": "SYMBACKPROP_MAX_LAYERS",
    "MAX_PIECES": "SYMBACKPROP_MAX_PIECES",
}
_DEFAULTS = {
    "MAX_NODES": MAX_NODES,
    "MAX_DEPTH": MAX_DEPTH,
    "MAX_VARIABLES": MAX_VARIABLES,
    "SIMPLIFY_SECONDS": SIMPLIFY_SECONDS,
    "MAX_HESSIAN_BYTES": MAX_HESSIAN_BYTES,
    "MAX_PARAM_BYTES": MAX_PARAM_BYTES,
    "MAX_LAYERS": MAX_LAYERS,
    "MAX_PIECES": MAX_PIECES,
}


def limit(name: str) -> float:
    """The current value of limit ``name``: its environment variable if set, else the default.

    >>> limit("MAX_DEPTH")
    100000
    >>> import os
    >>> os.environ["SYMBACKPROP_MAX_DEPTH"] = "50"
    >>> limit("MAX_DEPTH")
    50
    >>> os.environ["SYMBACKPROP_MAX_DEPTH"] = "deep"
    >>> limit("MAX_DEPTH")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: SYMBACKPROP_MAX_DEPTH='deep' is not a positive number
    >>> del os.environ["SYMBACKPROP_MAX_DEPTH"]
    """
    if name not in _DEFAULTS:
        raise SymbackpropError(f"unknown limit {name!r}; known: {', '.join(_DEFAULTS)}")
    default = _DEFAULTS[name]
    variable = ENVIRONMENT[name]
    text = os.environ.get(variable)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise SymbackpropError(f"{variable}={text!r} is not a positive number")
    return int(value) if isinstance(default, int) else value


# ---- expression size and depth ---------------------------------------------------------------


@dataclass(frozen=True)
class ExpressionSize:
    """What one iterative walk over SymPy expressions found."""

    nodes: int  # distinct subexpressions (by identity: a shared object counts once)
    depth: int  # longest root-to-leaf chain; a lone symbol has depth 1
    tree_size: int  # nodes with every shared subtree counted at each use (what printing visits)
    free_symbols: frozenset  # as SymPy's free_symbols (variables bound by a Lambda left out)
    types: frozenset  # the classes of all subexpressions


def measure(exprs: Iterable[sp.Basic]) -> ExpressionSize:
    """Size, depth, symbols and node classes of ``exprs``, without recursion.

    It also computes each subexpression's hash and ``is_commutative`` bottom-up, so that
    SymPy's own (recursive, cached on first use) versions of them are never deep afterwards:
    dicts and sets keyed by these expressions, and building Add/Mul on top of them, are safe
    however deep they are.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> e = x
    >>> for _ in range(5000):
    ...     e = sp.sin(e, evaluate=False)
    >>> s = measure([e, sp.cos(y)])
    >>> s.depth, s.nodes, sorted(map(str, s.free_symbols))
    (5001, 5003, ['x', 'y'])
    """
    depth_of: dict[int, int] = {}
    tree_of: dict[int, int] = {}
    keep: list[sp.Basic] = []  # keeps ids valid during the walk
    symbols: set = set()
    types: set = set()
    deepest = tree = 0
    binds = False  # a Lambda, Integral, Sum, Subs...: its bound variables are not free
    exprs = list(exprs)
    for root in exprs:
        if not isinstance(root, sp.Basic) or id(root) in depth_of:
            continue
        stack = [(root, False)]
        while stack:
            expr, ready = stack.pop()
            key = id(expr)
            if key in depth_of:
                continue
            args = [a for a in expr.args if isinstance(a, sp.Basic)]
            if not ready and args:
                stack.append((expr, True))
                stack.extend((a, False) for a in args if id(a) not in depth_of)
                continue
            depth_of[key] = 1 + max((depth_of[id(a)] for a in args), default=0)
            tree_of[key] = 1 + sum(tree_of[id(a)] for a in args)
            keep.append(expr)
            types.add(type(expr))
            hash(expr)  # its arguments' hashes are cached already: one level of recursion
            expr.is_commutative  # likewise (SymPy asks it whenever it builds Add or Mul)
            if expr.is_Symbol:
                symbols.add(expr)
            binds = binds or bool(getattr(expr, "bound_symbols", None))
        deepest = max(deepest, depth_of[id(root)])
        tree += tree_of[id(root)]
    if binds:
        try:
            symbols = set().union(*(e.free_symbols for e in exprs if isinstance(e, sp.Basic)))
        except RecursionError:  # deep and binding: every symbol counts as free
            pass
    return ExpressionSize(len(depth_of), deepest, tree, frozenset(symbols), frozenset(types))


def check_size(exprs: Iterable[sp.Basic], what: str = "f") -> ExpressionSize:
    """``measure(exprs)``, raising SymbackpropError if they exceed MAX_NODES or MAX_DEPTH.

    >>> import os, sympy as sp
    >>> x = sp.Symbol("x")
    >>> os.environ["SYMBACKPROP_MAX_DEPTH"] = "3"
    >>> check_size([sp.sin(sp.cos(sp.exp(x)))])
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: f is nested 4 levels deep, more than the limit 3 \
(MAX_DEPTH; raise it with SYMBACKPROP_MAX_DEPTH)
    >>> del os.environ["SYMBACKPROP_MAX_DEPTH"]
    """
    size = measure(exprs)
    check_count("MAX_DEPTH", size.depth, f"{what} is nested {size.depth} levels deep")
    check_count("MAX_NODES", size.nodes, f"{what} has {size.nodes} distinct subexpressions")
    return size


def check_variables(count: int, what: str = "vars") -> None:
    """Raise SymbackpropError if ``count`` variables exceed MAX_VARIABLES.

    >>> check_variables(10)
    >>> check_variables(10_001)
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: vars has 10001 variables, more than the limit 2000 \
(MAX_VARIABLES; Numba's compile time grows quadratically beyond it; raise it with \
SYMBACKPROP_MAX_VARIABLES)
    """
    check_count(
        "MAX_VARIABLES",
        count,
        f"{what} has {count} variables",
        "Numba's compile time grows quadratically beyond it",
    )


def check_count(name: str, count: int, what: str, why: str = "") -> None:
    """Raise SymbackpropError, saying ``what`` was counted and ``why`` the limit is there, if
    ``count`` exceeds limit ``name``.

    >>> check_count("MAX_PIECES", 11, "Maxout(4, 11) has 11 pieces", "the code grows")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: Maxout(4, 11) has 11 pieces, more than the limit 10 \
(MAX_PIECES; the code grows; raise it with SYMBACKPROP_MAX_PIECES)
    """
    cap = limit(name)
    if count > cap:
        reason = f"{why}; " if why else ""
        raise SymbackpropError(
            f"{what}, more than the limit {cap} ({name}; {reason}raise it with {ENVIRONMENT[name]})"
        )


@contextmanager
def recursion_guard(what: str, exprs: Iterable[sp.Basic] = ()) -> Iterator[None]:
    """Turn a RecursionError (SymPy's recursive algorithms on a deep tree) into
    SymbackpropError naming ``what`` and the depth of ``exprs``.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> e = x
    >>> for _ in range(3000):
    ...     e = sp.sin(e, evaluate=False)
    >>> with recursion_guard("sympy.diff", [e]):
    ...     sp.diff(e, x)
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: sympy.diff: the expression is nested 3001 levels deep, \
too deep for SymPy's recursive algorithms; compile it with sb.compile (iterative), or build it \
less deeply
    """
    try:
        yield
    except RecursionError:
        depth = measure(list(exprs)).depth
        shown = f"nested {depth} levels deep" if depth else "too deeply nested"
        raise SymbackpropError(
            f"{what}: the expression is {shown}, too deep for SymPy's recursive algorithms; "
            "compile it with sb.compile (iterative), or build it less deeply"
        ) from None


# ---- the symbolic simplification budget --------------------------------------------------------


class Deadline:
    """A time budget shared by several steps: ``remaining()`` seconds are left of ``seconds``
    (default: the SIMPLIFY_SECONDS limit). It is checked between steps, never by interrupting
    one (no signals or timers), so it works in any thread and beside any other timer.

    >>> d = Deadline(10.0)
    >>> 9.0 < d.remaining() <= 10.0, d.expired()
    (True, False)
    """

    def __init__(self, seconds: float | None = None):
        self.seconds = limit("SIMPLIFY_SECONDS") if seconds is None else float(seconds)
        self._end = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0


# ---- dense Hessians ------------------------------------------------------------------------


def check_dense_hessian(parameters: int, what: str = "hessian", batch: int = 1) -> int:
    """The bytes of a dense float64 Hessian over ``parameters`` (times ``batch`` Hessians);
    raises SymbackpropError, before any work, if that exceeds MAX_HESSIAN_BYTES.

    >>> check_dense_hessian(1000)
    8000000
    >>> check_dense_hessian(235146, "model.hessian")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: model.hessian: a dense Hessian over P=235146 \
parameters needs 442349130528 bytes (412.0 GiB), more than the limit 2147483648 bytes \
(2.0 GiB; MAX_HESSIAN_BYTES, set by SYMBACKPROP_MAX_HESSIAN_BYTES); use Hessian-vector \
products or a smaller model
    """
    p, batch = int(parameters), max(1, int(batch))
    need = p * p * 8 * batch
    many = f"{batch} dense Hessians" if batch > 1 else "a dense Hessian"
    check_bytes(
        "MAX_HESSIAN_BYTES",
        need,
        f"{what}: {many} over P={p} parameters needs",
        "use Hessian-vector products or a smaller model",
    )
    return need


def check_bytes(name: str, need: int, what: str, advice: str) -> None:
    """Raise SymbackpropError if ``need`` bytes exceed limit ``name``: "``what`` N bytes (G
    GiB), more than the limit ...; ``advice``".

    >>> check_bytes("MAX_PARAM_BYTES", 8 * 10**12, "W1 needs", "use fewer units")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: W1 needs 8000000000000 bytes (7450.6 GiB), more than \
the limit 2147483648 bytes (2.0 GiB; MAX_PARAM_BYTES, set by SYMBACKPROP_MAX_PARAM_BYTES); use \
fewer units
    """
    cap = limit(name)
    if need > cap:
        raise SymbackpropError(
            f"{what} {need} bytes ({need / 1024**3:.1f} GiB), more than the limit {int(cap)} "
            f"bytes ({cap / 1024**3:.1f} GiB; {name}, set by {ENVIRONMENT[name]}); {advice}"
        )


def hessian_batch(x) -> int:
    """How many Hessians a call with ``x`` asks for: its rows if 2-D, else 1 (never raises;
    malformed ``x`` is the validating entry point's to reject).

    >>> import numpy as np
    >>> hessian_batch(np.zeros(3)), hessian_batch(np.zeros((7, 3))), hessian_batch("x")
    (1, 7, 1)
    """
    shape = getattr(x, "shape", None)
    if shape is None:
        try:
            shape = (len(x), len(x[0])) if isinstance(x, (list, tuple)) else ()
        except Exception:  # ragged, empty or not a sequence: the entry point says what
            shape = ()
    return int(shape[0]) if len(shape) == 2 and isinstance(shape[0], int) else 1
