"""Critical points and their classification: the lecture notes' examples with the right answers
(and their wrong claims caught), Himmelblau's nine points both ways, degenerate points, a
transcendental function on the numeric path, a small trained network, and the errors.

Every answer is checked against an independent computation (SymPy's own solve, Hessian and
eigenvalues, known closed forms, or finite differences), not against the module itself.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.analysis.critical import (
    NOT_CRITICAL,
    CriticalPoint,
    classify,
    classify_network,
    critical_points,
)

x, y = sp.symbols("x y")
x1, x2, x3 = sp.symbols("x1 x2 x3")
X3 = [x1, x2, x3]

# The notes' first Hessian example (seed 000): one minimum at (-1, -1, -1).
F_MIN = x1**2 + x1 * (1 - x2) + x2**2 - x2 * x3 + x3**2 + x3
# The notes' first gradient example (seed 000): one saddle.
F_SADDLE = x1 * (1 - x2) + (x2 - 1) ** 2 - x3 + x3**2 + x1
HIMMELBLAU = (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2
# Closed-form references for Himmelblau (values from its literature, to 6 digits).
HIMMELBLAU_MINIMA = [
    (3.0, 2.0),
    (-2.805118, 3.131312),
    (-3.779310, -3.283186),
    (3.584428, -1.848126),
]
HIMMELBLAU_MAXIMUM = (-0.270845, -0.923039)


def sympy_truth(f, vars):
    """The unique critical point and sorted Hessian eigenvalues, straight from SymPy."""
    [solution] = sp.solve([sp.diff(f, v) for v in vars], vars, dict=True)
    H = sp.hessian(f, vars).subs(solution)
    eigenvalues = sorted(H.eigenvals(multiple=True), key=lambda e: float(e))
    return solution, eigenvalues


def same_exact(a, b) -> bool:
    return sp.simplify(sp.sympify(a) - sp.sympify(b)) == 0


def counts(points):
    kinds = [p.kind for p in points]
    return {k: kinds.count(k) for k in set(kinds)}


# ---- the lecture notes' examples --------------------------------------------------------------


@pytest.mark.parametrize(
    "f, point, kind, eigenvalues",
    [
        (F_MIN, (-1, -1, -1), "minimum", [2 - sp.sqrt(2), 2, 2 + sp.sqrt(2)]),
        (F_SADDLE, (2, 2, sp.Rational(1, 2)), "saddle", [1 - sp.sqrt(2), 2, 1 + sp.sqrt(2)]),
    ],
    ids=["minimum", "saddle"],
)
def test_notes_examples_have_one_exact_critical_point(f, point, kind, eigenvalues):
    [p] = critical_points(f, X3)
    solution, truth = sympy_truth(f, X3)
    assert p.exact and p.is_critical and p.kind == kind
    assert p.coordinates == point == tuple(solution[v] for v in X3)
    assert all(isinstance(c, sp.Basic) for c in p.coordinates)  # exact SymPy numbers
    assert len(p.eigenvalues) == 3
    assert all(same_exact(a, b) for a, b in zip(p.eigenvalues, eigenvalues))
    assert all(same_exact(a, b) for a, b in zip(p.eigenvalues, truth))
    assert p.hessian == sp.hessian(f, X3)
    assert same_exact(p.value, f.subs(solution))
    assert p.gradient_norm == 0.0
    assert kind in str(p) and "sqrt(2)" in str(p)


def test_minimum_explanation_names_the_exact_eigenvalues():
    [p] = critical_points(F_MIN, X3)
    assert str(p) == (
        "minimum at (x1, x2, x3) = (-1, -1, -1), f = -1: "
        "eigenvalues 2 - sqrt(2), 2, sqrt(2) + 2 all positive"
    )


@pytest.mark.parametrize(
    "claimed, gradient",
    [
        # The notes solve their (wrong) gradient 2x1 + 1, ... to (-1, 1, 1) ...
        ((-1, 1, 1), (-2, 2, 2)),
        # ... and then conclude "(0, 1, 1) is minimum".
        ((0, 1, 1), (0, 1, 2)),
    ],
)
def test_notes_claimed_minimum_is_not_critical(claimed, gradient):
    p = classify(F_MIN, X3, dict(zip(X3, claimed)))
    truth = [sp.diff(F_MIN, v).subs(dict(zip(X3, claimed))) for v in X3]
    assert tuple(truth) == gradient  # SymPy's own gradient there
    assert not p.is_critical and p.kind == NOT_CRITICAL
    assert p.gradient == gradient
    assert p.gradient_norm == pytest.approx(math.sqrt(sum(g * g for g in gradient)))
    text = str(p)
    assert text.startswith("not a critical point")
    assert f"norm {p.gradient_norm:.3g}" in text


def test_notes_eigenvalues_are_wrong():
    # The notes give 3.414, 0.646 and 2 for the Hessian [[2,-1,0],[-1,2,-1],[0,-1,2]]:
    # 0.646 is not an eigenvalue; 2 - sqrt(2) = 0.5858 is.
    [p] = critical_points(F_MIN, X3)
    values = sorted(float(e) for e in p.eigenvalues)
    assert values == pytest.approx([0.5857864376, 2.0, 3.4142135624])
    assert not any(abs(v - 0.646) < 1e-2 for v in values)


def test_notes_second_example_gradient_is_wrong_and_the_point_is_a_saddle():
    # The notes write grad f = (1, -x2, 1), which never vanishes (its first entry is 1): by
    # them f would have no critical point. SymPy's gradient does vanish, at (2, 2, 1/2).
    notes = sp.Matrix([1, -x2, 1])
    truth = sp.Matrix([sp.diff(F_SADDLE, v) for v in X3])
    assert sp.simplify(truth - notes) != sp.zeros(3, 1)
    [p] = critical_points(F_SADDLE, X3)
    at = dict(zip(X3, p.coordinates))
    assert truth.subs(at) == sp.zeros(3, 1)
    assert notes.subs(at) != sp.zeros(3, 1)
    assert p.kind == "saddle" and p.value == sp.Rational(3, 4)


# ---- Himmelblau --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def himmelblau_symbolic():
    return critical_points(HIMMELBLAU, [x, y])


@pytest.fixture(scope="module")
def himmelblau_numeric():
    return critical_points(HIMMELBLAU, [x, y], method="numeric", box=(-6, 6))


@pytest.mark.parametrize("which", ["himmelblau_symbolic", "himmelblau_numeric"])
def test_himmelblau_has_four_minima_one_maximum_four_saddles(which, request):
    points = request.getfixturevalue(which)
    assert counts(points) == {"minimum": 4, "maximum": 1, "saddle": 4}
    grad = sp.lambdify([x, y], [sp.diff(HIMMELBLAU, v) for v in (x, y)])
    for p in points:
        coords = np.array([float(c) for c in p.coordinates])
        assert np.linalg.norm(grad(*coords)) < 1e-10  # SymPy's gradient, not ours
        assert float(p.value) == pytest.approx(float(HIMMELBLAU.subs(p.point)), abs=1e-9)
    minima = sorted([float(c) for c in p.coordinates] for p in points if p.kind == "minimum")
    assert np.allclose(minima, sorted(map(list, HIMMELBLAU_MINIMA)), atol=1e-6)
    assert all(abs(float(p.value)) < 1e-10 for p in points if p.kind == "minimum")
    [top] = [p for p in points if p.kind == "maximum"]
    assert [float(c) for c in top.coordinates] == pytest.approx(HIMMELBLAU_MAXIMUM, abs=1e-6)
    assert float(top.value) == pytest.approx(181.616522, abs=1e-6)


def test_himmelblau_symbolic_keeps_the_rational_minimum_exact(himmelblau_symbolic):
    exact = [p for p in himmelblau_symbolic if p.exact]
    assert [p.coordinates for p in exact] == [(3, 2)]
    [p] = exact
    assert p.value == 0 and p.kind == "minimum"
    assert all(
        same_exact(a, b)
        for a, b in zip(p.eigenvalues, [54 - 20 * sp.sqrt(2), 54 + 20 * sp.sqrt(2)])
    )
    # The other eight come from cubic and quintic roots: real floats, no imaginary parts.
    for q in himmelblau_symbolic:
        if not q.exact:
            assert all(type(c) is float for c in q.coordinates)
            assert isinstance(q.hessian, np.ndarray) and np.all(np.isreal(q.eigenvalues))


def test_himmelblau_both_paths_agree(himmelblau_symbolic, himmelblau_numeric):
    a = np.array([[float(c) for c in p.coordinates] for p in himmelblau_symbolic])
    b = np.array([[float(c) for c in p.coordinates] for p in himmelblau_numeric])
    assert np.allclose(a, b, atol=1e-9)
    assert [p.kind for p in himmelblau_symbolic] == [p.kind for p in himmelblau_numeric]


# ---- degenerate points -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "f, vars, point, eigenvalues, undecided",
    [
        (x**4, [x], (0,), (0,), ((1,),)),
        (x**3, [x], (0,), (0,), ((1,),)),
        (x**3 + y**2, [x, y], (0, 0), (0, 2), ((1, 0),)),
        (x**3 - 3 * x * y**2, [x, y], (0, 0), (0, 0), ((1, 0), (0, 1))),  # monkey saddle
    ],
    ids=["x^4", "x^3", "x^3+y^2", "monkey"],
)
def test_degenerate_points_say_which_direction_is_undecided(f, vars, point, eigenvalues, undecided):
    [p] = critical_points(f, vars)
    assert p.coordinates == point
    assert p.kind == "degenerate" and p.exact
    assert p.eigenvalues == eigenvalues
    assert p.undecided == undecided
    assert "the second-derivative test cannot decide" in str(p)
    q = classify(f, vars, point)
    assert (q.kind, q.undecided) == (p.kind, p.undecided)


def test_degenerate_explanation_for_x4():
    p = classify(x**4, [x], {x: 0})
    assert str(p) == (
        "degenerate at x = 0, f = 0: eigenvalue 0 along (1,); "
        "the second-derivative test cannot decide"
    )


def test_numeric_degenerate_point_reports_its_null_direction():
    # cos(y) keeps it off the symbolic path; x^4 makes the Hessian singular at x = 0.
    [p] = critical_points(x**4 + sp.cos(y), [x, y], box=(-2, 2))
    assert not p.exact and p.kind == "degenerate"
    assert np.allclose(p.coordinates, (0, 0), atol=1e-4)
    [direction] = p.undecided
    assert np.allclose(np.abs(direction), [1, 0])


def test_mixed_signs_with_a_zero_eigenvalue_is_still_a_saddle():
    p = classify(x**2 - y**2 + sp.Symbol("z") ** 4, [x, y, sp.Symbol("z")], (0, 0, 0))
    assert p.kind == "saddle" and p.undecided == ((0, 0, 1),)


# ---- the numeric path --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trig_points():
    return critical_points(sp.sin(x) + sp.cos(y), [x, y], box=(-4, 4))


def test_transcendental_points_match_the_closed_form(trig_points):
    # grad = (cos x, -sin y): x = +-pi/2, y in {-pi, 0, pi} inside [-4, 4]^2. The Hessian is
    # diag(-sin x, -cos y): sin has its max at pi/2, cos its max at 0.
    expected = {}
    for sx, ky in itertools.product((-1, 1), (-1, 0, 1)):
        hx, hy = -sx, -((-1) ** abs(ky))
        kind = "minimum" if hx > 0 < hy else "maximum" if hx < 0 > hy else "saddle"
        expected[(sx * math.pi / 2, ky * math.pi)] = kind
    assert len(trig_points) == len(expected) == 6
    for p in trig_points:
        assert not p.exact
        coords = tuple(p.coordinates)
        [key] = [k for k in expected if np.allclose(k, coords, atol=1e-9)]
        assert p.kind == expected[key]
        g = np.array([math.cos(coords[0]), -math.sin(coords[1])])
        assert np.linalg.norm(g) < 1e-10 and p.gradient_norm < 1e-10
        assert p.value == pytest.approx(math.sin(coords[0]) + math.cos(coords[1]), abs=1e-12)


def test_numeric_points_are_distinct(trig_points):
    coords = np.array([p.coordinates for p in trig_points])
    distances = [np.linalg.norm(a - b) for a, b in itertools.combinations(coords, 2)]
    assert min(distances) > 1.0


def test_explicit_starts_and_a_box_per_variable():
    # One start near each extremum of sin on [-2, 5]: a box per variable, a start array.
    points = critical_points(
        sp.sin(x) + y**2 / 2, [x, y], box=[(-2, 5), (-1, 1)],
        starts=[[1.0, 0.5], [4.0, -0.5]],
    )  # fmt: skip
    assert [p.kind for p in points] == ["saddle", "minimum"]
    assert np.allclose([p.coordinates for p in points], [[math.pi / 2, 0], [3 * math.pi / 2, 0]])


# ---- classify, other exact and inexact inputs --------------------------------------------------


@pytest.mark.parametrize(
    "f, vars, point, kind, exact",
    [
        (x**2 + y**2, [x, y], {"x": 0, "y": 0}, "minimum", True),  # names as keys
        (x**2 + y**2, [x, y], [0.0, 0.0], "minimum", False),  # floats: numeric
        (-(x**2) - y**2, [x, y], {x: 0, y: 0}, "maximum", True),
        (x * y, [x, y], (0, 0), "saddle", True),
        (x**2 + y**2, [x, y], (1, 0), NOT_CRITICAL, True),
        (x**2 + y**2, [x, y], np.array([1e-3, 0.0]), NOT_CRITICAL, False),
        (sp.exp(x) - x, [x], {x: 0}, "minimum", True),  # not a polynomial, still exact
    ],
)
def test_classify_table(f, vars, point, kind, exact):
    p = classify(f, vars, point)
    assert isinstance(p, CriticalPoint)
    assert (p.kind, p.exact) == (kind, exact)
    assert p.is_critical == (kind != NOT_CRITICAL)
    H = np.array(sp.hessian(f, vars).subs(dict(zip(vars, np.ravel(list(p.coordinates))))), float)
    assert np.allclose(sorted(float(e) for e in p.eigenvalues), np.linalg.eigvalsh(H))


def test_classify_not_critical_says_how_far():
    p = classify(x**2 + 3 * y, [x, y], [1.5, 2.0])
    assert p.kind == NOT_CRITICAL and not p.is_critical
    assert np.allclose(p.gradient, [3.0, 3.0])
    assert p.gradient_norm == pytest.approx(math.sqrt(18))
    assert "gradient is (3, 3), norm 4.24, not zero" in str(p)


@pytest.mark.parametrize(
    "f, vars, expected",
    [
        (
            x**3 / 3 - 2 * x**2 + 2 * x,
            [x],
            [(2 - sp.sqrt(2), "maximum"), (2 + sp.sqrt(2), "minimum")],
        ),
        (x + 1 / x, [x], [(-1, "maximum"), (1, "minimum")]),  # rational: x = 0 is excluded
        (x**2 + y**2 + 1, [x, y], [((0, 0), "minimum")]),
    ],
)
def test_symbolic_solutions_stay_exact(f, vars, expected):
    points = critical_points(f, vars)
    assert len(points) == len(expected)
    for p, (coords, kind) in zip(points, expected):
        coords = coords if isinstance(coords, tuple) else (coords,)
        assert p.exact and p.kind == kind
        assert all(same_exact(a, b) for a, b in zip(p.coordinates, coords))


def test_float_coefficients_give_float_points():
    [p] = critical_points(0.5 * x**2 - 1.5 * x, [x])
    assert not p.exact and p.kind == "minimum"
    assert p.coordinates == pytest.approx((1.5,))


def test_no_real_critical_points():
    assert critical_points(x**4 / 4 + x, [x]) != []  # one real root of x^3 = -1
    assert critical_points(x**3 / 3 + x, [x]) == []  # x^2 + 1 = 0 has none


# ---- networks ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
    net = sb.Sequential(inputs=2, layers=[sb.Dense(3, "tanh"), sb.Dense(1)], loss="mse")
    model = net.compile()
    params = net.init_params(seed=0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    Y = np.sin(X[:, :1]) + 0.5 * X[:, 1:]
    for _ in range(200):  # plain gradient descent
        _, grads = model.loss_and_grad(params, X, Y)
        params = {k: v - 0.1 * grads[k] for k, v in params.items()}
    return model, params, X, Y


def fd_hessian(model, params, X, Y, h=1e-5):
    """Central differences of the gradient, column by column (C order, model.param_names)."""
    names = list(model.param_names)
    shapes = [params[k].shape for k in names]
    theta = np.concatenate([params[k].ravel() for k in names])

    def grad(t):
        parts = np.split(t, np.cumsum([math.prod(s) for s in shapes])[:-1])
        p = {k: part.reshape(s) for k, part, s in zip(names, parts, shapes)}
        g = model.loss_and_grad(p, X, Y)[1]
        return np.concatenate([g[k].ravel() for k in names])

    H = np.empty((theta.size, theta.size))
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        H[:, i] = (grad(theta + e) - grad(theta - e)) / (2 * h)
    return (H + H.T) / 2


def test_classify_network_after_training(trained):
    model, params, X, Y = trained
    r = classify_network(model, params, X, Y)
    P = sum(v.size for v in params.values())
    assert r.n_params == P == 13
    assert r.n_negative + r.n_zero + r.n_positive == P
    assert np.allclose(
        r.eigenvalues, np.linalg.eigvalsh(fd_hessian(model, params, X, Y)), atol=1e-6
    )
    loss, grads = model.loss_and_grad(params, X, Y)
    assert r.loss == pytest.approx(loss)
    assert r.gradient_norm == pytest.approx(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    expected = "not critical" if r.gradient_norm > 1e-6 else r.kind
    assert r.kind == expected
    assert f"{P} parameters" in str(r) and f"{r.n_negative} negative" in str(r)


def test_classify_network_at_an_exact_critical_point(trained):
    # All weights zero and b2 = mean(Y): every hidden unit is tanh(0) = 0 with no weight out,
    # so the gradient vanishes exactly; the hidden units' symmetry leaves zero eigenvalues and
    # the W1-W2 coupling negative ones: a saddle.
    model, params, X, Y = trained
    zero = {k: np.zeros_like(v) for k, v in params.items()}
    zero["b2"] = Y.mean(axis=0)
    r = classify_network(model, zero, X, Y)
    assert r.gradient_norm < 1e-12
    assert r.kind == "saddle" and r.n_negative > 0 and r.n_zero > 0 and r.n_positive > 0
    assert np.allclose(r.eigenvalues, np.linalg.eigvalsh(fd_hessian(model, zero, X, Y)), atol=1e-6)
    assert str(r).startswith("saddle of the loss over 13 parameters")


def test_classify_network_needs_a_model():
    with pytest.raises(sb.SymbackpropError, match="no loss_and_grad"):
        classify_network(object(), {}, None, None)


# ---- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: classify(F_MIN, X3, {x1: 0, x2: 0}), "missing a value for x3"),
        (lambda: classify(F_MIN, X3, {"x1": 0, "x2": 0, "x3": 0, "w": 1}), "point has w"),
        (lambda: classify(F_MIN, X3, [0, 0]), "2 values for 3 variables"),
        (lambda: classify(F_MIN, X3, {x1: 0, x2: 0, x3: "a"}), "value for x3 is not a number"),
        (lambda: classify(F_MIN, [x1, x2, 3], [0, 0, 0]), "variable 3 is not a SymPy Symbol"),
        (lambda: classify(F_MIN, [x1, x2], [0, 0]), "free symbol\\(s\\) x3"),
        (lambda: critical_points(F_MIN, [x1, x2]), "free symbol\\(s\\) x3"),
        (lambda: critical_points("x**2", [x]), "one scalar SymPy expression"),
        (lambda: critical_points(x**2, [x, x]), "x appears twice"),
        (lambda: critical_points(sp.Integer(3), [x]), "does not depend on x"),
        (lambda: critical_points(x**2, [x], box=(1, -1)), "lo < hi"),
        (lambda: critical_points(x**2, [x], box={"q": (0, 1)}), "box has q"),
        (lambda: critical_points(x**2, [x], method="magic"), "method must be"),
        (lambda: critical_points(sp.sin(x), [x], method="symbolic"), "could not solve"),
    ],
)
def test_errors_name_the_culprit(call, message):
    with pytest.raises(sb.SymbackpropError, match=message):
        call()


def test_box_filters_symbolic_points():
    points = critical_points(HIMMELBLAU, [x, y], box=(0, 5))
    assert [p.kind for p in points] == ["saddle", "minimum", "saddle"]
    assert all(0 <= float(c) <= 5 for p in points for c in p.coordinates)
