"""Networks: the lecture's worked example, gradients for every activation x every loss against
central differences (derivative program on the reference evaluator; compiled Numba code on a
covering subset), exact Hessians, PyTorch as a second oracle, and validation errors.
"""

from __future__ import annotations

import subprocess
import sys

import numba as nb
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sb
from symbackprop.derivatives.program import network_program
from symbackprop.frontend.network import ACTIVATION_NAMES, LOSSES, build_graph
from symbackprop.ir.evaluate import evaluate
from symbackprop.passes import optimize

CUSTOM = sp.Lambda(sp.Symbol("u"), sp.Symbol("u") * sb.sigmoid(sp.Symbol("u")))  # swish
ACTIVATIONS = list(ACTIVATION_NAMES) + [CUSTOM]


def targets(loss, rng, m, k):
    if loss in ("cross_entropy", "hinge"):
        return np.eye(k)[rng.integers(0, k, m)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (m, k)).astype(float)
    return rng.normal(size=(m, k))


def random_params(shapes, rng):
    return {
        n: (np.array([0.3]) if n.startswith("alpha") else rng.normal(0, 0.7, s))
        for n, s in shapes.items()
    }


def output_activation(loss, hidden):
    # probabilities where the loss takes logs of them; otherwise the activation under test
    return {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(loss, hidden)


def central_differences(loss_of, params, h=1e-6):
    grads = {}
    for name, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            keep = value[idx]
            step = h * max(1.0, abs(keep))
            value[idx] = keep + step
            up = loss_of(params)
            value[idx] = keep - step
            down = loss_of(params)
            value[idx] = keep
            g[idx] = (up - down) / (2 * step)
        grads[name] = g
    return grads


def program(net, second_order=True):
    """The optimized derivative program of ``net`` (with the Hessian's by default)."""
    ng = build_graph(net.inputs, net.layers, net.loss, net.l2)
    _, graph = network_program(
        ng.params, ng.output, ng.loss, ng.hints, ng.pre_activation, optimize, second_order
    )
    return graph


def two_layer_program(activation, loss, inputs, second_order):
    """(net, optimized derivative program) of a 3-unit hidden layer (``activation``, or Maxout)
    and a 2-unit output layer suited to ``loss``."""
    hidden = "tanh" if activation in ("softmax", "maxout") else activation
    first = sb.Maxout(3, pieces=2) if activation == "maxout" else sb.Dense(3, activation)
    layers = [first, sb.Dense(2, output_activation(loss, hidden))]
    net = sb.Sequential(inputs=inputs, layers=layers, loss=loss, l2=0.05)
    return net, program(net, second_order)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize(
    "activation", ACTIVATIONS, ids=lambda a: a if isinstance(a, str) else "custom"
)
def test_derivative_program_every_activation_and_loss(activation, loss):
    """The optimized derivative program, run by the NumPy reference evaluator."""
    rng = np.random.default_rng(7)
    net, graph = two_layer_program(activation, loss, inputs=3, second_order=False)
    X = rng.normal(size=(5, 3))
    Y = targets(loss, rng, 5, 2)
    params = random_params(net.param_shapes(), rng)

    def run(names, p):
        nodes = [graph.outputs[n].nodes[0] for n in names]
        return evaluate(nodes, {**p, "X": X, "Y": Y})

    grads = dict(zip(params, run([f"d{n}" for n in params], params)))
    expected = central_differences(lambda p: float(run(["loss"], p)[0]), params)
    for name in params:
        np.testing.assert_allclose(
            np.reshape(grads[name], params[name].shape),
            expected[name],
            rtol=1e-6,
            atol=1e-7,
            err_msg=name,
        )


def flat_hessian_by_differences(grad_of, params, h=1e-5):
    """Central differences of the flattened gradient: column k is (g(p + h e_k) - g(p - h e_k))/2h."""
    names = list(params)
    flat = np.concatenate([np.ravel(params[n]) for n in names])
    sizes = np.cumsum([0] + [np.size(params[n]) for n in names])

    def at(v):
        p = {
            n: v[sizes[k] : sizes[k + 1]].reshape(np.shape(params[n])) for k, n in enumerate(names)
        }
        g = grad_of(p)
        return np.concatenate([np.ravel(g[n]) for n in names])

    columns = []
    for k in range(flat.size):
        e = np.zeros_like(flat)
        e[k] = h
        columns.append((at(flat + e) - at(flat - e)) / (2 * h))
    return np.stack(columns, axis=1)


def program_hessian_and_differences(graph, params, X, Y):
    """(H from the program's H_<param> blocks or its per-direction H v, central differences
    of its gradient), both on the reference evaluator. Entries that two blocks compute must
    agree."""
    names = list(params)
    sizes = [int(np.prod(params[n].shape)) for n in names]
    P = sum(sizes)

    def run(keys, p, **extra):
        nodes = [graph.outputs[k].nodes[0] for k in keys]
        return evaluate(nodes, {**p, "X": X, "Y": Y, **extra})

    def grad_of(p):
        return dict(zip(names, run([f"d{n}" for n in names], p)))

    if "H_" + names[0] in graph.outputs or not any(k.startswith("hv") for k in graph.outputs):
        H = np.full((P, P), np.nan)
        for n, start, end in zip(names, np.cumsum([0] + sizes), np.cumsum(sizes)):
            if f"H_{n}" not in graph.outputs:
                H[:, start:end] = 0.0  # no second derivatives
                continue
            block = run([f"H_{n}"], params)[0]  # layouts of ir/batched.py
            if block.ndim == 2 and params[n].ndim == 2:  # (rows*R, cols)
                rows = params[n].shape[0]
                block = np.moveaxis(block.reshape(rows, -1, block.shape[1]), 1, 0)
            block = block.reshape(block.shape[0], -1)  # (R, size): directions 0..R-1
            # A block is asked for the directions up to its own parameter's (the rest of its
            # columns are rows of later blocks, by symmetry); from R to there it is zero.
            H[:end, start:end] = 0.0
            n_rows = min(block.shape[0], end)
            H[:n_rows, start:end] = block[:n_rows]
        missing = np.isnan(H)
        H[missing] = H.T[missing]
        both = ~missing & ~missing.T  # computed twice, by different products: must agree
        np.testing.assert_allclose(H[both], H.T[both], rtol=1e-9, atol=1e-12)
        H[np.isnan(H)] = 0.0
    else:  # one H v per unit direction
        H = np.empty((P, P))
        for k in range(P):
            e = np.eye(P)[k]
            pieces = np.split(e, np.cumsum(sizes)[:-1])
            V = {f"V_{n}": v.reshape(params[n].shape) for n, v in zip(names, pieces)}
            hv = run([f"hv{n}" for n in names], params, **V)
            H[:, k] = np.concatenate([np.ravel(h) for h in hv])
    return H, flat_hessian_by_differences(grad_of, params)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize(
    "activation", ACTIVATIONS + ["maxout"], ids=lambda a: a if isinstance(a, str) else "custom"
)
def test_hessian_program_every_activation_and_loss(activation, loss):
    """The Hessian program (H v batched over all unit directions, or one H v per direction
    where a layer has no batching rule: Maxout), on the reference evaluator, against central
    differences of the gradient program."""
    rng = np.random.default_rng(11)
    net, graph = two_layer_program(activation, loss, inputs=2, second_order=True)
    X = rng.normal(size=(4, 2))
    Y = targets(loss, rng, 4, 2)
    params = random_params(net.param_shapes(), rng)
    H, expected = program_hessian_and_differences(graph, params, X, Y)
    np.testing.assert_allclose(H, expected, rtol=1e-5, atol=1e-6)


SMOOTH = ["linear", "sigmoid", "tanh", "softplus", "elu", "prelu", CUSTOM]


@settings(max_examples=15, deadline=None)
@given(
    widths=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    inputs=st.integers(1, 3),
    outputs=st.integers(1, 3),
    activations=st.lists(st.sampled_from(SMOOTH), min_size=3, max_size=3),
    loss=st.sampled_from(sorted(LOSSES)),
    l2=st.sampled_from([0.0, 0.05]),
    seed=st.integers(0, 2**16),
)
def test_hessian_program_of_random_networks(widths, inputs, outputs, activations, loss, l2, seed):
    """Random depths and widths (1-unit layers give 1-column products, every layer mixes
    dense and one-hot direction terms): the batched Hessian against differences."""
    hidden = [sb.Dense(w, a) for w, a in zip(widths, activations)]
    out = output_activation(loss, activations[-1])
    if out == "softmax" and outputs == 1:
        outputs = 2
    net = sb.Sequential(inputs, hidden + [sb.Dense(outputs, out)], loss=loss, l2=l2)
    graph = program(net)
    assert any(k.startswith("H_") for k in graph.outputs)  # batched, not one H v each
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3, inputs))
    Y = targets(loss, rng, 3, outputs)
    params = random_params(net.param_shapes(), rng)
    H, expected = program_hessian_and_differences(graph, params, X, Y)
    np.testing.assert_allclose(H, expected, rtol=1e-5, atol=1e-6)


