"""The ``symbackprop`` command line (Click): formulas typed by a person -> derivatives, checks,
critical points, explanations and standalone modules.

Every formula is read by the safe parser (``analysis/parse.py``), never evaluated as Python.
Exit statuses: 0 done (``check``: the claim is right), 1 ``check`` found the claim wrong (or
could not decide) or the work failed, 2 unusable input (Click's usage errors, and every
SymbackpropError, printed as one ``error: ...`` line on stderr). ``--json`` prints one JSON
object on stdout; colour is used only on a terminal (``--no-color`` or $NO_COLOR turn it off).

>>> from click.testing import CliRunner
>>> print(CliRunner().invoke(main, ["grad", "x^2 y + y", "--wrt", "x,y"]).output, end="")
f = x**2*y + y
df/dx = 2*x*y
df/dy = x**2 + 1
>>> r = CliRunner().invoke(main, ["check", "log(x)", "--claimed", "1/x^2"])
>>> r.exit_code, r.output.splitlines()[1]
(1, 'wrong: at x=0.3, expected 3.33333, claimed 11.1111')
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import click

from .errors import SymbackpropError

EXIT_OK, EXIT_WRONG, EXIT_UNUSABLE = 0, 1, 2
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPLIT_NAME = re.compile(r"(\d+)")


# ---- errors and argument handling -------------------------------------------------------------


class Unusable(click.ClickException):
    """Input the library refused: one ``error: ...`` line, exit status 2."""

    exit_code = EXIT_UNUSABLE

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", file=file or sys.stderr, err=file is None)


class Failed(click.ClickException):
    """Work that could not be done (a file not written, graphviz missing): exit status 1."""

    exit_code = EXIT_WRONG

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", file=file or sys.stderr, err=file is None)


class Command(click.Command):
    """A command whose formula arguments may start with '-' ("-x^2 + y") without ``--``.

    Click would read such an argument as an unknown short option. Before parsing, every token
    that starts with a single '-' and is not an option this command knows (or the value of
    one) is moved after a ``--`` with the other positional arguments, in order.
    """

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, _formulas_last(self, ctx, list(args)))


class Group(click.Group):
    """The top-level group: turns SymbackpropError and OSError into one-line errors."""

    command_class = Command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SymbackpropError as exc:
            raise Unusable(str(exc)) from None
        except OSError as exc:
            raise Failed(str(exc)) from None


Group.group_class = Group


def _formulas_last(command: click.Command, ctx, args: list[str]) -> list[str]:
    valued, flags = set(), set()
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            names = param.opts + param.secondary_opts
            (flags if param.is_flag or param.count else valued).update(names)
    options, positional, i = [], [], 0
    while i < len(args):
        token = args[i]
        if token == "--":
            positional += args[i + 1 :]
            break
        name = token.split("=", 1)[0]
        if token.startswith("--") or name in valued or name in flags:
            options.append(token)
            if name in valued and "=" not in token and i + 1 < len(args):
                options.append(args[i + 1])
                i += 1
        elif token.startswith("-") and len(token) > 1:
            positional.append(token)  # a formula such as -x^2: not an option of ours
        else:
            positional.append(token)
        i += 1
    return options + (["--"] + positional if positional else [])


def _natural(name: str) -> tuple:
    """Sort key: x2 before x10."""
    return tuple(int(p) if p.isdigit() else p for p in _SPLIT_NAME.split(name))


def _names(values: tuple[str, ...], what: str) -> list[str]:
    """'x,y' (possibly given several times) -> ['x', 'y'], each a plain name."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    for n in names:
        if not _NAME.fullmatch(n) or "__" in n:
            raise SymbackpropError(f"{what} {n!r} is not a variable name (letters, digits, _)")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise SymbackpropError(f"{what} names {', '.join(twice)} more than once")
    return names


def _real(expr):
    """Every symbol real (so |x|' is sign(x), not a complex-analysis formula)."""
    import sympy as sp

    if isinstance(expr, sp.MatrixBase):
        return expr
    swap = {s: sp.Symbol(s.name, real=True) for s in expr.free_symbols if not s.is_real}
    return expr.xreplace(swap) if swap else expr


