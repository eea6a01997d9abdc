"""``symbackprop critical``: a formula's critical points, each with its value, Hessian
eigenvalues and kind, as a table (kinds coloured) or JSON.
"""

from __future__ import annotations

import click

from .group import Command
from .inputs import DATA, JSON, WRT, formulas, numbers, refuse_data
from .output import KIND_COLOURS, as_tuple, echo_json, exact, number, table


@click.command(name="critical", cls=Command)
@click.argument("expr", nargs=1, required=False)
@WRT
@click.option(
    "--method",
    type=click.Choice(["auto", "symbolic", "numeric"]),
    default="auto",
    show_default=True,
    help="auto: exact when grad f = 0 is a polynomial system SymPy solves, else numeric.",
)
@click.option(
    "--box",
    metavar="LO,HI",
    default=None,
    help="Search box for every variable (numeric search; filters exact points). Default -10,10.",
)
@click.option(
    "--starts",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Numeric search: start points.",
)
@click.option("--seed", default=0, show_default=True, help="Numeric search: random seed.")
@DATA
@JSON
def critical_command(expr, wrt, method, box, starts, seed, data, as_json) -> None:
    """The critical points of EXPR (where the gradient is 0), each with its value, Hessian
    eigenvalues and kind: minimum, maximum, saddle or degenerate.

    \b
      symbackprop critical "x1^2 + x1(1-x2) + x2^2 - x2 x3 + x3^2 + x3"
    """
    from ..analysis.critical import critical_points

    refuse_data(
        "critical", data,
        "the critical points of a model over data depend on the data's values, which the "
        "command line does not take: compile the model (symbackprop compile ... --data) and "
        "use sb.minimize(fn, x0, data=...) and sb.classify(fn, None, point, data=...)",
    )  # fmt: skip
    (f,), variables = formulas((expr,) if expr else (), wrt)
    bounds = None if box is None else numbers(box, "--box", count=2)  # critical_points checks them
    points = critical_points(f, variables, box=bounds, starts=starts, seed=seed, method=method)
    names = [v.name for v in variables]
    if as_json:
        echo_json({
            "function": str(f),
            "wrt": names,
            "points": [_point_json(p, names) for p in points],
        })  # fmt: skip
        return
    click.echo(f"f = {f}")
    if not points:
        click.echo(f"no critical points in ({', '.join(names)})")
        return
    plural = "s" if len(points) > 1 else ""
    how = "solved exactly" if all(p.exact for p in points) else "found numerically"
    click.echo(f"{len(points)} critical point{plural} in ({', '.join(names)}), {how}:")
    header = ["point", "value", "eigenvalues", "kind"]
    rows = [
        [
            as_tuple([exact(v) for v in p.coordinates]),
            exact(p.value),
            ", ".join(exact(e) for e in p.eigenvalues),
            p.kind,
        ]
        for p in points
    ]
    lines = table(header, rows)
    click.echo(lines[0])
    for line, p in zip(lines[1:], points):  # kind is the last column: colour it alone
        click.echo(line[: -len(p.kind)] + click.style(p.kind, fg=KIND_COLOURS.get(p.kind)))
    for p in points:
        if p.kind == "degenerate":
            click.echo("  " + p.explain())


def _point_json(p, names: list[str]) -> dict:
    return {
        "point": {n: number(v) for n, v in zip(names, p.coordinates)},
        "value": number(p.value),
        "eigenvalues": [number(e) for e in p.eigenvalues],
        "kind": p.kind,
        "exact": bool(p.exact),
        "point_exact": {n: str(v) for n, v in zip(names, p.coordinates)} if p.exact else None,
        "value_exact": str(p.value) if p.exact else None,
        "eigenvalues_exact": [str(e) for e in p.eigenvalues] if p.exact else None,
        "explanation": p.explain(),
    }
