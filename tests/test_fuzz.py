"""Fuzzing (issue 7): the invariant is "a correct result or sb.SymbackpropError" -- never another
exception type, a crash, a hang or a wrong number (NaN in, NaN out is correct).

* random expression DAGs, smooth and non-smooth (Abs, Max/Min, Heaviside, Piecewise, relu,
  leaky_relu, elu, hardtanh, sign), through the whole derivative program on the NumPy reference
  evaluator (no Numba compile per example), against sympy.diff + lambdify;
* one compiled kitchen-sink function of every non-smooth primitive, fuzzed with finite, NaN and
  infinite inputs against the reference evaluator;
* random networks (1-3 layers of 1-4 units, every activation name, Maxout, every loss) on the
  reference evaluator against central differences; two compiled networks against the evaluator;
* malformed inputs to every public function;
* random formulas (token strings, LaTeX, any text, deep nesting, non-ASCII, nan/oo, ragged
  matrices) through the parser, and random spec TOML documents (wrong keys, types, values and
  activation formulas) through the spec reader.

CI runs the "ci" hypothesis profile (25 examples per property, a few hundred in all); the long
profile is ``HYPOTHESIS_PROFILE=long python -m pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import json
import math
import pathlib
import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, note
from hypothesis import strategies as st
from strategies import OPS, Dag, Op, reference, safe_points

import symbackprop as sb
from symbackprop.analysis.parse import parse
from symbackprop.derivatives.program import network_program, scalar_program
from symbackprop.frontend.network import ACTIVATION_NAMES, LOSSES, build_graph
from symbackprop.frontend.scalar import to_ir, variable_nodes
from symbackprop.ir.evaluate import evaluate
from symbackprop.passes import optimize
from symbackprop.spec import loads_spec

SEEDS = st.integers(0, 2**32 - 1)

# ---- random expression DAGs, non-smooth included ---------------------------------------------

NONSMOOTH_OPS: tuple[Op, ...] = (
    Op("heaviside", 2, lambda a, b: sp.Heaviside(a) * b + a, lambda a, b: a),
    Op("sign", 2, lambda a, b: sp.sign(a) * sp.sin(b), lambda a, b: a),
    Op("relu", 1, sb.relu, lambda a: a),
    Op("leaky_relu", 1, sb.leaky_relu, lambda a: a),
    Op("elu", 1, sb.elu, lambda a: a),
    Op("hardtanh", 1, sb.hardtanh, lambda a: (a - 1) * (a + 1)),
    Op("max3", 3, sp.Max, lambda a, b, c: (a - b) * (b - c) * (a - c)),
    Op(
        "piecewise3",
        2,
        lambda a, b: sp.Piecewise(
            (a**2, b < -sp.Rational(1, 2)), (a * b, b < 1), (sp.cos(a), True)
        ),
        lambda a, b: (b + sp.Rational(1, 2)) * (b - 1),
    ),
)
ALL_OPS = OPS + NONSMOOTH_OPS


@st.composite
def mixed_dags(draw, max_vars=3, max_nodes=6):
    """Like strategies.expression_dags, over the smooth and the non-smooth operations."""
    n = draw(st.integers(1, max_vars))
    variables = list(sp.symbols(f"x0:{n}", real=True))
    nodes: list[sp.Expr] = list(variables)
    names = [str(v) for v in variables]
    kinks, steps = [], []
    for i in range(draw(st.integers(1, max_nodes))):
        op = draw(st.sampled_from(ALL_OPS))
        idx = [draw(st.integers(0, len(nodes) - 1)) for _ in range(op.arity)]
        args = [nodes[j] for j in idx]
        nodes.append(op.build(*args))
        if op.kink is not None:
            kink = op.kink(*args)
            if kink != 0 and not kink.is_number:
                kinks.append(kink)
        names.append(f"t{i}")
        steps.append(f"t{i} = {op.name}({', '.join(names[j] for j in idx)})")
    coefs = draw(st.lists(st.sampled_from([1, -1, sp.Rational(1, 2), 2]), min_size=len(nodes) - n))
    expr = sum((c * t for c, t in zip(coefs, nodes[n:])), sp.S.Zero)
    if not expr.free_symbols:
        expr = expr + variables[0] ** 2
    return Dag(expr=expr, variables=variables, kinks=kinks, steps=steps)


def program_of(expr, variables):
    """The optimized value/grad/hessian/hvp program and a function running it on the reference
    evaluator: run(x, v) -> (value, grad, hessian, hvp)."""
    leaves = variable_nodes(variables)
    f = to_ir([expr], dict(zip(variables, leaves)))[0]
    _, graph = scalar_program(f, leaves, optimize, second_order=True)
    n = len(variables)

    def run(x, v=None):
        v = np.zeros(n) if v is None else v
        results = {}
        for name, out in graph.outputs.items():
            values = evaluate(list(out.nodes), {"xs": np.asarray(x, float), "vs": v})
            full = np.zeros(out.shape)
            for index, value in zip(out.index, values):
                full[index] = value
                if out.symmetric:
                    full[index[::-1]] = value
            results[name] = full
        return float(results["value"]), results["grad"], results["hessian"], results["hvp"]

    return run


def _close(got, want, what, rtol=1e-6):
    got, want = np.asarray(got, float), np.asarray(want, float)
    scale = 1.0 + (np.max(np.abs(want)) if want.size else 0.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-7 * scale, err_msg=what)


@given(dag=mixed_dags(), seed=SEEDS)
def test_random_dag_program_matches_sympy(dag, seed):
    note(repr(dag))
    points = safe_points(dag, seed, count=2)
    assume(points is not None)
    ref = reference(dag.expr, dag.variables)
    run = program_of(dag.expr, dag.variables)
    rng = np.random.default_rng(seed)
    for x in points:
        try:
            want = [ref.value(x), ref.grad(x), ref.hessian(x)]
        except (TypeError, ValueError):  # lambdify's np.select of some nested Piecewise
            assume(False)  # the oracle cannot evaluate it: not a symbackprop failure
        assume(all(np.all(np.isfinite(w)) and np.max(np.abs(w)) < 1e5 for w in want))
        v = rng.normal(size=x.size)
        value, grad, hessian, hvp = run(x, v)
        _close(value, want[0], "value")
        _close(grad, want[1], "grad")
        _close(hessian, want[2], "hessian")
        _close(hvp, want[2] @ v, "hvp")


@given(
    dag=mixed_dags(), which=st.integers(0, 2), bad=st.sampled_from([math.nan, math.inf, -math.inf])
)
def test_random_dag_program_never_raises_on_nan_or_inf(dag, which, bad):
    """Non-finite inputs give numbers (possibly NaN or inf), never an exception; NaN in every
    variable gives a NaN value unless a comparison (Piecewise/Heaviside/sign) picks a branch."""
    note(repr(dag))
    run = program_of(dag.expr, dag.variables)
    x = np.full(len(dag.variables), 0.3)
    x[which % x.size] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value, grad, hessian, hvp = run(x, np.ones(x.size))
        assert grad.shape == (x.size,) and hessian.shape == (x.size, x.size)
        value, *_ = run(np.full(x.size, math.nan))
    branching = (sp.Piecewise, sp.Heaviside, sp.sign)
    if not any(dag.expr.atoms(t) for t in branching):
        assert math.isnan(value), f"NaN in every variable gave {value}"


# A compiled vector function of every non-smooth primitive (and a few stable forms): one Numba
# compile for the whole module; hypothesis then fuzzes its inputs.
_x, _y = sp.symbols("x y", real=True)
KITCHEN_SINK = [
    sp.Abs(_x),
    sp.Max(_x, _y),
    sp.Min(_x, 2 * _y),
    sp.Max(_x, _y, 0),
    sb.relu(_x),
    sb.leaky_relu(_y),
    sb.elu(_x),
    sb.hardtanh(_x),
    sp.Heaviside(_x),
    sp.sign(_y) * _x,
    sp.Piecewise((_x**2, _y < 0), (_x * _y, _y < 1), (sp.cos(_x), True)),
    sb.sigmoid(_x),
    sb.softplus(_y),
    sp.log(1 + sp.exp(_x)),
    sp.sqrt(_x**2 + _y**2),
    sp.atan2(_y, _x),
]


SOFTPLUS_AS_LOG = 13  # the index of log(1 + exp(x)) above


@pytest.fixture(scope="module")
def kitchen_sink():
    fn = sb.compile(KITCHEN_SINK, [_x, _y])
    leaves = variable_nodes([_x, _y])
    nodes = to_ir(KITCHEN_SINK, dict(zip([_x, _y], leaves)))
    return fn, nodes


FLOATS = st.one_of(
    st.floats(-50, 50),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, math.nan, math.inf, -math.inf, 1e300, -1e300, 5e-324]),
)


@given(x=FLOATS, y=FLOATS)
def test_compiled_nonsmooth_functions_agree_with_the_evaluator(kitchen_sink, x, y):
    fn, nodes = kitchen_sink
    point = np.array([x, y])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = fn(point)
        want = np.array([float(v) for v in evaluate(nodes, {"xs": point})])
        # the evaluator computes log(1 + exp(x)) as written; the compiled code uses the stable
        # softplus form, which is the more accurate one: compare it with logaddexp instead
        want[SOFTPLUS_AS_LOG] = np.logaddexp(0.0, x)
        J = fn.jacobian(point)
    assert got.shape == (len(KITCHEN_SINK),) and J.shape == (len(KITCHEN_SINK), 2)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"NaN pattern at {point}")
    ok = np.isfinite(want)
    # atol: the compiled expm1/log1p forms are exact where the as-written evaluator rounds to 0
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9, atol=1e-14)
    if math.isnan(x):  # NaN in, NaN out: everything reading x is NaN (Heaviside included)
        reads_x = [k for k, e in enumerate(KITCHEN_SINK) if _x in e.free_symbols and k != 5]
        branch = {10}  # the Piecewise may pick a branch by y alone: x**2, x*y or cos(x) -> NaN too
        assert np.all(np.isnan(got[reads_x + sorted(branch)])), got


# ---- random networks -------------------------------------------------------------------------


def _targets(loss, rng, m, k):
    if loss in ("cross_entropy", "hinge"):
        return np.eye(k)[rng.integers(0, k, m)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (m, k)).astype(float)
    return rng.normal(size=(m, k))


def _params(shapes, rng):
    return {
        n: (np.array([0.3]) if n.startswith("alpha") else rng.normal(0, 0.7, s))
        for n, s in shapes.items()
    }


HIDDEN = list(ACTIVATION_NAMES) + ["maxout"]


@st.composite
def networks(draw):
    inputs = draw(st.integers(1, 4))
    depth = draw(st.integers(1, 3))
    loss = draw(st.sampled_from(list(LOSSES)))
    layers = []
    for _ in range(depth - 1):
        units, kind = draw(st.integers(1, 4)), draw(st.sampled_from(HIDDEN))
        layers.append(
            sb.Maxout(units, draw(st.integers(2, 3))) if kind == "maxout" else sb.Dense(units, kind)
        )
    out_units = draw(st.integers(1, 4))
    output = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(loss)
    if output is None:
        output = draw(st.sampled_from(list(ACTIVATION_NAMES)))
    layers.append(sb.Dense(out_units, output))
    l2 = draw(st.sampled_from([0.0, 0.05]))
    return sb.Sequential(inputs=inputs, layers=layers, loss=loss, l2=l2)


def _loss_and_grad_program(net):
    ng = build_graph(net.inputs, net.layers, net.loss, net.l2)
    _, graph = network_program(
        ng.params, ng.output, ng.loss, ng.hints, ng.pre_activation, optimize, second_order=False
    )

    def run(names, params, X, Y):
        nodes = [graph.outputs[n].nodes[0] for n in names]
        return evaluate(nodes, {**params, "X": X, "Y": Y})

    return run


@given(net=networks(), seed=SEEDS)
def test_random_network_gradients_match_central_differences(net, seed):
    note(repr(net))
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 4))
    X, Y = rng.normal(size=(m, net.inputs)), _targets(net.loss, rng, m, net.outputs)
    params = _params(net.param_shapes(), rng)
    run = _loss_and_grad_program(net)
    names = list(params)

    def loss_of(p):
        return float(run(["loss"], p, X, Y)[0])

    loss = loss_of(params)
    assert np.isfinite(loss)
    grads = dict(zip(names, run([f"d{n}" for n in names], params, X, Y)))
    checked = 0
    for name, value in params.items():
        g = np.reshape(grads[name], value.shape)
        assert np.all(np.isfinite(g)), name
        for idx in np.ndindex(value.shape):
            fd = []
            for h in (1e-5, 1e-6):
                keep = value[idx]
                value[idx] = keep + h
                up = loss_of(params)
                value[idx] = keep - h
                down = loss_of(params)
                value[idx] = keep
                fd.append((up - down) / (2 * h))
            # two step sizes that disagree: a kink (relu, hinge, Maxout tie) between the
            # stencil points, where a difference quotient means nothing
            if not np.isclose(fd[0], fd[1], rtol=1e-4, atol=1e-6):
                continue
            checked += 1
            assert np.isclose(g[idx], fd[1], rtol=1e-5, atol=1e-6), f"{name}{idx}: {g[idx]} vs {fd}"
    assert checked > 0


# Two compiled networks, covering prelu (a scalar parameter), Maxout, softmax + cross-entropy,
# elu/hardtanh + absolute loss: one Numba compile each for the whole module.
COMPILED_NETS = {
    "prelu-maxout-ce": sb.Sequential(
        3, [sb.Dense(3, "prelu"), sb.Maxout(2, 2), sb.Dense(3, "softmax")], "cross_entropy", 0.01
    ),
    "elu-hardtanh-abs": sb.Sequential(2, [sb.Dense(3, "elu"), sb.Dense(2, "hardtanh")], "absolute"),
}


@pytest.fixture(scope="module")
def compiled_nets():
    return {
        k: (net, net.compile(), _loss_and_grad_program(net)) for k, net in COMPILED_NETS.items()
    }


VALUES = st.one_of(st.floats(-3, 3), st.sampled_from([0.0, 1.0, -1.0, math.nan, math.inf, 1e200]))


@given(key=st.sampled_from(sorted(COMPILED_NETS)), seed=SEEDS, poison=st.lists(VALUES, max_size=3))
def test_compiled_networks_agree_with_the_evaluator(compiled_nets, key, seed, poison):
    net, model, run = compiled_nets[key]
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 5))
    X, Y = rng.normal(size=(m, net.inputs)), _targets(net.loss, rng, m, net.outputs)
    params = _params(net.param_shapes(), rng)
    for k, value in enumerate(poison):  # a few entries replaced by odd values (NaN, inf, ...)
        name = sorted(params)[k % len(params)]
        params[name].flat[k % params[name].size] = value
    names = list(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        loss, grads = model.loss_and_grad(params, X, Y)
        want = run(["loss"] + [f"d{n}" for n in names], params, X, Y)
        forward = model.forward(params, X)
    assert forward.shape == (m, net.outputs)
    assert sorted(grads) == sorted(names)
    for got, expected, what in zip([loss] + [grads[n] for n in names], want, ["loss"] + names):
        got = np.reshape(np.asarray(got, float), np.shape(expected))
        expected = np.asarray(expected, float)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=what)
        ok = np.isfinite(expected)
        np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-9, atol=1e-12, err_msg=what)
    if any(isinstance(v, float) and math.isnan(v) for v in poison):
        assert math.isnan(loss)


# ---- malformed input to every public function ----------------------------------------------

x, y = sp.symbols("x y")
JUNK = st.sampled_from(
    [
        None, "x", "", "__import__('os')", 3, -1, 0, 2.5, True, math.nan, math.inf, b"x",
        [], [[]], [1.0], [1.0, 2.0, 3.0], [[1.0, 2.0], [3.0]], [1, "a"], [None, None],
        {"a": 1}, {x: 1}, {x: math.nan, y: 0}, (x, y), [x, x], [x, 1], object(), range(3),
        np.zeros(0), np.zeros(2), np.ones((2, 2)), np.zeros((2, 3)), np.zeros((1, 2, 2)),
        np.array(["a", "b"]), np.array([1 + 2j, 3j]), np.array([1, 2]),
        np.array([None, None], dtype=object), np.array([[math.nan, math.inf]]),
        np.zeros(2, dtype=np.float32), np.float64(1.0), np.array(1.0),
        np.ma.masked_array([1.0, 2.0], mask=[0, 1]), np.zeros((4, 2))[:, 0],
        x, x > 1, sp.Eq(x, 1), sp.Integer(1), sp.nan, sp.I, sp.zoo, -sp.oo,
        sp.Function("g")(x), sp.Matrix([x, y]), sp.MatrixSymbol("A", 2, 2),
    ]
)  # fmt: skip


def _call(fn, *args, **kwargs):
    """fn(...) either returns or raises SymbackpropError (saying what is wrong); anything else
    fails the test. Returns (result, error)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs), None
        except sb.SymbackpropError as error:
            assert str(error), "an error must say what is wrong"
            return None, error