def _formulas(texts, wrt: tuple[str, ...], *, what: str = "EXPR"):
    """The formulas (SymPy, real symbols) and the variables: --wrt, else every symbol by name."""
    import sympy as sp

    from .analysis.parse import parse

    if not texts:
        raise click.UsageError(f"give a formula ({what})")
    names = _names(wrt, "--wrt")
    variables = [sp.Symbol(n, real=True) for n in names]
    exprs = []
    for text in texts:
        if text.startswith("--"):
            raise click.UsageError(f"no such option: {text.split('=', 1)[0]}")
        expr = _real(parse(text, variables, allow_new=True))
        if isinstance(expr, sp.MatrixBase):
            raise SymbackpropError(f"{text!r} is a matrix; give one formula per argument")
        # 'relu(x)' with no function relu reads as the product relu*x: say so (not an error,
        # since 'a(x + 1)' with a constant a means exactly that)
        known = {v.name for v in variables}
        for s in sorted(expr.free_symbols, key=lambda s: s.name):
            if s.name not in known and re.search(rf"(?<![A-Za-z0-9_]){s.name}\s*\(", text):
                click.echo(
                    f"note: {s.name}(...) reads as {s.name} times (...): {s.name} is not a "
                    "known function",
                    err=True,
                )
        if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise SymbackpropError(f"{text!r} is undefined or infinite (it reads as {expr})")
        exprs.append(expr)
    symbols = sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: _natural(s.name))
    if not variables:
        variables = symbols
        if not variables:
            raise SymbackpropError("the formula has no variables: nothing to differentiate")
    return exprs, variables


def _assignments(values: tuple[str, ...], what: str) -> dict[str, object]:
    """'x=-2,y=1/2' -> {'x': -2, 'y': 1/2}; values are numeric formulas (exact when written so)."""
    import sympy as sp

    from .analysis.parse import parse

    out: dict[str, object] = {}
    for value in values:
        for item in _top_level_split(value):
            if not item.strip():
                continue
            name, eq, number = item.partition("=")
            name = name.strip()
            if not eq or not _NAME.fullmatch(name):
                raise SymbackpropError(f"{what} {item.strip()!r} must look like name=number")
            v = parse(number.strip(), ())
            if isinstance(v, sp.MatrixBase) or v.free_symbols or not v.is_number:
                raise SymbackpropError(f"{what} {item.strip()!r}: the value is not a number")
            if name in out:
                raise SymbackpropError(f"{what} gives {name} twice")
            out[name] = v
    return out


def _top_level_split(text: str) -> list[str]:
    """Split at commas outside parentheses ('x=max(1,2),y=3' -> two items)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


# ---- output -------------------------------------------------------------------------------------


def _json(obj) -> None:
    click.echo(json.dumps(obj, indent=2))


def _float(v):
    """A JSON number for a SymPy or NumPy value (None where it is not finite and real)."""
    import sympy as sp

    try:
        f = float(sp.N(v)) if isinstance(v, sp.Basic) else float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and abs(f) != float("inf") else None


def _exact(v) -> str:
    """An exact value as text, with its decimal value when that differs (2 - sqrt(2) ~0.5858)."""
    import sympy as sp

    if not isinstance(v, sp.Basic):
        # a numeric search's zero comes back as rounding noise (1e-25): show it as 0
        return "0" if abs(float(v)) < 1e-12 else f"{float(v):.6g}"
    if v.is_Rational:
        return str(v)
    approx = _float(v)
    return f"{v} ~{approx:.6g}" if approx is not None else str(v)


def _tuple(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "(" + ", ".join(items) + ")"


def _matrix_lines(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Rows of strings as bracketed lines, columns aligned."""
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    return [indent + "[" + ", ".join(s.rjust(w) for s, w in zip(r, widths)) + "]" for r in rows]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[j]) for r in [header] + rows) for j in range(len(header))]
    fmt = lambda r: "  " + "   ".join(s.ljust(w) for s, w in zip(r, widths)).rstrip()  # noqa: E731
    return [fmt(header)] + [fmt(r) for r in rows]


