"""A Graph: input leaves, named output groups and a topologically ordered node list.

Passes take a Graph and return a new one; nodes are shared between them (they are immutable).
The node list may hold dead nodes after a rewrite; the DCE pass prunes them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from .node import Node, make


@dataclass(frozen=True)
class Output:
    """An output group: ``nodes[k]`` is the value at position ``index[k]`` of the result array.

    ``shape`` is the array the group fills; positions not listed are structural zeros.
    ``symmetric`` marks a matrix stored as its upper triangle (the printer mirrors it).
    """

    nodes: tuple[Node, ...]
    index: tuple[tuple[int, ...], ...]
    shape: tuple[int, ...]
    symmetric: bool = False

    def with_nodes(self, nodes) -> Output:
        return replace(self, nodes=tuple(nodes))


@dataclass(frozen=True)
class Graph:
    """``names`` are optional display names (Z1, A1, dZ1, ...) that the printer uses for the
    nodes' temporaries; rewrites carry a name over to the node that replaces its holder."""

    inputs: tuple[Node, ...]
    outputs: dict[str, Output]
    nodes: tuple[Node, ...] = field(default=())
    names: dict = field(default_factory=dict, compare=False)

    def output_nodes(self, names=None):
        for name, out in self.outputs.items():
            if names is None or name in names:
                yield from out.nodes

    def digest(self) -> str:
        """A process-independent hash of the graph's structure and output layout."""
        h = hashlib.sha256()
        for node in self.inputs:
            h.update(node.digest)
        for name, out in sorted(self.outputs.items()):
            h.update(f"{name}{out.shape}{out.symmetric}{out.index}".encode())
            for node in out.nodes:
                h.update(node.digest)
        return h.hexdigest()


def toposort(roots, seen: set[Node] | None = None) -> list[Node]:
    """Nodes reachable from ``roots``, each after its arguments (iterative: no recursion limit).

    Nodes already in ``seen`` (and so, by construction, their arguments) are skipped; ``seen``
    is updated in place, which lets callers extend an existing order incrementally.
    """
    order: list[Node] = []
    seen = set() if seen is None else seen
    for root in roots:
        if root in seen:
            continue
        stack = [(root, iter(root.args))]
        seen.add(root)
        while stack:
            node, it = stack[-1]
            for arg in it:
                if arg not in seen:
                    seen.add(arg)
                    stack.append((arg, iter(arg.args)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def with_outputs(graph: Graph, outputs: dict[str, Output]) -> Graph:
    """``graph`` with new outputs and its node list recomputed from them."""
    roots = [n for out in outputs.values() for n in out.nodes]
    return Graph(graph.inputs, outputs, tuple(toposort(roots)), graph.names)


def rewrite(graph: Graph, fn, with_original: bool = False) -> Graph:
    """Apply ``fn(node_with_rewritten_args) -> Node`` bottom-up over every node of ``graph``.

    ``fn`` sees each node after its arguments were rewritten and returns its replacement
    (or the node itself); with ``with_original`` it also gets the node as it was in ``graph``.
    Nodes that become unreachable stay in the list for DCE to prune.
    Returns ``graph`` itself when nothing changed, so pipelines can detect a fixpoint cheaply.
    """
    mapped: dict[Node, Node] = {}
    order: list[Node] = []
    placed: set[Node] = set()
    changed = False
    for node in graph.nodes:
        rebuilt = node
        if node.args:
            args = tuple([mapped[a] for a in node.args])
            if args != node.args:
                rebuilt = make(node.op, *args, attr=node.attr)
        new = fn(rebuilt, node) if with_original else fn(rebuilt)
        if new is not node:
            changed = True
        mapped[node] = new
        if new in placed:
            continue
        if new is rebuilt:  # its arguments are mapped nodes, all placed already
            placed.add(new)
            order.append(new)
        else:
            order.extend(toposort([new], placed))
    if not changed:
        return graph
    outputs = {
        name: out.with_nodes(mapped[n] for n in out.nodes) for name, out in graph.outputs.items()
    }
    names = dict(graph.names)
    for old, label in graph.names.items():
        new = mapped.get(old)
        if new is not None and new is not old and new.args and new not in names:
            names[new] = label
    return Graph(graph.inputs, outputs, tuple(order), names)


def substitute(root: Node, mapping: dict[Node, Node]) -> Node:
    """``root`` with every node in ``mapping`` replaced (bottom-up, sharing preserved).

    >>> from symbackprop.ir.node import input_, const
    >>> a, b = input_("e", 0, "a"), input_("e", 1, "b")
    >>> substitute(a * a + b, {a: const(2.0)})
    add(mul(2.0, 2.0), b)
    """
    new: dict[Node, Node] = {}
    for node in toposort([root]):
        if node in mapping:
            new[node] = mapping[node]
        elif node.args:
            args = tuple(new[a] for a in node.args)
            new[node] = node if args == node.args else make(node.op, *args, attr=node.attr)
        else:
            new[node] = node
    return new[root]
