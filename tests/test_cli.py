"""The ``symbackprop`` command line, driven through Click's CliRunner and as real subprocesses
(``python -m symbackprop``): output content, parsed ``--json``, exit statuses 0 (done; check:
right), 1 (check: wrong; or failed) and 2 (unusable input), ``--help`` for every command, and
the network spec files behind ``compile-net``.

Subprocesses pay the package import (~2 s) each, so they run concurrently, once per module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

import symbackprop as sb
from symbackprop.cli import main
from symbackprop.spec import load_spec, loads_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SPEC = ROOT / "examples" / "network.toml"
QUADRATIC = "x1^2 + x1(1-x2) + x2^2 - x2 x3 + x3^2 + x3"  # the notes' first example
NOTES_GRADIENT = ["2x1+1", "-x1+2x2-x3", "-x2+2x3+1"]  # ... and their (wrong) gradient of it


def _runner(**kwargs) -> CliRunner:
    try:  # Click 8.1 mixes stderr into stdout unless told not to; 8.2+ keeps them apart
        return CliRunner(mix_stderr=False, **kwargs)
    except TypeError:
        return CliRunner(**kwargs)


def cli(*args, input=None, env=None):
    args = [str(a) for a in args]  # paths too: a shell passes only strings
    result = _runner(env=env).invoke(main, args, input=input, prog_name="symbackprop")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a bug, not an exit status: show its traceback
    return result


def unusable(result, *words) -> None:
    """Exit status 2 with one 'error: ...' line on stderr naming the culprit, no traceback."""
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for word in words:
        assert word in lines[0], lines[0]


def import_file(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- demo (first: it warms the session cache for the subprocess that runs it again) ---------


def test_demo_prints_the_lectures_results():
    r = cli("demo")
    assert r.exit_code == 0, r.stdout + r.stderr
    out = r.stdout
    # the 2-2-2 network: the half-SSE loss and the notes' dE/dw5 and dE/dw1
    assert "E = 1/2 sum (t - o)^2 = 0.298371109" in out
    assert "dE/dw5 = 0.082167041" in out and "dE/dw1 = 0.000438568" in out
    assert "dE/dW2 = [[0.082167041, 0.082667628]" in out
    assert "delta_1 = (delta_2 W_2)" in out  # the derivation
    # one right claim, one wrong one with its counterexample and the expected form
    assert "ok: the claimed derivative is right" in out
    assert "wrong: entries (0,) differ" in out and "expected 2.1, claimed 1.6" in out
    assert "expected: (2*x1 - x2 + 1, " in out
    # the critical point, classified by its eigenvalues
    assert "minimum at (x1, x2, x3) = (-1, -1, -1), f = -1" in out
    assert "2 - sqrt(2), 2, sqrt(2) + 2 all positive" in out
    # the standalone module, written, imported and timed
    assert "standalone module written to" in out and "us per call" in out
    assert "imported; its grad(-1.0, -1.0, -1.0) = [0. 0. 0.]" in out
    saved = Path(out.split("standalone module written to ")[1].split()[0])
    assert saved.is_file() and "import sympy" not in saved.read_text()
    assert "\x1b[" not in out  # no colour when the output is not a terminal


# ---- help ----------------------------------------------------------------------------------------

COMMANDS = [
    ([], "symbolic derivatives compiled to Numba"),
    (["demo"], "lecture's examples"),
    (["grad"], "gradient of EXPR"),
    (["jacobian"], "Jacobian of the vector function"),
    (["hessian"], "Hessian of EXPR"),
    (["critical"], "critical points of EXPR"),
    (["check"], "Exit status 0 when the claim is right, 1"),
    (["explain"], "Backpropagation through EXPR by hand"),
    (["compile"], "standalone module"),
    (["compile-net"], "examples/network.toml"),
    (["cache"], "on-disk code cache"),
    (["cache", "info"], "how many entries"),
    (["cache", "clear"], "Do not ask for confirmation"),
]


@pytest.mark.parametrize("words,phrase", COMMANDS, ids=lambda c: " ".join(c) or "main")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(words, phrase, flag):
    r = cli(*words, flag)
    assert r.exit_code == 0
    assert r.stdout.startswith(f"Usage: symbackprop {' '.join(words)}".rstrip())
    assert phrase in " ".join(r.stdout.split())  # help text is re-wrapped to the terminal


def test_version():
    r = cli("--version")
    assert r.exit_code == 0 and sb.__version__ in r.stdout


# ---- grad, jacobian, hessian -------------------------------------------------------------------


def test_grad_text_latex_json():
    r = cli("grad", "x^2 y + y", "--wrt", "x,y")
    assert r.exit_code == 0
    assert r.stdout.splitlines() == ["f = x**2*y + y", "df/dx = 2*x*y", "df/dy = x**2 + 1"]
    r = cli("grad", "x^2 y + y", "--wrt", "x,y", "--latex")
    assert r.stdout.strip() == r"\nabla f = \left[\begin{matrix}2 x y\\x^{2} + 1\end{matrix}\right]"
    data = json.loads(cli("grad", "x^2 y + y", "--wrt", "y", "--wrt", "x", "--json").stdout)
    assert data == {
        "function": "x**2*y + y",
        "wrt": ["y", "x"],
        "gradient": ["x**2 + 1", "2*x*y"],
        "latex": ["x^{2} + 1", "2 x y"],
    }


def test_grad_defaults_and_formula_syntax():
    # no --wrt: every symbol, in natural order (x2 before x10); a leading '-' needs no '--'
    data = json.loads(cli("grad", "-x10^2 - abs(x2)", "--json").stdout)
    assert data["wrt"] == ["x2", "x10"] and data["gradient"] == ["-sign(x2)", "-2*x10"]
    # other names are constants; LaTeX input is recognised
    r = cli("grad", r"\frac{a}{1 + e^{-x}}", "--wrt", "x", "--json")
    g = sp.sympify(json.loads(r.stdout)["gradient"][0])
    a, x = sp.symbols("a x")
    expected = a * sp.exp(-x) / (1 + sp.exp(-x)) ** 2
    for point in ({a: 2, x: 0.3}, {a: -1, x: -1.7}):
        assert float(g.subs(point)) == pytest.approx(float(expected.subs(point)))


def test_unknown_function_names_are_noted():
    # relu is a function the compiler knows; a word that is none is refused (tests/test_parser.py)
    assert cli("grad", "relu(x)", "--wrt", "x").stdout.splitlines()[0] == "f = Max(0, x)"
    unusable(cli("grad", "foo(x)", "--wrt", "x"), "unknown function 'foo'")
    assert cli("grad", "a(x + 1)", "--wrt", "x").stderr.startswith("note: a(...)")
    assert cli("grad", "sigmoid(x) + x(1 - x)", "--wrt", "x").stderr == ""


def test_jacobian():
    r = cli("jacobian", "x y", "x + y", "sin(x)", "--wrt", "x,y")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[-4:] == [
        "Jacobian (rows f0, f1, f2; columns x, y):",
        "  [     y, x]",
        "  [     1, 1]",
        "  [cos(x), 0]",
    ]
    data = json.loads(cli("jacobian", "x y", "x + y", "--wrt", "x,y", "--json").stdout)
    assert data["jacobian"] == [["y", "x"], ["1", "1"]] and data["functions"] == ["x*y", "x + y"]
    assert cli("jacobian", "x y", "--latex").stdout.startswith("J = ")


def test_hessian():
    r = cli("hessian", "x^3 y", "--wrt", "x,y")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[1:] == [
        "Hessian (rows and columns x, y):",
        "  [ 6*x*y, 3*x**2]",
        "  [3*x**2,      0]",
    ]
    data = json.loads(cli("hessian", QUADRATIC, "--json").stdout)
    assert data["hessian"] == [["2", "-1", "0"], ["-1", "2", "-1"], ["0", "-1", "2"]]
    assert data["latex"][0][1] == "-1"


@pytest.mark.parametrize(
    "args,words",
    [
        (["grad", "x.__class__"], ["attribute access"]),
        (["grad", "__import__('os')"], ["dunder"]),
        (["grad", "x^2", "--wrt", "x,1y"], ["--wrt", "'1y'"]),
        (["grad", "x^2", "--wrt", "x,x"], ["more than once"]),
        (["grad", "3"], ["no variables"]),
        (["grad", "1/0 + x"], ["undefined or infinite"]),
        (["hessian", "sin(x", "--wrt", "x"], ["expected ')'"]),
        (["jacobian", r"\begin{pmatrix} x \\ y \end{pmatrix}"], ["matrix"]),
    ],
)
def test_symbolic_commands_refuse_unusable_input(args, words):
    unusable(cli(*args), *words)


def test_usage_errors_exit_2():
    for args in (["grad"], ["grad", "x", "--wrtt", "x"], ["nonsense"], ["explain", "x"]):
        r = cli(*args)
        assert r.exit_code == 2 and "Usage: symbackprop" in r.stderr, args


# ---- critical -------------------------------------------------------------------------------------


def test_critical_table_and_json():
    r = cli("critical", QUADRATIC)
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[1] == "1 critical point in (x1, x2, x3), solved exactly:"
    assert lines[2].split() == ["point", "value", "eigenvalues", "kind"]
    assert lines[3].startswith("  (-1, -1, -1)   -1 ") and lines[3].endswith("minimum")
    assert "2 - sqrt(2) ~0.585786, 2, sqrt(2) + 2 ~3.41421" in lines[3]

    data = json.loads(cli("critical", "x^3/3 - 2x^2 + 2x", "--json").stdout)
    (top, bottom) = data["points"]
    assert [top["kind"], bottom["kind"]] == ["maximum", "minimum"]
    assert top["point"]["x"] == pytest.approx(2 - np.sqrt(2))
    assert top["point_exact"] == {"x": "2 - sqrt(2)"} and top["exact"] is True
    assert bottom["eigenvalues"] == [pytest.approx(2 * np.sqrt(2))]
    assert bottom["eigenvalues_exact"] == ["2*sqrt(2)"]


def test_critical_degenerate_numeric_and_box():
    r = cli("critical", "x^4 + y^2")
    assert "degenerate" in r.stdout and "the second-derivative test cannot decide" in r.stdout
    data = json.loads(cli("critical", "x^2 - y^2", "--box", "-1,1", "--json").stdout)
    assert [p["kind"] for p in data["points"]] == ["saddle"]
    data = json.loads(cli("critical", "x^2 + 2x", "--method", "numeric", "--json").stdout)
    (p,) = data["points"]
    assert p["exact"] is False and p["point"]["x"] == pytest.approx(-1) and p["kind"] == "minimum"
    # the numbers are read here, their values judged by critical_points (one rule, one message)
    unusable(cli("critical", "x^2", "--box", "3,1"), "box for x must be finite with lo < hi")
    unusable(cli("critical", "x^2", "--box", "1/0,1"), "box must be (lo, hi) pairs of numbers")
    unusable(cli("critical", "x^2", "--box", "3"), "--box '3' must be 2 numbers")
    r = cli("critical", "x^2", "--starts", "0")
    assert r.exit_code == 2 and "'--starts': 0 is not in the range x>=1" in r.stderr
    unusable(cli("critical", "a x^2", "--wrt", "x"), "free symbol(s) a")


# ---- check -------------------------------------------------------------------------------------------


def test_check_right_is_exit_0():
    r = cli("check", "log(x)", "--wrt", "x", "--claimed", "1/x")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == [
        "f = log(x)",
        "ok: the claimed derivative is right (the difference simplifies to 0)",
        "expected:",
        "  df/dx = 1/x",
    ]
    r = cli("check", "1/(1+e^(-x))", "--claimed-latex", r"\frac{e^{-x}}{(1+e^{-x})^2}")
    assert r.exit_code == 0 and "ok: the claimed derivative is right" in r.stdout


def test_check_wrong_is_exit_1_with_counterexample():
    r = cli("check", "log(x)", "--wrt", "x", "--claimed", "1/x^2")
    assert r.exit_code == 1 and r.stderr == ""
    assert "wrong: at x=0.3, expected 3.33333, claimed 11.1111" in r.stdout
    assert "df/dx = 1/x   (claimed x**(-2))" in r.stdout


def test_check_the_notes_gradient_as_text_and_latex_json():
    claims = [a for c in NOTES_GRADIENT for a in ("--claimed", c)]
    r = cli("check", QUADRATIC, "--wrt", "x1,x2,x3", *claims)
    assert r.exit_code == 1
    assert "df/dx1 = 2*x1 - x2 + 1   (claimed 2*x1 + 1)" in r.stdout
    assert "df/dx2 = -x1 + 2*x2 - x3\n" in r.stdout  # right entries are not flagged
    latex = r"\begin{pmatrix} 2x_1 + 1 \\ -x_1 + 2x_2 - x_3 \\ -x_2 + 2x_3 + 1 \end{pmatrix}"
    r = cli("check", QUADRATIC, "--claimed-latex", latex, "--json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["ok"] is False and data["verdict"] == "wrong" and data["kind"] == "gradient"
    assert data["wrong_entries"] == [[0]]
    assert data["expected"]["df/dx1"] == "2*x1 - x2 + 1"
    assert data["claimed"]["df/dx1"] == "2*x1 + 1" and data["difference"]["df/dx1"] == "-x2"
    point = data["counterexample"]
    assert set(point) == {"x1", "x2", "x3"}
    assert data["expected_value"][0] == pytest.approx(2 * point["x1"] - point["x2"] + 1)
    assert data["claimed_value"][0] == pytest.approx(2 * point["x1"] + 1)


def test_check_jacobian_and_hessian():
    args = ["--claimed", "y", "--claimed", "x", "--claimed", "1", "--claimed", "2"]
    r = cli("check", "x y", "x + y", "--wrt", "x,y", *args, "--json")
    data = json.loads(r.stdout)
    assert r.exit_code == 1 and data["kind"] == "jacobian" and data["wrong_entries"] == [[1, 1]]
    assert data["expected"]["df1/dy"] == "1" and data["claimed"]["df1/dy"] == "2"
    hessian = r"\begin{pmatrix} 6xy & 3x^2 \\ 3x^2 & 0 \end{pmatrix}"
    r = cli("check", "x^3 y", "--wrt", "x,y", "--claimed-latex", hessian)
    assert r.exit_code == 0 and "ok: the claimed hessian is right" in r.stdout


def test_check_n_squared_claims_are_the_hessian():
    # n^2 --claimed entries for one function of n variables: its Hessian, row by row
    entries = ["6x y", "3x^2", "3x^2", "0"]
    r = cli("check", "x^3 y", "--wrt", "x,y", *[a for e in entries for a in ("--claimed", e)])
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "ok: the claimed hessian is right" in r.stdout and "d2f/dydx = 3*x**2" in r.stdout
    entries[3] = "x"
    args = [a for e in entries for a in ("--claimed", e)]
    data = json.loads(cli("check", "x^3 y", "--wrt", "x,y", *args, "--json").stdout)
    assert data["kind"] == "hessian" and data["wrong_entries"] == [[1, 1]]
    # m x n entries for m functions: the Jacobian, also row by row
    args = [a for e in ["y", "x", "2x", "0", "1", "1"] for a in ("--claimed", e)]
    data = json.loads(cli("check", "x y", "x^2", "x + y", "--wrt", "x,y", *args, "--json").stdout)
    assert data["kind"] == "jacobian" and data["ok"] is True
    # any other count says what each kind needs
    r = cli("check", "x^3 y", "--wrt", "x,y", "--claimed", "1", "--claimed", "2", "--claimed", "3")
    unusable(r, "needs 2 claimed entries", "4, row by row")


@pytest.mark.parametrize(
    "args,words",
    [
        (["check", "x^2", "--wrt", "x", "--claimed", "2q"], ["unknown name 'q'"]),
        (["check", "x^2", "--wrt", "x", "--claimed", "os.system"], ["attribute access"]),
        (["check", "x^2 y", "--wrt", "x,y", "--claimed", "2x y"], ["needs 2 claimed entries"]),
        (["check", "x^2", "--wrt", "z", "--claimed", "2z"], ["not a symbol of f"]),
    ],
)
def test_check_unusable_input_is_exit_2(args, words):
    unusable(cli(*args), *words)


def test_check_usage_errors_are_exit_2():
    r = cli("check", "x^2", "--wrt", "x")
    assert r.exit_code == 2 and "give the claimed derivative" in r.stderr
    r = cli("check", "x^2", "--claimed", "2x", "--claimed-latex", "2x")
    assert r.exit_code == 2 and "not both" in r.stderr


def test_colour_only_when_asked_or_on_a_terminal():
    plain = cli("check", "log(x)", "--claimed", "1/x^2")
    assert "\x1b[" not in plain.stdout
    coloured = cli("--color", "check", "log(x)", "--claimed", "1/x^2")
    assert "\x1b[31m" in coloured.stdout and coloured.exit_code == 1  # red verdict
    assert "\x1b[" not in cli("--color", "check", "log(x)", "--claimed", "1/x^2", "--json").stdout


# ---- explain ---------------------------------------------------------------------------------------


def test_explain_text_latex_json_and_graph(tmp_path):
    r = cli("explain", "(x + y) z", "--at", "x=-2,y=5,z=-4")
    assert r.exit_code == 0
    assert r.stdout.startswith("f = z*(x + y) at x = -2, y = 5, z = -4\n")
    assert "  q = x + y = 3\n" in r.stdout and "  df/dx = df/dq * dq/dx = -4 * 1 = -4\n" in r.stdout
    assert r.stdout.rstrip().endswith("Gradient: df/dx = -4, df/dy = -4, df/dz = 3")

    graph = tmp_path / "graph.dot"
    r = cli("explain", "(x + y) z", "--at", "x=-2", "--at", "y=5,z=-4", "--latex", "--graph", graph)
    assert r.exit_code == 0 and r.stdout.startswith(r"\begin{align*}")
    assert f"graph written to {graph}" in r.stdout
    assert graph.read_text().startswith("digraph")

    r = cli("explain", "sigmoid(w x + b)", "--wrt", "w,b", "--at", "w=1/2,x=2,b=-1", "--json")
    data = json.loads(r.stdout)
    assert data["value"] == "1/2" and data["gradient"] == {"w": "1/2", "b": "1/4"}
    assert data["gradient_float"] == {"w": 0.5, "b": 0.25} and data["wrt"] == ["w", "b"]
    assert data["steps"][-1]["label"] == "f" and data["dot"].startswith("digraph")


def test_explain_picture_needs_graphviz(tmp_path):
    r = cli("explain", "x y", "--at", "x=1,y=2", "--graph", tmp_path / "g.svg")
    if shutil.which("dot"):
        assert r.exit_code == 0 and (tmp_path / "g.svg").read_text().lstrip().startswith("<")
    else:  # a failure (exit 1) reported before any work, naming the way out
        assert r.exit_code == 1 and r.stdout == ""
        assert "graphviz" in r.stderr and "--graph g.dot" in r.stderr


@pytest.mark.parametrize(
    "at,words",
    [
        ("x=1", ["missing a value for y"]),
        ("x=1,y=2,x=3", ["gives x twice"]),
        ("x=1;y=2", ["';' is not allowed"]),
        ("x=1,y=t", ["unknown name 't'"]),
        ("x=1,y", ["'y' must look like name=number"]),
    ],
)
def test_explain_refuses_bad_points(at, words):
    unusable(cli("explain", "x y", "--at", at), *words)


def test_explain_graph_suffix_is_a_usage_error(tmp_path):
    r = cli("explain", "x y", "--at", "x=1,y=2", "--graph", tmp_path / "g.txt")
    assert r.exit_code == 2 and ".dot, .svg or .png" in r.stderr


# ---- compile and compile-net ------------------------------------------------------------------------


def test_compile_writes_a_working_standalone_module(tmp_path):
    out = tmp_path / "my_gradient.py"
    r = cli("compile", "a x^2 y + sin(y)", "--wrt", "x,y", "--const", "a=3", "-o", out)
    assert r.exit_code == 0, r.stderr
    assert (
        f"wrote {out}" in r.stdout
        and "defines value, grad, value_and_grad, hessian, hvp" in r.stdout
    )
    assert "constants: a = 3" in r.stdout
    module = import_file(out)
    np.testing.assert_allclose(module.grad(np.array([1.0, 2.0])), [12.0, 3.0 + np.cos(2.0)])

    data = json.loads(cli("compile", "x y", "x + y", "-o", tmp_path / "vec.py", "--json").stdout)
    assert data["functions"][:2] == ["value", "jacobian"] and data["outputs"] == 2
    assert data["variables"] == ["x", "y"] and Path(data["path"]).is_file()


@pytest.mark.parametrize(
    "args,words",
    [
        # compile()'s own errors, not a copy of its checks
        (["a x", "--wrt", "x"], ["free symbol a is neither a variable nor a constant"]),
        (["x", "--const", "q=1"], ["q: not a symbol"]),
        (["x y", "--wrt", "x,y", "--const", "y=1"], ["y is both a variable and a constant"]),
        (["x", "--const", "a"], ["must look like name=number"]),
        (["x a", "--wrt", "x", "--const", "a=1/0"], ["constant a = zoo is not a real number"]),
        (["x a", "--wrt", "x", "--const", "a=sqrt(-1)"], ["constant a = I is not a real"]),
    ],
)
def test_compile_refuses_unusable_input(tmp_path, args, words):
    unusable(cli("compile", *args, "-o", tmp_path / "m.py"), *words)
    assert not (tmp_path / "m.py").exists()


def test_compile_refuses_bad_targets(tmp_path):
    unusable(cli("compile", "x^2", "-o", tmp_path / "missing" / "m.py"), "does not exist")
    unusable(cli("compile", "x^2", "-o", tmp_path / "m.txt"), "must end in .py")


def test_compile_net_from_the_example_spec(tmp_path):
    out = tmp_path / "net_module.py"
    r = cli("compile-net", EXAMPLE_SPEC, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert "parameters: W1 (2, 2), b1 (2,), W2 (2, 2), b2 (2,)" in r.stdout
    assert "defines forward, loss, loss_and_grad, hessian" in r.stdout
    text = out.read_text()
    assert "def _loss_and_grad(W1, b1, W2, b2, X, Y)" in text and "import sympy" not in text
    data = json.loads(cli("compile-net", EXAMPLE_SPEC, "-o", out, "--json").stdout)
    assert data["parameters"] == {"W1": [2, 2], "b1": [2], "W2": [2, 2], "b2": [2]}
    assert "loss='half_sse'" in data["network"]


# ---- network spec files ------------------------------------------------------------------------------


def test_the_example_spec_is_the_lecture_network():
    net = load_spec(EXAMPLE_SPEC)
    assert repr(net) == (
        "Sequential(inputs=2, layers=[Dense(2, 'sigmoid'), Dense(2, 'sigmoid')], "
        "loss='half_sse', l2=0.0)"
    )


def test_spec_maxout_formula_activation_and_defaults():
    net = loads_spec(
        'inputs = 3\nl2 = 1e-3\n[[layers]]\ntype = "maxout"\nunits = 4\npieces = 2\n'
        '[[layers]]\nunits = 1\nactivation = "z / (1 + abs(z))"\n'
    )
    assert net.loss == "mse" and net.l2 == 1e-3
    assert net.param_shapes() == {"W1": (2, 4, 3), "b1": (2, 4), "W2": (1, 4), "b2": (1,)}
    activation = net.layers[1].activation
    assert isinstance(activation, sp.Lambda) and activation(sp.Integer(-1)) == sp.Rational(-1, 2)
    inline = loads_spec('inputs = 1\nlayers = [{units = 2, activation = "tanh"}, {units = 1}]')
    assert [layer.units for layer in inline.layers] == [2, 1]


BAD_SPECS = [
    # (spec text, words in the one-line error: key names and line numbers)
    ("inputs = 2\nunit = 3\n[[layers]]\nunits = 1\n", ["line 2", "unknown key 'unit'"]),
    (
        'inputs = 2\n[[layers]]\nunits = 2\n\n[[layers]]\nunits = 1\nactvation = "tanh"\n',
        ["line 7", "layer 2 (dense): unknown key 'actvation'"],
    ),
    ("inputs = 2\n[[layers]]\nunits = 1\npieces = 2\n", ["line 4", "unknown key 'pieces'"]),
    ("inputs = 2\n[network]\nx = 1\n[[layers]]\nunits = 1\n", ["line 2", "unknown key 'network'"]),
    ("inputs = 2\nlayers = [{units = 1, size = 2}]\n", ["line 2", "unknown key 'size'"]),
    ('inputs = "2"\n[[layers]]\nunits = 1\n', ["line 1", "'inputs' must be a positive integer"]),
    ("inputs = 2\n[[layers]]\nunits = true\n", ["line 3", "'units' must be a positive integer"]),
    ('inputs = 2\nl2 = "big"\n[[layers]]\nunits = 1\n', ["line 2", "'l2' must be a number"]),
    ("inputs = 2\nloss = 3\n[[layers]]\nunits = 1\n", ["line 2", "'loss' must be a string"]),
    ('inputs = 2\nloss = "sq"\n[[layers]]\nunits = 1\n', ["line 2", "unknown loss 'sq'"]),
    ("inputs = 2\nl2 = -1.0\n[[layers]]\nunits = 1\n", ["line 2", "l2 must be finite and >= 0"]),
    ("[[layers]]\nunits = 1\n", ["missing required key 'inputs'"]),
    ("inputs = 2\n", ["missing required key 'layers'"]),
    ("inputs = 2\nlayers = []\n", ["line 2", "'layers' is empty"]),
    (
        'inputs = 2\n[[layers]]\nactivation = "tanh"\n',
        ["line 2", "layer 1: missing required key 'units'"],
    ),
    (
        'inputs = 2\n[[layers]]\ntype = "maxout"\nunits = 2\n',
        ["line 2", "layer 1 (maxout): missing required key 'pieces'"],
    ),
    ('inputs = 2\n[[layers]]\ntype = "conv"\nunits = 2\n', ["line 3", "unknown type 'conv'"]),
    ('inputs = 2\n[[layers]]\nunits = 1\nactivation = "swish"\n', ["line 4", "'swish'"]),
    (
        'inputs = 2\n[[layers]]\nunits = 1\nactivation = "z.__class__"\n',
        ["line 4", "attribute access is not allowed"],
    ),
    ("inputs = 2\n[[layers]\n", ["not valid TOML", "line 2"]),
]


@pytest.mark.parametrize("text,words", BAD_SPECS)
def test_bad_specs_are_refused_naming_key_and_line(tmp_path, text, words):
    path = tmp_path / "net.toml"
    path.write_text(text)
    r = cli("compile-net", path, "-o", tmp_path / "m.py")
    unusable(r, f"{path}", *words)
    assert not (tmp_path / "m.py").exists()


def test_compile_net_missing_spec_is_a_usage_error(tmp_path):
    r = cli("compile-net", tmp_path / "missing.toml", "-o", tmp_path / "m.py")
    assert r.exit_code == 2 and "does not exist" in r.stderr


# ---- cache ------------------------------------------------------------------------------------------------


def test_cache_info_and_clear(tmp_path):
    env = {"SYMBACKPROP_CACHE_DIR": str(tmp_path / "cache")}  # never the session's own cache
    x = sp.Symbol("x")
    sb.compile(x**3, [x], cache_dir=tmp_path / "cache")
    (tmp_path / "cache" / "mine.txt").write_text("not ours")

    info = json.loads(cli("cache", "info", "--json", env=env).stdout)
    assert info["location"] == str(tmp_path / "cache")
    assert info["entries"] == 1 and info["modules"] == 1 and info["bytes"] > 0
    text = cli("cache", "info", env=env).stdout
    assert f"location: {tmp_path / 'cache'}" in text and "1 compile requests" in text

    r = cli("cache", "clear", env=env, input="n\n")  # asks first; no means nothing is deleted
    assert r.exit_code == 1 and "Delete 1 entries" in r.stdout
    assert json.loads(cli("cache", "info", "--json", env=env).stdout)["entries"] == 1

    r = cli("cache", "clear", "--yes", env=env)
    assert r.exit_code == 0 and "cleared" in r.stdout and "1 entries" in r.stdout
    info = json.loads(cli("cache", "info", "--json", env=env).stdout)
    assert info["entries"] == 0 and info["bytes"] == 0
    assert (tmp_path / "cache" / "mine.txt").read_text() == "not ours"  # only our folders go
    sb.compile(x**3, [x], cache_dir=tmp_path / "cache")  # and the cache still works


# ---- the same commands as real subprocesses ------------------------------------------------------

SUBPROCESS_CASES = {
    # name: (arguments, exit status, words in stdout, words in stderr)
    "demo": (["demo"], 0, ["0.298371109", "0.082167041", "wrong: entries (0,)", "minimum"], []),
    "help": (["--help"], 0, ["compile-net", "critical"], []),
    "grad": (["grad", "x^2 y + y", "--wrt", "x,y", "--json"], 0, ['"x**2 + 1"'], []),
    "jacobian": (["jacobian", "x y", "x + y"], 0, ["[y, x]"], []),
    "hessian": (["hessian", "x^3 y", "--wrt", "x,y"], 0, ["[ 6*x*y, 3*x**2]"], []),
    "critical": (["critical", QUADRATIC, "--json"], 0, ['"kind": "minimum"'], []),
    "check-right": (["check", "sin(x)", "--claimed", "cos(x)"], 0, ["ok:"], []),
    "check-wrong": (["check", "log(x)", "--claimed", "1/x^2"], 1, ["wrong: at x=0.3"], []),
    "check-unusable": (["check", "x", "--claimed", "eval(x)"], 2, [], ["error: ", "'eval'"]),
    "explain": (["explain", "(x+y)z", "--at", "x=-2,y=5,z=-4"], 0, ["df/dz = q = 3"], []),
    "compile": (["compile", "x^2 y", "-o", "m.py"], 0, ["wrote m.py"], []),
    "compile-net": (["compile-net", str(EXAMPLE_SPEC), "-o", "n.py"], 0, ["wrote n.py"], []),
    "cache-info": (["cache", "info", "--json"], 0, ['"entries"'], []),
    "cache-clear": (["cache", "clear", "--yes"], 0, ["cleared"], []),
}


@pytest.fixture(scope="module")
def subprocess_results(tmp_path_factory):
    """Every case run as `python -m symbackprop ...`, concurrently (each pays the import)."""
    folder = tmp_path_factory.mktemp("subprocess")

    def run(name):
        args, *_ = SUBPROCESS_CASES[name]
        env = dict(os.environ)
        if name.startswith("cache"):  # its own cache: clearing must not touch the session's
            env["SYMBACKPROP_CACHE_DIR"] = str(folder / "cache")
        cwd = folder / name
        cwd.mkdir()
        done = subprocess.run(
            [sys.executable, "-m", "symbackprop", *args],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        return name, (done, cwd)

    # cache-clear must not race cache-info over the same folder: run it after the others
    names = [n for n in SUBPROCESS_CASES if n != "cache-clear"]
    with ThreadPoolExecutor(max_workers=max(2, min(6, os.cpu_count() or 2))) as pool:
        results = dict(pool.map(run, names))
    results.update([run("cache-clear")])
    return results


@pytest.mark.parametrize("name", list(SUBPROCESS_CASES))
def test_as_a_subprocess(subprocess_results, name):
    _, status, out_words, err_words = SUBPROCESS_CASES[name]
    done, cwd = subprocess_results[name]
    assert done.returncode == status, done.stdout + done.stderr
    for word in out_words:
        assert word in done.stdout, done.stdout
    for word in err_words:
        assert word in done.stderr, done.stderr
    if status == 2:  # one line, no traceback
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    if name in ("grad", "critical", "cache-info"):
        json.loads(done.stdout)
    if name.startswith("compile"):
        assert len(list(cwd.glob("*.py"))) == 1
