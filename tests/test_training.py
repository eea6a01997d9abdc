"""Training and minimisation: optimizers against their published update rules (and PyTorch when
installed), minimize's stopping rules on the notes' quadratic, Newton with its fallback, fit with
minibatches, early stopping and non-finite losses, and trained parameters run without
symbackprop."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.training import (
    SGD,
    STOP_REASONS,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    FlatParams,
    NonFiniteError,
    RMSprop,
    evaluate,
    fit,
    load_params,
    minimize,
    predict,
    save_params,
)

X1, X2, X3 = sp.symbols("x1 x2 x3")
# The notes' example; its minimum is (-1, -1, -1) (the notes say (-1, 1, 1): a slip).
NOTES_F = X1**2 + X1 * (1 - X2) + X2**2 - X2 * X3 + X3**2 + X3
NOTES_MIN = np.array([-1.0, -1.0, -1.0])


@pytest.fixture(scope="module")
def quadratic():
    return sb.compile(NOTES_F, [X1, X2, X3])


@pytest.fixture(scope="module")
def double_well():
    """f = x^4/4 - x^2/2 + y^2: minima (+-1, 0), a saddle at the origin; H is indefinite for
    |x| < 1/sqrt(3)."""
    x, y = sp.symbols("x y")
    return sb.compile(x**4 / 4 - x**2 / 2 + y**2, [x, y])


# ---- a small convex problem and the published update rules ---------------------------------------

RNG = np.random.default_rng(0)
A = RNG.normal(size=(12, 6))
B = RNG.normal(size=12)


def lsq(x):
    """Least squares 1/2 ||A x - b||^2 (convex): value and gradient."""
    r = A @ x - B
    return 0.5 * float(r @ r), A.T @ r


def ref_sgd(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    buf, t = None, 0

    def step(x, g):
        nonlocal buf, t
        t += 1
        d = g + weight_decay * x
        if momentum:
            buf = d.copy() if t == 1 else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        return x - lr * d

    return step


def ref_rmsprop(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    v = avg = buf = 0.0

    def step(x, g):
        nonlocal v, avg, buf
        d = g + weight_decay * x
        v = alpha * v + (1 - alpha) * d**2
        vt = v
        if centered:
            avg = alpha * avg + (1 - alpha) * d
            vt = v - avg**2
        if momentum > 0:
            buf = momentum * buf + d / (np.sqrt(vt) + eps)
            return x - lr * buf
        return x - lr * d / (np.sqrt(vt) + eps)

    return step


def ref_adagrad(lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    s, t = initial_accumulator_value, 0

    def step(x, g):
        nonlocal s, t
        t += 1
        d = g + weight_decay * x
        s = s + d**2
        return x - lr / (1 + (t - 1) * lr_decay) * d / (np.sqrt(s) + eps)

    return step


def ref_adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    v = u = 0.0

    def step(x, g):
        nonlocal v, u
        d = g + weight_decay * x
        v = rho * v + (1 - rho) * d**2
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * d
        u = rho * u + (1 - rho) * delta**2
        return x - lr * delta

    return step


def ref_adam(
    lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False
):
    b1, b2 = betas
    m = v = vmax = 0.0
    t = 0

    def step(x, g):
        nonlocal m, v, vmax, t
        t += 1
        if decoupled:
            x, d = x * (1 - lr * weight_decay), g
        else:
            d = g + weight_decay * x
        m = b1 * m + (1 - b1) * d
        v = b2 * v + (1 - b2) * d**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        if amsgrad:
            vmax = np.maximum(vmax, v)
            v_hat = vmax / (1 - b2**t)
        return x - lr * m_hat / (np.sqrt(v_hat) + eps)

    return step


def ref_adamw(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
    return ref_adam(lr, betas, eps, weight_decay, amsgrad, decoupled=True)


# (our class, reference, torch.optim name, keyword arguments); defaults included on purpose.
CASES = [
    (SGD, ref_sgd, "SGD", dict(lr=0.01)),
    (SGD, ref_sgd, "SGD", dict(lr=0.01, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (SGD, ref_sgd, "SGD", dict(lr=0.01, momentum=0.9, nesterov=True)),
    (RMSprop, ref_rmsprop, "RMSprop", {}),
    (RMSprop, ref_rmsprop, "RMSprop", dict(momentum=0.5, centered=True, weight_decay=0.01)),
    (Adagrad, ref_adagrad, "Adagrad", {}),
    (Adagrad, ref_adagrad, "Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    (Adadelta, ref_adadelta, "Adadelta", {}),
    (Adadelta, ref_adadelta, "Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.01)),
    (Adam, ref_adam, "Adam", {}),
    (Adam, ref_adam, "Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.01, amsgrad=True)),
    (AdamW, ref_adamw, "AdamW", {}),
    (AdamW, ref_adamw, "AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
]
IDS = [f"{c[2]}-{i}" for i, c in enumerate(CASES)]
X0 = RNG.normal(size=6)


@pytest.mark.parametrize("cls, ref, torch_name, kwargs", CASES, ids=IDS)
def test_optimizer_matches_its_published_update_rule(cls, ref, torch_name, kwargs):
    opt, rule = cls(**kwargs), ref(**kwargs)
    x, x_ref = X0.copy(), X0.copy()
    for _ in range(5):
        # the same gradient for both (taken at the reference point), so errors cannot compound
        g = lsq(x_ref)[1]
        assert opt.step(x, g.copy())
        x_ref = rule(x_ref, g)
        np.testing.assert_allclose(x, x_ref, rtol=0, atol=1e-12)
    assert opt.t == 5
    opt.reset()
    assert opt.t == 0 and opt.state == {}


@pytest.mark.parametrize("cls, ref, torch_name, kwargs", CASES, ids=IDS)
def test_optimizer_matches_torch_optim(cls, ref, torch_name, kwargs):
    torch = pytest.importorskip("torch")
    w = torch.tensor(X0.copy(), dtype=torch.float64, requires_grad=True)
    topt = getattr(torch.optim, torch_name)([w], **kwargs)
    opt, x = cls(**kwargs), X0.copy()
    for _ in range(5):
        g = lsq(w.detach().numpy())[1]
        w.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
        opt.step(x, g.copy())
        np.testing.assert_allclose(x, w.detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "opt",
    [
        SGD(lr=0.01, momentum=0.9),
        RMSprop(),
        Adagrad(lr=0.1),
        Adadelta(),
        Adam(lr=0.01),
        AdamW(lr=0.01),
    ],
    ids=repr,
)
def test_every_optimizer_reduces_a_convex_loss(opt):
    x = X0.copy()
    start = lsq(x)[0]
    for _ in range(300):
        assert opt.step(x, lsq(x)[1])
    assert lsq(x)[0] < 0.9 * start


def test_optimizer_hyperparameters_and_inputs_are_checked():
    for make, name in [
        (lambda: SGD(lr=-0.1), "lr"),
        (lambda: SGD(lr=0.1, momentum=-1), "momentum"),
        (lambda: RMSprop(alpha=1.5), "alpha"),
        (lambda: Adagrad(eps=-1), "eps"),
        (lambda: Adadelta(rho=2), "rho"),
        (lambda: Adam(betas=(1.0, 0.999)), "betas"),
        (lambda: AdamW(weight_decay=float("nan")), "weight_decay"),
        (lambda: SGD(lr="fast"), "lr"),
    ]:
        with pytest.raises(sb.SymbackpropError, match=name):
            make()
    with pytest.raises(sb.SymbackpropError, match="nesterov"):
        SGD(nesterov=True)
    opt = Adam()
    with pytest.raises(sb.SymbackpropError, match="1-D float64"):
        opt.step([1.0, 2.0], np.zeros(2))
    with pytest.raises(sb.SymbackpropError, match="gradient"):
        opt.step(np.zeros(2), np.zeros(3))
    opt.step(np.zeros(2), np.zeros(2))
    with pytest.raises(sb.SymbackpropError, match="reset"):
        opt.step(np.zeros(3), np.zeros(3))
    assert repr(SGD(lr=0.1)) == (
        "SGD(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)"
    )


def test_a_nonfinite_update_is_reported_by_step():
    x = np.ones(3)
    assert not SGD(lr=1.0).step(x, np.array([0.0, np.nan, 0.0]))


def test_flat_params_views_share_one_vector():
    params = {"W1": np.ones((2, 3)), "b1": np.zeros(2)}
    flat = FlatParams(params)
    assert flat.size == 8
    flat.vector[:] = np.arange(8.0)
    assert np.shares_memory(flat.views["W1"], flat.vector)
    np.testing.assert_array_equal(flat.views["W1"], np.arange(6.0).reshape(2, 3))
    grads = {"W1": np.full((2, 3), 2.0), "b1": np.array([3.0, 4.0])}
    out = flat.flatten_grads(grads, np.empty(8))
    np.testing.assert_array_equal(out, [2, 2, 2, 2, 2, 2, 3, 4])
    W1 = params["W1"]
    flat.write(params)
    assert params["W1"] is W1 and W1[1, 2] == 5.0


# ---- minimize ---------------------------------------------------------------------------------


def test_gradient_descent_on_the_notes_quadratic_stops_at_a_small_gradient(quadratic):
    r = minimize(quadratic, [0.0, 0.0, 0.0], "gd", lr=0.1, tol_f=0.0, tol_grad=1e-8, classify=True)
    assert r.stop_reason == "small gradient" and r.success
    np.testing.assert_allclose(r.x, NOTES_MIN, atol=1e-7)
    assert r.grad_norm < 1e-8 and len(r.history) == r.iterations + 1
    assert r.history[0] == (0.0, math.sqrt(2.0))  # f(0) = 0, grad f(0) = (1, 0, 1)
    fs = [f for f, _ in r.history]
    # lr < 2 / lambda_max: f never increases (beyond rounding)
    assert all(b <= a + 1e-15 for a, b in zip(fs, fs[1:]))
    assert r.fun == pytest.approx(-1.0) and r.point.kind == "minimum"
    np.testing.assert_allclose(r.point.eigenvalues, [2 - math.sqrt(2), 2, 2 + math.sqrt(2)])


def test_each_stopping_rule_fires(quadratic):
    x0 = [0.0, 0.0, 0.0]
    r = minimize(quadratic, x0, "gd", lr=0.1)  # defaults: tol_f=1e-12, tol_grad=1e-6
    assert r.stop_reason == "small change in f"
    assert abs(r.history[-1][0] - r.history[-2][0]) < 1e-12
    np.testing.assert_allclose(r.x, NOTES_MIN, atol=1e-4)

    r = minimize(quadratic, x0, "gd", lr=0.1, max_iter=5)
    assert (r.stop_reason, r.iterations, len(r.history)) == ("max iterations", 5, 6)

    r = minimize(quadratic, NOTES_MIN, "gd")  # already at the minimum
    assert (r.stop_reason, r.iterations) == ("small gradient", 0)

    # lr = 0.9 > 2 / lambda_max = 0.586: the notes' rule undoes the step that raises f
    r = minimize(quadratic, x0, "gd", lr=0.9)
    assert r.stop_reason == "f increased"
    assert r.fun == min(f for f, _ in r.history) and r.fun == quadratic(r.x)
    assert len(r.history) == r.iterations + 1

    seen = []
    r = minimize(
        quadratic, x0, "adam", lr=0.1, callback=lambda k, x, f, gn: seen.append(k) or k == 3
    )
    assert (r.stop_reason, r.iterations, seen) == ("callback", 3, [1, 2, 3])
    assert set(STOP_REASONS) >= {"small gradient", "small change in f", "max iterations"}


def test_backtracking_and_its_failure(quadratic):
    r = minimize(quadratic, [3.0, -2.0, 5.0], "gd", step="backtracking", tol_f=0.0)
    assert r.stop_reason == "small gradient"
    np.testing.assert_allclose(r.x, NOTES_MIN, atol=1e-6)

    class WrongGradient:  # any object with __call__ and value_and_grad works
        def __call__(self, x):
            return float(x @ x)

        def value_and_grad(self, x):
            return float(x @ x), -2 * x  # the sign is wrong: no step decreases f

    r = minimize(WrongGradient(), [1.0, 2.0], "gd", step="backtracking")
    assert r.stop_reason == "line search failed"
    np.testing.assert_array_equal(r.x, [1.0, 2.0])


@pytest.mark.parametrize("method", ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamw"])
def test_minimize_with_each_optimizer_reduces_f(quadratic, method):
    lr = {"sgd": 0.1, "adadelta": 1.0}.get(method, 0.05)
    r = minimize(quadratic, [0.0, 0.0, 0.0], method, lr=lr, max_iter=300)
    assert r.fun < -0.9  # f(x0) = 0, min f = -1
    assert r.method == method


def test_newton_converges_in_one_step_on_a_quadratic(quadratic):
    r = minimize(quadratic, [10.0, -7.0, 3.0], "newton", classify=True)
    assert (r.iterations, r.stop_reason, r.hessian_modifications) == (1, "small gradient", 0)
    np.testing.assert_allclose(r.x, NOTES_MIN, atol=1e-12)
    assert r.point.kind == "minimum"
    r = minimize(quadratic, [10.0, -7.0, 3.0], "newton", step="fixed")
    assert r.iterations == 1


def test_newton_fallback_on_a_nonconvex_start(double_well):
    # H = diag(3x^2 - 1, 2) is indefinite at x = 0.1: plain Newton would head for the saddle
    r = minimize(double_well, [0.1, 1.0], "newton", classify=True, tol_grad=1e-10)
    assert r.hessian_modifications >= 1 and r.stop_reason == "small gradient"
    np.testing.assert_allclose(r.x, [1.0, 0.0], atol=1e-8)
    assert r.point.kind == "minimum"
    # on the line x = 0 no method leaves the saddle; classify says where it stopped
    r = minimize(double_well, [0.0, 1.0], "newton", classify=True)
    assert r.point.kind == "saddle"
    assert "saddle" in repr(r)


def test_nonfinite_values_stop_with_the_iteration_and_last_finite_point():
    x = sp.Symbol("x")
    fn = sb.compile(x - sp.log(x), [x])
    # SGD with lr 10 from 0.5: 10.5, 1.45..., then a negative x where log is nan
    with pytest.raises(NonFiniteError, match="iteration 3") as info:
        minimize(fn, [0.5], "sgd", lr=10.0)
    err = info.value
    assert isinstance(err, sb.SymbackpropError) and err.iteration == 3
    np.testing.assert_allclose(err.x, [0.5 - 10 * (1 - 2) - 10 * (1 - 1 / 10.5)])
    with pytest.raises(NonFiniteError, match="x0"):
        minimize(fn, [-1.0], "gd")


def test_minimize_rejects_bad_arguments(quadratic):
    with pytest.raises(sb.SymbackpropError, match="unknown method"):
        minimize(quadratic, [0, 0, 0], "bfgs")
    with pytest.raises(sb.SymbackpropError, match="lr"):
        minimize(quadratic, [0, 0, 0], "gd", lr=-1)
    with pytest.raises(sb.SymbackpropError, match=r"shape \(3,\)"):
        minimize(quadratic, [0, 0], "gd")
    with pytest.raises(sb.SymbackpropError, match="backtracking"):
        minimize(quadratic, [0, 0, 0], "adam", step="backtracking")
    with pytest.raises(sb.SymbackpropError, match="tol_f"):
        minimize(quadratic, [0, 0, 0], tol_f=-1)


def test_compiled_functions_plug_into_scipy_optimize(quadratic):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    x0 = np.array([2.0, 0.5, -3.0])
    for method, extra in [
        ("BFGS", dict(jac=quadratic.grad)),
        ("Newton-CG", dict(jac=quadratic.grad, hess=quadratic.hessian)),
        ("Newton-CG", dict(jac=quadratic.grad, hessp=quadratic.hvp)),
        ("trust-exact", dict(jac=quadratic.grad, hess=quadratic.hessian)),
    ]:
        r = scipy_optimize.minimize(quadratic, x0, method=method, **extra)
        assert r.success, (method, r.message)
        np.testing.assert_allclose(r.x, NOTES_MIN, atol=1e-5)


# ---- fit ----------------------------------------------------------------------------------------


def blobs(n, seed):
    """Three Gaussian blobs in 4-D with one-hot labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0, 0, 1], [0, 2.0, 0, -1], [0, 0, 2.0, 0]])
    return centers[labels] + 0.7 * rng.normal(size=(n, 4)), np.eye(3)[labels]


