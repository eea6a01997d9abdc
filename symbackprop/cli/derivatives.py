"""``grad``, ``jacobian`` and ``hessian``: formulas -> their symbolic derivatives, printed as
text, LaTeX or JSON.
"""

from __future__ import annotations

import click

from .group import Command
from .inputs import DATA, JSON, LATEX, WRT, formulas
from .output import echo_json, matrix_lines


@click.command(name="grad", cls=Command)
@click.argument("expr", nargs=1, required=False)
@WRT
@DATA
@LATEX
@JSON
def grad_command(expr, wrt, data, latex, as_json) -> None:
    """The gradient of EXPR: one derivative per variable (with --data, EXPR may sum over data
    arrays read as t[i]; each derivative is then a sum too).

    \b
      symbackprop grad "x^2 y + y" --wrt x,y
      symbackprop grad "sum((y[i] - a exp(-b t[i]))^2, i)" --data t,y
    """
    import sympy as sp

    from ..symbolic import grad

    (f,), variables = formulas((expr,) if expr else (), wrt, data=data)
    g = grad(f, variables)
    if as_json:
        echo_json({
            "function": str(f),
            "wrt": [v.name for v in variables],
            "gradient": [str(e) for e in g],
            "latex": [sp.latex(e) for e in g],
        })  # fmt: skip
        return
    if latex:
        click.echo(r"\nabla f = " + sp.latex(g))
        return
    click.echo(f"f = {f}")
    for v, e in zip(variables, g):
        click.echo(f"df/d{v} = {e}")


@click.command(name="jacobian", cls=Command)
@click.argument("exprs", nargs=-1, required=False)
@WRT
@DATA
@LATEX
@JSON
def jacobian_command(exprs, wrt, data, latex, as_json) -> None:
    """The Jacobian of the vector function EXPRS (one formula per output): rows are outputs,
    columns variables.

    \b
      symbackprop jacobian "x y" "x + y" --wrt x,y
    """
    import sympy as sp

    from ..symbolic import jacobian

    fs, variables = formulas(exprs, wrt, what="EXPRS", data=data)
    J = jacobian(fs, variables)
    rows = [[J[i, j] for j in range(J.cols)] for i in range(J.rows)]
    if as_json:
        echo_json({
            "functions": [str(f) for f in fs],
            "wrt": [v.name for v in variables],
            "jacobian": [[str(e) for e in r] for r in rows],
            "latex": [[sp.latex(e) for e in r] for r in rows],
        })  # fmt: skip
        return
    if latex:
        click.echo("J = " + sp.latex(J))
        return
    for k, f in enumerate(fs):  # numbered from 0, like check's labels and JSON indexes
        click.echo(f"f{k} = {f}")
    names = ", ".join(f"f{k}" for k in range(len(fs)))
    click.echo(f"Jacobian (rows {names}; columns {', '.join(v.name for v in variables)}):")
    for line in matrix_lines([[str(e) for e in r] for r in rows]):
        click.echo(line)


@click.command(name="hessian", cls=Command)
@click.argument("expr", nargs=1, required=False)
@WRT
@DATA
@LATEX
@JSON
def hessian_command(expr, wrt, data, latex, as_json) -> None:
    """The Hessian of EXPR: second derivatives, rows and columns in the order of --wrt.

    \b
      symbackprop hessian "x^3 y" --wrt x,y
    """
    import sympy as sp

    from ..symbolic import hessian

    (f,), variables = formulas((expr,) if expr else (), wrt, data=data)
    H = hessian(f, variables)
    rows = [[H[i, j] for j in range(H.cols)] for i in range(H.rows)]
    if as_json:
        echo_json({
            "function": str(f),
            "wrt": [v.name for v in variables],
            "hessian": [[str(e) for e in r] for r in rows],
            "latex": [[sp.latex(e) for e in r] for r in rows],
        })  # fmt: skip
        return
    if latex:
        click.echo("H = " + sp.latex(H))
        return
    click.echo(f"f = {f}")
    click.echo(f"Hessian (rows and columns {', '.join(v.name for v in variables)}):")
    for line in matrix_lines([[str(e) for e in r] for r in rows]):
        click.echo(line)