@pytest.fixture(scope="module")
def fns():
    return sb.compile(x**2 * y + sp.sin(y), [x, y]), sb.compile([x * y, x + y], [x, y])


@pytest.fixture(scope="module")
def small_net():
    net = sb.Sequential(2, [sb.Dense(3, "tanh"), sb.Dense(2, "sigmoid")], loss="mse")
    return net, net.compile(), net.init_params(seed=0)


def _same_as_float_array(result, method, junk):
    """An accepted odd input must give what the same numbers as a float64 array give."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            as_array = np.array(junk, dtype=np.float64)
    except Exception:
        return  # not array-like after all (the call accepted it some other way)
    want = method(as_array)
    if isinstance(want, tuple):
        for a, b in zip(result, want):
            np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_array_equal(result, want)


SCALAR_METHODS = ["__call__", "grad", "value_and_grad", "hessian"]


@pytest.mark.parametrize("method", SCALAR_METHODS, ids=str)
@pytest.mark.parametrize("vector", [False, True], ids=["scalar", "vector"])
@given(junk=JUNK)
def test_compiled_function_methods_take_any_input(fns, vector, method, junk):
    fn = fns[vector]
    result, error = _call(getattr(fn, method), junk)
    if error is None and not vector:
        _same_as_float_array(result, getattr(fn, method), junk)


@given(junk=JUNK, argument=st.sampled_from(["x", "v", "jacobian", "save"]))
def test_hvp_jacobian_and_save_take_any_input(fns, argument, junk):
    fn, vfn = fns
    if argument == "x":
        _call(fn.hvp, junk, np.ones(2))
    elif argument == "v":
        _call(fn.hvp, np.ones(2), junk)
    elif argument == "jacobian":
        _call(vfn.jacobian, junk)
    elif not (isinstance(junk, str) and junk.endswith(".py")):
        _call(fn.save, junk)


@given(junk=JUNK, where=st.sampled_from(["f", "vars", "constants", "constant value", "cache_dir"]))
def test_compile_takes_any_input(junk, where):
    args = {"f": x * y + 1, "vars": [x, y], "constants": None, "cache_dir": None}
    if where == "cache_dir" and isinstance(junk, str):
        return  # a string is a folder: it would be created in the working directory
    if where == "constant value":
        args.update(f=x * y, vars=[x], constants={y: junk})
    else:
        args[where] = junk
    result, _ = _call(
        sb.compile, args["f"], args["vars"], args["constants"], cache_dir=args["cache_dir"]
    )
    if result is not None and where == "constant value":
        # an accepted constant is its float value
        np.testing.assert_allclose(result.grad(np.array([2.0])), [float(junk)])


@pytest.mark.parametrize("api", ["grad", "jacobian", "hessian"])
@given(junk=JUNK, where=st.sampled_from(["f", "vars"]))
def test_symbolic_derivatives_take_any_input(api, junk, where):
    f = [x * y] if api == "jacobian" else x * y
    args = (junk, [x, y]) if where == "f" else (f, junk)
    result, _ = _call(getattr(sb, api), *args)
    if result is not None:
        assert isinstance(result, sp.MatrixBase)


@given(
    junk=JUNK,
    where=st.sampled_from(
        ["units", "activation", "pieces", "inputs", "layers", "loss", "l2", "seed", "cache_dir"]
    ),
)
def test_network_constructors_take_any_input(junk, where):
    if where == "units":
        _call(sb.Dense, junk)
        _call(sb.Maxout, junk)
    elif where == "activation":
        _call(sb.Dense, 2, junk)
    elif where == "pieces":
        _call(sb.Maxout, 2, junk)
    elif where == "seed":
        net = sb.Sequential(2, [sb.Dense(1)])
        params, error = _call(net.init_params, seed=junk)
        if error is None:
            assert sorted(params) == ["W1", "b1"]
    elif where == "cache_dir":
        if isinstance(junk, str):  # a folder: it would be created in the working directory
            return
        _call(sb.Sequential(2, [sb.Dense(1)]).compile, cache_dir=junk)
    else:
        kwargs = {"inputs": 2, "layers": [sb.Dense(1)], "loss": "mse", "l2": 0.0, where: junk}
        _call(sb.Sequential, **kwargs)


@pytest.mark.parametrize("method", ["forward", "loss", "loss_and_grad", "hessian"])
@given(junk=JUNK, where=st.sampled_from(["params", "X", "Y", "W1", "b2"]))
def test_model_methods_take_any_input(small_net, method, junk, where):
    net, model, params = small_net
    X, Y = np.ones((4, 2)), np.full((4, 2), 0.5)
    args = {"params": dict(params), "X": X, "Y": Y}
    if where in ("W1", "b2"):
        args["params"][where] = junk
    else:
        args[where] = junk
    call = getattr(model, method)
    if method == "forward":
        if where == "Y":
            return
        _call(call, args["params"], args["X"])
    else:
        _call(call, args["params"], args["X"], args["Y"])


@given(junk=JUNK, where=st.sampled_from(["f", "wrt", "claimed", "samples"]))
def test_check_derivative_takes_any_input(junk, where):
    args = {"f": x**2 * y, "wrt": x, "claimed": "2*x*y", "samples": 8, where: junk}
    _call(
        sb.check_derivative,
        args["f"],
        args["wrt"],
        args["claimed"],
        samples=args["samples"],
    )


@given(junk=JUNK, where=st.sampled_from(["value_fn", "grad_fn", "x", "returns"]))
def test_check_gradient_takes_any_input(junk, where):
    def value(v):
        return float(np.sum(np.asarray(v) ** 2))

    def grad(v):
        return 2 * np.asarray(v, float)

    args = {"value_fn": value, "grad_fn": grad, "x": np.ones(2)}
    if where == "returns":
        args.update(value_fn=lambda v: junk, grad_fn=lambda v: junk)
    else:
        args[where] = junk
    _call(sb.check_gradient, args["value_fn"], args["grad_fn"], args["x"])


@given(junk=JUNK, where=st.sampled_from(["f", "vars", "point", "point value"]))
def test_classify_and_critical_points_take_any_input(junk, where):
    f, vs, point = x**2 - y**2, [x, y], {x: 0, y: 0}
    if where == "f":
        f = junk
    elif where == "vars":
        vs = junk
    elif where == "point":
        point = junk
    else:
        point = {x: junk, y: 0}
    _call(sb.classify, f, vs, point)
    if where in ("f", "vars") and not isinstance(junk, (str, bytes)):
        _call(sb.critical_points, f, vs)


@given(junk=JUNK, where=st.sampled_from(["f", "wrt", "at", "at value"]))
def test_explain_takes_any_input(junk, where):
    args = {"f": x * y + sp.sin(x), "wrt": [x, y], "at": {x: 1.0, y: 2.0}}
    if where == "at value":
        args["at"] = {x: junk, y: 2.0}
    else:
        args[where] = junk
    _call(sb.explain, args["f"], args["wrt"], args["at"])


def test_no_junk_file_was_written():
    # junk paths (save("x"), cache_dir=b"x", ...) must not have littered the working directory
    for name in ("x", "v1", "None", "__import__('os')", "b'x'"):
        assert not pathlib.Path(name).exists(), name


# ---- formulas (plain and LaTeX) and network spec files ---------------------------------------
# Whatever text a person types, the parser returns SymPy or raises SymbackpropError with the
# position; a spec file builds a network or raises SymbackpropError naming the source.

PLAIN_TOKENS = st.sampled_from(
    [
        "x", "y", "xy", "2xy", "x1", "x_1", "alpha", "e", "E", "pi", "nan", "oo", "zoo", "I",
        "0", "1", "2.5", "1e400", "1e-5", ".5", "9", "+", "-", "*", "/", "^", "**", "(", ")",
        ",", "<", "<=", ">", ">=", "if", "else", "sqrt", "log", "exp", "sin", "max", "min",
        "relu", "sign", "erf", "atan2", "leaky_relu", "Heaviside", "abs", "sigma", "sinx",
        "lambda", "import", "__", ".", "'", "[", "=", "é", "٣", "²", "∞", "\u200b", "\t",
    ]
)  # fmt: skip
LATEX_TOKENS = st.sampled_from(
    [
        r"\frac", r"\dfrac", r"\sqrt", r"\sqrt[3]", "{", "}", "^", "_", "[", "]", "(", ")",
        r"\left(", r"\right)", r"\left|", r"\right|", "|", r"\lvert", r"\rvert", r"\cdot",
        r"\begin{pmatrix}", r"\end{pmatrix}", r"\begin{cases}", r"\end{cases}", "&", r"\\",
        r"\text{if}", r"\text{otherwise}", r"\geq", "<", r"\alpha", r"\lambda", r"\sigma",
        r"\pi", r"\exp", r"\ln", r"\log", r"\tanh", r"\operatorname{relu}", r"\mathrm{e}",
        "e", "x", "y", "x_1", "2", "0.5", "-", "+", "=", "'", r"\,", r"\unknown", "\\", "é",
        "nan", r"\infty",
    ]
)  # fmt: skip


def _parsed_or_refused(text, symbols=(x, y), **kwargs):
    """parse(...) returns SymPy or raises SymbackpropError with the position."""
    try:
        value = parse(text, list(symbols), **kwargs)
    except sb.SymbackpropError as error:
        assert str(error), "an error must say what is wrong"
        return None
    assert isinstance(value, (sp.Basic, sp.MatrixBase)), value
    return value


@given(tokens=st.lists(PLAIN_TOKENS, max_size=12), spaces=st.booleans(), new=st.booleans())
def test_random_plain_formulas_parse_or_refuse(tokens, spaces, new):
    _parsed_or_refused((" " if spaces else "").join(tokens) or "x", allow_new=new)


@given(tokens=st.lists(LATEX_TOKENS, max_size=14), spaces=st.booleans())
def test_random_latex_parses_or_refuses(tokens, spaces):
    _parsed_or_refused((" " if spaces else "").join(tokens) or "x", latex=True)


@given(text=st.text(max_size=40))
def test_random_text_parses_or_refuses(text):
    _parsed_or_refused(text)
    _parsed_or_refused(text, latex=True)


OPENERS = ["(", "-", "e^", "2^", "sin ", "sqrt(", "max(x, ", "x if x > 0 else "]
LATEX_OPENERS = ["{", r"\frac{1}", r"\sqrt", "e^", "e^-", "|", r"\left(", "x_", "-", r"\frac"]


@given(depth=st.integers(1, 1000), opener=st.sampled_from(OPENERS))
def test_deep_plain_nesting_is_refused_or_read(depth, opener):
    closing = ")" * (opener.count("(") * depth)
    _parsed_or_refused(opener * depth + "x" + closing, allow_new=True)


@given(depth=st.integers(1, 600), opener=st.sampled_from(LATEX_OPENERS))
def test_deep_latex_nesting_is_refused_or_read(depth, opener):
    closing = {"{": "}", r"\frac{1}": "", "|": "|", r"\left(": r"\right)"}.get(opener, "")
    _parsed_or_refused(opener * depth + "x" + closing * depth, latex=True)


CELLS = st.sampled_from(["x", "1", "-y", r"\frac{1}{x}", "nan", "", "é", "x^2", "1e400", "|x"])


@given(rows=st.lists(st.lists(CELLS, min_size=1, max_size=3), min_size=1, max_size=3))
def test_random_matrices_parse_as_matrices_or_refuse(rows):
    body = r" \\ ".join(" & ".join(row) for row in rows)
    value = _parsed_or_refused(r"\begin{pmatrix} " + body + r" \end{pmatrix}")
    if value is not None:
        kept = rows[:-1] if len(rows) > 1 and rows[-1] == [""] else rows  # a trailing \\ ends
        assert isinstance(value, sp.MatrixBase) and value.shape == (len(kept), len(kept[0]))


def _toml(value) -> str:
    """A TOML value (the standard library reads TOML but does not write it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


FORMULAS = st.lists(PLAIN_TOKENS | st.sampled_from(["z", "z", "z^2", "tanh(z)"]), max_size=6)
SPEC_VALUES = st.recursive(
    st.booleans()
    | st.integers(-3, 5)
    | st.sampled_from([0, 2**63 - 1, -(2**63), 10**6])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(list(ACTIVATION_NAMES) + sorted(LOSSES) + ["maxout", "dense", "z"])
    | FORMULAS.map(" ".join),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("ab"), inner),
    max_leaves=4,
)
TOP_KEYS = st.sampled_from(["inputs", "loss", "l2", "inputs", "loss", "unit", "layer"])
LAYER_KEYS = st.sampled_from(["units", "activation", "type", "pieces", "units", "bias"])


