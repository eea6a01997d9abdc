"""Reference evaluator: runs IR nodes with plain NumPy, one vectorised function per primitive.

It is the oracle the generated Numba code is compared with, and the constant folder's engine.
Inputs are arrays whose last axis is indexed by ``input`` leaves, so a batch evaluates at once.
"""

from __future__ import annotations

import math

import numpy as np

from .batched import Seed
from .elementwise import Strided, sizer
from .graph import toposort
from .node import Node


def _nan_or(a, b, value):
    return np.where(np.isnan(a) | np.isnan(b), np.nan, value)


def _predicate(compare):
    return lambda a, b: _nan_or(a, b, compare(a, b).astype(float))


def _sigmoid(x):
    # Two branches so neither exp overflows: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) for x < 0.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _first_max(a, b):
    return np.where(np.isnan(a) | (a >= b), a, b)


def _first_min(a, b):
    return np.where(np.isnan(a) | (a <= b), a, b)


def _heaviside(x, h0):
    return np.where(np.isnan(x), np.nan, np.where(x > 0, 1.0, np.where(x < 0, 0.0, h0)))


def _where(c, a, b):
    return np.where(np.isnan(c), np.nan, np.where(c != 0, a, b))


# fmt: off
IMPL = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "neg": np.negative, "pow": np.power,
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "log1p": np.log1p, "expm1": np.expm1,
    "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
    "abs": np.abs, "sign": np.sign,
    "erf": np.vectorize(math.erf, otypes=[float]),
    "erfc": np.vectorize(math.erfc, otypes=[float]),
    "sigmoid": _sigmoid,
    "softplus": lambda x: np.logaddexp(0.0, x),
    "atan2": np.arctan2, "max": _first_max, "min": _first_min, "heaviside": _heaviside,
    "lt": _predicate(np.less), "le": _predicate(np.less_equal),
    "gt": _predicate(np.greater), "ge": _predicate(np.greater_equal),
    "eq": _predicate(np.equal), "ne": _predicate(np.not_equal),
    "and_": _predicate(lambda a, b: (a != 0) & (b != 0)),
    "or_": _predicate(lambda a, b: (a != 0) | (b != 0)),
    "not_": lambda a: np.where(np.isnan(a), np.nan, (a == 0).astype(float)),
    "where": _where,
}
# fmt: on


def _softmax_rows(z):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def _logsumexp_rows(z):
    top = np.max(z, axis=1)
    return top + np.log(np.sum(np.exp(z - top[:, None]), axis=1))


ARRAY_IMPL = {
    "matmul": np.matmul,
    "transpose": lambda a: a.T,
    "sum_all": np.sum,
    "colsum": lambda a: np.sum(a, axis=0),
    "rowsum": lambda a: np.sum(a, axis=1),
    "softmax_rows": _softmax_rows,
    "logsumexp_rows": _logsumexp_rows,
}


