"""Reverse-mode derivative table: one line per primitive, ``rule(g, out, *inputs) -> adjoints``.

``g`` is the adjoint of the node's output, ``out`` the node itself (so derivatives reuse
forward values: exp' = exp, tanh' = 1 - tanh^2, sigmoid' = sigmoid (1 - sigmoid)), and the
result holds one contribution per input, ``None`` where the input gets nothing.
"""

from __future__ import annotations

import math

from ..ir.elementwise import MapSpec, elementwise, operand
from ..ir.graph import substitute
from ..ir.node import Node, const, is_const, make

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# One-line constructors and a table: they read like calculus.
# fmt: off
def sqrt(x): return make("sqrt", x)
def sign(x): return make("sign", x)
def exp(x): return make("exp", x)
def log(x): return make("log", x)
def cos(x): return make("cos", x)
def sin(x): return make("sin", x)
def cosh(x): return make("cosh", x)
def sinh(x): return make("sinh", x)
def sigmoid(x): return make("sigmoid", x)
def ge(a, b): return make("ge", a, b)
def le(a, b): return make("le", a, b)
def where(c, a, b): return make("where", c, a, b)
# fmt: on


ZERO = const(0.0)


def _pow(g: Node, out: Node, base: Node, exponent: Node):
    if is_const(exponent):
        p = exponent.attr
        # g*p first so a constant upstream adjoint folds with p.
        return ((g * p) * base ** const(p - 1.0), None)
    return (g * exponent * base ** (exponent - 1.0), g * out * log(base))


def _max(g, out, a, b):
    # Ties go to the first argument: relu = max(0, z) has derivative 0 at z = 0.
    first = ge(a, b)
    return (where(first, g, ZERO), where(first, ZERO, g))


def _min(g, out, a, b):
    first = le(a, b)
    return (where(first, g, ZERO), where(first, ZERO, g))


def _zero(g, out, *inputs):
    return (None,) * len(inputs)


# ---- array-level rules: the layer equations (dZ = dA * g'(Z), dW = dZ^T A, dA_prev = dZ W) --


# fmt: off
def matmul(a, b): return make("matmul", a, b)
def transpose(a): return make("transpose", a)
def softmax_rows(a): return make("softmax_rows", a)
# fmt: on


def _like(shape_of: Node, g: Node) -> Node:
    """g broadcast to the shape of ``shape_of`` (which only lends its shape to the loop)."""
    return elementwise(lambda _, e: e, shape_of, g)


def _reduce_to(kind: str, contribution: Node) -> Node:
    """Sum a full-shape contribution down to a broadcast operand's shape."""
    if kind == "full":
        return contribution
    return make({"row": "colsum", "col": "rowsum", "scalar": "sum_all"}[kind], contribution)


def _map(g, out, *inputs):
    from .reverse import adjoints  # the rule table is used by the sweep: import late

    spec = out.attr
    k = len(inputs)
    leaves = [operand(i) for i in range(k)]
    # One scalar reverse sweep over the body gives every partial, already times the upstream g.
    partials = adjoints(spec.body, leaves, seed=operand(k))
    # Where a partial uses the body's own value (tanh' = 1 - tanh^2, sigmoid' = s (1 - s)), it
    # reads the forward map's output instead of recomputing it.
    forward = {spec.body: operand(k + 1)} if spec.body.args else {}
    bcast = spec.bcast + ("full", "full")
    contributions = []
    for kind, partial in zip(spec.bcast, partials):
        if partial is None:
            contributions.append(None)
            continue
        body = substitute(partial, forward)
        local = make("map", *inputs, g, out, attr=MapSpec(body, bcast, spec.shape))
        contributions.append(_reduce_to(kind, local))
    return tuple(contributions)


def _softmax(g, out, z):
    # J^T g for s = softmax(z), row by row: s * (g - sum_j g_j s_j).
    weighted = make("rowsum", g * out)
    return (elementwise(lambda s, gi, r: s * (gi - r), out, g, weighted),)


# fmt: off
RULES = {
    "add":       lambda g, out, a, b: (g, g),
    "sub":       lambda g, out, a, b: (g, -g),
    "mul":       lambda g, out, a, b: (g * b, g * a),
    "div":       lambda g, out, a, b: (g / b, -(g * out / b)),
    "neg":       lambda g, out, a: (-g,),
    "pow":       _pow,
    "exp":       lambda g, out, a: (g * out,),
    "log":       lambda g, out, a: (g / a,),
    "sqrt":      lambda g, out, a: ((g * 0.5) / out,),
    "log1p":     lambda g, out, a: (g / (a + 1.0),),
    "expm1":     lambda g, out, a: (g * (out + 1.0),),
    "sin":       lambda g, out, a: (g * cos(a),),
    "cos":       lambda g, out, a: (-(g * sin(a)),),
    "tan":       lambda g, out, a: (g * (out * out + 1.0),),
    "asin":      lambda g, out, a: (g / sqrt(1.0 - a * a),),
    "acos":      lambda g, out, a: (-(g / sqrt(1.0 - a * a)),),
    "atan":      lambda g, out, a: (g / (a * a + 1.0),),
    "sinh":      lambda g, out, a: (g * cosh(a),),
    "cosh":      lambda g, out, a: (g * sinh(a),),
    "tanh":      lambda g, out, a: (g * (1.0 - out * out),),
    "asinh":     lambda g, out, a: (g / sqrt(a * a + 1.0),),
    "acosh":     lambda g, out, a: (g / (sqrt(a - 1.0) * sqrt(a + 1.0)),),
    "atanh":     lambda g, out, a: (g / (1.0 - a * a),),
    "abs":       lambda g, out, a: (g * sign(a),),
    "sign":      _zero,
    "erf":       lambda g, out, a: ((g * _TWO_OVER_SQRT_PI) * exp(-(a * a)),),
    "erfc":      lambda g, out, a: ((g * -_TWO_OVER_SQRT_PI) * exp(-(a * a)),),
    "sigmoid":   lambda g, out, a: (g * (out * (1.0 - out)),),
    "softplus":  lambda g, out, a: (g * sigmoid(a),),
    "atan2":     lambda g, out, y, x: (g * x / (x * x + y * y), -(g * y / (x * x + y * y))),
    "max":       _max,
    "min":       _min,
    "heaviside": _zero,
    "lt": _zero, "le": _zero, "gt": _zero, "ge": _zero, "eq": _zero, "ne": _zero,
    "and_": _zero, "or_": _zero, "not_": _zero,
    "where":     lambda g, out, c, a, b: (None, where(c, g, ZERO), where(c, ZERO, g)),
    # arrays
    "matmul":         lambda g, out, a, b: (matmul(g, transpose(b)), matmul(transpose(a), g)),
    "transpose":      lambda g, out, a: (transpose(g),),
    "sum_all":        lambda g, out, a: (_like(a, g),),
    "colsum":         lambda g, out, a: (_like(a, g),),
    "rowsum":         lambda g, out, a: (_like(a, g),),
    "logsumexp_rows": lambda g, out, a: (elementwise(lambda s, gi: gi * s, softmax_rows(a), g),),
    "softmax_rows":   _softmax,
    "take":           lambda g, out, a: (make("put", g, attr=(out.attr, a.shape[0])),),
    "put":            lambda g, out, a: (make("take", g, attr=out.attr[0]),),
    "map":            _map,
}
# fmt: on