_KIND_COLOURS = {"minimum": "green", "maximum": "blue", "saddle": "yellow", "degenerate": "magenta"}


# ---- the commands -------------------------------------------------------------------------------

_WRT = click.option(
    "--wrt",
    multiple=True,
    metavar="x,y,...",
    help="Variables, comma-separated (default: every symbol of the formula, by name). "
    "Other names are constants.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
_LATEX = click.option("--latex", is_flag=True, help="Print LaTeX instead of plain text.")


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="symbackprop")
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour the output (default: only on a terminal, and not when $NO_COLOR is set).",
)
@click.pass_context
def main(ctx: click.Context, color: bool | None) -> None:
    """symbackprop: symbolic derivatives compiled to Numba.

    Formulas are plain text (x^2 + 2x y, exp, log, sin, sigmoid, ...) or LaTeX (\\frac{1}{x});
    quote them for the shell. Exit status: 0 done (check: right), 1 wrong or failed,
    2 unusable input.

    \b
    Examples:
      symbackprop demo
      symbackprop grad "x^2 y + y" --wrt x,y
      symbackprop check "log(x)" --wrt x --claimed "1/x^2"
      symbackprop critical "x1^2 + x1(1-x2) + x2^2 - x2 x3 + x3^2 + x3"
    """
    if color is None and os.environ.get("NO_COLOR"):
        color = False
    ctx.color = color


@main.command()
def demo() -> None:
    """The lecture's examples end to end: network gradients, two claims checked, a critical
    point classified, a standalone gradient module written, imported and timed."""
    from .demo import run

    run(click.echo, click.style)


