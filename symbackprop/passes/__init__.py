"""The optimizer: one visible pipeline of pure graph -> graph passes, run to a fixpoint.

Set SYMBACKPROP_DEBUG=1 to print the graph's size after each pass (and the IR with =2).
"""

from __future__ import annotations

from .. import debug
from ..ir.graph import Graph
from .constant_folding import fold_constants
from .cse import cse, cse_structural
from .dce import dce
from .elementwise import fuse, tidy
from .forward_reuse import reuse_forward_values
from .simplify import simplify
from .stable_forms import stabilize

PIPELINE = (fold_constants, simplify, stabilize, reuse_forward_values, cse, tidy, fuse, dce)
# Element-wise map bodies (small scalar graphs) are optimized with this one, by the tidy pass.
BODY_PIPELINE = (fold_constants, simplify, stabilize, reuse_forward_values, cse_structural, dce)

MAX_ROUNDS = 4


def optimize(graph: Graph, pipeline=PIPELINE) -> Graph:
    """Run ``pipeline`` until the graph stops changing (at most MAX_ROUNDS rounds)."""
    verbosity = debug.level()
    for _ in range(MAX_ROUNDS):
        changed = False
        for run in pipeline:
            new = run(graph)
            changed |= new is not graph
            graph = new
            if verbosity:
                _trace(run.__name__, graph, verbosity)
        if not changed:
            break
    return graph


def _trace(name: str, graph: Graph, level: int) -> None:
    ops = sum(1 for n in graph.nodes if n.args)
    debug.log(f"after {name}: {len(graph.nodes)} nodes, {ops} operations")
    if level >= 2:
        for out_name, out in graph.outputs.items():
            debug.log(f"  {out_name}: {list(out.nodes)}")