@pytest.fixture(scope="module")
def classifier():
    net = sb.Sequential(
        inputs=4, layers=[sb.Dense(8, "tanh"), sb.Dense(3, "softmax")], loss="cross_entropy"
    )
    return net, net.compile()


@pytest.fixture(scope="module")
def data():
    return blobs(160, 1), blobs(80, 2)


def test_fit_reduces_the_loss_and_updates_params_in_place(classifier, data):
    net, model = classifier
    (X, Y), (Xv, Yv) = data
    params = net.init_params(seed=0)
    W1 = params["W1"]
    before = evaluate(model, params, Xv, Yv)
    h = fit(model, params, X, Y, optimizer=Adam(lr=0.02), epochs=15, batch_size=16,
            validation=(Xv, Yv), progress=False)  # fmt: skip
    assert len(h.loss) == len(h.accuracy) == len(h.val_loss) == len(h.val_accuracy) == 15
    assert h.epochs == 15 and h.stop_reason == "epochs done" and h.steps == 15 * 10
    assert h.samples == 15 * 160 and h.samples_per_second > 0
    assert h.loss[-1] < 0.5 * h.loss[0]
    after = evaluate(model, params, Xv, Yv)
    assert after["loss"] < 0.5 * before["loss"] and after["accuracy"] >= 0.9
    assert params["W1"] is W1  # the caller's arrays were written in place
    assert h.val_loss[-1] == pytest.approx(after["loss"], rel=1e-12)
    assert h.best_epoch == 1 + int(np.argmin(h.val_loss)) and h.monitor == "val_loss"
    labels = predict(model, params, Xv)
    assert labels.shape == (80,) and labels.dtype.kind == "i"
    assert after["accuracy"] == np.mean(labels == Yv.argmax(1))
    assert predict(model, params, Xv, task="raw").shape == (80, 3)


