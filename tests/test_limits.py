"""Limits instead of hangs (issue 7): deep and large expressions compile or fail cleanly with
SymbackpropError naming the limit, the simplification budget holds, and a dense Hessian that
would not fit in memory is refused before any code is generated.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import limits
from symbackprop.limits import Deadline, check_dense_hessian, measure
from symbackprop.spec import loads_spec


def addition_chain(n: int):
    """x + a0 x + a1 x + ... built one unevaluated Add at a time: n levels deep."""
    x = sp.Symbol("x")
    a = sp.symbols(f"a0:{n}")
    e = x
    for ai in a:
        e = sp.Add(e, ai * x, evaluate=False)
    return e, x, a


def sin_chain(n: int):
    x = sp.Symbol("x")
    e = x
    for _ in range(n):
        e = sp.sin(e, evaluate=False)
    return e, x


def test_measure_is_iterative_and_counts_shared_nodes_once():
    e, x, a = addition_chain(10_000)
    size = measure([e])
    assert size.depth == 10_002  # the last Add over a0*x over x, one level per Add
    assert size.nodes == 1 + 10_000 * 3  # x, then per level: a_i, a_i*x, the Add
    assert size.free_symbols == {x, *a}
    t = x
    for _ in range(60):  # a DAG: 60 distinct nodes, 2**60 nodes as a tree
        t = sp.Add(t, t, evaluate=False)
    assert measure([t]).nodes == 61 and measure([t]).tree_size == 2**61 - 1


def test_measure_leaves_out_bound_variables():
    x, t = sp.symbols("x t")
    assert measure([sp.Integral(t * x, (t, 0, 1))]).free_symbols == {x}


def test_addition_chain_10000_deep_compiles_and_is_correct():
    e, x, a = addition_chain(10_000)
    values = {ai: 1e-3 * (1 + (i % 7)) for i, ai in enumerate(a)}
    start = time.perf_counter()
    fn = sb.compile(e, [x], constants=values)
    point = np.array([0.5])
    slope = 1.0 + math.fsum(values.values())
    np.testing.assert_allclose(fn.grad(point), [slope], rtol=1e-12)
    np.testing.assert_allclose(fn(point), 0.5 * slope, rtol=1e-12)
    assert time.perf_counter() - start < 60


def test_addition_chain_over_10000_variables_is_refused_quickly():
    e, x, a = addition_chain(10_000)
    start = time.perf_counter()
    with pytest.raises(sb.SymbackpropError, match=r"10001 variables.*MAX_VARIABLES"):
        sb.compile(e, [x, *a])
    assert time.perf_counter() - start < 60  # a hang guard on a shared machine, not a benchmark


def test_composition_2000_deep_compiles_and_matches_the_chain_rule():
    e, x = sin_chain(2000)
    fn = sb.compile(e, [x])
    for x0 in (0.5, -1.2):
        value, slope = x0, 1.0
        for _ in range(2000):
            value, slope = math.sin(value), slope * math.cos(value)
        got_value, got_grad = fn.value_and_grad(np.array([x0]))
        np.testing.assert_allclose(got_value, value, rtol=1e-12)
        np.testing.assert_allclose(got_grad, [slope], rtol=1e-10)
        h = 1e-6
        central = (fn(np.array([x0 + h])) - fn(np.array([x0 - h]))) / (2 * h)
        np.testing.assert_allclose(got_grad, [central], rtol=1e-5)


def test_a_chain_too_deep_for_sympys_printer_still_compiles():
    # SymPy's str() recurses about 5 frames per level: it fails near depth 200. The module's
    # docstring must not depend on it (this used to raise RecursionError from sb.compile).
    e, x = sin_chain(300)
    fn = sb.compile(e, [x])
    assert "too deep to print" in fn.source
    assert np.isfinite(fn.grad(np.array([0.3]))[0])


@pytest.mark.parametrize("api", ["grad", "jacobian", "hessian"])
def test_symbolic_derivatives_of_deep_expressions_fail_cleanly(api):
    e, x = sin_chain(2000)
    call = {
        "grad": lambda: sb.grad(e, [x]),
        "jacobian": lambda: sb.jacobian([e], [x]),
        "hessian": lambda: sb.hessian(e, [x]),
    }[api]
    start = time.perf_counter()
    with pytest.raises(sb.SymbackpropError, match=r"nested 2001 levels deep"):
        call()
    assert time.perf_counter() - start < 60  # a hang guard, not a benchmark


def test_symbolic_derivatives_of_moderately_deep_expressions_work():
    e, x = sin_chain(60)
    g = sb.grad(e, [x])[0]
    value, slope = 0.4, 1.0
    for _ in range(60):
        value, slope = math.sin(value), slope * math.cos(value)
    assert float(g.subs(x, 0.4)) == pytest.approx(slope, rel=1e-12)


def test_depth_and_size_limits_come_from_the_environment(monkeypatch):
    e, x = sin_chain(40)
    monkeypatch.setenv("SYMBACKPROP_MAX_DEPTH", "30")
    with pytest.raises(sb.SymbackpropError, match=r"nested 41 levels deep.*MAX_DEPTH"):
        sb.compile(e, [x])
    with pytest.raises(sb.SymbackpropError, match=r"SYMBACKPROP_MAX_DEPTH"):
        sb.grad(e, [x])
    monkeypatch.delenv("SYMBACKPROP_MAX_DEPTH")
    monkeypatch.setenv("SYMBACKPROP_MAX_NODES", "10")
    with pytest.raises(sb.SymbackpropError, match=r"41 distinct subexpressions.*MAX_NODES"):
        sb.compile(e, [x])
    monkeypatch.setenv("SYMBACKPROP_MAX_NODES", "-3")
    with pytest.raises(sb.SymbackpropError, match=r"SYMBACKPROP_MAX_NODES='-3'"):
        sb.compile(e, [x])


@pytest.mark.parametrize("text", ["", "  "])
def test_an_empty_environment_variable_means_the_default(monkeypatch, text):
    monkeypatch.setenv("SYMBACKPROP_MAX_NODES", text)
    assert limits.limit("MAX_NODES") == limits.MAX_NODES


def test_unknown_limit_name():
    with pytest.raises(sb.SymbackpropError, match="unknown limit 'MAX_FOO'"):
        limits.limit("MAX_FOO")


# ---- the simplification budget -----------------------------------------------------------------
# (bounded by size, not by a timer: tests/test_time_budgets.py)


def test_simplification_still_runs_within_the_budget():
    x = sp.Symbol("x")
    assert sb.grad(sp.sin(x) ** 2 + sp.cos(x) ** 2 + x, [x])[0] == 1


def test_deadline_counts_down():
    d = Deadline(0.05)
    assert not d.expired() and 0 < d.remaining() <= 0.05
    time.sleep(0.1)
    assert d.expired() and d.remaining() == 0.0


# ---- dense Hessians ------------------------------------------------------------------------------


MNIST_NET = dict(
    inputs=784,
    layers=[sb.Dense(256, "relu"), sb.Dense(128, "relu"), sb.Dense(10, "softmax")],
    loss="cross_entropy",
)


def test_dense_hessian_size_is_checked_with_p_and_bytes():
    net = sb.Sequential(**MNIST_NET)
    P = sum(math.prod(s) for s in net.param_shapes().values())
    assert P == 235_146
    with pytest.raises(sb.SymbackpropError, match=r"P=235146 .*442349130528 bytes"):
        check_dense_hessian(P, "model.hessian")
    assert check_dense_hessian(100, batch=3) == 240_000
    with pytest.raises(sb.SymbackpropError, match=r"1000 dense Hessians over P=1000"):
        check_dense_hessian(1000, batch=1000)


def test_dense_hessian_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("SYMBACKPROP_MAX_HESSIAN_BYTES", "1e3")
    assert check_dense_hessian(11) == 968
    with pytest.raises(sb.SymbackpropError, match=r"P=12 parameters needs 1152 bytes"):
        check_dense_hessian(12)


def test_hessian_batch():
    assert limits.hessian_batch(np.zeros((4, 2))) == 4
    assert limits.hessian_batch([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]) == 3
    assert limits.hessian_batch([1.0, 2.0]) == 1
    assert limits.hessian_batch(None) == 1


def test_model_hessian_of_a_large_network_is_refused_before_generating_code(cache_dir):
    net = sb.Sequential(**MNIST_NET)
    model = net.compile()
    params = net.init_params(seed=0)
    X, Y = np.zeros((2, 784)), np.eye(10)[:2]
    with pytest.raises(sb.SymbackpropError, match=r"P=235146 .*bytes"):
        model.hessian(params, X, Y)
    assert model._full is None  # no second-order code was generated


def test_compiled_hessian_over_the_limit_is_refused(monkeypatch):
    xs = sp.symbols("x0:4")
    fn = sb.compile(sum(v**3 for v in xs), xs)
    monkeypatch.setenv("SYMBACKPROP_MAX_HESSIAN_BYTES", "1000")
    fn.hessian(np.ones(4))  # 128 bytes: fine
    with pytest.raises(sb.SymbackpropError, match=r"100 dense Hessians over P=4"):
        fn.hessian(np.ones((100, 4)))


# ---- limits that hold (issue 12): networks, map bodies --------------------------------------


def _deep_max_body(n: int):
    """max(...max(max(e0, e1), e2)..., e_n) plus the same chain without e_n: n levels deep
    (a Maxout over n pieces), with the two chains sharing all but their last level."""
    from symbackprop.ir.elementwise import operand
    from symbackprop.ir.node import make

    chain = operand(0)
    for k in range(1, n):
        chain = make("max", chain, operand(k))
    return make("max", chain, operand(n)), chain


def test_structural_cse_and_printing_of_a_deep_max_chain_do_not_recurse():
    from symbackprop.ir.graph import Graph, Output, with_outputs
    from symbackprop.ir.node import make
    from symbackprop.passes import BODY_PIPELINE, optimize
    from symbackprop.passes.cse import cse_structural

    longer, shorter = _deep_max_body(3000)
    results = []
    for body in (make("add", longer, shorter), make("add", shorter, longer)):
        graph = with_outputs(Graph((), {}), {"body": Output((body,), ((),), ())})
        results.append(cse_structural(graph).outputs["body"].nodes[0])
        assert optimize(graph, BODY_PIPELINE).outputs["body"].nodes
    assert results[0] is results[1]  # one canonical operand order, whichever came first
    text = repr(results[0])
    assert text.startswith("add(max(max(") and text.count("max(") == 2 * 3000 - 1


def test_a_custom_activation_with_a_deep_body_goes_through_every_pass():
    """The network front end, derivative program and passes (not Numba) on a 1500-deep map body."""
    from symbackprop.derivatives.program import network_program
    from symbackprop.frontend.network import build_graph
    from symbackprop.passes import optimize

    z = sp.Symbol("z")
    body = z
    for _ in range(1500):
        body = sp.sin(body, evaluate=False)
    measure([body])  # SymPy's hash and assumptions, cached bottom-up: building on it is safe
    layers = [sb.Dense(1, sp.Lambda(z, sp.Add(z, body, evaluate=False)))]
    ng = build_graph(2, layers, "mse", 0.0)
    _, graph = network_program(
        ng.params, ng.output, ng.loss, ng.hints, ng.pre_activation, optimize, False
    )
    assert {"loss", "dW1", "db1"} <= set(graph.outputs)


def test_maxout_pieces_are_limited_before_any_work():
    start = time.perf_counter()
    with pytest.raises(
        sb.SymbackpropError, match=r"Maxout\(1, 100000\) has 100000 pieces.*MAX_PIECES"
    ):
        sb.Maxout(1, 10**5)
    with pytest.raises(
        sb.SymbackpropError, match=r"layer 1: Maxout\(1, 500\).*SYMBACKPROP_MAX_PIECES"
    ):
        loads_spec('inputs = 2\n[[layers]]\ntype = "maxout"\nunits = 1\npieces = 500\n')
    assert time.perf_counter() - start < 1
    assert sb.Maxout(1, limits.MAX_PIECES).pieces == limits.MAX_PIECES


def test_maxout_piece_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("SYMBACKPROP_MAX_PIECES", "40")
    assert sb.Maxout(1, 40).pieces == 40
    monkeypatch.setenv("SYMBACKPROP_MAX_PIECES", "3")
    with pytest.raises(sb.SymbackpropError, match=r"4 pieces, more than the limit 3"):
        sb.Maxout(1, 4)


def test_parameters_that_would_not_fit_are_refused_naming_the_layer():
    start = time.perf_counter()
    with pytest.raises(sb.SymbackpropError) as info:
        sb.Sequential(inputs=2, layers=[sb.Dense(3), sb.Dense(10**12)])
    message = str(info.value)
    for part in (
        "W2 of layer 2",
        "shape (1000000000000, 3)",
        "24000000000000 bytes",
        "MAX_PARAM_BYTES",
    ):
        assert part in message, message
    assert time.perf_counter() - start < 1  # refused, not allocated


def test_parameter_bytes_limit_from_the_environment(monkeypatch):
    net = {"inputs": 4, "layers": [sb.Maxout(3, 2), sb.Dense(1)]}  # W1 (2, 3, 4): 24 numbers
    assert sum(np.prod(s) for s in sb.Sequential(**net).param_shapes().values()) == 34
    monkeypatch.setenv("SYMBACKPROP_MAX_PARAM_BYTES", str(34 * 8))
    sb.Sequential(**net)
    monkeypatch.setenv("SYMBACKPROP_MAX_PARAM_BYTES", str(34 * 8 - 1))
    with pytest.raises(
        sb.SymbackpropError, match=r"largest: W1 of layer 1.*shape \(2, 3, 4\), 192 bytes"
    ):
        sb.Sequential(**net)


def test_layers_are_limited(monkeypatch):
    with pytest.raises(sb.SymbackpropError, match=r"has 101 layers, more than the limit 100"):
        sb.Sequential(inputs=2, layers=[sb.Dense(2)] * 101)
    monkeypatch.setenv("SYMBACKPROP_MAX_LAYERS", "2")
    with pytest.raises(sb.SymbackpropError, match=r"3 layers.*SYMBACKPROP_MAX_LAYERS"):
        sb.Sequential(inputs=2, layers=[sb.Dense(2)] * 3)


@pytest.mark.parametrize(
    "layer, culprit",
    [
        ("units = 1000000000000", "W1 of layer 1"),
        ('type = "maxout"\nunits = 2\npieces = 100000', "100000 pieces"),
    ],
)
def test_compile_net_refuses_a_spec_over_the_limits(tmp_path, layer, culprit):
    from click.testing import CliRunner

    from symbackprop.cli import main

    spec = tmp_path / "net.toml"
    spec.write_text(f"inputs = 2\n[[layers]]\n{layer}\n")
    result = CliRunner().invoke(main, ["compile-net", str(spec), "-o", str(tmp_path / "m.py")])
    assert result.exit_code == 2 and culprit in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.toml"]
