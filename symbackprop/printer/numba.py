"""Prints IR kernels as Python source for ``@numba.njit``: one method per node kind.

Each kernel is straight-line SSA code: inputs are loaded into locals named like the user's
symbols, every operation gets a temporary ``t<k>``, outputs are stored into preallocated arrays.
A node kind without a method is an error naming it, never partial code.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass

from ..errors import SymbackpropError
from ..ir.graph import Graph, Output, toposort
from ..ir.node import Node
from .lines import Lines

# Functions that print as one call: the known-function table (data, like SymPy's pycode).
CALLS = {
    "exp": "math.exp", "log": "math.log", "sqrt": "math.sqrt",
    "log1p": "math.log1p", "expm1": "math.expm1",
    "sin": "math.sin", "cos": "math.cos", "tan": "math.tan",
    "asin": "math.asin", "acos": "math.acos", "atan": "math.atan",
    "sinh": "math.sinh", "cosh": "math.cosh", "tanh": "math.tanh",
    "asinh": "math.asinh", "acosh": "math.acosh", "atanh": "math.atanh",
    "abs": "abs", "erf": "math.erf", "erfc": "math.erfc", "atan2": "math.atan2",
    # NaN-propagating helpers defined in templates/helpers.py.tmpl.
    "sign": "_sign", "sigmoid": "_sigmoid", "softplus": "_softplus",
    "max": "_max", "min": "_min", "heaviside": "_heaviside",
    "lt": "_lt", "le": "_le", "gt": "_gt", "ge": "_ge", "eq": "_eq", "ne": "_ne",
    "and_": "_and", "or_": "_or", "not_": "_not", "where": "_where",
}

@dataclass(frozen=True)
class Kernel:
    """What one generated function computes: output groups of the graph, stored into arrays.

    ``returns`` names a scalar group returned instead of stored; ``arrays`` lists the input
    arrays the function takes (e.g. ("x",) or ("x", "v")).
    """

    name: str
    arrays: tuple[str, ...]
    stores: tuple[str, ...] = ()
    returns: str | None = None
    doc: str = ""
    forward_first: str | None = None  # a group whose cone is printed first, as "forward"


def literal(value: float) -> str:
    if math.isnan(value):
        return "math.nan"
    if math.isinf(value):
        return "math.inf" if value > 0 else "-math.inf"
    text = repr(float(value))
    return f"({text})" if value < 0 or text.startswith("-") else text


class NumbaPrinter:
    """Turns kernels of one graph into source text (bodies of njit functions)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        leaves = list(graph.inputs) + [n for n in graph.nodes if n.op == "input"]
        self.input_names = _input_names(dict.fromkeys(leaves))

    # ---- public -------------------------------------------------------------------------
    def kernel(self, spec: Kernel) -> str:
        groups = [self.graph.outputs[g] for g in spec.stores]
        ret = self.graph.outputs[spec.returns] if spec.returns else None
        roots = [n for out in groups for n in out.nodes] + (list(ret.nodes) if ret else [])
        order = toposort(roots)
        if spec.forward_first:
            first = toposort(self.graph.outputs[spec.forward_first].nodes)
            first_set, needed = set(first), set(order)
            order = [n for n in first if n in needed] + [n for n in order if n not in first_set]
            n_forward = sum(1 for n in order if n in first_set)
        else:
            n_forward = None

        b = Lines()
        b.add("@nb.njit(cache=True, error_model=\"numpy\")")
        params = [array_param(a) for a in spec.arrays] + list(spec.stores)
        b.add(f"def {spec.name}({', '.join(params)}):")
        with b.indented():
            if spec.doc:
                b.add(f'"""{spec.doc}"""')
            names: dict[Node, str] = {}
            ops_seen = 0
            leaves = sorted((n for n in order if n.op == "input"), key=lambda n: n.attr[:2])
            for node in leaves:
                array, index, _ = node.attr
                names[node] = self.input_names[node]
                b.add(f"{names[node]} = {array_param(array)}[{index}]")
            for k, node in enumerate(order):
                if node.op == "input":
                    continue
                if node.op == "const":
                    names[node] = literal(node.attr)
                    continue
                if n_forward is not None and k == n_forward:
                    b.add("# reverse sweep: adjoints, reusing the forward values above")
                name = f"t{ops_seen}"
                ops_seen += 1
                b.add(f"{name} = {self.expression(node, [names[a] for a in node.args])}")
                names[node] = name
            for gname, out in zip(spec.stores, groups):
                self._store(b, gname, out, names)
            if ret is not None:
                b.add(f"return {names[ret.nodes[0]] if ret.nodes else '0.0'}")
        return b.text()

    def expression(self, node: Node, args: list[str]) -> str:
        method = getattr(self, f"_print_{node.op}", None)
        if method is not None:
            return method(node, *args)
        if node.op in CALLS:
            return f"{CALLS[node.op]}({', '.join(args)})"
        raise SymbackpropError(f"the Numba printer has no rule for IR node kind {node.op!r}")

    # ---- one method per node kind that is not a plain call ------------------------------
    def _print_add(self, node, a, b): return f"{a} + {b}"
    def _print_sub(self, node, a, b): return f"{a} - {b}"
    def _print_mul(self, node, a, b): return f"{a} * {b}"
    def _print_div(self, node, a, b): return f"{a} / {b}"
    def _print_neg(self, node, a): return f"-{a}"

    def _print_pow(self, node, a, b):
        base, exponent = node.args
        if exponent.op == "const":
            p = exponent.attr
            if p == 2.0:
                return f"{a} * {a}"
            if p == 3.0:
                return f"{a} * {a} * {a}"
            if p == 0.5:
                return f"math.sqrt({a})"
            if p.is_integer() and abs(p) < 2**31:
                # An integer exponent lets Numba use repeated multiplication instead of pow().
                return f"{a} ** {int(p)}" if p > 0 else f"{a} ** ({int(p)})"
        return f"{a} ** {b}"

    # ---- outputs ------------------------------------------------------------------------
    def _store(self, b: Lines, name: str, out: Output, names: dict[Node, str]) -> None:
        total = math.prod(out.shape)
        if out.symmetric:
            total = out.shape[0] * (out.shape[0] + 1) // 2
        if len(out.nodes) < total:
            b.add(f"{name}[...] = 0.0  # structural zeros are not computed")
        for node, pos in zip(out.nodes, out.index):
            value = names[node]
            b.add(f"{name}[{', '.join(map(str, pos))}] = {value}")
            if out.symmetric and pos[0] != pos[1]:
                b.add(f"{name}[{pos[1]}, {pos[0]}] = {value}")


_IDENT = re.compile(r"[^0-9a-zA-Z_]")
# Names the generated code itself uses: parameters, modules, builtins the printer emits.
_RESERVED = {"math", "np", "nb", "out", "grad", "hessian", "hvp", "value", "jacobian",
             "abs", "max", "min", "range"}


def array_param(array: str) -> str:
    """The parameter name of input array ``array`` in a kernel: x -> xs, v -> vs."""
    return f"{array}s"


def _input_names(inputs) -> dict[Node, str]:
    """Local names for input leaves: the symbol's name when it is a safe ASCII identifier."""
    names: dict[Node, str] = {}
    used: set[str] = set()
    for node in inputs:
        array, index, shown = node.attr
        base = shown if shown.isascii() else ""
        base = _IDENT.sub("_", base)
        if not base or base[0].isdigit() or base.startswith("_"):
            base = f"{array}{index}"
        if (keyword.iskeyword(base) or base in _RESERVED or re.fullmatch(r"t\d+", base)
                or base == array_param(array)):
            base = f"{base}_"
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        names[node] = name
    return names
