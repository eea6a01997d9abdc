"""Models over data from the command line: ``compile --data`` (a sum model, per-row residuals
with ``--rows``, a vector model with scalar data) writes a standalone module whose numbers match
an independent NumPy/SymPy oracle and whose ``python MODULE`` self-check passes; ``check --data``
decides claims written with sums; ``critical``/``explain`` refuse --data with a reason; bad
input exits 2 with one error line naming the culprit.

Three models are compiled, once per module (fixtures below), and shared by the tests.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

from symbackprop.cli import main

DECAY = "sum((y[i] - a*exp(-b*t[i]))^2, i)"
RESIDUAL = "y[i] - a exp(-b t[i]) - c"


def _runner() -> CliRunner:
    try:  # Click 8.1 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def cli(*args):
    result = _runner().invoke(main, [str(a) for a in args], prog_name="symbackprop")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def unusable(result, *words) -> None:
    """Exit status 2, one 'error: ...' line on stderr naming the culprit, nothing on stdout."""
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    for word in words:
        assert word in lines[0], lines[0]


def import_file(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data(n=7, seed=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, 3.0, n))
    y = 2.0 * np.exp(-0.7 * t) + 0.05 * rng.standard_normal(n)
    return t, y


def _central(f, x, h=1e-6):
    """Central differences of f (scalar or vector valued) at x, one column per coordinate."""
    cols = []
    for k in range(len(x)):
        e = np.zeros(len(x))
        e[k] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)


@pytest.fixture(scope="module")
def decay(tmp_path_factory):
    out = tmp_path_factory.mktemp("decay") / "fit.py"
    r = cli("compile", DECAY, "--data", "t,y", "--wrt", "a,b", "-o", out, "--json")
    assert r.exit_code == 0, r.stderr
    # `python fit.py` (its self-check compiles every function afresh) runs meanwhile
    check = subprocess.Popen(
        [sys.executable, str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    yield json.loads(r.stdout), out, import_file(out), check
    if check.poll() is None:
        check.kill()
        check.wait()


@pytest.fixture(scope="module")
def residuals(tmp_path_factory):
    out = tmp_path_factory.mktemp("rows") / "residuals.py"
    r = cli("compile", RESIDUAL, "--data", "t,y", "--rows", "i", "-o", out)
    assert r.exit_code == 0, r.stderr
    return r.stdout, out, import_file(out)


@pytest.fixture(scope="module")
def vector(tmp_path_factory):
    # an ODE right-hand side: scalar data s (a forcing), parameters k, c, state u, v
    out = tmp_path_factory.mktemp("vector") / "rhs.py"
    r = cli(
        "compile", "-k u + s", "k u - c v s", "--data", "s", "--wrt", "k,c,u,v", "-o", out, "--json"
    )
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout), out, import_file(out)


# ---- compile --data ---------------------------------------------------------------------------


def test_compile_data_reports_the_model(decay):
    info, out, _, _ = decay
    assert info["functions"] == ["value", "grad", "value_and_grad", "hessian", "hvp"]
    assert info["parameters"] == ["a", "b"]
    assert info["arrays"] == ["t", "y"] and info["scalars"] == [] and info["kind"] == "scalar"
    assert Path(info["path"]) == out and info["lines"] > 0


def test_compiled_sum_matches_numpy_and_sympy(decay):
    _, _, m, _ = decay
    t, y = _data()
    theta = np.array([1.7, 0.55])
    a, b = theta
    # independent oracles: the formula in NumPy, and SymPy's gradient/Hessian of the sum
    # written out for these 7 rows
    assert m.value(theta, t, y) == pytest.approx(np.sum((y - a * np.exp(-b * t)) ** 2), rel=1e-12)
    A, B = sp.symbols("A B")
    f = sum((float(yk) - A * sp.exp(-B * float(tk))) ** 2 for tk, yk in zip(t, y))
    grad = [float(sp.diff(f, v).subs({A: a, B: b})) for v in (A, B)]
    hess = [[float(sp.diff(f, u, v).subs({A: a, B: b})) for v in (A, B)] for u in (A, B)]
    np.testing.assert_allclose(m.grad(theta, t, y), grad, rtol=1e-10)
    value, g = m.value_and_grad(theta, t, y)
    assert value == m.value(theta, t, y)
    np.testing.assert_allclose(g, grad, rtol=1e-10)
    np.testing.assert_allclose(m.hessian(theta, t, y), hess, rtol=1e-10)
    v = np.array([0.3, -1.1])
    np.testing.assert_allclose(m.hvp(theta, v, t, y), np.array(hess) @ v, rtol=1e-10)


def test_compiled_module_does_not_depend_on_the_number_of_rows(decay):
    _, _, m, _ = decay
    theta = np.array([2.0, 0.7])
    for n in (0, 1, 50):
        t, y = _data(n, seed=n)
        assert m.value(theta, t, y) == pytest.approx(np.sum((y - 2 * np.exp(-0.7 * t)) ** 2))
    assert m.value(theta, np.array([]), np.array([])) == 0.0
    with pytest.raises(m.DataError, match="y"):
        m.value(theta, np.zeros(3), np.zeros(4))


def test_written_module_checks_itself(decay):
    check = decay[3]
    stdout, _ = check.communicate(timeout=300)
    assert check.returncode == 0, stdout
    assert "grad" in stdout and "hessian" in stdout and "ok" in stdout


def test_compile_rows_writes_residuals_and_their_jacobian(residuals):
    text, _, m = residuals
    assert "residuals r_i" in text and "defines value, jacobian" in text
    t, y = _data(9, seed=3)
    theta = np.array([1.2, 0.4, -0.1])
    a, b, c = theta
    np.testing.assert_allclose(m.value(theta, t, y), y - a * np.exp(-b * t) - c, rtol=1e-12)
    J = m.jacobian(theta, t, y)
    assert J.shape == (9, 3)
    np.testing.assert_allclose(J, _central(lambda x: m.value(x, t, y), theta), atol=1e-7)
    exact = np.stack([-np.exp(-b * t), a * t * np.exp(-b * t), -np.ones_like(t)], axis=1)
    np.testing.assert_allclose(J, exact, rtol=1e-12)


def test_compile_vector_model_with_scalar_data(vector):
    info, _, m = vector
    assert info["kind"] == "vector" and info["scalars"] == ["s"] and info["arrays"] == []
    assert info["functions"] == ["value", "jacobian"]
    theta = np.array([0.8, 1.5, 0.3, -0.6])
    k, c, u, v = theta
    s = 2.5
    np.testing.assert_allclose(m.value(theta, s), [-k * u + s, k * u - c * v * s], rtol=1e-12)
    exact = np.array([[-u, 0.0, -k, 0.0], [u, -v * s, k, -c * s]])
    np.testing.assert_allclose(m.jacobian(theta, s), exact, rtol=1e-12)


def test_compile_data_text_output_names_the_data(tmp_path, decay):
    # the same model as the fixture (same cache entry): no new compile
    r = cli("compile", DECAY, "--data", "t,y", "--wrt", "a,b", "-o", tmp_path / "m.py")
    assert r.exit_code == 0, r.stderr
    assert "data: t[i], y[i]" in r.stdout and "of (a, b)" in r.stdout
    assert (tmp_path / "m.py").read_text(encoding="utf-8").startswith('"""')


