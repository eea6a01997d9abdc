"""Symbolic work is bounded by size, not by a timer: sb.grad, sb.hessian, check_derivative and
critical_points return, with correct results, in a non-main thread and in the main thread while
the caller's own SIGALRM timer runs (which symbackprop must leave alone).

Each call runs in a subprocess whose timeout is a generous hang guard, not a speed assertion:
before the bounded simplification, sb.grad of F below ran for over 420 s in a thread.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, note
from hypothesis import strategies as st
from strategies import assert_close, expression_dags, lambdify_list, reference, safe_points

import symbackprop as sb
from symbackprop import simplification

x, y, z = sp.symbols("x y z")
# The functions: sympy.simplify grinds on their derivatives for minutes.
F = (
    sp.sin(x) * sp.exp(y)
    + sp.log(1 + z**2) * sp.tanh(x * y)
    + sp.sqrt(1 + x**2) * sp.atan(z)
    + sp.cosh(y * z)
    + (x + y + z) ** 4
)
G = sp.tanh(x * y) * sp.log(1 + z**2) + sp.atan(x * z)

# The child builds the same functions, runs one call in the context asked for, and prints JSON.
CHILD = r"""
import json, signal, sys, threading
import numpy as np, sympy as sp, symbackprop as sb

x, y, z = sp.symbols("x y z")
F = (sp.sin(x) * sp.exp(y) + sp.log(1 + z**2) * sp.tanh(x * y) + sp.sqrt(1 + x**2) * sp.atan(z)
     + sp.cosh(y * z) + (x + y + z) ** 4)
G = sp.tanh(x * y) * sp.log(1 + z**2) + sp.atan(x * z)
V = [x, y, z]
# A dense quartic: its cubic gradient has 27 candidate solutions, and SymPy's lex Groebner basis
# of it runs for minutes.
D = sum(((7 * i + 3 * j + k) % 11 - 5) * x**i * y**j * z**k
        for i in range(5) for j in range(5) for k in range(5) if i + j + k <= 4)
POINTS = np.random.default_rng(0).uniform(-1.5, 1.5, (5, 3))


def worst(got, truth):
    # largest relative error between two lists of expressions at the sample points
    err = 0.0
    for p in POINTS:
        at = dict(zip(V, p))
        for a, b in zip(got, truth):
            a, b = complex(a.evalf(30, subs=at)), complex(b.evalf(30, subs=at))
            err = max(err, abs(a - b) / max(1.0, abs(b)))
    return err


def grad():
    return {"error": max(worst(list(sb.grad(f, V)), [sp.diff(f, v) for v in V]) for f in (F, G))}


def hessian():
    def truth(f):
        return [sp.diff(f, a, b) for a in V for b in V]
    return {"error": max(worst(list(sb.hessian(f, V)), truth(f)) for f in (F, G))}


def check():
    out = {}
    for name, f in (("F", F), ("G", G)):
        right = sb.check_derivative(f, V, [sp.diff(f, v) for v in V])
        wrong = sb.check_derivative(f, V, [sp.diff(f, v) for v in (x, z, y)])
        out[name] = [right.ok, wrong.ok, wrong.wrong_entries]
    return out


def critical():
    exact = sb.critical_points(x**2 + x * (1 - y) + y**2 - y * z + z**2 + z, V)
    out = {"exact": [[str(c) for c in p.coordinates] + [p.kind] for p in exact]}
    for name, f in (("F", F), ("G", G), ("D", D)):
        points = sb.critical_points(f, V, box=(-2, 2), starts=20)
        norms = []
        for p in points:
            at = dict(zip(V, map(float, p.coordinates)))
            norms.append(max(abs(float(sp.diff(f, v).evalf(30, subs=at))) for v in V))
        out[name] = norms
    return out


def in_thread(call):
    box = {}
    def run():
        try:
            box["result"] = call()
        except BaseException as e:
            box["result"] = {"raised": repr(e)}
    t = threading.Thread(target=run)
    t.start()
    t.join()
    return box["result"]


def under_alarm(call):
    # The caller's own timer, as pytest-timeout or a server sets one: it must keep running.
    fired = []
    handler = lambda *a: fired.append(1)
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 3600)
    result = call()
    remaining = signal.getitimer(signal.ITIMER_REAL)[0]
    kept = signal.getsignal(signal.SIGALRM) is handler
    signal.setitimer(signal.ITIMER_REAL, 0)
    return dict(result, alarm_kept=kept and 0 < remaining <= 3600 and not fired)


