"""Reverse mode over the IR DAG: one adjoint sweep per scalar root, using the rule table.

A gradient costs one sweep (a small constant times the function: Griewank's cheap gradient
principle); Hessian rows are sweeps over each gradient entry's cone, so rows touch only the
variables they depend on; a Hessian-vector product is one sweep over grad(f) . v.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..ir.graph import toposort
from ..ir.node import Node
from .rules import RULES


def _active(order: list[Node], wrt: set[Node]) -> set[Node]:
    """Nodes that depend on some node of ``wrt`` (only these need adjoints)."""
    active: set[Node] = set()
    for node in order:
        if node in wrt or any(a in active for a in node.args):
            active.add(node)
    return active


def adjoints(
    root: Node, wrt: Sequence[Node], seed: Node | float = 1.0, names: dict[Node, str] | None = None
) -> list[Node | None]:
    """d(seed * root)/d w for each w in ``wrt``; ``None`` where root does not depend on w.

    With ``names`` (display names of forward nodes), each named node's adjoint is named
    "d" + its name (Z1 -> dZ1), so generated code shows the layer equations.

    >>> from symbackprop.ir.node import input_
    >>> x, y = input_("x", 0, "x"), input_("x", 1, "y")
    >>> adjoints(x * y, [x, y])
    [mul(1.0, y), mul(1.0, x)]
    """
    order = toposort([root])
    active = _active(order, set(wrt))
    if root not in active:
        return [None] * len(wrt)
    adj: dict[Node, Node] = {root: seed if isinstance(seed, Node) else _const(seed)}
    for node in reversed(order):
        if not node.args:
            continue
        g = adj.pop(node, None)
        if g is None:
            continue
        if names is not None and node in names and g.args and g not in names:
            names[g] = "d" + names[node]
        contributions = RULES[node.op](g, node, *node.args)
        for arg, c in zip(node.args, contributions):
            if c is None or arg not in active:
                continue
            prev = adj.get(arg)
            adj[arg] = c if prev is None else prev + c
    result = [adj.get(w) for w in wrt]
    if names is not None:
        for w, g in zip(wrt, result):
            if g is not None and g.args and w in names and g not in names:
                names[g] = "d" + names[w]
    return result


def _const(value: float) -> Node:
    from ..ir.node import const

    return const(value)