# Compiled (Numba) networks: each loss once; together they use every activation.
COMPILED = [
    ("mse", ["sigmoid", "relu"], "linear"),
    ("half_sse", ["tanh", "leaky_relu"], "sigmoid"),
    ("cross_entropy", ["elu", "softplus"], "softmax"),
    ("binary_cross_entropy", ["prelu", "hardtanh"], "sigmoid"),
    ("hinge", ["abs", CUSTOM], "linear"),
    ("absolute", ["linear", "maxout"], "tanh"),
]


def make_net(loss, hidden, out):
    layers = [sb.Maxout(3, pieces=2) if a == "maxout" else sb.Dense(3, a) for a in hidden]
    return sb.Sequential(inputs=3, layers=layers + [sb.Dense(2, out)], loss=loss, l2=0.01)


@pytest.fixture(scope="module", params=COMPILED, ids=[c[0] for c in COMPILED])
def compiled(request):
    loss, hidden, out = request.param
    net = make_net(loss, hidden, out)
    rng = np.random.default_rng(3)
    params = random_params(net.param_shapes(), rng)
    X = rng.normal(size=(6, 3))
    Y = targets(loss, rng, 6, 2)
    return net, net.compile(), params, X, Y


def test_compiled_gradient_matches_central_differences(compiled):
    net, model, params, X, Y = compiled
    value, grads = model.loss_and_grad(params, X, Y)
    assert value == pytest.approx(model.loss(params, X, Y), rel=1e-12)
    assert set(grads) == set(params) and all(grads[k].shape == params[k].shape for k in params)
    expected = central_differences(lambda p: model.loss(p, X, Y), params)
    for name in params:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-6, atol=1e-7, err_msg=name)


