"""Every primitive has its four pieces (derivative rule, printer, reference implementation,
arity), and each rule agrees with central differences of the reference evaluator.

This is the table test of the closed primitive set: adding a primitive without one of its
pieces fails here, listing what is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

from symbackprop.derivatives.reverse import adjoints
from symbackprop.derivatives.rules import RULES
from symbackprop.ir.elementwise import elementwise
from symbackprop.ir.evaluate import ARRAY_IMPL, DIRECTION_IMPL, IMPL, evaluate
from symbackprop.ir.node import const, input_, make
from symbackprop.ir.ops import (
    ARITY,
    ARRAY_LEAVES,
    DIRECTION_LEAVES,
    DIRECTION_OPS,
    DIRECTION_VARIADIC,
    LEAVES,
    PREDICATES,
    SCALAR_OPS,
)
from symbackprop.printer.numba import CALLS, NumbaPrinter

# Direction-batching ops come after the last derivative: they need no derivative rule.
DIRECTION = DIRECTION_LEAVES + DIRECTION_OPS + DIRECTION_VARIADIC
OPS = [op for op in ARITY if op not in LEAVES + ARRAY_LEAVES + DIRECTION]
SCALAR = [op for op in OPS if op in SCALAR_OPS]
# Array ops the reference evaluator handles inline (they need the node's attr).
EVALUATED_INLINE = {"map", "take", "put"}


def test_every_primitive_has_rule_printer_and_reference():
    printer_methods = {
        name.split("_", 2)[2]
        for name in dir(NumbaPrinter)
        if name.startswith(("_print_", "_emit_"))
    }
    missing = {
        op: [
            piece
            for piece, ok in (
                ("derivative rule", op in RULES),
                ("printer", op in CALLS or op in printer_methods),
                ("reference", op in IMPL or op in ARRAY_IMPL or op in EVALUATED_INLINE),
            )
            if not ok
        ]
        for op in OPS
    }
    missing = {op: pieces for op, pieces in missing.items() if pieces}
    assert not missing, f"primitives missing pieces: {missing}"
    assert set(RULES) <= set(OPS), f"rules for unknown ops: {set(RULES) - set(OPS)}"


def test_every_direction_op_has_printer_and_reference():
    printer_methods = {
        name.split("_", 2)[2]
        for name in dir(NumbaPrinter)
        if name.startswith(("_print_", "_emit_"))
    }
    missing = [op for op in DIRECTION if op not in printer_methods or op not in DIRECTION_IMPL]
    assert not missing, f"direction ops missing a printer or reference: {missing}"


# op -> (domain low, high) for its inputs; where() gets its condition drawn from {0, 1}.
DOMAIN = {
    "log": (0.2, 3.0),
    "sqrt": (0.2, 3.0),
    "log1p": (-0.5, 3.0),
    "pow": (0.3, 2.0),
    "asin": (-0.8, 0.8),
    "acos": (-0.8, 0.8),
    "atanh": (-0.8, 0.8),
    "acosh": (1.2, 3.0),
    "div": (0.5, 2.0),
}


@pytest.mark.parametrize("op", SCALAR)
def test_rule_matches_central_differences(op):
    rng = np.random.default_rng(abs(hash(op)) % 2**32)
    arity = ARITY[op]
    lo, hi = DOMAIN.get(op, (-2.0, 2.0))
    xs = [input_("x", i, f"a{i}") for i in range(arity)]
    node = make(op, *xs)
    grads = adjoints(node, xs)
    for _ in range(5):
        point = rng.uniform(lo, hi, arity)
        if op == "where":
            point[0] = rng.integers(0, 2)
        if op in ("max", "min", "heaviside", "abs", "sign") or op in PREDICATES:
            point += 0.05 * np.sign(point)  # keep away from kinks and ties
        for i in range(arity):
            if op == "where" and i == 0:
                continue
            h = 1e-6 * max(1.0, abs(point[i]))
            up, down = point.copy(), point.copy()
            up[i] += h
            down[i] -= h
            fd = (evaluate([node], {"x": up})[0] - evaluate([node], {"x": down})[0]) / (2 * h)
            got = 0.0 if grads[i] is None else float(evaluate([grads[i]], {"x": point})[0])
            assert np.isclose(got, fd, rtol=1e-5, atol=1e-6), (op, i, point, got, fd)


def test_non_smooth_conventions():
    z = input_("x", 0, "z")
    relu = make("max", const(0.0), z)
    (d_relu,) = adjoints(relu, [z])
    assert evaluate([d_relu], {"x": np.array([0.0])})[0] == 0.0  # relu'(0) = 0
    (d_abs,) = adjoints(make("abs", z), [z])
    assert evaluate([d_abs], {"x": np.array([0.0])})[0] == 0.0  # |z|' at 0 is 0
    a, b = input_("x", 0, "a"), input_("x", 1, "b")
    da, db = adjoints(make("max", a, b), [a, b])
    tie = {"x": np.array([1.5, 1.5])}
    assert (evaluate([da], tie)[0], evaluate([db], tie)[0]) == (1.0, 0.0)  # first maximal


def test_nan_propagates_through_non_smooth_references():
    nan = np.array([np.nan])
    z = input_("x", 0, "z")
    for node in (
        make("max", const(0.0), z),
        make("abs", z),
        make("sign", z),
        make("min", const(1.0), make("max", const(-1.0), z)),
        make("where", make("gt", z, const(0.0)), z, const(0.0)),
    ):
        assert np.isnan(evaluate([node], {"x": nan})[0]), node


def _array(name, shape):
    return make("array", attr=(name, shape))


def _check_array_gradients(loss, params, env):
    grads = adjoints(loss, [p for p in params.values()])
    for (name, _), g in zip(params.items(), evaluate(grads, env)):
        fd = np.zeros_like(env[name])
        for idx in np.ndindex(fd.shape):
            up = {k: v.copy() for k, v in env.items()}
            down = {k: v.copy() for k, v in env.items()}
            up[name][idx] += 1e-6
            down[name][idx] -= 1e-6
            fd[idx] = (evaluate([loss], up)[0] - evaluate([loss], down)[0]) / 2e-6
        assert np.allclose(g, fd, rtol=1e-6, atol=1e-7), (name, g, fd)


def test_array_rules_match_central_differences():
    """Every array op inside one small network-shaped loss: matmul, transpose, maps with each
    broadcast kind, the three reductions, softmax, log-sum-exp, take and put."""
    rng = np.random.default_rng(0)
    X, Y = _array("X", ("m", 3)), _array("Y", ("m", 2))
    W = _array("W", (2, 4, 3))  # two pieces, as in a Maxout layer
    b = _array("b", (4,))
    V = _array("V", (2, 4))
    pieces = [make("matmul", X, make("transpose", make("take", W, attr=p))) for p in (0, 1)]
    Z = elementwise(lambda u, w, c: make("max", u, w) + c, *pieces, b)
    H = make("softmax_rows", make("matmul", Z, make("transpose", V)))
    per_sample = make("logsumexp_rows", H) - make("rowsum", Y * H)
    loss = (
        make("sum_all", per_sample) / make("dim", attr=("X", 0))
        + 0.3 * make("sum_all", make("colsum", Z) * make("colsum", Z))
        + make("sum_all", make("put", V, attr=(1, 3)) ** 2.0)
    )
    env = {
        "X": rng.normal(size=(5, 3)),
        "Y": np.eye(2)[rng.integers(0, 2, 5)],
        "W": rng.normal(size=(2, 4, 3)),
        "b": rng.normal(size=4),
        "V": rng.normal(size=(2, 4)),
    }
    _check_array_gradients(loss, {"W": W, "b": b, "V": V}, env)