def test_fit_is_deterministic_and_batches_cover_the_data(classifier, data):
    net, model = classifier
    (X, Y), _ = data
    runs = []
    for _ in range(2):
        params = net.init_params(seed=3)
        fit(model, params, X, Y, optimizer="sgd", epochs=2, batch_size=50, seed=7, progress=False)
        runs.append(params)
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])
    # shuffle=False and one batch of everything: one full-batch SGD step per epoch
    params = net.init_params(seed=3)
    expect = {k: v.copy() for k, v in params.items()}
    _, grads = model.loss_and_grad(expect, X, Y)
    expect = {k: v - 0.5 * grads[k] for k, v in expect.items()}
    fit(model, params, X, Y, optimizer=SGD(lr=0.5), epochs=1, batch_size=1000, shuffle=False,
        progress=False)  # fmt: skip
    for k in params:
        np.testing.assert_allclose(params[k], expect[k], rtol=0, atol=1e-14)


def test_early_stopping_triggers_and_restores_the_best_params(classifier, data):
    net, model = classifier
    (X, Y), (Xv, _) = data
    Yv = np.eye(3)[np.random.default_rng(5).integers(0, 3, len(Xv))]  # labels unrelated to X
    params = net.init_params(seed=0)
    h = fit(model, params, X, Y, optimizer=Adam(lr=0.05), epochs=100, batch_size=16,
            validation=(Xv, Yv), early_stopping=3, progress=False)  # fmt: skip
    assert h.stop_reason == "early stopping" and h.epochs < 100
    assert h.epochs == h.best_epoch + 3
    assert h.best == min(h.val_loss) == h.val_loss[h.best_epoch - 1]
    assert model.loss(params, Xv, Yv) == pytest.approx(h.best, rel=1e-12)
    with pytest.raises(sb.SymbackpropError, match="validation"):
        fit(model, params, X, Y, early_stopping=2, progress=False)
    with pytest.raises(sb.SymbackpropError, match=r"'accuracy'.*\(train_accuracy=False\)"):
        fit(model, params, X, Y, early_stopping=2, monitor="accuracy", train_accuracy=False,
            progress=False)  # fmt: skip