def test_compiled_forward_matches_reference_evaluator(compiled):
    net, model, params, X, Y = compiled
    ng = build_graph(net.inputs, net.layers, net.loss, net.l2)
    expected = evaluate([ng.output], {**params, "X": X})[0]
    np.testing.assert_allclose(model.forward(params, X), expected, rtol=1e-12, atol=1e-14)


# 0 and 2: every unit direction batched; 3: prelu's scalar alpha; 5: Maxout, one H v each.
@pytest.mark.parametrize("index", [0, 2, 3, 5])
def test_hessian_matches_differences_of_the_gradient(index):
    loss, hidden, out = COMPILED[index]
    net = make_net(loss, hidden, out)
    model = net.compile()
    rng = np.random.default_rng(5)
    params = random_params(net.param_shapes(), rng)
    X, Y = rng.normal(size=(4, 3)), targets(loss, rng, 4, 2)
    H = model.hessian(params, X, Y)
    fd = flat_hessian_by_differences(lambda p: model.loss_and_grad(p, X, Y)[1], params)
    P = sum(v.size for v in params.values())
    assert H.shape == (P, P)
    np.testing.assert_allclose(H, H.T, atol=1e-10)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-6)


def test_lecture_worked_example():
    """The notes' 2-2-2 sigmoid network. The published forward values hold; the notes' loss of
    0.275 is miscomputed (it is the first output's term alone): the half-SSE is 0.298371109."""
    net = sb.Sequential(
        inputs=2, layers=[sb.Dense(2, "sigmoid"), sb.Dense(2, "sigmoid")], loss="half_sse"
    )
    model = net.compile()
    params = {
        "W1": np.array([[0.15, 0.20], [0.25, 0.30]]),
        "b1": np.array([0.35, 0.35]),
        "W2": np.array([[0.40, 0.45], [0.50, 0.55]]),
        "b2": np.array([0.60, 0.60]),
    }
    X, Y = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    np.testing.assert_allclose(model.forward(params, X), [[0.75136507, 0.772928465]], atol=1e-8)
    loss, grads = model.loss_and_grad(params, X, Y)
    assert loss == pytest.approx(0.298371109, abs=1e-9)
    assert grads["W2"][0, 0] == pytest.approx(0.082167041, abs=1e-9)  # dE/dw5
    assert grads["W1"][0, 0] == pytest.approx(0.000438568, abs=1e-9)  # dE/dw1
    o = model.forward(params, X)[0]
    assert 0.5 * (Y[0, 0] - o[0]) ** 2 == pytest.approx(0.275, abs=1e-3)  # the slide's figure
    assert loss - 0.275 > 0.02  # ... which misses the second output's term


