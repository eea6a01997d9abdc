"""Algebraic simplification: identities that shrink derivative graphs, one rule each.

Signs move outwards and constants gather so chains like ``(g*2)*100`` fold; x*0 -> 0 is applied
(as SymPy does) because structural zeros are what keeps Hessians sparse.
"""

from __future__ import annotations

import math

from ..ir.graph import Graph
from ..ir.node import Node, const, is_const, make
from .local import apply_rules, const_arg


def identity_to_operand(node: Node) -> Node | None:
    """x + 0, x - 0, x * 1, x / 1, x ** 1 -> x."""
    op = node.op
    if op == "add":
        a, b = node.args
        return b if is_const(a, 0.0) else a if is_const(b, 0.0) else None
    if op == "mul":
        a, b = node.args
        return b if is_const(a, 1.0) else a if is_const(b, 1.0) else None
    if op in ("sub", "div", "pow"):
        a, b = node.args
        return a if is_const(b, 0.0 if op == "sub" else 1.0) else None
    return None


def zero_product_to_zero(node: Node) -> Node | None:
    """x * 0, 0 * x, 0 / x -> 0."""
    if node.op == "mul" and (is_const(node.args[0], 0.0) or is_const(node.args[1], 0.0)):
        return const(0.0)
    if node.op == "div" and is_const(node.args[0], 0.0):
        return const(0.0)
    return None


def zero_power_to_one(node: Node) -> Node | None:
    """x ** 0 -> 1."""
    return const(1.0) if node.op == "pow" and is_const(node.args[1], 0.0) else None


def double_negation_to_operand(node: Node) -> Node | None:
    """-(-x) -> x."""
    return node.args[0].args[0] if node.op == "neg" and node.args[0].op == "neg" else None


def negated_sum_to_difference(node: Node) -> Node | None:
    """a + (-b) -> a - b;  (-a) + b -> b - a;  a - (-b) -> a + b;  0 - b -> -b."""
    if node.op == "add":
        a, b = node.args
        if b.op == "neg":
            return make("sub", a, b.args[0])
        if a.op == "neg":
            return make("sub", b, a.args[0])
    if node.op == "sub":
        a, b = node.args
        if b.op == "neg":
            return make("add", a, b.args[0])
        if is_const(a, 0.0):
            return make("neg", b)
    return None


def sign_to_outside(node: Node) -> Node | None:
    """(-a) * b -> -(a*b);  a * (-b) -> -(a*b);  (-a) / b -> -(a/b);  -1 * x -> -x;
    -(c * x) -> (-c) * x."""
    op = node.op
    if op in ("mul", "div"):
        a, b = node.args
        if a.op == "neg":
            return make("neg", make(op, a.args[0], b))
        if b.op == "neg":
            return make("neg", make(op, a, b.args[0]))
        if op == "mul":
            ca = const_arg(node)
            if ca is not None and ca[0] == -1.0:
                return make("neg", ca[1])
    if op == "neg" and node.args[0].op == "mul":
        ca = const_arg(node.args[0])
        if ca is not None:
            return make("mul", const(-ca[0]), ca[1])
    return None


def constant_chain_to_one_constant(node: Node) -> Node | None:
    """c1 * (c2 * x) -> (c1*c2) * x;  (c1 * x) / c2 -> (c1/c2) * x;  x / c -> (1/c) * x for
    c a power of two (exact)."""
    if node.op == "mul":
        ca = const_arg(node)
        if ca is not None and ca[1].op == "mul":
            inner = const_arg(ca[1])
            if inner is not None:
                return make("mul", const(ca[0] * inner[0]), inner[1])
    if node.op == "div" and node.args[1].op == "const":
        c = node.args[1].attr
        a = node.args[0]
        if a.op == "mul":
            inner = const_arg(a)
            if inner is not None:
                return make("mul", const(inner[0] / c), inner[1])
        if c != 0.0 and math.isfinite(c) and abs(math.frexp(c)[0]) == 0.5:
            return make("mul", const(1.0 / c), a)
    return None


def self_sum_to_double(node: Node) -> Node | None:
    """x + x -> 2 * x."""
    if node.op == "add" and node.args[0] is node.args[1]:
        return make("mul", const(2.0), node.args[0])
    return None


def same_branches_to_branch(node: Node) -> Node | None:
    """where(c, x, x) -> x;  where(1, a, b) -> a;  where(0, a, b) -> b."""
    if node.op != "where":
        return None
    c, a, b = node.args
    if a is b:
        return a
    if c.op == "const" and c.attr == c.attr:
        return a if c.attr != 0.0 else b
    return None


def product_into_branches(node: Node) -> Node | None:
    """where(c, 0, g) * x -> where(c, 0, g * x) (also x * ..., ... / x, and 0 in either branch):
    the unselected branch's factor may be inf (elu's exp(z) for large z) and 0 * inf is NaN."""
    if node.op not in ("mul", "div"):
        return None
    a, b = node.args
    for w, x, w_first in ((a, b, True), (b, a, False)):
        if node.op == "div" and not w_first:
            break
        if w.op == "where" and (is_const(w.args[1], 0.0) or is_const(w.args[2], 0.0)):
            c, left, right = w.args
            branch = (lambda v: make(node.op, v, x)) if w_first else (lambda v: make("mul", x, v))
            return make(
                "where",
                c,
                left if is_const(left, 0.0) else branch(left),
                right if is_const(right, 0.0) else branch(right),
            )
    return None


RULES = (
    identity_to_operand,
    zero_product_to_zero,
    zero_power_to_one,
    double_negation_to_operand,
    negated_sum_to_difference,
    sign_to_outside,
    constant_chain_to_one_constant,
    self_sum_to_double,
    same_branches_to_branch,
    product_into_branches,
)


def simplify(graph: Graph) -> Graph:
    return apply_rules(graph, RULES)