@st.composite
def spec_documents(draw) -> str:
    top = draw(st.dictionaries(TOP_KEYS, SPEC_VALUES, max_size=4))
    lines = [f"{k} = {_toml(v)}" for k, v in top.items()]
    for _ in range(draw(st.integers(0, 3))):
        lines.append("[[layers]]")
        layer = draw(st.dictionaries(LAYER_KEYS, SPEC_VALUES, max_size=4))
        lines += [f"{k} = {_toml(v)}" for k, v in layer.items()]
    return "\n".join(lines) + "\n"


@given(doc=spec_documents())
def test_random_spec_documents_build_or_refuse(doc):
    net, error = _call(loads_spec, doc, source="fuzz.toml")
    assert net is not None or "fuzz.toml" in str(error), error


@given(formula=FORMULAS.map(" ".join), units=st.integers(1, 3))
def test_random_spec_activations_build_or_refuse(formula, units):
    doc = f"inputs = 2\n[[layers]]\nunits = {units}\nactivation = {_toml(formula)}\n"
    _call(loads_spec, doc, source="fuzz.toml")


@given(text=st.text(max_size=60))
def test_random_spec_text_builds_or_refuses(text):
    _call(loads_spec, text)


# ---- regressions: inputs the fuzz tests found raising something else than SymbackpropError ----