# ---- unusable input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, words",
    [
        ((DECAY, "--data", "t"), ("brackets follow a data name only", "y", "position")),
        (("sum((y[i] - a)^2, i)",), ("--data",)),
        (("sum(a x, i, 0, 3)",), ("sum", "--data")),
        ((DECAY, "--data", "t,y,z"), ("--data z", "does not use")),
        (("t[0] a + t a", "--data", "t"), ("t", "array", "scalar")),
        ((DECAY, "--data", "t,y", "--wrt", "a,t"), ("t", "--wrt", "--data")),
        ((DECAY, "--data", "t,y", "--rows", "i"), ("Sum",)),
        (("y[j] - a", "--data", "y", "--rows", "i"), ("--rows i",)),
        (("y[i] - a", "--data", "y", "--rows", "i", "--const", "q=1"), ("--const q",)),
        (("sum(t[i] a, i)", "--data", "t,t"), ("t", "more than once")),
    ],
)
def test_compile_data_refuses_bad_input(tmp_path, args, words):
    out = tmp_path / "m.py"
    r = cli("compile", *args, "-o", out)
    unusable(r, *words)
    assert not out.exists()


def test_rows_needs_data(tmp_path):
    r = cli("compile", "y[i] - a", "--rows", "i", "-o", tmp_path / "m.py")
    assert r.exit_code == 2 and "--rows needs --data" in r.stderr