@main.command(name="grad")
@click.argument("expr", nargs=1, required=False)
@_WRT
@_LATEX
@_JSON
def grad_command(expr, wrt, latex, as_json) -> None:
    """The gradient of EXPR: one derivative per variable.

    \b
      symbackprop grad "x^2 y + y" --wrt x,y
    """
    import sympy as sp

    from .symbolic import grad

    (f,), variables = _formulas((expr,) if expr else (), wrt)
    g = grad(f, variables)
    if as_json:
        _json({
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


@main.command(name="jacobian")
@click.argument("exprs", nargs=-1, required=False)
@_WRT
@_LATEX
@_JSON
def jacobian_command(exprs, wrt, latex, as_json) -> None:
    """The Jacobian of the vector function EXPRS (one formula per output): rows are outputs,
    columns variables.

    \b
      symbackprop jacobian "x y" "x + y" --wrt x,y
    """
    import sympy as sp

    from .symbolic import jacobian

    fs, variables = _formulas(exprs, wrt, what="EXPRS")
    J = jacobian(fs, variables)
    rows = [[J[i, j] for j in range(J.cols)] for i in range(J.rows)]
    if as_json:
        _json({
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
    for line in _matrix_lines([[str(e) for e in r] for r in rows]):
        click.echo(line)


@main.command(name="hessian")
@click.argument("expr", nargs=1, required=False)
@_WRT
@_LATEX
@_JSON
def hessian_command(expr, wrt, latex, as_json) -> None:
    """The Hessian of EXPR: second derivatives, rows and columns in the order of --wrt.

    \b
      symbackprop hessian "x^3 y" --wrt x,y
    """
    import sympy as sp

    from .symbolic import hessian

    (f,), variables = _formulas((expr,) if expr else (), wrt)
    H = hessian(f, variables)
    rows = [[H[i, j] for j in range(H.cols)] for i in range(H.rows)]
    if as_json:
        _json({
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
    for line in _matrix_lines([[str(e) for e in r] for r in rows]):
        click.echo(line)


@main.command(name="critical")
@click.argument("expr", nargs=1, required=False)
@_WRT
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
@click.option("--starts", default=200, show_default=True, help="Numeric search: start points.")
@click.option("--seed", default=0, show_default=True, help="Numeric search: random seed.")
@_JSON
def critical_command(expr, wrt, method, box, starts, seed, as_json) -> None:
    """The critical points of EXPR (where the gradient is 0), each with its value, Hessian
    eigenvalues and kind: minimum, maximum, saddle or degenerate.

    \b
      symbackprop critical "x1^2 + x1(1-x2) + x2^2 - x2 x3 + x3^2 + x3"
    """
    from .analysis.critical import critical_points

    (f,), variables = _formulas((expr,) if expr else (), wrt)
    bounds = None
    if box is not None:
        parts = _top_level_split(box)
        values = [_float(_assignments((f"b={p}",), "--box")["b"]) for p in parts if p.strip()]
        if len(values) != 2 or None in values or not values[0] < values[1]:
            raise SymbackpropError(f"--box {box!r} must be LO,HI with LO < HI")
        bounds = tuple(values)
    if starts < 1:
        raise SymbackpropError(f"--starts must be at least 1; got {starts}")
    points = critical_points(f, variables, box=bounds, starts=starts, seed=seed, method=method)
    names = [v.name for v in variables]
    if as_json:
        _json({
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
    exact = all(p.exact for p in points)
    how = "solved exactly" if exact else "found numerically"
    click.echo(f"{len(points)} critical point{plural} in ({', '.join(names)}), {how}:")
    header = ["point", "value", "eigenvalues", "kind"]
    rows = [
        [
            _tuple([_exact(v) for v in p.coordinates]),
            _exact(p.value),
            ", ".join(_exact(e) for e in p.eigenvalues),
            p.kind,
        ]
        for p in points
    ]
    lines = _table(header, rows)
    click.echo(lines[0])
    for line, p in zip(lines[1:], points):  # kind is the last column: colour it alone
        click.echo(line[: -len(p.kind)] + click.style(p.kind, fg=_KIND_COLOURS.get(p.kind)))
    for p in points:
        if p.kind == "degenerate":
            click.echo("  " + p.explain())


def _point_json(p, names: list[str]) -> dict:
    return {
        "point": {n: _float(v) for n, v in zip(names, p.coordinates)},
        "value": _float(p.value),
        "eigenvalues": [_float(e) for e in p.eigenvalues],
        "kind": p.kind,
        "exact": bool(p.exact),
        "point_exact": {n: str(v) for n, v in zip(names, p.coordinates)} if p.exact else None,
        "value_exact": str(p.value) if p.exact else None,
        "eigenvalues_exact": [str(e) for e in p.eigenvalues] if p.exact else None,
        "explanation": p.explain(),
    }


@main.command(name="check")
@click.argument("exprs", nargs=-1, required=False)
@_WRT
@click.option(
    "--claimed",
    multiple=True,
    metavar="FORMULA",
    help="The claimed derivative; give it once per variable for a gradient (in --wrt order), "
    "once per entry row by row for a Jacobian. LaTeX is recognised by a backslash or brace.",
)
@click.option(
    "--claimed-latex",
    multiple=True,
    metavar="LATEX",
    help="As --claimed, read as LaTeX (a pmatrix gives a whole gradient or Hessian).",
)
@_JSON
def check_command(exprs, wrt, claimed, claimed_latex, as_json) -> None:
    """Check a hand-derived derivative of EXPR: verdict, expected form, counterexample.

    Several EXPRS make a vector function: the claim is its Jacobian. Exit status 0 when the
    claim is right, 1 when it is wrong (or could not be decided), 2 for unusable input.

    \b
      symbackprop check "log(x)" --wrt x --claimed "1/x^2"
      symbackprop check "x^2 y + y" --wrt x,y --claimed "2x y" --claimed "x^2 + 1"
      symbackprop check "1/(1+e^(-x))" --claimed-latex "\\frac{e^{-x}}{(1+e^{-x})^2}"
    """
    from .analysis.check import check_derivative

    if claimed and claimed_latex:
        raise click.UsageError("give --claimed or --claimed-latex, not both")
    claims = list(claimed or claimed_latex)
    if not claims:
        raise click.UsageError("give the claimed derivative with --claimed (or --claimed-latex)")
    fs, variables = _formulas(exprs, wrt, what="EXPRS")
    latex = True if claimed_latex else None
    f = fs if len(fs) > 1 else fs[0]
    wrt_arg = variables if len(variables) > 1 or len(fs) > 1 else variables[0]
    if len(claims) == 1:
        claim = claims[0]
    elif len(fs) > 1 and len(claims) == len(fs) * len(variables):
        n = len(variables)
        claim = [claims[i * n : (i + 1) * n] for i in range(len(fs))]
    else:
        claim = claims
    r = check_derivative(f, wrt_arg, claim, latex=latex)
    entries = _check_entries(r)
    verdict = "ok" if r.ok else ("inconclusive" if r.evidence == "inconclusive" else "wrong")
    if as_json:
        _json({
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
                s.name: float(v) for s, v in r.counterexample.items()
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
    ctx = click.get_current_context()
    ctx.exit(EXIT_OK if r.ok else EXIT_WRONG)


def _check_entries(r) -> list[tuple[str, object, object, object]]:
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


@main.command(name="explain")
@click.argument("expr", nargs=1, required=False)
@_WRT
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
@_LATEX
@_JSON
def explain_command(expr, wrt, at, graph, digits, latex, as_json) -> None:
    """Backpropagation through EXPR by hand: the forward values, each local gradient, and the
    backward sweep (upstream x local, summed over uses), as in the lecture notes.

    \b
      symbackprop explain "(x + y) z" --at x=-2,y=5,z=-4
    """
    from .analysis.explain import explain

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
    (f,), variables = _formulas((expr,) if expr else (), wrt)
    point = _assignments(at, "--at")
    e = explain(f, variables, point, digits=digits)
    if as_json:
        _json({
            "function": str(e.f),
            "wrt": [v.name for v in e.wrt],
            "point": {s.name: str(v) for s, v in e.point.items()},
            "value": str(e.value),
            "value_float": _float(e.value),
            "gradient": {s.name: str(v) for s, v in e.gradient.items()},
            "gradient_float": {s.name: _float(v) for s, v in e.gradient.items()},
            "steps": [
                {
                    "label": s.label,
                    "expr": str(s.expr),
                    "value": _float(s.value_float),
                    "upstream": None if s.upstream_float is None else _float(s.upstream_float),
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


@main.command(name="compile")
@click.argument("exprs", nargs=-1, required=False)
@_WRT
@click.option(
    "--const",
    "consts",
    multiple=True,
    metavar="a=1.5,...",
    help="Values folded into the code for symbols that are not variables.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="The module to write (a .py file in an existing folder).",
)
@_JSON
def compile_command(exprs, wrt, consts, output, as_json) -> None:
    """Write a standalone module (needs only numpy and numba) for EXPRS: value, grad,
    value_and_grad, hessian and hvp; jacobian too for several EXPRS (a vector function).

    \b
      symbackprop compile "exp(x) sin(y) + log(1 + e^y)" --wrt x,y -o my_gradient.py
    """

    from .pipeline import compile

    fs, variables = _formulas(exprs, wrt, what="EXPRS")
    # Values stay SymPy numbers here: compile() turns them into floats, naming a bad one.
    constants = _assignments(consts, "--const")
    if not wrt:  # by default the constants' symbols are not variables
        variables = [v for v in variables if v.name not in constants]
    by_name = {s.name: s for f in fs for s in f.free_symbols}
    unknown = sorted(set(constants) - set(by_name))
    if unknown:
        raise SymbackpropError(f"--const {', '.join(unknown)}: not a symbol of the formula")
    clash = sorted(set(constants) & {v.name for v in variables})
    if clash:
        raise SymbackpropError(f"--const {', '.join(clash)}: a variable cannot be a constant")
    loose = sorted(
        {s.name for f in fs for s in f.free_symbols} - set(constants) - {v.name for v in variables}
    )
    if loose:
        raise SymbackpropError(
            f"symbol {', '.join(loose)} is neither a variable (--wrt) nor given a value "
            f"(--const {loose[0]}=...)"
        )
    values = {by_name[k]: v for k, v in constants.items()}
    fn = compile(fs if len(fs) > 1 else fs[0], variables, values or None)
    constants = {k: float(v) for k, v in constants.items()}  # compile() accepted them
    path = fn.save(output)
    functions = ["value", "grad", "value_and_grad", "hessian", "hvp"]
    if len(fs) > 1:
        functions = ["value", "jacobian"] + [f for f in functions[1:] if hasattr(fn, f)]
        functions = _defined(path, functions)
    lines = path.read_text(encoding="utf-8").count("\n")
    if as_json:
        _json({
            "path": str(path),
            "functions": functions,
            "variables": [v.name for v in variables],
            "constants": {k: v for k, v in constants.items()},
            "outputs": len(fs),
            "lines": lines,
        })  # fmt: skip
        return
    what = "vector function" if len(fs) > 1 else "function"
    formula = ", ".join(str(f) for f in fs)
    click.echo(f"{what} {formula} of ({', '.join(v.name for v in variables)})")
    if constants:
        click.echo("constants: " + ", ".join(f"{k} = {v:g}" for k, v in constants.items()))
    click.echo(f"wrote {path} ({lines} lines): defines {', '.join(functions)}")
    click.echo(f"`python {path.name}` checks its derivatives against central differences")


def _defined(path: Path, candidates: list[str]) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [f for f in candidates if re.search(rf"^def {f}\(", text, re.MULTILINE)]


@main.command(name="compile-net")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="The module to write (a .py file in an existing folder).",
)
@_JSON
def compile_net_command(spec, output, as_json) -> None:
    """Write a standalone module for the network described by SPEC (a TOML file; see
    examples/network.toml): forward(W1, b1, ..., X) and loss_and_grad(W1, b1, ..., X, Y).

    \b
      symbackprop compile-net examples/network.toml -o net_module.py
    """
    from .spec import load_spec

    net = load_spec(spec)
    model = net.compile()
    path = model.save(output)
    shapes = net.param_shapes()
    lines = path.read_text(encoding="utf-8").count("\n")
    functions = _defined(path, ["forward", "loss", "loss_and_grad", "hessian"])
    if as_json:
        _json({
            "path": str(path),
            "network": repr(net),
            "parameters": {k: list(v) for k, v in shapes.items()},
            "functions": functions,
            "lines": lines,
        })  # fmt: skip
        return
    click.echo(f"network {net!r}")
    click.echo("parameters: " + ", ".join(f"{k} {tuple(v)}" for k, v in shapes.items()))
    click.echo(f"wrote {path} ({lines} lines): defines {', '.join(functions)}")


@main.group(name="cache")
def cache_group() -> None:
    """The on-disk code cache ($SYMBACKPROP_CACHE_DIR, else the user's cache folder)."""


@cache_group.command(name="info")
@_JSON
def cache_info(as_json) -> None:
    """Where the cache is, how many entries it holds and their total size."""
    from .loader.cache import Cache

    cache = Cache()
    entries, modules, size = len(cache.entries()), len(cache.modules()), cache.size()
    if as_json:
        _json({"location": str(cache.root), "entries": entries, "modules": modules, "bytes": size})
        return
    click.echo(f"location: {cache.root}")
    click.echo(f"entries:  {entries} compile requests, {modules} generated modules")
    click.echo(f"size:     {_bytes(size)}")


@cache_group.command(name="clear")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def cache_clear(yes) -> None:
    """Delete every cached module (they are rebuilt when next needed)."""
    from .loader.cache import Cache

    cache = Cache()
    entries = len(cache.entries())
    if not yes:
        click.confirm(
            f"Delete {entries} entries ({_bytes(cache.size())}) from {cache.root}?", abort=True
        )
    freed = cache.clear()
    click.echo(f"cleared {cache.root}: {entries} entries, {_bytes(freed)} freed")


def _bytes(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} bytes"