def test_stability_at_extreme_logits():
    net = sb.Sequential(inputs=1, layers=[sb.Dense(3, "softmax")], loss="cross_entropy")
    model = net.compile()
    params = {"W1": np.array([[1000.0], [0.0], [-1000.0]]), "b1": np.zeros(3)}
    X = np.array([[1.0], [-1.0]])
    Y = np.array([[1.0, 0, 0], [1.0, 0, 0]])
    loss, grads = model.loss_and_grad(params, X, Y)
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())
    assert loss == pytest.approx(
        1000.0, rel=1e-9
    )  # the wrong class 2000 logits ahead, half the time
    bce = sb.Sequential(inputs=1, layers=[sb.Dense(1, "sigmoid")], loss="binary_cross_entropy")
    m2 = bce.compile()
    p2 = {"W1": np.array([[1000.0]]), "b1": np.zeros(1)}
    loss, grads = m2.loss_and_grad(p2, np.array([[1.0]]), np.array([[1.0]]))
    assert loss == pytest.approx(0.0, abs=1e-300) and np.isfinite(grads["W1"]).all()
    for act in ("sigmoid", "softplus", "elu"):
        m3 = sb.Sequential(inputs=1, layers=[sb.Dense(1, act)], loss="mse").compile()
        for z in (-1000.0, 1000.0):
            loss, grads = m3.loss_and_grad(
                {"W1": np.array([[z]]), "b1": np.zeros(1)}, np.array([[1.0]]), np.array([[0.0]])
            )
            assert np.isfinite(grads["W1"]).all(), (act, z)


