"""sb.compile(f, params, data=...): a model over call-time data -> one loop per sum.

The data front end (frontend/data.py) splits the model into per-row bodies and the outer
expression around them; each is converted to IR and differentiated with the scalar machinery
(a body only with respect to the parameters: data is never differentiated), optimized by the
same passes, and printed by the same printer, a body as one loop over the rows (printer Loop).
The request's cache key holds the expressions, never the data, so one module serves every
number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .cost import CostReport, count_ops
from .derivatives.program import scalar_program, vector_program
from .frontend.data import DataModel, data_model
from .frontend.scalar import to_ir, variable_nodes
from .ir.graph import Graph
from .ir.node import input_
from .loader.cache import Cache
from .loader.data_function import DataFunction
from .passes import optimize
from .pipeline import Stages, cache_key, cached_module, structural_digest
from .printer.data_checks import bound_code
from .printer.data_module import data_module_source
from .printer.module import brief, docstring_safe
from .printer.numba import ROW, Kernel, Loop, NumbaPrinter


@dataclass(frozen=True)
class DataRequest:
    """A validated request for a model over data; ``key()`` names its cache entry."""

    exprs: tuple[sp.Expr, ...]
    model: DataModel
    constants: tuple[tuple[sp.Symbol, float], ...]
    cache_dir: object = None

    def key(self) -> str:
        m = self.model
        return cache_key(
            "data",
            "vector" if m.vector else "rows" if m.rows is not None else "scalar",
            repr([sp.srepr(p) for p in m.params]),
            repr(m.order),
            repr(str(m.rows)),
            repr(sorted((sp.srepr(k), float.hex(v)) for k, v in self.constants)),
            structural_digest(self.exprs),
        )


def compile_data(exprs, vector, params, data, rows, constants, cache_dir) -> DataFunction:
    """The compiled model (see sb.compile's ``data=``); inputs already checked by compile."""
    model = data_model(exprs, params, data, rows=rows, vector=vector, constants=constants)
    request = DataRequest(tuple(exprs), model, tuple(constants), cache_dir)
    module, path, seconds = cached_module(
        Cache(cache_dir), request.key(), lambda timer: _generate(request, timer)
    )
    return DataFunction(module, path, seconds)


def _generate(request: DataRequest, timer: Stages) -> tuple[str, str]:
    m = request.model
    params = variable_nodes(m.params)
    scalars = [input_("ds", k, str(s)) for k, s in enumerate(m.call_scalars)]
    sums = [input_("ss", k, f"S{k}") for k in range(len(m.sums))]
    leaves = {
        **dict(zip(m.params, params)),
        **dict(zip(m.call_scalars, scalars)),
        **dict(zip(m.sums, sums)),
    }
    constants = dict(request.constants)
    arrays = tuple(a.name for a in m.arrays)
    optimize_timed = timer.timed("passes", optimize)
    kernels_text, digests, raw_ops, opt_ops = [], [], {}, {}
    packages: set[str] = set()

    def emit(graph: Graph, kernels) -> None:
        printer = NumbaPrinter(graph)
        kernels_text.extend(printer.kernel(k) for k in kernels)
        packages.update(printer.packages)
        digests.append(graph.digest())

    rows_mode = m.rows is not None
    for k, r in enumerate(m.reductions):
        row_leaves = {s: input_(ROW, j, a.name) for j, (s, a) in enumerate(r.accesses)}
        (body,) = to_ir([r.body], {**leaves, **row_leaves}, constants)
        loop = _loop(r, m, accumulate=not rows_mode)
        head = ("xs", "ds") + arrays + ("lo", "hi")
        raw, graph = scalar_program(body, params, optimize_timed, second_order=not rows_mode)
        name = "_rows" if rows_mode else f"_sum{k}"
        if rows_mode:
            kernels = [
                Kernel(
                    f"{name}_value",
                    head,
                    stores=("value",),
                    loop=loop,
                    nogil=True,
                    doc=f"value[i - lo] = {brief(r.source, 120)}",
                ),
                Kernel(
                    f"{name}_jacobian",
                    head,
                    stores=("value", "grad"),
                    forward_first="value",
                    loop=loop,
                    nogil=True,
                    doc="one row of the Jacobian per row of data",
                ),
            ]
        else:
            what = docstring_safe(brief(r.source, 160))
            kernels = [
                Kernel(
                    f"{name}_value",
                    head,
                    returns=("value",),
                    loop=loop,
                    nogil=True,
                    doc=f"S{k} = {what}",
                ),
                Kernel(
                    f"{name}_grad",
                    head,
                    stores=("grad",),
                    returns=("value",),
                    forward_first="value",
                    loop=loop,
                    nogil=True,
                    doc=f"S{k}, and grad += its rows' gradients (one reverse sweep per row)",
                ),
                Kernel(
                    f"{name}_hessian",
                    head,
                    stores=("grad", "hessian"),
                    returns=("value",),
                    forward_first="value",
                    loop=loop,
                    nogil=True,
                    doc=f"S{k}; grad and the upper triangle of hessian += its rows'",
                ),
                Kernel(
                    f"{name}_hvp",
                    ("xs", "vs", "ds") + arrays + ("lo", "hi"),
                    stores=("grad", "hvp"),
                    returns=("value",),
                    forward_first="value",
                    loop=loop,
                    nogil=True,
                    doc=f"S{k}; grad and hvp += its rows' (H v)",
                ),
            ]
        emit(graph, kernels)
        for stage, g in raw.items():
            raw_ops[f"{name} {stage}"] = count_ops(g, [stage if stage != "hvp" else "hessian"])
        opt_ops.update(
            {f"{name} {s}": count_ops(graph, [s if s != "hvp" else "hessian"]) for s in raw}
        )
    if not rows_mode:
        outer = to_ir(list(m.outer), leaves, constants)
        inputs = params + sums
        head = ("xs", "ss", "ds")
        if m.vector:
            raw, graph = vector_program(outer, inputs, optimize_timed)
            kernels = [
                Kernel("_outer_value_into", head, stores=("value",), doc="F(theta, S)"),
                Kernel(
                    "_outer_jacobian_into",
                    head,
                    stores=("jacobian",),
                    forward_first="value",
                    doc="dF/d(theta, S)",
                ),
            ]
        else:
            raw, graph = scalar_program(outer[0], inputs, optimize_timed, second_order=True)
            kernels = [
                Kernel("_outer_value", head, returns=("value",), doc="F(theta, S)"),
                Kernel(
                    "_outer_value_and_grad_into",
                    head,
                    stores=("grad",),
                    returns=("value",),
                    forward_first="value",
                    doc="F, and dF/d(theta, S) into grad",
                ),
                Kernel("_outer_hessian_into", head, stores=("hessian",), doc="d2F/d(theta, S)2"),
            ]
        emit(graph, kernels)
        for stage, g in raw.items():
            group = {"hvp": "hessian"}.get(stage, stage)
            raw_ops[f"outer {stage}"] = count_ops(g, [group])
            opt_ops[f"outer {stage}"] = count_ops(graph, [group])
    timer.stage("derivatives and printer", minus=timer.seconds.get("passes", 0.0))
    cost = CostReport(raw_ops, opt_ops)
    source = data_module_source(request.exprs, m, request.constants, kernels_text, packages, cost)
    timer.stage("module")
    return source, "".join(digests)


def _loop(r, model: DataModel, accumulate: bool) -> Loop:
    """The printer's loop nest for reduction ``r``: each level's variable (the sum's index
    when that is a plain, unused identifier) and bounds; inner bounds read the lengths they
    use from ``ds`` once, as integers."""
    taken = {str(s) for s in model.params + model.call_scalars} | set(model.order)
    taken |= {"lo", "hi", "acc"}
    variables, rename = [], {}
    for level, (index, _, _) in enumerate(r.loops):
        name = str(index)
        ok = name.isidentifier() and not name.startswith("_") and len(name) <= 8
        if not ok or name in taken or name in variables:
            name = f"row{level}"
        variables.append(name)
        rename[index] = sp.Symbol(name, integer=True)
    scalars = {s: k for k, s in enumerate(model.call_scalars)}
    prelude, levels = [], [(variables[0], "lo", "hi")]
    for level, (index, lo, hi) in enumerate(r.loops[1:], start=1):
        for length in sorted((lo.free_symbols | hi.free_symbols) & scalars.keys(), key=str):
            line = f"len_{length} = int(ds[{scalars[length]}])"
            if line not in prelude:
                prelude.append(line)
            rename[length] = sp.Symbol(f"len_{length}", integer=True)
        levels.append(
            (
                variables[level],
                bound_code(lo.xreplace(rename)),
                bound_code((hi + 1).xreplace(rename)),
            )
        )
    return Loop(
        tuple(a.code(variables) for _, a in r.accesses),
        tuple(a.level for _, a in r.accesses),
        tuple(levels),
        accumulate=accumulate,
        prelude=tuple(prelude),
    )