def test_a_nonfinite_loss_names_epoch_and_step_and_keeps_the_last_good_params(classifier, data):
    net, model = classifier
    (X, Y), _ = data
    X = X.copy()
    X[25] = np.nan  # in the third minibatch of 10 (no shuffling)
    params = net.init_params(seed=0)
    with pytest.raises(NonFiniteError, match=r"epoch 1, step 3 of 16") as info:
        fit(model, params, X, Y, optimizer=SGD(lr=0.1), epochs=2, batch_size=10, shuffle=False,
            progress=False)  # fmt: skip
    err = info.value
    assert (err.epoch, err.step) == (1, 3) and err.history.epochs == 0
    # the last good parameters: after step 1 (step 2's update led to the non-finite loss)
    expect = net.init_params(seed=0)
    fit(model, expect, X[:10], Y[:10], optimizer=SGD(lr=0.1), epochs=1, batch_size=10,
        shuffle=False, progress=False)  # fmt: skip
    for k in params:
        assert np.all(np.isfinite(params[k]))
        np.testing.assert_array_equal(params[k], expect[k])
        np.testing.assert_array_equal(err.params[k], expect[k])


def test_a_diverging_run_stops_with_finite_params(classifier, data):
    net, model = classifier
    (X, Y), _ = data
    params = net.init_params(seed=0)
    # step 1 gives parameters near 1e307 (finite), whose loss overflows to inf at step 2
    with pytest.raises(NonFiniteError, match="epoch 1, step 2 of 5: the training loss is inf"):
        fit(model, params, X, Y, optimizer=SGD(lr=1e308), epochs=1, shuffle=False, progress=False)
    for k, v in net.init_params(seed=0).items():
        np.testing.assert_array_equal(params[k], v)


