"""Common-subexpression elimination across every output (value, gradient, Hessian, HVP).

Hash-consing already makes structurally equal nodes one object; this pass also puts the
arguments of commutative ops in a canonical (digest) order, so a*b and b*a become one node and
the backward sweep reuses the forward pass's values.
"""

from __future__ import annotations

from ..ir.graph import Graph, rewrite
from ..ir.node import Node, make
from ..ir.ops import COMMUTATIVE


def commuted_to_canonical(node: Node) -> Node:
    """b * a -> a * b when a's digest sorts first (likewise +, ==, !=, and, or)."""
    if node.op in COMMUTATIVE:
        a, b = node.args
        if b.digest < a.digest:
            return make(node.op, b, a, attr=node.attr)
    return node


def cse(graph: Graph) -> Graph:
    return rewrite(graph, commuted_to_canonical)


def cse_structural(graph: Graph) -> Graph:
    """CSE for element-wise map bodies: commutative operands ordered by structure, with
    operand leaves by index, so renumbering a map's operands never flips the order (ordering
    by digest could, and the tidy and fuse passes would then undo each other forever)."""
    keys: dict[Node, tuple] = {}

    def key(node: Node) -> tuple:
        if node not in keys:
            keys[node] = (node.op, repr(node.attr), tuple(key(a) for a in node.args))
        return keys[node]

    def step(node: Node) -> Node:
        if node.op in COMMUTATIVE:
            a, b = node.args
            if key(b) < key(a):
                return make(node.op, b, a, attr=node.attr)
        return node

    return rewrite(graph, step)
