"""Prints IR kernels as Python source for ``@numba.njit``: one method per node kind.

Each kernel is straight-line SSA code: inputs are loaded into locals named like the user's
symbols, every operation gets a temporary ``t<k>``, outputs are stored into preallocated arrays.
A node kind without a method is an error naming it, never partial code.
"""

from __future__ import annotations

import keyword
import math
import re
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass

from ..errors import SymbackpropError
from ..ir.elementwise import Strided, sizer
from ..ir.graph import Graph, Output, toposort
from ..ir.node import Node
from .lines import Lines

# Functions that print as one call: the known-function table (data, like SymPy's pycode).
# fmt: off
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
# fmt: on


@dataclass(frozen=True)
class Kernel:
    """What one generated function computes: output groups of the graph.

    ``arrays`` lists the input arrays the function takes (they are also its parameter names,
    e.g. ("xs",) or ("W1", "b1", "X")); ``stores`` names groups written into preallocated
    arrays passed after them; ``returns`` names groups returned (a scalar or one array node).
    """

    name: str
    arrays: tuple[str, ...]
    stores: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    doc: str = ""
    forward_first: str | None = None  # a group whose cone is printed first, as "forward"
    preamble: tuple[str, ...] = ()  # statements run first (e.g. shape checks)
    nogil: bool = False  # releases the GIL: callers may run it on several threads at once
    loop: Loop | None = None  # one loop over rows of call-time data (models over data)


# The array name of per-row inputs: the k-th value a data model's loop reads each row.
ROW = "row"


@dataclass(frozen=True)
class Loop:
    """A kernel that loops over rows ``lo``..``hi - 1`` of call-time data (its arrays must
    include "lo" and "hi"), and over inner ranges within each row for nested sums: ``levels``
    holds (variable, first, end) per nesting level, outermost first ("lo", "hi" for the first).
    Row input k is read as ``reads[k]`` (``"t[i + 1]"``) inside level ``read_levels[k]``.
    ``prelude`` lines run first (the lengths inner bounds use). ``accumulate``: the stored
    groups and the returned value are sums over every iteration (the caller zeroes the
    stores); else each row writes entry ``row - lo`` of each stored group (a per-row output and
    its Jacobian)."""

    reads: tuple[str, ...]
    read_levels: tuple[int, ...]
    levels: tuple[tuple[str, str, str], ...]
    accumulate: bool = True
    prelude: tuple[str, ...] = ()

    @property
    def row(self) -> str:
        return self.levels[0][0]


def literal(value: float) -> str:
    if math.isnan(value):
        return "math.nan"
    if math.isinf(value):
        return "math.inf" if value > 0 else "-math.inf"
    text = repr(float(value))
    return f"({text})" if value < 0 or text.startswith("-") else text


