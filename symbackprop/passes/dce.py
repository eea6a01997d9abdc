"""Dead-code elimination: keep only nodes some output needs, and drop output entries that are
structurally zero (their arrays are zero-filled, so a zero is never computed or stored).
"""

from __future__ import annotations

from ..ir.graph import Graph, Output, toposort
from ..ir.node import is_const


def _nonzero(out: Output) -> Output:
    if out.shape == ():
        return out  # a scalar result is returned, not stored into a zero-filled array
    keep = [k for k, n in enumerate(out.nodes) if not is_const(n, 0.0)]
    if len(keep) == len(out.nodes):
        return out
    return Output(
        tuple(out.nodes[k] for k in keep),
        tuple(out.index[k] for k in keep),
        out.shape,
        out.symmetric,
    )


def dce(graph: Graph) -> Graph:
    outputs = {name: _nonzero(out) for name, out in graph.outputs.items()}
    live = toposort(n for out in outputs.values() for n in out.nodes)
    if len(live) == len(graph.nodes) and all(outputs[k] is graph.outputs[k] for k in outputs):
        return graph
    live_set = set(live)
    names = {n: label for n, label in graph.names.items() if n in live_set}
    return Graph(graph.inputs, outputs, tuple(live), names)
