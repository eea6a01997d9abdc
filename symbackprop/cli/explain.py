"""``symbackprop explain``: backpropagation through a formula by hand at a point, as text,
LaTeX or JSON, optionally with a drawing of the computation graph.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from ..errors import SymbackpropError
from .group import Command, Failed
from .inputs import DATA, JSON, LATEX, WRT, assignments, formulas, refuse_data
from .output import echo_json, number


@click.command(name="explain", cls=Command)
@click.argument("expr", nargs=1, required=False)
@WRT
@click.option(
    "--at",
    "at",
    multiple=True,
    required=True,
    metavar="x=-2,y=5,...",
    help="The point: a value for every symbol (exact values such as 1/2 stay exact).",
)
@click.option(
    "--graph",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also draw the computation graph to this file: .dot (always), .svg or .png (needs "
    "graphviz's dot program).",
)
@click.option("--digits", default=4, show_default=True, help="Significant digits shown.")
@DATA
@LATEX
@JSON
def explain_command(expr, wrt, at, graph, digits, data, latex, as_json) -> None:
    """Backpropagation through EXPR by hand: the forward values, each local gradient, and the
    backward sweep (upstream x local, summed over uses), as in the lecture notes.

    \b
      symbackprop explain "(x + y) z" --at x=-2,y=5,z=-4
    """
    from ..analysis.explain import explain

    refuse_data(
        "explain", data,
        "backpropagation by hand is shown for one formula at one point; a sum over data has "
        "one term per row: explain one row's term (write t[0] as a name, say t0, with --at "
        "t0=...), or compile the model with symbackprop compile ... --data",
    )  # fmt: skip
    if graph is not None and Path(graph).suffix.lower() not in (".dot", ".svg", ".png"):
        raise click.BadParameter(
            "the file name must end in .dot, .svg or .png", param_hint="--graph"
        )
    if graph is not None and Path(graph).suffix.lower() != ".dot" and not shutil.which("dot"):
        raise Failed(  # checked before any work: nothing is printed half-done
            f"cannot draw {Path(graph).name}: graphviz's `dot` program is not installed (not on "
            f"PATH); install graphviz, or write the DOT source with --graph "
            f"{Path(graph).with_suffix('.dot').name}"
        )
    point = assignments(at, "--at")
    (f,), variables = formulas((expr,) if expr else (), wrt, named=tuple(point))
    e = explain(f, variables, point, digits=digits)
    if as_json:
        echo_json({
            "function": str(e.f),
            "wrt": [v.name for v in e.wrt],
            "point": {s.name: str(v) for s, v in e.point.items()},
            "value": str(e.value),
            "value_float": number(e.value),
            "gradient": {s.name: str(v) for s, v in e.gradient.items()},
            "gradient_float": {s.name: number(v) for s, v in e.gradient.items()},
            "steps": [
                {
                    "label": s.label,
                    "expr": str(s.expr),
                    "value": number(s.value_float),
                    "upstream": None if s.upstream_float is None else number(s.upstream_float),
                }
                for s in e.steps
            ],
            "text": e.text,
            "latex": e.latex,
            "dot": e.dot,
        })  # fmt: skip
    else:
        click.echo(e.latex if latex else e.text)
    if graph is not None:
        try:
            written = e.render(graph)
        except SymbackpropError as exc:  # graphviz missing or failing: the work failed
            raise Failed(str(exc)) from None
        click.echo(f"graph written to {written}", err=as_json)
