"""Reference evaluator: runs IR nodes with plain NumPy, one vectorised function per primitive.

It is the oracle the generated Numba code is compared with, and the constant folder's engine.
Inputs are arrays whose last axis is indexed by ``input`` leaves, so a batch evaluates at once.
"""

from __future__ import annotations

import math

import numpy as np

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
    shape = _concrete(spec.shape, operands, spec.bcast)
    columns = []
    for value, kind in zip(operands, spec.bcast):
        value = np.asarray(value, dtype=float)
        if kind == "col":
            value = value[:, None]
        columns.append(np.broadcast_to(value, shape))
    stacked = np.stack(columns, axis=-1) if columns else np.zeros(shape + (0,))
    return evaluate([spec.body], {"e": stacked})[0]


def _concrete(shape, operands, kinds) -> tuple:
    for value, kind in zip(operands, kinds):
        if kind == "full":
            return np.shape(value)
    raise ValueError("a map needs at least one full-shape operand to fix its size")


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
