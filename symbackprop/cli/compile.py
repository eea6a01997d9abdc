"""``symbackprop compile`` (formulas) and ``compile-net`` (a network spec file): standalone
modules written to disk, with what they define.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from ..errors import SymbackpropError
from .group import Command
from .inputs import DATA, JSON, WRT, assignments, data_items, formulas
from .output import echo_json

OUTPUT = click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="The module to write (a .py file in an existing folder).",
)


@click.command(name="compile", cls=Command)
@click.argument("exprs", nargs=-1, required=False)
@WRT
@click.option(
    "--const",
    "consts",
    multiple=True,
    metavar="a=1.5,...",
    help="Values folded into the code for symbols that are not variables.",
)
@DATA
@click.option(
    "--rows",
    default=None,
    metavar="i",
    help="With --data: EXPR is a per-row residual r_i (no sum); the module's value is the (N,) "
    "residuals and jacobian the (N, P) Jacobian.",
)
@click.option(
    "--check-with",
    "check_with",
    default=None,
    type=click.Path(dir_okay=False),
    help="With --data: also evaluate the compiled model on this file's arrays (.npz by name, or "
    ".csv columns by header; X_0, X_1, ... for a 2-D X) at the --at point, and print the value "
    "and gradient (or Jacobian).",
)
@click.option(
    "--at",
    "at",
    multiple=True,
    metavar="a=1,b=0.5,...",
    help="With --check-with: the parameters' values (and the scalar data's).",
)
@OUTPUT
@JSON
def compile_command(exprs, wrt, consts, data, rows, check_with, at, output, as_json) -> None:
    """Write a standalone module (needs only numpy and numba) for EXPRS: value, grad,
    value_and_grad, hessian and hvp; jacobian too for several EXPRS (a vector function).
    With --data, a model over data: the functions take (theta, data...), theta the --wrt
    parameters in order, and `python MODULE` checks them on generated data.

    \b
      symbackprop compile "exp(x) sin(y) + log(1 + e^y)" --wrt x,y -o my_gradient.py
      symbackprop compile "sum((y[i] - a exp(-b t[i]))^2, i)" --data t,y --wrt a,b -o fit.py
      symbackprop compile "y[i] - a exp(-b t[i])" --data t,y --rows i -o residuals.py
      symbackprop compile "sum((y[i] - a t[i])^2, i)" --data t,y -o fit.py \\
          --check-with data.csv --at a=1.5
    """
    from ..pipeline import compile

    # Values stay SymPy numbers here: compile() turns them into floats, naming a bad one.
    constants = assignments(consts, "--const")
    if rows is not None and not data:
        raise click.UsageError("--rows needs --data: the arrays the rows index")
    if (check_with is not None or at) and not data:
        raise click.UsageError("--check-with and --at are for a model over data (--data)")
    if at and check_with is None:
        raise click.UsageError("--at gives the point for --check-with FILE")
    if data:
        point = assignments(at, "--at")
        _compile_data(exprs, wrt, constants, data, rows, output, as_json, check_with, point)
        return
    fs, variables = formulas(exprs, wrt, what="EXPRS", named=tuple(constants))
    if not wrt:  # by default the constants' symbols are not variables
        variables = [v for v in variables if v.name not in constants]
    # compile() would fold a value for a name the formula lacks into nothing: a typo to report
    unknown = sorted(set(constants) - {s.name for f in fs for s in f.free_symbols})
    if unknown:
        raise SymbackpropError(f"--const {', '.join(unknown)}: not a symbol of the formula")
    fn = compile(fs if len(fs) > 1 else fs[0], variables, constants or None)
    constants = {k: float(v) for k, v in constants.items()}  # compile() accepted them
    path = fn.save(output)
    functions = ["value", "grad", "value_and_grad", "hessian", "hvp"]
    if len(fs) > 1:
        functions = ["value", "jacobian"] + [f for f in functions[1:] if hasattr(fn, f)]
        functions = _defined(path, functions)
    lines = path.read_text(encoding="utf-8").count("\n")
    if as_json:
        echo_json({
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


def _compile_data(exprs, wrt, constants, data, rows, output, as_json, check_with, point) -> None:
    """compile with --data: sb.compile(f, params, data=[...], rows=...) and its module saved;
    with --check-with, the model evaluated on the file first (nothing is written if it fails)."""
    import sympy as sp

    from ..pipeline import compile

    named = tuple(constants) + tuple(point)
    fs, params = formulas(exprs, wrt, what="EXPRS", named=named, data=data)
    if not wrt:
        params = [v for v in params if v.name not in constants]
        if not params:
            raise SymbackpropError("the model has no parameters: nothing to differentiate")
    items = data_items(fs, data)
    unknown = sorted(set(constants) - {s.name for f in fs for s in f.free_symbols})
    if unknown:
        raise SymbackpropError(f"--const {', '.join(unknown)}: not a symbol of the formula")
    index = None
    if rows is not None:
        if len(fs) > 1:
            raise SymbackpropError("--rows takes one per-row formula (a residual r_i)")
        index = sp.Symbol(rows.strip(), integer=True)  # the parser's index symbols are integers
        if index not in fs[0].free_symbols and not fs[0].has(sp.Sum):  # compile names a Sum
            raise SymbackpropError(
                f"--rows {rows}: the formula reads no data at {rows} (t[{rows}])"
            )
    inputs = None
    if check_with is not None:
        inputs = _check_inputs(check_with, point, params, items)
    fn = compile(fs if len(fs) > 1 else fs[0], params, constants or None, data=items, rows=index)
    constants = {k: float(v) for k, v in constants.items()}
    checked = None if inputs is None else _evaluate(fn, *inputs, check_with)
    path = fn.save(output)
    if fn.is_vector:
        functions = ["value", "jacobian"]
    else:
        functions = ["value", "grad", "value_and_grad", "hessian", "hvp"]
    functions = _defined(path, functions)
    lines = path.read_text(encoding="utf-8").count("\n")
    arrays = [str(d) for d in items if isinstance(d, sp.IndexedBase)]
    scalars = [str(d) for d in items if not isinstance(d, sp.IndexedBase)]
    kind = "residuals" if index is not None else "vector" if len(fs) > 1 else "scalar"
    if as_json:
        echo_json({
            "path": str(path),
            "functions": functions,
            "parameters": [v.name for v in params],
            "data": [str(d) for d in items],
            "arrays": arrays,
            "scalars": scalars,
            "rows": rows,
            "kind": kind,
            "constants": constants,
            "outputs": len(fs),
            "lines": lines,
            "check": checked,
        })  # fmt: skip
        return
    what = {"residuals": f"residuals r_{rows}", "vector": "vector model", "scalar": "model"}[kind]
    formula = ", ".join(str(f) for f in fs)
    click.echo(f"{what} {formula} of ({', '.join(v.name for v in params)})")
    shown = [f"{n}[i]" for n in arrays] + scalars
    click.echo(f"data: {', '.join(shown)} (given at call time, in this order after theta)")
    if constants:
        click.echo("constants: " + ", ".join(f"{k} = {v:g}" for k, v in constants.items()))
    click.echo(f"wrote {path} ({lines} lines): defines {', '.join(functions)}")
    click.echo(f"`python {path.name}` checks its derivatives on generated data")
    if checked is not None:
        theta = ", ".join(f"{k} = {v:g}" for k, v in checked["at"].items())
        click.echo(f"on {checked['file']} ({checked['rows']} rows) at {theta}:")
        for key in ("value", "grad", "jacobian"):
            if key in checked:
                click.echo(f"  {key} = {_shown(checked[key])}")


def _check_inputs(check_with, point, params, items):
    """(theta, data by name) for --check-with, every value named and present."""
    import sympy as sp

    from .datafile import read_arrays

    scalars = [str(d) for d in items if not isinstance(d, sp.IndexedBase)]
    arrays = [str(d) for d in items if isinstance(d, sp.IndexedBase)]
    wanted = [p.name for p in params] + scalars
    missing = [n for n in wanted if n not in point]
    if missing:
        raise SymbackpropError(f"--check-with needs --at values for {', '.join(missing)}")
    extra = sorted(set(point) - set(wanted))
    if extra:
        raise SymbackpropError(
            f"--at {', '.join(extra)}: not a parameter or scalar data ({', '.join(wanted)})"
        )
    theta = [float(point[p.name]) for p in params]
    values = read_arrays(check_with, arrays)
    values.update({n: float(point[n]) for n in scalars})
    return theta, values


def _evaluate(fn, theta, values, check_with) -> dict:
    """The compiled model's value and gradient (or Jacobian) on the file's data."""
    import numpy as np

    rows = max((len(v) for v in values.values() if np.ndim(v) > 0), default=0)
    out = {"file": str(check_with), "rows": rows, "at": dict(zip(fn.param_names, theta))}
    value = fn(theta, **values)
    out["value"] = np.asarray(value, dtype=float).tolist()
    if fn.is_vector:
        out["jacobian"] = np.asarray(fn.jacobian(theta, **values), dtype=float).tolist()
    else:
        out["grad"] = np.asarray(fn.grad(theta, **values), dtype=float).tolist()
    return out


def _shown(value) -> str:
    import numpy as np

    return np.array2string(np.asarray(value), precision=6, separator=", ", threshold=20)


@click.command(name="compile-net", cls=Command)
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@OUTPUT
@JSON
def compile_net_command(spec, output, as_json) -> None:
    """Write a standalone module for the network described by SPEC (a TOML file; see
    examples/network.toml): forward(W1, b1, ..., X) and loss_and_grad(W1, b1, ..., X, Y).

    \b
      symbackprop compile-net examples/network.toml -o net_module.py
    """
    from ..spec import load_spec

    net = load_spec(spec)
    model = net.compile()
    path = model.save(output)
    shapes = net.param_shapes()
    lines = path.read_text(encoding="utf-8").count("\n")
    functions = _defined(path, ["forward", "loss", "loss_and_grad", "hessian"])
    if as_json:
        echo_json({
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


def _defined(path: Path, candidates: list[str]) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [f for f in candidates if re.search(rf"^def {f}\(", text, re.MULTILINE)]
