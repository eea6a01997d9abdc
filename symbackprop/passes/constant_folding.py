"""Constant folding: a node whose inputs are all constants becomes one constant.

The value comes from the reference evaluator, so folding and generated code agree on every
primitive (NaN and infinities included).
"""

from __future__ import annotations

import numpy as np

from ..ir.evaluate import IMPL
from ..ir.graph import Graph, rewrite
from ..ir.node import Node, const


def fold(node: Node) -> Node:
    """op(c1, c2, ...) -> c."""
    if not node.args or any(a.op != "const" for a in node.args):
        return node
    with np.errstate(all="ignore"):
        value = IMPL[node.op](*(np.float64(a.attr) for a in node.args))
    return const(float(value))


def fold_constants(graph: Graph) -> Graph:
    return rewrite(graph, fold)