class NumbaPrinter:
    """Turns kernels of one graph into source text (bodies of njit functions).

    Nodes the graph names (Z1, A1, dZ1, ... for a network's layers) keep those names as
    temporaries, so the generated code shows the equations it computes.
    """

    def __init__(self, graph: Graph):
        self.graph = graph
        leaves = list(graph.inputs) + [n for n in graph.nodes if n.op == "input"]
        self.input_names = _input_names(dict.fromkeys(leaves))
        self.hints = graph.names
        # What the printed code needs installed; grows as kernels are printed.
        self.packages: set[str] = {"numpy", "numba"}

    # ---- public -------------------------------------------------------------------------
    def kernel(self, spec: Kernel) -> str:
        groups = [self.graph.outputs[g] for g in spec.stores]
        returned = [self.graph.outputs[g] for g in spec.returns]
        roots = [n for out in groups + returned for n in out.nodes]
        order = toposort(roots)
        # Uses within this kernel: a value used once may be updated in place by its consumer.
        self._uses = Counter(a for n in order for a in n.args)
        self._uses.update(roots)
        n_forward = None
        if spec.forward_first:
            first = toposort(self.graph.outputs[spec.forward_first].nodes)
            first_set, needed = set(first), set(order)
            order = [n for n in first if n in needed] + [n for n in order if n not in first_set]
            n_forward = sum(1 for n in order if n in first_set)

        b = Lines()
        nogil = ", nogil=True" if spec.nogil else ""
        b.add(f'@nb.njit(cache=CACHE, error_model="numpy"{nogil})')
        b.add(f"def {spec.name}({', '.join(list(spec.arrays) + list(spec.stores))}):")
        with b.indented():
            if spec.doc:
                b.add(f'"""{spec.doc}"""')
            for line in spec.preamble:
                b.add(line)
            names: dict[Node, str] = {}
            loaded = (n for n in order if n.op == "input" and n.attr[0] != ROW)
            for node in sorted(loaded, key=lambda n: n.attr[:2]):
                array, index, _ = node.attr
                names[node] = self.input_names[node]
                b.add(f"{names[node]} = {array}[{index}]")
            used = set(names.values()) | set(spec.arrays) | set(spec.stores)
            # Each stored entry is written as soon as its value exists: short live ranges keep
            # Numba/LLVM compile time linear for large Hessians.
            pending = self._stores(spec.stores, groups, spec.loop)
            if spec.loop is not None:
                self._loop(b, spec, order, names, used, pending, returned)
                return b.text()
            for gname, out in zip(spec.stores, groups):
                if _sparse(out):
                    b.add(f"{gname}[...] = 0.0  # structural zeros are not computed")
            self._temps = 0
            self._emit(b, order, names, used, pending, n_forward)
            if returned:
                b.add("return " + ", ".join(_returned(out, names) for out in returned))
        return b.text()

    def _emit(self, b: Lines, order, names, used, pending, n_forward=None) -> None:
        """Print ``order``'s nodes as statements, each stored entry right after its value."""
        for k, node in enumerate(order):
            if node in names:
                pass
            elif not node.args and node.op != "seed":  # a seed is an array: built once
                names[node] = self._leaf(node)
            else:
                if n_forward is not None and k == n_forward:
                    b.add("# reverse sweep: adjoints, reusing the forward values above")
                name = self.hints.get(node)
                if name is None or name in used:
                    name, self._temps = f"t{self._temps}", self._temps + 1
                used.add(name)
                args = [names[a] for a in node.args]
                emit = getattr(self, f"_emit_{node.op}", None)
                if emit is not None:
                    emit(b, node, name, args)
                else:
                    b.add(f"{name} = {self.expression(node, args)}")
                names[node] = name
            for line in pending.pop(node, ()):
                b.add(line.format(names[node]))

    def _loop(self, b: Lines, spec: Kernel, order, names, used, pending, returned) -> None:
        """Nested loops (Loop): what does not depend on a loop's variable is computed before
        it; each level's reads and the values depending on them inside it; the sums (+=) or
        per-row stores in the innermost level."""
        loop = spec.loop
        depth = {
            n: loop.read_levels[n.attr[1]] for n in order if n.op == "input" and n.attr[0] == ROW
        }
        for node in order:
            if node not in depth and node.args:
                levels = [depth[a] for a in node.args if a in depth]
                if levels:
                    depth[node] = max(levels)
        self._temps = 0
        for line in loop.prelude:
            b.add(line)
        # Every store happens per innermost iteration: a term of the sum is indexed by all
        # loops, so a value computed further out still adds once per iteration.
        stores = {n: pending.pop(n) for n in order if n in pending}
        self._emit(b, [n for n in order if n not in depth], names, used, {})
        total = None
        if returned and loop.accumulate:
            (out,) = returned
            total = "acc"
            b.add(f"{total} = 0.0")
        # Sums live in locals during the loop: stores into an array every row would keep LLVM
        # from holding them in registers (the array could alias the data).
        sums = [
            (f"{name}[{', '.join(map(str, pos))}]", _accumulator(name, pos))
            for name in (spec.stores if loop.accumulate else ())
            for pos in self.graph.outputs[name].index
        ]
        for _, local in sums:
            b.add(f"{local} = 0.0")
        with ExitStack() as nest:
            for level, (var, first, end) in enumerate(loop.levels):
                b.add(f"for {var} in range({first}, {end}):")
                nest.enter_context(b.indented())
                here = [n for n in order if depth.get(n) == level]
                for node in sorted((n for n in here if n.op == "input"), key=lambda n: n.attr[1]):
                    names[node] = self.input_names[node]
                    b.add(f"{names[node]} = {loop.reads[node.attr[1]]}")
                self._emit(b, [n for n in here if n.op != "input"], names, used, {})
            for node, lines in stores.items():
                for line in lines:
                    b.add(line.format(names[node]))
            if total is not None:
                b.add(f"{total} += {_returned(out, names)}")
        for entry, local in sums:
            b.add(f"{entry} += {local}")
        if total is not None:
            b.add(f"return {total}")

    def _leaf(self, node: Node) -> str:
        if node.op == "input":
            return self.input_names[node]
        if node.op == "const":
            return literal(node.attr)
        if node.op == "array":
            return node.attr[0]
        return self.expression(node, [])  # dim

    def expression(self, node: Node, args: list[str]) -> str:
        method = getattr(self, f"_print_{node.op}", None)
        if method is not None:
            return method(node, *args)
        if node.op in CALLS:
            return f"{CALLS[node.op]}({', '.join(args)})"
        raise SymbackpropError(f"the Numba printer has no rule for IR node kind {node.op!r}")

    # ---- one method per node kind that is not a plain call ------------------------------
    # fmt: off
    def _print_add(self, node, a, b): return f"{a} + {b}"
    def _print_sub(self, node, a, b): return f"{a} - {b}"
    def _print_mul(self, node, a, b): return f"{a} * {b}"
    def _print_div(self, node, a, b): return f"{a} / {b}"
    def _print_neg(self, node, a): return f"-{a}"
    # fmt: on

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

    # ---- array kinds ----------------------------------------------------------------------
    def _print_dim(self, node):
        array, axis = node.attr
        return f"float({array}.shape[{axis}])"

    # fmt: off
    def _print_matmul(self, node, a, b):
        self.packages.add("scipy")  # Numba's np.dot calls BLAS through scipy.linalg.cython_blas
        return f"np.dot({a}, {b})"
    def _print_transpose(self, node, a): return f"{a}.T"
    def _print_sum_all(self, node, a): return f"np.sum({a})"
    def _print_colsum(self, node, a): return f"_colsum({a})"
    def _print_rowsum(self, node, a): return f"_rowsum({a})"
    def _print_softmax_rows(self, node, a): return f"_softmax_rows({a})"
    def _print_logsumexp_rows(self, node, a): return f"_logsumexp_rows({a})"
    def _print_take(self, node, a): return f"{a}[{node.attr}]"
    def _print_put(self, node, a): return f"_put({a}, {node.attr[0]}, {node.attr[1]})"
    def _print_dir_transpose(self, node, a): return f"_dir_transpose({a}, {node.attr})"
    def _print_dirs_first(self, node, a): return f"_dirs_first({a}, {node.attr})"
    # fmt: on

    # Direction-batched values (ir/batched.py): helpers in templates/direction_helpers.py.tmpl.
    def _print_seed(self, node):
        s = node.attr
        rows, cols = s.matrix
        text = f"_seed({s.offset}, {rows}, {cols}, {s.period}, {s.transposed})"
        return text if len(s.shape) else f"{text}.reshape({s.period})"

    def _print_reshape(self, node, a):
        dims = [str(d) if isinstance(d, int) else "-1" for d in node.attr]
        if dims.count("-1") > 1:
            raise SymbackpropError(f"reshape to {node.attr} has more than one unknown size")
        # A reshape is a view of contiguous memory (batched values are built contiguous).
        return f"np.ascontiguousarray({a}).reshape(({', '.join(dims)},))"

    def _emit_map(self, b: Lines, node: Node, name: str, args: list[str]) -> None:
        """One fused loop nest: load each operand's element, run the scalar body, store."""
        spec = node.attr
        index = ("i", "j", "k", "l")[: len(spec.shape)]
        k = sizer(spec.bcast)
        kind, size = spec.bcast[k], args[k]
        P = spec.period
        if P and len(spec.shape) == 1:  # a scalar per direction
            shape = f"({P},)"
        elif kind == "full":
            shape = f"{size}.shape"
        elif kind == "block":  # a plain operand repeated for each of P directions
            shape = f"({size}.shape[0] * {P}, {size}.shape[1])"
        elif kind == "col":  # an outer product of a column and a row
            shape = f"({size}.shape[0], {args[spec.bcast.index('row')]}.shape[0])"
        else:  # a batched operand over another number of directions
            shape = f"({size}.shape[0] // {kind.period} * {P}, {size}.shape[1])"
        b.add(f"{name} = np.empty({shape})")
        batched = spec.period and len(spec.shape) == 2
        with ExitStack() as loops:
            if batched:  # row i*P + p: loop over i and the direction p, no division per entry
                b.add(f"for i in range({name}.shape[0] // {P}):")
                loops.enter_context(b.indented())
                b.add(f"for p in range({P}):")
                loops.enter_context(b.indented())
                b.add(f"for j in range({name}.shape[1]):")
                loops.enter_context(b.indented())
                at = _BATCHED_AT
                target = f"i * {P} + p, j"
            else:
                for axis, var in enumerate(index):
                    b.add(f"for {var} in range({name}.shape[{axis}]):")
                    loops.enter_context(b.indented())
                at = {
                    "full": ", ".join(index),
                    "row": index[-1],
                    "col": index[0],
                }
                target = ", ".join(index)
            value = self._map_body(b, spec, at, args, "p" if batched else "i")
            b.add(f"{name}[{target}] = {value}")

    def _emit_spread(self, b: Lines, node: Node, name: str, args: list[str]) -> None:
        """A dense part plus sparse terms: loops over each term's nonzeros only (sample i,
        entry (q, j) of the seed's matrix), adding into the dense part in place when nothing
        else reads it."""
        spec = node.attr
        P = spec.period
        base, parts, other = spec.split(tuple(args))
        if base is not None and spec.base_period == P:
            owned = self._owned(node.args[0])
            b.add(f"{name} = {base}" if owned else f"{name} = {base}.copy()")
        elif base is not None:  # the base holds fewer directions: move its rows
            Pb = spec.base_period
            b.add(f"{name} = np.zeros(({base}.shape[0] // {Pb} * {P}, {base}.shape[1]))")
            b.add(f"for i in range({base}.shape[0] // {Pb}):")
            b.add(f"    for p in range({Pb}):")
            b.add(f"        for j in range({base}.shape[1]):")
            b.add(f"            {name}[i * {P} + p, j] = {base}[i * {Pb} + p, j]")
        else:
            term, a, c, rows = parts[0]
            samples = f"{_samples(term, a, c, rows)}.shape[0]"
            shape = {
                "place": f"({samples} * {P}, {spec.cols})",
                "right": f"({samples} * {P}, {other}.shape[1])",
                "contract": f"({spec.cols * P}, {other}.shape[1])",
                "left": f"({other}.shape[0] * {P}, {spec.cols})"
                if other
                else f"({P}, {spec.cols})",
            }[spec.mode]
            b.add(f"{name} = np.zeros({shape})")
        for term, a, c, rows in parts:
            seed = term.seed
            R, C = seed.matrix
            d = f"j * {R} + q" if seed.transposed else f"q * {C} + j"
            with ExitStack() as loops:
                for var, bound in (
                    ("i", f"{_samples(term, a, c, rows)}.shape[0]"),
                    ("q", R),
                    ("j", C),
                ):
                    b.add(f"for {var} in range({bound}):")
                    loops.enter_context(b.indented())
                b.add(f"p = {seed.offset} + {d}" if seed.offset else f"p = {d}")
                factors = [f"{a}[i, q]"] if a else []
                if c:
                    factors.append(
                        {"full": f"{c}[i, j]", "row": f"{c}[j]", "col": f"{c}[i]", "scalar": c}[
                            term.c
                        ]
                    )
                v = " * ".join(factors) or "1.0"
                if spec.mode == "place":
                    b.add(f"{name}[i * {P} + p, j] += {v}")
                elif spec.mode == "left" and not other:
                    b.add(f"{name}[p, j] += {v}")
                else:
                    b.add(f"v = {v}")
                    if spec.mode == "right":
                        b.add(f"for k in range({other}.shape[1]):")
                        b.add(f"    {name}[i * {P} + p, k] += v * {other}[j, k]")
                    elif spec.mode == "contract":
                        b.add(f"for k in range({other}.shape[1]):")
                        b.add(f"    {name}[j * {P} + p, k] += v * {other}[i, k]")
                    else:
                        b.add(f"for k in range({other}.shape[0]):")
                        b.add(f"    {name}[k * {P} + p, j] += {other}[k, i] * v")

    def _owned(self, node: Node) -> bool:
        """True if ``node`` is a fresh array that only its one consumer reads (so that
        consumer may write into it): not an input, an output or a view of a shared array."""
        if self._uses[node] != 1 or node.op in ("array", "input", "const"):
            return False
        if node.op in ("reshape", "transpose"):  # printed as views of their operand
            return self._owned(node.args[0])
        return True

    def _map_body(self, b: Lines, spec, at: dict, args, direction: str) -> str:
        """Print the scalar body of a map for one element; returns the name of its value.
        ``at`` gives each broadcast kind's index expression, ``direction`` the loop variable
        of the direction (over batched values)."""
        local: dict[Node, str] = {}
        body = toposort([spec.body])
        for leaf in sorted((n for n in body if n.op == "input"), key=lambda n: n.attr[1]):
            k = leaf.attr[1]
            kind = spec.bcast[k]
            local[leaf] = f"e{k}"
            if kind == "scalar":
                b.add(f"e{k} = {args[k]}")
            elif isinstance(kind, Strided):  # its own period; zero past it
                read = f"{args[k]}[{at[kind.kind].format(P=kind.period)}]"
                if kind.period < spec.period:
                    read = f"{read} if {direction} < {kind.period} else 0.0"
                b.add(f"e{k} = {read}")
            else:
                b.add(f"e{k} = {args[k]}[{at[kind].format(P=spec.period)}]")
        count = 0
        for n in body:
            if n.op == "const":
                local[n] = literal(n.attr)
            elif n.op != "input":
                local[n] = f"s{count}"
                count += 1
                b.add(f"{local[n]} = {self.expression(n, [local[a] for a in n.args])}")
        return local[spec.body]

    # ---- outputs ------------------------------------------------------------------------
    @staticmethod
    def _stores(names, groups, loop=None) -> dict[Node, list[str]]:
        """Store statements per node ("{}" stands for the node's name), mirrored if symmetric.
        In a loop, sums add each row's value (the upper triangle only: the caller mirrors the
        total once) and per-row outputs write entry ``row - lo``."""
        pending: dict[Node, list[str]] = {}
        for name, out in zip(names, groups):
            for node, pos in zip(out.nodes, out.index):
                lines = pending.setdefault(node, [])
                at = ", ".join(map(str, pos))
                if loop is None:
                    lines.append(f"{name}[{at}] = {{}}")
                    if out.symmetric and pos[0] != pos[1]:
                        lines.append(f"{name}[{pos[1]}, {pos[0]}] = {{}}")
                elif loop.accumulate:  # a local sum, stored once after the loop (_loop)
                    lines.append(f"{_accumulator(name, pos)} += {{}}")
                else:
                    lines.append(
                        f"{name}[{', '.join([f'{loop.row} - lo'] + [at] * bool(at))}] = {{}}"
                    )
        return pending