def test_regression_compiled_function_with_a_symbol_input(fns):
    with pytest.raises(sb.SymbackpropError):
        fns[0].grad(sp.Symbol("x"))


def test_regression_save_to_none(fns):
    with pytest.raises(sb.SymbackpropError):
        fns[0].save(None)


def test_regression_model_forward_with_array_params(small_net):
    net, model, params = small_net
    with pytest.raises(sb.SymbackpropError):
        model.forward(np.zeros(2), np.ones((4, 2)))


def test_regression_model_forward_with_a_wrong_ndim_parameter(small_net):
    net, model, params = small_net
    with pytest.raises(sb.SymbackpropError, match="W1"):
        model.forward({**params, "W1": np.zeros(2)}, np.ones((4, 2)))


def test_regression_model_loss_and_grad_with_y_none(small_net):
    net, model, params = small_net
    with pytest.raises(sb.SymbackpropError, match="Y"):
        model.loss_and_grad(params, np.ones((4, 2)), None)


def test_regression_check_derivative_with_a_nan_claim():
    with pytest.raises(sb.SymbackpropError):
        sb.check_derivative(x**2, x, math.nan)


def test_regression_check_derivative_with_a_zoo_claim():
    with pytest.raises(sb.SymbackpropError):
        sb.check_derivative(x**2, x, sp.zoo)


def test_regression_check_derivative_with_a_0d_array():
    with pytest.raises(sb.SymbackpropError):
        sb.check_derivative(np.array(1.0), x, "0")


def test_regression_check_gradient_with_a_non_callable():
    with pytest.raises(sb.SymbackpropError):
        sb.check_gradient(None, None, np.ones(2))


def test_regression_check_gradient_with_a_string_point():
    with pytest.raises(sb.SymbackpropError):
        sb.check_gradient(lambda v: 0.0, lambda v: np.zeros(1), "x")


def test_regression_classify_at_a_nan_point():
    with pytest.raises(sb.SymbackpropError):
        sb.classify(x**2 - y**2, [x, y], {x: math.nan, y: 0})


def test_regression_classify_an_undefined_function():
    with pytest.raises(sb.SymbackpropError):
        sb.classify(sp.Function("g")(x), [x, y], {x: 0, y: 0})


def test_regression_explain_with_a_number_for_wrt():
    with pytest.raises(sb.SymbackpropError):
        sb.explain(x * y, 3, {x: 1.0, y: 2.0})
