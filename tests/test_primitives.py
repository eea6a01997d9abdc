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
from symbackprop.ir.evaluate import IMPL, evaluate
from symbackprop.ir.node import const, input_, make
from symbackprop.ir.ops import ARITY, LEAVES, PREDICATES
from symbackprop.printer.numba import CALLS, NumbaPrinter

OPS = [op for op in ARITY if op not in LEAVES]


def test_every_primitive_has_rule_printer_and_reference():
    printer_methods = {name[len("_print_"):] for name in dir(NumbaPrinter) if name.startswith("_print_")}
    missing = {
        op: [piece for piece, ok in (
            ("derivative rule", op in RULES),
            ("printer", op in CALLS or op in printer_methods),
            ("reference", op in IMPL),
        ) if not ok]
        for op in OPS
    }
    missing = {op: pieces for op, pieces in missing.items() if pieces}
    assert not missing, f"primitives missing pieces: {missing}"
    assert set(RULES) <= set(OPS), f"rules for unknown ops: {set(RULES) - set(OPS)}"


# op -> (domain low, high) for its inputs; where() gets its condition drawn from {0, 1}.
DOMAIN = {
    "log": (0.2, 3.0), "sqrt": (0.2, 3.0), "log1p": (-0.5, 3.0), "pow": (0.3, 2.0),
    "asin": (-0.8, 0.8), "acos": (-0.8, 0.8), "atanh": (-0.8, 0.8), "acosh": (1.2, 3.0),
    "div": (0.5, 2.0),
}


@pytest.mark.parametrize("op", OPS)
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
    for node in (make("max", const(0.0), z), make("abs", z), make("sign", z),
                 make("min", const(1.0), make("max", const(-1.0), z)),
                 make("where", make("gt", z, const(0.0)), z, const(0.0))):
        assert np.isnan(evaluate([node], {"x": nan})[0]), node