# ---- check, critical and explain with data ----------------------------------------------------


def test_check_data_right_claim_exits_0():
    r = cli(
        "check",
        "sum((y[i] - a t[i])^2, i)",
        "--data",
        "t,y",
        "--wrt",
        "a",
        "--claimed",
        "-2 sum(t[i] (y[i] - a t[i]), i)",
        "--json",
    )
    assert r.exit_code == 0, r.stdout + r.stderr
    info = json.loads(r.stdout)
    assert info["ok"] and info["verdict"] == "ok" and info["wrt"] == ["a"]
    assert "Sum" in info["expected"]["df/da"]


def test_check_data_wrong_claim_names_rows_and_data():
    # the gradient of a mean: the claim forgets the 1/N, which only N >= 2 reveals
    r = cli(
        "check",
        "sum((y[i] - a t[i] - b)^2, i) / N",
        "--data",
        "t,y",
        "--claimed",
        "-2 sum(t[i] (y[i] - a t[i] - b), i)",
        "--claimed",
        "-2/N sum(y[i] - a t[i] - b, i)",
        "--json",
    )
    assert r.exit_code == 1, r.stdout + r.stderr
    info = json.loads(r.stdout)
    assert info["verdict"] == "wrong" and info["kind"] == "gradient"
    assert info["wrong_entries"] == [[0]]
    point = info["counterexample"]
    n = int(point["N"])
    assert n >= 2 and {f"t[{k}]" for k in range(n)} <= set(point)
    # the counterexample really is one: the mean's derivative there, by NumPy
    t = np.array([point[f"t[{k}]"] for k in range(n)])
    y = np.array([point[f"y[{k}]"] for k in range(n)])
    a, b = point["a"], point["b"]
    expected = -2 * np.sum(t * (y - a * t - b)) / n
    assert info["expected_value"][0] == pytest.approx(expected, rel=1e-9)
    assert info["claimed_value"][0] == pytest.approx(expected * n, rel=1e-9)


def test_check_data_text_output():
    r = cli(
        "check",
        DECAY,
        "--data",
        "t,y",
        "--wrt",
        "a",
        "--claimed",
        "2 sum(exp(-b t[i]) (y[i] - a exp(-b t[i])), i)",
    )
    assert r.exit_code == 1
    assert r.stdout.startswith("f = Sum(") and "wrong: at N=" in r.stdout


@pytest.mark.parametrize("command, extra", [("critical", ()), ("explain", ("--at", "a=1"))])
def test_critical_and_explain_refuse_data_with_a_reason(command, extra):
    r = cli(command, "sum(t[i] a^2, i)", "--data", "t", *extra)
    unusable(r, f"{command} does not take --data", "compile")


def test_other_commands_point_to_data_for_brackets():
    unusable(cli("critical", "a^2 t[0]"), "t is not declared as data", "--data", "position 5")


def test_grad_and_hessian_with_data_are_sums():
    r = cli("grad", DECAY, "--data", "t,y", "--json")
    assert r.exit_code == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["wrt"] == ["a", "b"]
    # oracle: SymPy's derivatives of the sum written out for 3 rows, at a random point
    i, N = sp.Symbol("i", integer=True), sp.Symbol("N", integer=True)
    t, y = sp.IndexedBase("t"), sp.IndexedBase("y")
    a, b = sp.symbols("a b", real=True)
    names = {"t": t, "y": y, "i": i, "N": N, "a": a, "b": b, "Sum": sp.Sum, "exp": sp.exp}
    f = sum((y[k] - a * sp.exp(-b * t[k])) ** 2 for k in range(3))
    point = {a: 1.3, b: 0.4, t[0]: 0.1, t[1]: 0.5, t[2]: 2.0, y[0]: 1.0, y[1]: 0.2, y[2]: -0.3}
    for text, v in zip(info["gradient"], (a, b)):
        got = sp.parse_expr(text, local_dict=names).subs(N, 3).doit()
        assert float(got.xreplace(point)) == pytest.approx(float(sp.diff(f, v).xreplace(point)))
    r = cli("hessian", "sum((y[i] - a t[i])^2, i) / N", "--data", "t,y", "--wrt", "a", "--json")
    assert r.exit_code == 0, r.stderr
    assert "Sum" in r.stdout and "/N" in r.stdout.replace(" ", "")


