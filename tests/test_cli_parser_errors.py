"""Formulas the parser refuses reach the command line as one ``error:`` line and exit status 2,
through every door (a formula argument, ``check --claimed``/``--claimed-latex``, a spec file's
``activation``); and the command line reads names by the parser's one rule.
"""

from __future__ import annotations

import pytest
from test_cli import cli, unusable

BAD_PLAIN = [
    ("x if x > nan else 1", "NaN comparison"),
    ("max(sqrt(-1), x)", "not comparable"),
    ("e^" + "-" * 1990 + "x", "deeper than"),
    ("2xy(1 - x)", "unknown function 'xy'"),
    ("sinx + 1", "spells the function 'sin'"),
]
BAD_LATEX = [
    (r"\frac{é}{2}", "unexpected 'é'"),
    ("e^" + "-" * 1990 + "x", "deeper than"),
    (r"\begin{pmatrix} 1 & 2 \\ 3 \end{pmatrix}", "row 2 has 1 cell(s)"),
]


@pytest.mark.parametrize("text, words", BAD_PLAIN, ids=[t[:24] for t, _ in BAD_PLAIN])
def test_a_bad_formula_argument_is_one_error_line(text, words):
    unusable(cli("grad", text), "position", words)


# a claim may use only f's symbols: the names the argument could make new are unknown here
BAD_CLAIMS = BAD_PLAIN[:3] + [("2xy(1 - x)", "unknown name 'xy'"), ("relu2(x)", "'relu2'")]


@pytest.mark.parametrize("text, words", BAD_CLAIMS, ids=[t[:24] for t, _ in BAD_CLAIMS])
def test_a_bad_claimed_formula_is_one_error_line(text, words):
    unusable(cli("check", "x^2", "--claimed", text), "position", words)


@pytest.mark.parametrize("text, words", BAD_LATEX, ids=[t[:24] for t, _ in BAD_LATEX])
def test_a_bad_claimed_latex_formula_is_one_error_line(text, words):
    unusable(cli("check", "x^2 y", "--wrt", "x,y", "--claimed-latex", text), "position", words)


@pytest.mark.parametrize(
    "activation, words",
    [("z if z > nan else 0", "NaN comparison"), ("max(sqrt(-1), z)", "not comparable")],
)
def test_a_bad_spec_activation_is_one_error_line(tmp_path, activation, words):
    spec = tmp_path / "net.toml"
    spec.write_text(f'inputs = 2\n[[layers]]\nunits = 1\nactivation = "{activation}"\n')
    out = tmp_path / "m.py"
    unusable(cli("compile-net", spec, "-o", out), "net.toml", "position", words)
    assert not out.exists()


def test_relu_is_the_function_not_a_variable():
    r = cli("grad", "relu(x) + x")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == "f = x + Max(0, x)"
    assert [line.split(" =")[0] for line in r.stdout.splitlines()[1:]] == ["df/dx"]


def test_grad_and_check_read_2xy_alike():
    grad = cli("grad", "2xy")
    assert grad.exit_code == 0, grad.stderr
    assert grad.stdout.splitlines() == ["f = 2*x*y", "df/dx = 2*y", "df/dy = 2*x"]
    check = cli("check", "x^2 y", "--claimed", "2xy", "--claimed", "x^2")
    assert check.exit_code == 0, check.stdout + check.stderr


def test_names_given_by_const_and_at_are_one_symbol(tmp_path):
    """--const lr=... and --at lr=... name the symbol lr (else the rule would read l*r)."""
    r = cli("explain", "lr x", "--at", "lr=2,x=3")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "Gradient: df/dlr = 3, df/dx = 2"
    out = tmp_path / "m.py"
    r = cli("compile", "lr x^2", "--const", "lr=0.5", "-o", out, "--json")
    assert r.exit_code == 0, r.stderr
    assert '"variables": [\n    "x"\n  ]' in r.stdout and out.exists()