call = globals()[sys.argv[1]]
print(json.dumps(in_thread(call) if sys.argv[2] == "thread" else under_alarm(call)))
"""

CONTEXTS = ["thread", "alarm"]
HANG_GUARD = 120  # seconds; a compile-free call needs a few, the case ran over 420


def run_child(call: str, context: str, guard: float = HANG_GUARD) -> dict:
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, call, context],
            capture_output=True, text=True, timeout=guard,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"{call} in a {context} did not return within {guard} s")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "raised" not in result, result
    if context == "alarm":
        assert result.pop("alarm_kept"), "the caller's SIGALRM timer was replaced or stopped"
    return result


@pytest.mark.parametrize("context", CONTEXTS)
def test_grad_is_bounded_and_right(context):
    assert run_child("grad", context)["error"] < 1e-12


@pytest.mark.parametrize("context", CONTEXTS)
def test_hessian_is_bounded_and_right(context):
    assert run_child("hessian", context)["error"] < 1e-12


@pytest.mark.parametrize("context", CONTEXTS)
def test_check_derivative_is_bounded_and_right(context):
    result = run_child("check", context)
    for name in ("F", "G"):
        right_ok, wrong_ok, wrong_entries = result[name]
        assert right_ok and not wrong_ok and wrong_entries == [[1], [2]], (name, result)


@pytest.mark.parametrize("context", CONTEXTS)
def test_critical_points_are_bounded_and_right(context):
    # Numba compiles F's and G's gradient and Hessian for the numeric search: a longer guard.
    result = run_child("critical", context, guard=4 * HANG_GUARD)
    assert result["exact"] == [["-1", "-1", "-1", "minimum"]]
    assert result["G"], "G's line of critical points x = z = 0 was not found"
    for name in ("F", "G", "D"):
        assert all(norm < 1e-6 for norm in result[name]), (name, result[name])


# ---- the bounded ladder itself ------------------------------------------------------------------


def test_default_simplification_never_calls_sympy_simplify(monkeypatch):
    def refuse(e, *args, **kwargs):
        raise AssertionError("sympy.simplify called without simplify='full'")

    monkeypatch.setattr(sp, "simplify", refuse)
    assert sb.grad(F, [x, y, z]).shape == (3, 1)
    assert sb.hessian(G, [x, y, z]).shape == (3, 3)
    assert sb.jacobian([F, G], [x, y, z]).shape == (2, 3)
    assert sb.check_derivative(G, [x, y, z], [sp.diff(G, v) for v in (x, y, z)]).ok


def test_full_simplification_stops_starting_entries_after_the_deadline(monkeypatch):
    # sympy.simplify of one entry cannot be interrupted; the deadline is checked between
    # entries, so after it passes the remaining entries get the bounded ladder.
    monkeypatch.setenv("SYMBACKPROP_SIMPLIFY_SECONDS", "0.5")
    calls = []

    def slow(e, *args, **kwargs):
        calls.append(e)
        time.sleep(1.0)
        return e

    monkeypatch.setattr(sp, "simplify", slow)
    xs = sp.symbols("x0:6")
    g = sb.grad(sum(sp.sin(v) * sp.cos(v) for v in xs), xs, simplify="full")
    assert len(calls) == 1
    assert [g[i] for i in range(1, 6)] == [sp.cos(2 * v) for v in xs[1:]]  # the bounded ladder


def test_full_simplification_on_request():
    sigmoid = 1 / (1 + sp.exp(-x))
    assert sb.grad(sigmoid, [x])[0] == sp.exp(-x) / (1 + sp.exp(-x)) ** 2
    assert sb.grad(sigmoid, [x], simplify="full")[0] == 1 / (4 * sp.cosh(x / 2) ** 2)
    assert sb.grad(sp.sin(x) ** 2, [x], simplify="none")[0] == 2 * sp.sin(x) * sp.cos(x)
    r = sb.check_derivative(sigmoid, x, sp.exp(-x) / (1 + sp.exp(-x)) ** 2, simplify="full")
    assert r.ok and r.expected == 1 / (4 * sp.cosh(x / 2) ** 2)


@pytest.mark.parametrize(
    "call",
    [
        lambda: sb.grad(x, [x], simplify="fast"),
        lambda: sb.hessian(x, [x], simplify=True),
        lambda: sb.jacobian([x], [x], simplify=None),
        lambda: sb.check_derivative(x, x, "1", simplify="quick"),
    ],
)
def test_an_unknown_simplify_mode_is_refused(call):
    with pytest.raises(sb.SymbackpropError, match="simplify must be one of 'bounded', 'full'"):
        call()


def test_the_zero_test_proves_exponential_and_trigonometric_identities():
    sig = 1 / (1 + sp.exp(-x))
    assert simplification.proved_zero(sp.diff(sig, x) - sig * (1 - sig))
    assert simplification.proved_zero(sp.tanh(x) - (2 * sig.subs(x, 2 * x) - 1))
    assert simplification.proved_zero(sp.sin(x + y) - sp.sin(x) * sp.cos(y) - sp.cos(x) * sp.sin(y))
    assert not simplification.proved_zero(sp.tanh(x) - sig)
    # 12341 terms once expanded: not attempted, so not proved (the sample points decide)
    assert simplification.expanded_terms((x + y + z + 1) ** 40) > simplification.MAX_TERMS
    assert not simplification.proved_zero((x + y + z + 1) ** 40 - (x + y + z) ** 40)


def test_the_ladder_leaves_large_entries_alone():
    big = sum(sp.sin(k * x) * sp.cos(y) ** k for k in range(1, 120))
    assert simplification.tidy(big) is big


@given(dag=expression_dags(max_nodes=8), seed=st.integers(0, 2**16))
def test_the_ladder_keeps_random_derivatives_equal_and_the_zero_test_sound(dag, seed):
    note(repr(dag))
    points = safe_points(dag, seed, count=2)
    assume(points is not None)
    g, H = sb.grad(dag.expr, dag.variables), sb.hessian(dag.expr, dag.variables)
    ref = reference(dag.expr, dag.variables)
    n = len(dag.variables)
    grad_fn, hess_fn = lambdify_list(list(g), dag.variables), lambdify_list(list(H), dag.variables)
    for x in points:
        try:
            want_g, want_H = ref.grad(x), ref.hessian(x)
        except (TypeError, ValueError):  # lambdify cannot evaluate some nested Piecewise
            assume(False)
        assume(np.all(np.isfinite(want_g)) and np.all(np.isfinite(want_H)))
        assert_close(grad_fn(x), want_g, what="bounded gradient")
        assert_close(hess_fn(x).reshape(n, n), want_H, what="bounded Hessian")
    for entry, v in zip(g, dag.variables):
        assert not simplification.proved_zero(entry - sp.diff(dag.expr, v) + sp.Rational(1, 7))