# ---- compile --check-with FILE --at ... ------------------------------------------------------


def test_check_with_csv_prints_value_and_gradient(tmp_path, decay):
    t, y = _data(6, seed=5)
    table = tmp_path / "decay.csv"
    table.write_text(
        "y,t\n" + "".join(f"{float(b)!r},{float(a)!r}\n" for a, b in zip(t, y)), encoding="utf-8"
    )
    out = tmp_path / "m.py"
    r = cli("compile", DECAY, "--data", "t,y", "--wrt", "a,b", "-o", out,
            "--check-with", table, "--at", "a=1.5,b=1/2", "--json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    check = json.loads(r.stdout)["check"]
    assert check["rows"] == 6 and check["at"] == {"a": 1.5, "b": 0.5}
    res = y - 1.5 * np.exp(-0.5 * t)
    assert check["value"] == pytest.approx(np.sum(res**2), rel=1e-12)
    grad = [-2 * np.sum(res * np.exp(-0.5 * t)), 3.0 * np.sum(res * t * np.exp(-0.5 * t))]
    np.testing.assert_allclose(check["grad"], grad, rtol=1e-12)
    text = cli("compile", DECAY, "--data", "t,y", "--wrt", "a,b", "-o", out,
               "--check-with", table, "--at", "a=1.5,b=1/2")  # fmt: skip
    assert "on " in text.stdout and "(6 rows) at a = 1.5, b = 0.5" in text.stdout
    assert "grad = [" in text.stdout


def test_check_with_npz_gives_the_jacobian_of_residuals(tmp_path, residuals):
    t, y = _data(5, seed=6)
    archive = tmp_path / "obs.npz"
    np.savez(archive, t=t, y=y, unused=np.zeros(2))
    r = cli("compile", RESIDUAL, "--data", "t,y", "--rows", "i", "-o", tmp_path / "r.py",
            "--check-with", archive, "--at", "a=2,b=0.3,c=0.1", "--json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    check = json.loads(r.stdout)["check"]
    np.testing.assert_allclose(check["value"], y - 2 * np.exp(-0.3 * t) - 0.1, rtol=1e-12)
    J = np.array(check["jacobian"])
    exact = np.stack([-np.exp(-0.3 * t), 2 * t * np.exp(-0.3 * t), -np.ones(5)], axis=1)
    np.testing.assert_allclose(J, exact, rtol=1e-12)


def test_check_with_refuses_bad_input_and_writes_nothing(tmp_path, decay):
    out = tmp_path / "m.py"
    table = tmp_path / "d.csv"
    table.write_text("t,y\n0,1\n1,0.5\n", encoding="utf-8")
    uneven = tmp_path / "uneven.npz"
    np.savez(uneven, t=np.zeros(3), y=np.zeros(4))
    base = ("compile", DECAY, "--data", "t,y", "--wrt", "a,b", "-o", out)
    unusable(cli(*base, "--check-with", table, "--at", "a=1"), "--at values for b")
    unusable(cli(*base, "--check-with", table, "--at", "a=1,b=2,q=3"), "--at q")
    unusable(cli(*base, "--check-with", tmp_path / "none.csv", "--at", "a=1,b=2"), "none.csv")
    bad = tmp_path / "d.txt"
    bad.write_text("t,y\n", encoding="utf-8")
    unusable(cli(*base, "--check-with", bad, "--at", "a=1,b=2"), ".npz or a .csv")
    other = tmp_path / "other.csv"
    other.write_text("t,z\n0,1\n", encoding="utf-8")
    unusable(cli(*base, "--check-with", other, "--at", "a=1,b=2"), "no column y", "t, z")
    unusable(cli(*base, "--check-with", uneven, "--at", "a=1,b=2"), "y")
    assert not out.exists()
    r = cli(*base, "--at", "a=1,b=2")
    assert r.exit_code == 2 and "--at gives the point for --check-with" in r.stderr
    r = cli("compile", "x^2", "-o", out, "--check-with", table)
    assert r.exit_code == 2 and "--check-with and --at are for a model over data" in r.stderr
