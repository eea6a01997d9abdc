"""Numerically stable forms: rewrite overflow- or cancellation-prone patterns to stable primitives.

sigmoid and softplus print with formulas that never overflow; log1p/expm1 keep precision near 0.
"""

from __future__ import annotations

from ..ir.elementwise import MapSpec, operand
from ..ir.graph import Graph, substitute, toposort
from ..ir.node import Node, is_const, make
from .local import apply_rules, const_arg


def _one_plus(node: Node) -> Node | None:
    """u if node is 1 + u (either order), else None."""
    if node.op == "add":
        ca = const_arg(node)
        if ca is not None and ca[0] == 1.0:
            return ca[1]
    return None


def log_one_plus_exp_to_softplus(node: Node) -> Node | None:
    """log(1 + exp(x)) -> softplus(x)."""
    if node.op == "log":
        u = _one_plus(node.args[0])
        if u is not None and u.op == "exp":
            return make("softplus", u.args[0])
    return None


def logistic_to_sigmoid(node: Node) -> Node | None:
    """1 / (1 + exp(-x)) -> sigmoid(x);  exp(x) / (1 + exp(x)) -> sigmoid(x)."""
    if node.op != "div":
        return None
    num, den = node.args
    u = _one_plus(den)
    if u is None or u.op != "exp":
        return None
    if is_const(num, 1.0):
        z = u.args[0]
        return make("sigmoid", z.args[0] if z.op == "neg" else make("neg", z))
    if num is u:
        return make("sigmoid", u.args[0])
    return None


def log_sigmoid_to_softplus(node: Node) -> Node | None:
    """log(sigmoid(x)) -> -softplus(-x);  log(1 - sigmoid(x)) -> -softplus(x)."""
    if node.op != "log":
        return None
    a = node.args[0]
    if a.op == "sigmoid":
        return make("neg", make("softplus", make("neg", a.args[0])))
    if a.op == "sub" and is_const(a.args[0], 1.0) and a.args[1].op == "sigmoid":
        return make("neg", make("softplus", a.args[1].args[0]))
    return None


def log_one_plus_to_log1p(node: Node) -> Node | None:
    """log(1 + x) -> log1p(x)."""
    if node.op == "log":
        u = _one_plus(node.args[0])
        if u is not None and u.op != "exp":
            return make("log1p", u)
    return None


def exp_minus_one_to_expm1(node: Node) -> Node | None:
    """exp(x) - 1 -> expm1(x)."""
    if node.op == "sub" and node.args[0].op == "exp" and is_const(node.args[1], 1.0):
        return make("expm1", node.args[0].args[0])
    if node.op == "add":
        ca = const_arg(node)
        if ca is not None and ca[0] == -1.0 and ca[1].op == "exp":
            return make("expm1", ca[1].args[0])
    return None


def log_exp_to_operand(node: Node) -> Node | None:
    """log(exp(x)) -> x."""
    return node.args[0].args[0] if node.op == "log" and node.args[0].op == "exp" else None


def log_softmax_to_logsumexp(node: Node) -> Node | None:
    """map(... log(a) ...)(softmax_rows(Z)) -> map(... (z - lse) ...)(Z, logsumexp_rows(Z)):
    cross-entropy on logits, no log of an underflowed probability."""
    if node.op != "map":
        return None
    spec = node.attr
    for k, (a, kind) in enumerate(zip(node.args, spec.bcast)):
        if a.op != "softmax_rows" or kind != "full":
            continue
        log_a = make("log", operand(k))
        if log_a not in set(toposort([spec.body])):
            continue
        z, n = a.args[0], len(node.args)
        body = substitute(spec.body, {log_a: make("sub", operand(n), operand(n + 1))})
        return make(
            "map",
            *node.args,
            z,
            make("logsumexp_rows", z),
            attr=MapSpec(body, spec.bcast + ("full", "col"), spec.shape),
        )
    return None


RULES = (
    log_softmax_to_logsumexp,
    log_one_plus_exp_to_softplus,
    logistic_to_sigmoid,
    log_sigmoid_to_softplus,
    log_one_plus_to_log1p,
    exp_minus_one_to_expm1,
    log_exp_to_operand,
)


def stabilize(graph: Graph) -> Graph:
    return apply_rules(graph, RULES)
