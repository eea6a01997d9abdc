"""Prints a model over data's module, filled into templates/data_module.py.tmpl and its API
templates (data_api, data_vector_api, data_rows_api).
"""

from __future__ import annotations

from .. import __version__
from ..frontend.data import DataModel
from .data_checks import layout_source, prepare_source
from .data_entry import entry_source
from .module import STAGE_SECONDS_PLACEHOLDER, brief, docstring_safe, render, requirement_fields


def data_module_source(exprs, m: DataModel, constants, kernels_text, packages, cost) -> str:
    """The module of a model over data: its printed kernels (``kernels_text``) and the
    template fields around them (header, data checks, the compiled entry points, the API for
    its kind: scalar, vector or per-row residuals)."""
    P, K = len(m.params), len(m.sums)
    arrays = {a.name: a for a in m.arrays}
    columns = {}  # fixed columns read: sample data needs at least this many
    for r in m.reductions:
        for _, a in r.accesses:
            if a.base is not None and len(a.at) == 2 and a.at[1][0] is None:
                columns[a.base] = max(columns.get(a.base, 0), a.at[1][1] + 1)
    for _, base, at in m.fixed_reads:
        if len(at) == 2:
            columns[base] = max(columns.get(base, 0), at[1] + 1)
    shapes = tuple((n, arrays[n].ndim if n in arrays else 0, columns.get(n, 1)) for n in m.order)
    rows_mode = m.rows is not None
    suffixes = ("value", "grad", "hessian", "hvp")
    meta = [
        f"N_PARAMS = {P}",
        f"PARAM_NAMES = {tuple(str(p) for p in m.params)!r}",
        f"DATA_NAMES = {m.order!r}",
        f"DATA_SHAPES = {shapes!r}  # (name, dimensions, columns read)",
        f"N_SUMS = {0 if rows_mode else K}",
        f"N_SCALARS = {len(m.call_scalars)}  # entries of ds: scalar data, lengths, fixed reads",
        f"N_OUTPUTS = {len(m.outer) if m.vector else None}",
        f"ROWS = {str(m.rows) if rows_mode else None!r}",
        f"COST = {cost.to_dict()!r}",
    ]
    tables = [
        f"SUM_{suffix.upper()} = ({''.join(f'_sum{k}_{suffix}, ' for k in range(K))})"
        for suffix in (() if rows_mode else suffixes if not m.vector else suffixes[:2])
    ]
    data_params = "".join(f"{n}, " for n in m.order)
    data_tuple = f"({data_params})" if m.order else "()"
    if rows_mode:
        api = render(
            "data_rows_api.py.tmpl",
            data_params=data_params,
            data_tuple=data_tuple,
            check=render("data_jacobian_check.py.tmpl"),
        )
        summary = "Defines value(theta, data...) -> (N,) residuals and jacobian(...) -> (N, P)."
        kind = "Per-row residuals"
    elif m.vector:
        api = render(
            "data_vector_api.py.tmpl",
            data_params=data_params,
            data_tuple=data_tuple,
            check=render("data_jacobian_check.py.tmpl"),
        )
        summary = "Defines value(theta, data...) -> (M,) and jacobian(theta, data...) -> (M, P)."
        kind = "Vector model"
    else:
        api = render(
            "data_api.py.tmpl",
            data_params=data_params,
            data_tuple=data_tuple,
            entries=entry_source(m.order, tuple(a.name for a in m.arrays), K),
        )
        summary = (
            "Defines value, grad, value_and_grad, hessian (theta, data...) and "
            "hvp(theta, v, data...)."
        )
        kind = "Model"
    reductions = "\n".join(
        f"{'Rows' if rows_mode else f'S{k}'}: {docstring_safe(brief(r.source, 300))}"
        for k, r in enumerate(m.reductions)
    )
    signature = "f = " + (
        f"[{', '.join(brief(e, 200) for e in exprs)}]" if m.vector else brief(exprs[0], 400)
    )
    data_desc = (
        ", ".join(f"{n}[i]" if s == 1 else f"{n}[i, j]" if s == 2 else n for n, s, _ in shapes)
        or "none"
    )
    return render(
        "data_module.py.tmpl",
        title=f"{kind} over data and its derivatives, compiled for Numba.",
        version=__version__,
        signature=docstring_safe(signature),
        params=", ".join(str(p) for p in m.params),
        data=docstring_safe(data_desc),
        reductions=reductions or "No sums.",
        constants=docstring_safe(", ".join(f"{k} = {v!r}" for k, v in constants) or "none"),
        cost=cost.table(),
        stage_seconds=STAGE_SECONDS_PLACEHOLDER,
        summary=summary,
        meta="\n".join(meta),
        helpers=render("helpers.py.tmpl"),
        data_helpers=render("data_helpers.py.tmpl"),
        prepare=prepare_source(m),
        layout=layout_source(m),
        kernels="\n\n\n".join(kernels_text),
        tables="\n".join(tables) or "# (none: one loop over the rows)",
        api=api,
        **requirement_fields(packages | {"numpy", "numba"}),
    )