def _map(node: Node, operands: list) -> np.ndarray:
    spec = node.attr
    shape = _concrete(spec, operands)
    columns = []
    for value, kind in zip(operands, spec.bcast):
        value = np.asarray(value, dtype=float)
        if isinstance(kind, Strided):  # laid out over kind.period directions: resize to P
            axis = 1 if kind.kind == "full" and value.ndim == 2 else 0
            value = _resize(value, kind.period, spec.period, axis)
            kind = kind.kind
        if kind in _BATCHED_ROWS:
            value = _BATCHED_ROWS[kind](value, spec.period, shape[0] // max(spec.period, 1))
        if kind in ("col", "colblock", "colT", "colcycle"):
            value = value[:, None]
        columns.append(np.broadcast_to(value, shape))
    stacked = np.stack(columns, axis=-1) if columns else np.zeros(shape + (0,))
    return evaluate([spec.body], {"e": stacked})[0]


# Operands of maps over direction-batched values (ir/batched.py), expanded to one entry per
# batched row i*P + p: (value, P, rows) -> array.
_BATCHED_ROWS = {
    "block": lambda v, P, r: np.repeat(v, P, axis=0),
    "colblock": lambda v, P, r: np.repeat(v, P),
    "cycle": lambda v, P, r: np.tile(v, (r, 1)),
    "colT": lambda v, P, r: v.T.reshape(-1),
    "colcycle": lambda v, P, r: np.tile(v, r),
}


def _resize(value, period: int, P: int, axis: int) -> np.ndarray:
    """A batched value over ``period`` directions (axis 0: (period, ...); axis 1: rows
    i*period + p) cut or zero-padded to P directions."""
    blocks = value.reshape(-1, period, value.shape[1]) if axis == 1 else value
    out = np.zeros(blocks.shape[:axis] + (P,) + blocks.shape[axis + 1 :])
    n = min(P, period)
    out[(slice(None),) * axis + (slice(0, n),)] = blocks[(slice(None),) * axis + (slice(0, n),)]
    return out.reshape(-1, value.shape[1]) if axis == 1 else out


def _concrete(spec, operands) -> tuple:
    k = sizer(spec.bcast)
    if k is None:
        raise ValueError("a map needs at least one full-shape operand to fix its size")
    kind, shape = spec.bcast[k], np.shape(operands[k])
    if spec.period and len(spec.shape) == 1:
        return (spec.period,)
    if kind == "full":
        return shape
    if isinstance(kind, Strided):
        return (shape[0] // kind.period * spec.period, shape[1])
    if kind == "col":  # an outer product
        return (shape[0], np.shape(operands[spec.bcast.index("row")])[0])
    return (shape[0] * spec.period, shape[1])  # a block


def _seed(seed) -> np.ndarray:
    """The seed's unit directions as a dense batched array."""
    rows, cols = seed.matrix
    P = seed.period
    out = np.zeros((rows * P, cols))
    for i in range(rows):
        for j in range(cols):
            p = seed.offset + (j * rows + i if seed.transposed else i * cols + j)
            out[i * P + p, j] = 1.0
    return out.reshape(seed.layout())


def _place(a, seed) -> np.ndarray:
    rows, cols = seed.matrix
    dense = _seed(seed).reshape(rows, seed.period * cols)
    return (a @ dense).reshape(-1, cols)


def _dir_transpose(a, P):
    r, c = a.shape[0] // P, a.shape[1]
    return a.reshape(r, P, c).transpose(2, 1, 0).reshape(c * P, r)


def _reshape(a, shape):
    return a.reshape(tuple(d if isinstance(d, int) else -1 for d in shape))


def _spread(*operands):
    """The dense value of a spread, built from dense unit directions and matrix products (an
    oracle independent of the printed loops that visit only the nonzeros)."""
    *operands, spec = operands
    base, parts, other = spec.split(tuple(operands))
    P = spec.period
    total = None if base is None else _resize(np.asarray(base, dtype=float), spec.base_period, P, 1)
    for term, A, C, rows in parts:
        samples = (A if A is not None else C if term.c in ("full", "col") else rows).shape[0]
        seed = term.seed
        a = A if A is not None else np.ones((samples, 1))
        dense = _place(a, Seed(seed.offset, seed.shape, seed.transposed, P))
        if term.c:
            shape = (samples, spec.cols)
            C = C[:, None] if term.c == "col" else C
            dense = dense * np.repeat(np.broadcast_to(C, shape), P, axis=0)
        if spec.mode == "right":
            dense = dense @ other
        elif spec.mode == "contract":
            dense = _dir_transpose(dense, P) @ other
        elif spec.mode == "left":
            D = other if other is not None else np.ones((1, samples))
            dense = (D @ dense.reshape(samples, -1)).reshape(-1, spec.cols)
        total = dense if total is None else total + dense
    return total


DIRECTION_IMPL = {
    "seed": _seed,
    "reshape": _reshape,
    "dir_transpose": _dir_transpose,
    "dirs_first": lambda v, P: v.reshape(-1, P).T.copy(),
    "spread": _spread,
}


def evaluate(roots: list[Node], arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Values of ``roots`` given input arrays by name (last axis indexed by ``input`` leaves).

    >>> import numpy as np
    >>> from symbackprop.ir.node import input_
    >>> x = input_("x", 0, "x")
    >>> float(evaluate([x * x + 1.0], {"x": np.array([3.0])})[0])
    10.0
    """
    values: dict[Node, object] = {}
    with np.errstate(all="ignore"):
        for node in toposort(roots):
            if node.op == "const":
                values[node] = node.attr
            elif node.op == "input":
                array, index, _ = node.attr
                values[node] = np.asarray(arrays[array], dtype=float)[..., index]
            elif node.op == "array":
                values[node] = np.asarray(arrays[node.attr[0]], dtype=float)
            elif node.op == "dim":
                name, axis = node.attr
                values[node] = float(np.shape(arrays[name])[axis])
            elif node.op == "map":
                values[node] = _map(node, [values[a] for a in node.args])
            elif node.op == "take":
                values[node] = values[node.args[0]][node.attr]
            elif node.op in DIRECTION_IMPL:
                args = (values[a] for a in node.args)
                values[node] = DIRECTION_IMPL[node.op](*args, node.attr)
            elif node.op == "put":
                index, count = node.attr
                inner = values[node.args[0]]
                out = np.zeros((count,) + np.shape(inner))
                out[index] = inner
                values[node] = out
            elif node.op in ARRAY_IMPL:
                values[node] = ARRAY_IMPL[node.op](*(values[a] for a in node.args))
            else:
                values[node] = IMPL[node.op](*(values[a] for a in node.args))
    return [np.asarray(values[r], dtype=float) for r in roots]