_IDENT = re.compile(r"[^0-9a-zA-Z_]")
# Names the generated code itself uses: parameters, modules, builtins the printer emits.
_RESERVED = {
    "math",
    "np",
    "nb",
    "out",
    "grad",
    "hessian",
    "hvp",
    "value",
    "jacobian",
    "abs",
    "max",
    "min",
    "range",
}


# Where each broadcast kind reads in a map over direction-batched values (ir/batched.py),
# looping over the sample i, the direction p and the column j.
_BATCHED_AT = {
    "full": "i * {P} + p, j",
    "row": "j",
    "col": "i * {P} + p",
    "block": "i, j",
    "colblock": "i",
    "cycle": "p, j",
    "colT": "p, i",
    "colcycle": "p",
}


def _samples(term, a, c, rows) -> str:
    """The operand of a spread's term whose first axis runs over the samples."""
    return a if term.a else c if term.c in ("full", "col") else rows


def _accumulator(name: str, pos: tuple[int, ...]) -> str:
    """The local that sums entry ``pos`` of stored group ``name`` over a loop's rows."""
    return f"acc_{name}_{'_'.join(map(str, pos))}" if pos else f"acc_{name}"


def _sparse(out: Output) -> bool:
    total = math.prod(out.shape)
    if out.symmetric:
        total = out.shape[0] * (out.shape[0] + 1) // 2
    return len(out.nodes) < total


def _returned(out: Output, names: dict[Node, str]) -> str:
    if not out.nodes:
        return "0.0"
    if len(out.nodes) != 1 or out.index[0] != ():
        raise SymbackpropError("only a scalar or a single array node can be returned")
    return names[out.nodes[0]]


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
        if (
            keyword.iskeyword(base)
            or base in _RESERVED
            or re.fullmatch(r"t\d+", base)
            or base in ("xs", "vs")
        ):
            base = f"{base}_"
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        names[node] = name
    return names
