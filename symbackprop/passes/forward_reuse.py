"""Derivatives in terms of forward outputs: rewrite a derivative expression so it reuses a value
the forward pass already computes (sigma' = sigma (1 - sigma), tanh' = 1 - tanh^2, exp' = exp).

Derivatives that come from SymPy (user activations) arrive in expanded form, e.g.
exp(-z) / (1 + exp(-z))^2; this pass maps them back onto the forward node.
"""

from __future__ import annotations

from ..ir.elementwise import elementwise
from ..ir.graph import Graph, rewrite
from ..ir.node import Node, const, is_const, make
from .stable_forms import _one_plus

ONE = const(1.0)


def _sigmoid_slope(z: Node) -> Node:
    s = make("sigmoid", z)
    return make("mul", s, make("sub", ONE, s))


def logistic_slope_to_sigmoid(node: Node, present: set[Node]) -> Node | None:
    """exp(-z) / (1 + exp(-z))^2 -> s (1 - s) with s = sigmoid(z);  likewise exp(z) / (1 + exp(z))^2."""
    if node.op != "div":
        return None
    num, den = node.args
    if num.op != "exp" or den.op != "pow" or not is_const(den.args[1], 2.0):
        return None
    if _one_plus(den.args[0]) is not num:
        return None
    z = num.args[0]
    return _sigmoid_slope(z.args[0] if z.op == "neg" else make("neg", z))


def sech_squared_to_tanh(node: Node, present: set[Node]) -> Node | None:
    """1 / cosh(z)^2 -> 1 - tanh(z)^2 when tanh(z) is computed anyway."""
    if node.op == "div" and is_const(node.args[0], 1.0) and node.args[1].op == "pow":
        base, p = node.args[1].args
        if base.op == "cosh" and is_const(p, 2.0):
            t = make("tanh", base.args[0])
            if t in present:
                return make("sub", ONE, make("mul", t, t))
    return None


def exp_to_expm1_output(node: Node, present: set[Node]) -> Node | None:
    """exp(z) -> expm1(z) + 1 when expm1(z) is computed anyway (elu's negative branch)."""
    if node.op == "exp":
        m = make("expm1", node.args[0])
        if m in present:
            return make("add", m, ONE)
    return None


def softmax_to_exp_of_logsumexp(node: Node, present: set[Node]) -> Node | None:
    """softmax_rows(Z) -> exp(Z - lse(Z)) when lse(Z) = logsumexp_rows(Z) is computed anyway
    (cross-entropy's forward pass): no second max and sum, and the exp fuses into dZ."""
    if node.op == "softmax_rows":
        lse = make("logsumexp_rows", node.args[0])
        if lse in present:
            return elementwise(lambda z, top: make("exp", z - top), node.args[0], lse)
    return None


RULES = (
    logistic_slope_to_sigmoid,
    sech_squared_to_tanh,
    exp_to_expm1_output,
    softmax_to_exp_of_logsumexp,
)


def reuse_forward_values(graph: Graph) -> Graph:
    present = set(graph.nodes)

    def step(node: Node) -> Node:
        for rule in RULES:
            new = rule(node, present)
            if new is not None:
                return new
        return node

    return rewrite(graph, step)