def test_progress_bar_turns_itself_off_without_a_terminal(classifier, data, capsys):
    pytest.importorskip("tqdm")
    net, model = classifier
    (X, Y), _ = data
    fit(model, net.init_params(0), X, Y, epochs=1)  # pytest's stderr is not a terminal
    assert capsys.readouterr().err == ""
    fit(model, net.init_params(0), X, Y, epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "sample" in err and "loss=" in err and "320/320" in err


def test_fit_rejects_bad_arguments(classifier, data):
    net, model = classifier
    (X, Y), _ = data
    params = net.init_params(0)
    with pytest.raises(sb.SymbackpropError, match="rows"):
        fit(model, params, X, Y[:-1])
    with pytest.raises(sb.SymbackpropError, match="batch_size"):
        fit(model, params, X, Y, batch_size=0)
    with pytest.raises(sb.SymbackpropError, match="unknown optimizer"):
        fit(model, params, X, Y, optimizer="lbfgs")
    with pytest.raises(sb.SymbackpropError, match="missing b2"):
        fit(model, {k: v for k, v in params.items() if k != "b2"}, X, Y)
    with pytest.raises(sb.SymbackpropError, match="W1 must have shape"):
        fit(model, {**params, "W1": np.zeros((2, 2))}, X, Y)


def test_trained_params_run_in_a_standalone_module_without_symbackprop(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    Y = (X[:, :1] * X[:, 1:] > 0).astype(float)
    net = sb.Sequential(
        inputs=2, layers=[sb.Dense(6, "tanh"), sb.Dense(1, "sigmoid")], loss="binary_cross_entropy"
    )
    model, params = net.compile(), net.init_params(seed=0)
    h = fit(model, params, X, Y, optimizer=Adam(lr=0.05), epochs=40, batch_size=16, progress=False)
    assert h.accuracy[-1] > 0.85
    labels = predict(model, params, X)  # one sigmoid output: 0/1
    assert set(np.unique(labels)) <= {0, 1} and labels.shape == (120,)
    model.save(tmp_path / "xor_net.py")
    save_params(tmp_path / "xor_params.npz", params)
    loaded = load_params(tmp_path / "xor_params.npz")
    assert list(loaded) == ["W1", "b1", "W2", "b2"]
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(
        """
        import sys
        sys.modules["sympy"] = None
        sys.modules["symbackprop"] = None
        import numpy as np
        import xor_net
        p = np.load("xor_params.npz")
        Y_hat = xor_net.forward(*[p[k] for k in xor_net.PARAM_NAMES], np.load("X.npy"))
        np.save("labels.npy", (Y_hat[:, 0] > 0.5).astype(np.int64))
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True, timeout=300)
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), labels)
    with pytest.raises(sb.SymbackpropError, match=".npz"):
        save_params(tmp_path / "p.txt", params)
