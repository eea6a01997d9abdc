"""``symbackprop check``: a hand-derived derivative, gradient, Jacobian or Hessian checked by
``check_derivative``: the verdict, the expected entries and a counterexample; exit 0 right,
1 wrong or undecided.
"""

from __future__ import annotations

import click

from .group import EXIT_OK, EXIT_WRONG, Command
from .inputs import DATA, JSON, WRT, data_items, formulas
from .output import echo_json


@click.command(name="check", cls=Command)
@click.argument("exprs", nargs=-1, required=False)
@WRT
@click.option(
    "--claimed",
    multiple=True,
    metavar="FORMULA",
    help="The claimed derivative, or one entry of it: the count says what it is. For one "
    "function of n variables, n entries are the gradient (in --wrt order) and n^2 the Hessian "
    "(row by row); for m functions, m x n entries are the Jacobian (row by row). LaTeX is "
    "recognised by a backslash or brace.",
)
@click.option(
    "--claimed-latex",
    multiple=True,
    metavar="LATEX",
    help="As --claimed, read as LaTeX (a pmatrix gives a whole gradient or Hessian).",
)
@DATA
@JSON
def check_command(exprs, wrt, claimed, claimed_latex, data, as_json) -> None:
    """Check a hand-derived derivative of EXPR: verdict, expected form, counterexample.

    The number of --claimed entries says what is claimed: 1 a derivative, n (one per variable)
    a gradient, n^2 (row by row) a Hessian. Several EXPRS make a vector function: its m x n
    entries (row by row) are the Jacobian. Exit status 0 when the claim is right, 1 when it is
    wrong (or could not be decided), 2 for unusable input.

    \b
      symbackprop check "log(x)" --wrt x --claimed "1/x^2"
      symbackprop check "x^2 y + y" --wrt x,y --claimed "2x y" --claimed "x^2 + 1"
      symbackprop check "x^2 y" --wrt x,y --claimed "2y" --claimed "2x" --claimed "2x" --claimed 0
      symbackprop check "1/(1+e^(-x))" --claimed-latex "\\frac{e^{-x}}{(1+e^{-x})^2}"
      symbackprop check "sum((y[i] - a t[i])^2, i)" --data t,y --wrt a \\
          --claimed "-2 sum(t[i] (y[i] - a t[i]), i)"

    With --data, EXPR and the claim may sum over data (sum(body, i): every row); the claim is
    proved on the sums or compared on random data for several numbers of rows N.
    """
    from ..analysis.check import check_derivative

    if claimed and claimed_latex:
        raise click.UsageError("give --claimed or --claimed-latex, not both")
    claims = list(claimed or claimed_latex)
    if not claims:
        raise click.UsageError("give the claimed derivative with --claimed (or --claimed-latex)")
    fs, variables = formulas(exprs, wrt, what="EXPRS", data=data)
    items = data_items(fs, data) if data else None
    latex = True if claimed_latex else None
    f = fs if len(fs) > 1 else fs[0]
    wrt_arg = variables if len(variables) > 1 or len(fs) > 1 else variables[0]
    # one --claimed is the claim itself (a LaTeX pmatrix may be a whole gradient or Hessian);
    # several are its entries, and check_derivative tells their meaning from their count
    claim = claims[0] if len(claims) == 1 else claims
    r = check_derivative(f, wrt_arg, claim, latex=latex, data=_arrays(items))
    entries = _entries(r)
    verdict = "ok" if r.ok else ("inconclusive" if r.evidence == "inconclusive" else "wrong")
    if as_json:
        echo_json({
            "ok": bool(r.ok),
            "verdict": verdict,
            "kind": r.kind,
            "message": str(r),
            "wrt": [v.name for v in variables],
            "expected": {label: str(e) for label, e, _, _ in entries},
            "claimed": {label: str(c) for label, _, c, _ in entries},
            "difference": {label: str(d) for label, _, _, d in entries},
            "wrong_entries": [list(i) for i in r.wrong_entries],
            "counterexample": None if r.counterexample is None else {
                str(s): float(v) for s, v in r.counterexample.items()
            },
            "expected_value": _values(r.expected_value),
            "claimed_value": _values(r.claimed_value),
        })  # fmt: skip
    else:
        if len(fs) == 1:
            click.echo(f"f = {fs[0]}")
        for k, f in enumerate(fs if len(fs) > 1 else []):  # numbered from 0, as in the labels
            click.echo(f"f{k} = {f}")
        colour = "green" if r.ok else "red"
        click.echo(click.style(str(r), fg=colour, bold=True))
        click.echo("expected:")
        width = max(len(label) for label, *_ in entries)
        for label, e, c, d in entries:
            mark = "" if d == 0 else click.style(f"   (claimed {c})", fg="red")
            click.echo(f"  {label.ljust(width)} = {e}{mark}")
    click.get_current_context().exit(EXIT_OK if r.ok else EXIT_WRONG)


def _entries(r) -> list[tuple[str, object, object, object]]:
    """(label, expected, claimed, difference) per entry, labels like df/dx or df1/dy."""
    import sympy as sp

    out = []
    for index, label in r.labels.items():
        if label.startswith("d/d"):
            label = "df" + label[1:]
        if not isinstance(r.expected, sp.MatrixBase):
            out.append((label, r.expected, r.claimed, r.difference))
            continue
        at = (index[0], 0) if len(index) == 1 else index
        out.append((label, r.expected[at], r.claimed[at], r.difference[at]))
    return out


def _values(v):
    import numpy as np

    if v is None:
        return None
    return np.asarray(v, dtype=float).tolist()


def _arrays(items):
    """The --data arrays, for check_derivative (scalar data are plain symbols to it); None
    without --data."""
    import sympy as sp

    if items is None:
        return None
    return [d for d in items if isinstance(d, sp.IndexedBase)]