def test_torch_agrees():
    torch = pytest.importorskip("torch")
    net = sb.Sequential(
        inputs=3,
        layers=[sb.Dense(4, "tanh"), sb.Dense(3, "softmax")],
        loss="cross_entropy",
        l2=0.01,
    )
    model = net.compile()
    rng = np.random.default_rng(11)
    params = net.init_params(seed=1)
    X, Y = rng.normal(size=(8, 3)), np.eye(3)[rng.integers(0, 3, 8)]
    loss, grads = model.loss_and_grad(params, X, Y)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    logits = torch.tanh(Xt @ t["W1"].T + t["b1"]) @ t["W2"].T + t["b2"]
    ref = -(Yt * torch.log_softmax(logits, dim=1)).sum(1).mean() + 0.01 * (
        (t["W1"] ** 2).sum() + (t["W2"] ** 2).sum()
    )
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    for k in params:
        np.testing.assert_allclose(grads[k], t[k].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_init_params_follow_the_activation():
    net = sb.Sequential(
        inputs=100, layers=[sb.Dense(200, "relu"), sb.Dense(10, "tanh"), sb.Dense(2, "prelu")]
    )
    p = net.init_params(seed=0)
    assert list(p) == ["W1", "b1", "W2", "b2", "W3", "b3", "alpha3"]
    assert np.std(p["W1"]) == pytest.approx(np.sqrt(2 / 100), rel=0.05)  # He
    assert np.all(p["b1"] == 0.01)  # small positive bias keeps relu units alive
    assert np.max(np.abs(p["W2"])) <= np.sqrt(6 / 210)  # Glorot uniform
    assert np.all(p["b2"] == 0) and p["alpha3"].tolist() == [0.25]
    again = net.init_params(seed=0)
    assert all(np.array_equal(p[k], again[k]) for k in p)


def test_validation_errors_name_what_is_wrong():
    with pytest.raises(sb.SymbackpropError, match="unknown activation 'swish'"):
        sb.Dense(3, "swish")
    with pytest.raises(sb.SymbackpropError, match="unknown loss 'l1'"):
        sb.Sequential(2, [sb.Dense(1)], loss="l1")
    with pytest.raises(sb.SymbackpropError, match="one variable"):
        sb.Dense(2, sp.Lambda(sp.symbols("a b"), sp.Symbol("a")))
    net = sb.Sequential(inputs=2, layers=[sb.Dense(3, "relu"), sb.Dense(1)], loss="mse")
    model = net.compile()
    p = net.init_params(seed=0)
    X, Y = np.zeros((4, 2)), np.zeros((4, 1))
    with pytest.raises(sb.SymbackpropError, match="missing b2"):
        model.loss(dict(list(p.items())[:3]), X, Y)
    with pytest.raises(sb.SymbackpropError, match=r"W1 must have shape \(3, 2\)"):
        model.loss({**p, "W1": np.zeros((2, 3))}, X, Y)
    with pytest.raises(sb.SymbackpropError, match="unknown key"):
        model.loss({**p, "W9": np.zeros(1)}, X, Y)
    with pytest.raises(sb.SymbackpropError, match=r"X must have shape \(m, 2\)"):
        model.forward(p, np.zeros((4, 3)))
    with pytest.raises(sb.SymbackpropError, match=r"Y must have shape \(4, 1\)"):
        model.loss(p, X, np.zeros((3, 1)))
    nan = model.forward(p, np.full((1, 2), np.nan))
    assert np.isnan(nan).all()


def test_any_array_layout_gives_the_same_numbers_without_new_compiles():
    """After its first call a kernel compiles no new signature: float32, Fortran-ordered,
    read-only, sliced or list inputs take the converting path and give the same numbers."""
    net = sb.Sequential(inputs=3, layers=[sb.Dense(4, "tanh"), sb.Dense(2)], loss="mse")
    model = net.compile()
    p = net.init_params(seed=1)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    loss, grads = model.loss_and_grad(p, X, Y)
    forward, H = model.forward(p, X), model.hessian(p, X, Y)
    frozen = X.copy()
    frozen.flags.writeable = False
    variants = {
        "float32": ({k: v.astype(np.float32) for k, v in p.items()}, X.astype(np.float32)),
        "fortran": ({**p, "W1": np.asfortranarray(p["W1"])}, np.asfortranarray(X)),
        "read-only": (p, frozen),
        "strided": (p, np.repeat(X, 2, axis=1)[:, ::2]),
        "lists": ({k: v.tolist() for k, v in p.items()}, X.tolist()),
    }
    kernels = [model._loss_and_grad, model._forward, model._second_order()._hessian]
    compiled = [len(k.signatures) for k in kernels]
    for name, (params, x) in variants.items():
        exact = name != "float32"
        tol = {} if exact else {"rtol": 1e-5, "atol": 1e-6}
        got_loss, got_grads = model.loss_and_grad(params, x, Y)
        np.testing.assert_allclose(got_loss, loss, **tol, err_msg=name)
        for k in grads:
            np.testing.assert_allclose(got_grads[k], grads[k], **tol, err_msg=f"{name} d{k}")
        np.testing.assert_allclose(model.forward(params, x), forward, **tol, err_msg=name)
        np.testing.assert_allclose(model.hessian(params, x, Y), H, **tol, err_msg=name)
    assert [len(k.signatures) for k in kernels] == compiled


def test_large_batches_split_across_threads_give_the_same_numbers():
    """From PARALLEL_ROWS rows the module runs its kernels on row chunks in threads: the loss
    and gradient are the row-weighted means of the chunks', the forward pass theirs stacked."""
    net = sb.Sequential(
        inputs=3,
        layers=[sb.Dense(4, "tanh"), sb.Dense(3, "prelu"), sb.Dense(2, "softmax")],
        loss="cross_entropy",
        l2=0.01,
    )
    model = net.compile()
    module = model._first
    p = net.init_params(seed=0)
    arrays = tuple(p.values())
    rng = np.random.default_rng(0)
    m = module.PARALLEL_ROWS + 7  # chunks of unequal sizes
    X, Y = rng.normal(size=(m, 3)), np.eye(2)[rng.integers(0, 2, m)]
    whole = module._loss_and_grad(*arrays, X, Y)
    for chunks in (2, 3):
        split = module._loss_and_grad_chunked(arrays, X, Y, chunks)
        assert split[0] == pytest.approx(whole[0], rel=1e-13)
        for got, want in zip(split[1:], whole[1:]):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
        forward = module._forward_chunked(arrays, X, chunks)
        np.testing.assert_array_equal(forward, module._forward(*arrays, X))
    assert module._chunk_count(X) == nb.get_num_threads()
    assert module._chunk_count(X[: module.PARALLEL_ROWS - 1]) == 1
    loss, grads = model.loss_and_grad(p, X, Y)  # through the public API
    assert loss == pytest.approx(whole[0], rel=1e-13)
    np.testing.assert_allclose(grads["alpha2"], [whole[5]], rtol=1e-12)
    np.testing.assert_allclose(model.forward(p, X), module._forward(*arrays, X), rtol=1e-15)
    # Matrix products dominate (over 64 weights per unit): BLAS has the cores, never split.
    wide = sb.Sequential(inputs=100, layers=[sb.Dense(100, "relu"), sb.Dense(2)], loss="mse")
    assert wide.compile()._first.PARALLEL_ROWS == 0


def test_generated_code_grows_with_layers_not_weights():
    def lines(widths):
        layers = [sb.Dense(w, "relu") for w in widths[1:-1]] + [sb.Dense(widths[-1], "softmax")]
        net = sb.Sequential(inputs=widths[0], layers=layers, loss="cross_entropy")
        src = net.compile().source
        return len(src.splitlines())

    small, wide = lines([4, 3, 2]), lines([784, 256, 10])
    deeper = lines([4, 3, 3, 2])
    assert small == wide  # 2,000x the weights, the same code
    assert deeper > small


def test_saved_network_runs_without_symbackprop(tmp_path):
    net = sb.Sequential(
        inputs=2, layers=[sb.Dense(3, "tanh"), sb.Dense(1, "sigmoid")], loss="binary_cross_entropy"
    )
    model = net.compile()
    model.save(tmp_path / "net_module.py")
    params = net.init_params(seed=2)
    X = np.array([[0.5, -1.0], [2.0, 0.1]])
    Y = np.array([[1.0], [0.0]])
    np.savez(tmp_path / "data.npz", X=X, Y=Y, **params)
    script = (
        "import sys; sys.modules['sympy'] = None; sys.modules['symbackprop'] = None\n"
        "import numpy as np, net_module as m\n"
        "d = np.load('data.npz')\n"
        "p = [d[n] for n in m.PARAM_NAMES]\n"
        "loss, *grads = m.loss_and_grad(*p, d['X'], d['Y'])\n"
        "print(repr(loss)); print(m.forward(*p, d['X']).tolist())\n"
        "raise SystemExit(m._self_check())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert float(lines[0]) == pytest.approx(model.loss(params, X, Y), rel=1e-12)
    assert "gradient ok" in out.stdout


def test_hessian_of_logistic_regression_is_the_closed_form():
    """A one-unit output layer (bias of shape (1,)): H = X1^T diag(s (1 - s)) X1 / m + 2 l2 I_w."""
    net = sb.Sequential(
        inputs=4, layers=[sb.Dense(1, "sigmoid")], loss="binary_cross_entropy", l2=0.1
    )
    model = net.compile()
    rng = np.random.default_rng(9)
    params = {"W1": rng.normal(size=(1, 4)), "b1": np.array([0.3])}
    X, Y = rng.normal(size=(20, 4)), rng.integers(0, 2, (20, 1)).astype(float)
    X1 = np.hstack([X, np.ones((20, 1))])
    s = 1 / (1 + np.exp(-(X1 @ np.append(params["W1"], params["b1"]))))
    expected = X1.T @ (X1 * (s * (1 - s))[:, None]) / 20 + np.diag([0.2] * 4 + [0.0])
    np.testing.assert_allclose(model.hessian(params, X, Y), expected, rtol=1e-12, atol=1e-14)
