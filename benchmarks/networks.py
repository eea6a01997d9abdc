"""Network benchmarks: symbackprop's compiled networks against hand-written Numba, JAX and PyTorch.

    python -m benchmarks.networks                # full run, about a minute from a cold cache
    python -m benchmarks.networks --quick        # smoke run: fewer repeats, shorter loops
    python -m benchmarks.networks --only hessian # one table (repeatable, or comma-separated)

Tables (see benchmarks/README.md for how to read them):

* ``small``   -- 64-32-10, sigmoid hidden layer, softmax + cross-entropy, batch 1 and 32:
                 per-call ``model.loss_and_grad`` (forward + backward).
* ``mnist``   -- 784-256-128-10, relu/relu/softmax + cross-entropy, batch 128: the same.
* ``hessian`` -- exact (P, P) Hessians: L2-regularised logistic regression (51 parameters,
                 500 samples) against its closed form, and a 2-8-1 tanh network with mse loss
                 (33 parameters, 16 samples) against a hand-written Hessian.
* ``compile`` -- 784-256-128-10: ``net.compile()`` and first-call (Numba) wall time in a fresh
                 process with an empty cache, then in a second process on that cache; generated
                 source size for 4-3-2, 784-256-128-10 and 784-256-128-64-10.

Every time is a median over interleaved repeats of a timeit-style loop (benchmarks/_timing.py),
and each comparison is a ratio measured in the same run. Absolute times depend on the machine;
read the ratios. Thread settings, table style and JSON output are those of benchmarks.scalar.
"""

from __future__ import annotations

import math
from pathlib import Path

from ._timing import fmt_ratio, fmt_time, pin_threads, run_child, wall

# Single-threaded everything, for a fair per-call comparison: the same settings as
# benchmarks/scalar.py. Must precede the imports of NumPy, Numba, PyTorch and JAX (they read
# the settings once, at import).
pin_threads()

import numba as nb  # noqa: E402
import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

import symbackprop as sb  # noqa: E402

from . import _suite  # noqa: E402
from ._suite import (  # noqa: E402
    agrees,
    error_cells,
    progress,
    record_timings,
    render_table,
    short_error,
    time_cell,
    verdict,
)

# Targets: symbackprop / hand-written Numba, per call.
SMALL_TARGETS = {1: 1.3, 32: 1.2}
MNIST_TARGET = 1.1
LOGREG_TARGET = 1.3
TANH_TARGET = 1.5
# Compile targets (seconds).
COMPILE_TARGET = 1.0  # net.compile(), cold: derive + optimize + print (+ write/import)
COLD_TOTAL_TARGET = 5.0  # net.compile() + first loss_and_grad (Numba cold compile)
WARM_TOTAL_TARGET = 0.5  # the same in a second process on the same cache

LOGREG_L2 = 0.01


# ============================================================================ session


class Session(_suite.Session):
    def __init__(self, cfg: _suite.Config):
        super().__init__(cfg)
        self.models: dict[str, object] = {}

    def describe(self, exc: BaseException) -> str:
        return short_error(exc)  # Numba's errors run to pages

    def compile(self, key: str, net):
        if key not in self.models:
            progress(f"net.compile {key}")
            self.models[key] = net.compile(cache_dir=self.cfg.run_cache)
        return self.models[key]


# ============================================================================ networks and data


def make_net(sizes, acts, loss, l2=0.0):
    return sb.Sequential(
        inputs=sizes[0], layers=[sb.Dense(u, a) for u, a in zip(sizes[1:], acts)], loss=loss, l2=l2
    )


def classification_data(n_in: int, n_out: int, batch: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, n_in))
    Y = np.eye(n_out)[rng.integers(0, n_out, batch)]
    return X, Y


def random_params(net, seed: int, scale: float | None = None) -> dict[str, np.ndarray]:
    """init_params(seed), with random biases (so bias gradients are not trivially structured);
    every entry replaced by N(0, scale^2) when ``scale`` is given."""
    params = net.init_params(seed=seed)
    rng = np.random.default_rng(seed + 1)
    out = {}
    for k, v in params.items():
        if scale is not None:
            out[k] = rng.normal(0.0, scale, v.shape)
        elif k.startswith("b"):
            out[k] = v + rng.normal(0.0, 0.1, v.shape)
        else:
            out[k] = v.copy()
    return out


# ---------------------------------------------------------------- hand-written Numba references
# Written from the matrix-form backprop equations: BLAS products through np.dot, element-wise
# work as fused loops. Each is checked against symbackprop before it is timed.


@nb.njit(cache=False, error_model="numpy")
def _softmax_ce_backward(Z, b, Y):
    """Adds b to Z's rows in place; returns (mean cross-entropy, dZ = (softmax(Z) - Y) / m)."""
    m, k = Z.shape
    inv_m = 1.0 / m
    dZ = np.empty((m, k))
    loss = 0.0
    for i in range(m):
        top = -np.inf
        for j in range(k):
            z = Z[i, j] + b[j]
            Z[i, j] = z
            if z > top:
                top = z
        total = 0.0
        yz = 0.0
        for j in range(k):
            e = math.exp(Z[i, j] - top)
            dZ[i, j] = e
            total += e
            yz += Y[i, j] * Z[i, j]
        loss += top + math.log(total) - yz
        inv_total = 1.0 / total
        for j in range(k):
            dZ[i, j] = (dZ[i, j] * inv_total - Y[i, j]) * inv_m
    return loss * inv_m, dZ


@nb.njit(cache=False, error_model="numpy")
def _colsum(A):
    m, k = A.shape
    out = np.zeros(k)
    for i in range(m):
        for j in range(k):
            out[j] += A[i, j]
    return out


@nb.njit(cache=False, error_model="numpy")
def ref_sigmoid_softmax(W1, b1, W2, b2, X, Y):
    """64-32-10 sigmoid -> softmax, cross-entropy: (loss, dW1, db1, dW2, db2)."""
    Z1 = np.dot(X, W1.T)
    m, h = Z1.shape
    A1 = np.empty((m, h))
    for i in range(m):
        for j in range(h):
            z = Z1[i, j] + b1[j]
            if z >= 0.0:
                A1[i, j] = 1.0 / (1.0 + math.exp(-z))
            else:
                e = math.exp(z)
                A1[i, j] = e / (1.0 + e)
    Z2 = np.dot(A1, W2.T)
    loss, dZ2 = _softmax_ce_backward(Z2, b2, Y)
    dW2 = np.dot(dZ2.T, A1)
    db2 = _colsum(dZ2)
    dZ1 = np.dot(dZ2, W2)  # dA1, turned into dZ1 in place
    for i in range(m):
        for j in range(h):
            a = A1[i, j]
            dZ1[i, j] *= a * (1.0 - a)
    dW1 = np.dot(dZ1.T, X)
    db1 = _colsum(dZ1)
    return loss, dW1, db1, dW2, db2


@nb.njit(cache=False, error_model="numpy")
def _bias_relu(Z, b):
    m, k = Z.shape
    for i in range(m):
        for j in range(k):
            z = Z[i, j] + b[j]
            Z[i, j] = z if z > 0.0 else 0.0
    return Z


@nb.njit(cache=False, error_model="numpy")
def _relu_backward(dA, A):
    """dA * relu'(Z) in place, with relu'(0) = 0: A > 0 exactly where Z > 0."""
    m, k = dA.shape
    for i in range(m):
        for j in range(k):
            if not A[i, j] > 0.0:
                dA[i, j] = 0.0
    return dA


@nb.njit(cache=False, error_model="numpy")
def ref_relu_relu_softmax(W1, b1, W2, b2, W3, b3, X, Y):
    """784-256-128-10 relu -> relu -> softmax, cross-entropy: (loss, dW1, db1, ..., db3)."""
    A1 = _bias_relu(np.dot(X, W1.T), b1)
    A2 = _bias_relu(np.dot(A1, W2.T), b2)
    Z3 = np.dot(A2, W3.T)
    loss, dZ3 = _softmax_ce_backward(Z3, b3, Y)
    dW3 = np.dot(dZ3.T, A2)
    db3 = _colsum(dZ3)
    dZ2 = _relu_backward(np.dot(dZ3, W3), A2)
    dW2 = np.dot(dZ2.T, A1)
    db2 = _colsum(dZ2)
    dZ1 = _relu_backward(np.dot(dZ2, W2), A1)
    dW1 = np.dot(dZ1.T, X)
    db1 = _colsum(dZ1)
    return loss, dW1, db1, dW2, db2, dW3, db3


@nb.njit(cache=False, error_model="numpy")
def ref_logreg_hessian(W1, b1, X, Y, lam):
    """Closed-form Hessian of mean BCE(sigmoid(X w + b), y) + lam |w|^2 over (w, b):
    [X 1]^T diag(s (1 - s) / m) [X 1] + 2 lam I on the weights block."""
    m, n = X.shape
    z = np.dot(X, W1[0])
    d = np.empty(m)
    Xd = np.empty((m, n))
    dsum = 0.0
    for i in range(m):
        zi = z[i] + b1[0]
        if zi >= 0.0:
            s = 1.0 / (1.0 + math.exp(-zi))
        else:
            e = math.exp(zi)
            s = e / (1.0 + e)
        di = s * (1.0 - s) / m
        d[i] = di
        dsum += di
        for j in range(n):
            Xd[i, j] = X[i, j] * di
    H = np.empty((n + 1, n + 1))
    H[:n, :n] = np.dot(Xd.T, X)
    for j in range(n):
        H[j, j] += 2.0 * lam
        c = 0.0
        for i in range(m):
            c += Xd[i, j]
        H[j, n] = c
        H[n, j] = c
    H[n, n] = dsum
    return H


@nb.njit(cache=False, error_model="numpy")
def ref_tanh_mse_hessian(W1, b1, W2, b2, X, Y):
    """Hessian of mean (yhat - y)^2, yhat = W2 tanh(W1 x + b1) + b2 (one output), over
    (W1 C-order, b1, W2, b2): (2/m) sum_i [g_i g_i^T + r_i d2yhat_i], with G = rows g_i (BLAS)
    and the sparse second-derivative term of yhat added per hidden unit."""
    m, n = X.shape
    h = W1.shape[0]
    nw1 = h * n
    oW2 = nw1 + h
    P = oW2 + h + 1
    c = 2.0 / m
    G = np.empty((m, P))
    A = np.empty(h)
    D = np.empty(h)
    R = np.empty(m)
    for i in range(m):
        yhat = b2[0]
        for j in range(h):
            u = b1[j]
            for k in range(n):
                u += W1[j, k] * X[i, k]
            a = math.tanh(u)
            A[j] = a
            D[j] = 1.0 - a * a
            yhat += W2[0, j] * a
        R[i] = c * (yhat - Y[i, 0])
        for j in range(h):
            vd = W2[0, j] * D[j]
            for k in range(n):
                G[i, j * n + k] = vd * X[i, k]
            G[i, nw1 + j] = vd
            G[i, oW2 + j] = A[j]
        G[i, P - 1] = 1.0
    H = np.dot(G.T, G)
    for p in range(P):
        for q in range(P):
            H[p, q] *= c
    # r_i d2yhat: per hidden unit j, over its inputs' weights, its bias (input 1) and W2[0, j]
    for i in range(m):
        r = R[i]
        for j in range(h):
            u = b1[j]  # a_j and D_j again, for sample i
            for k in range(n):
                u += W1[j, k] * X[i, k]
            a = math.tanh(u)
            dj = 1.0 - a * a
            curv = r * W2[0, j] * (-2.0 * a * dj)  # r * v_j * tanh''(u)
            for k in range(n + 1):
                xk = X[i, k] if k < n else 1.0
                p = j * n + k if k < n else nw1 + j
                for l in range(n + 1):
                    xl = X[i, l] if l < n else 1.0
                    q = j * n + l if l < n else nw1 + j
                    H[p, q] += curv * xk * xl
                cross = r * dj * xk
                H[p, oW2 + j] += cross
                H[oW2 + j, p] += cross
    return H


# ---------------------------------------------------------------- the same losses for JAX / torch


def array_loss(fw: str, mod, acts, loss: str, l2: float = 0.0):
    """loss(params_tuple, X, Y) for framework ``fw`` ("jax" or "torch"); ``mod`` is jnp or
    torch. The last layer's softmax/sigmoid is fused into its loss (as log-sum-exp / softplus)."""
    if fw == "jax":
        import jax

        fns = {
            "sigmoid": jax.nn.sigmoid,
            "relu": jax.nn.relu,
            "tanh": mod.tanh,
            "linear": lambda z: z,
        }
        logsumexp = lambda z: jax.scipy.special.logsumexp(z, axis=1)  # noqa: E731
        softplus = jax.nn.softplus
    else:
        fns = {"sigmoid": mod.sigmoid, "relu": mod.relu, "tanh": mod.tanh, "linear": lambda z: z}
        logsumexp = lambda z: mod.logsumexp(z, 1)  # noqa: E731
        softplus = mod.nn.functional.softplus

    def f(params, X, Y):
        A = X
        Z = None
        for l, act in enumerate(acts):
            W, b = params[2 * l], params[2 * l + 1]
            Z = A @ W.T + b
            last = l == len(acts) - 1
            if last and (act, loss) in (
                ("softmax", "cross_entropy"),
                ("sigmoid", "binary_cross_entropy"),
            ):
                break
            A = fns[act](Z)
        if loss == "cross_entropy":
            value = (logsumexp(Z) - (Y * Z).sum(1)).mean()
        elif loss == "binary_cross_entropy":
            value = (softplus(Z) - Y * Z).mean()
        elif loss == "mse":
            value = ((A - Y) ** 2).mean()
        else:
            raise ValueError(loss)
        if l2:
            value = value + l2 * sum((params[2 * l] ** 2).sum() for l in range(len(acts)))
        return value

    return f


# ============================================================================ table: per call

PER_CALL_HEADERS = [
    "network",
    "batch",
    "symbackprop",
    "numba ref",
    "sb/ref",
    "target",
    "ok?",
    "sb kernel*",
    "kernel/ref",
    "jax.jit",
    "jax/sb",
    "torch eager",
    "torch/sb",
    "noise",
    "sb 1st call [incl. Numba]",
]
PER_CALL_RATIOS = {
    "sb/ref": ("symbackprop", "numba ref"),
    "kernel/ref": ("sb kernel", "numba ref"),
    "jax/sb": ("jax.jit", "symbackprop"),
    "torch/sb": ("torch eager", "symbackprop"),
}


def _kernel_call(model, arrays, X, Y):
    """The generated module's raw Numba kernel, without symbackprop's wrapper (a diagnostic,
    not the public API): None where the loader's internals are not as expected."""
    kern = getattr(getattr(model, "_first", None), "_loss_and_grad", None)
    if kern is None:
        return None
    return lambda: kern(*arrays, X, Y)


def loss_grad_row(s: Session, label: str, net, model, acts, params, X, Y, ref, target) -> dict:
    """Median per-call time of model.loss_and_grad and its peers, timed interleaved."""
    names = list(params)
    arrays = [params[k] for k in names]
    row = {"network": label, "batch": X.shape[0], "target": target, "status": {}}
    try:
        (loss, grads), first = wall(lambda: model.loss_and_grad(params, X, Y))
    except Exception as exc:
        s.note(f"model.loss_and_grad failed for {label} batch {X.shape[0]}: {short_error(exc)}")
        row["error"] = short_error(exc)
        return row
    row["sb_first_call_s"] = first
    expected = [loss] + [grads[k] for k in names]
    if sorted(grads) != sorted(names) or any(grads[k].shape != params[k].shape for k in names):
        s.note(f"{label}: loss_and_grad's dict keys/shapes differ from the parameters'")
    fns = {"symbackprop": lambda: model.loss_and_grad(params, X, Y)}

    def disagreement(got):
        bad = [i for i, (g, e) in enumerate(zip(got, expected)) if not agrees(g, e)]
        if len(got) == len(expected) and not bad:
            return None
        what = ", ".join(("loss" if i == 0 else "d" + names[i - 1]) for i in bad)
        err = (
            max(float(np.max(np.abs(np.asarray(got[i]) - expected[i]))) for i in bad)
            if bad
            else float("nan")
        )
        return f"{what}; max abs diff {err:.3g}"

    def check(name, make):
        s.admit(row, fns, name, make, disagreement, where=f"{label} batch {X.shape[0]}")

    check("numba ref", lambda: ((lambda: ref(*arrays, X, Y)), (lambda: ref(*arrays, X, Y))))
    kcall = _kernel_call(model, arrays, X, Y)
    if kcall is not None:
        check("sb kernel", lambda: (kcall, kcall))
    else:
        row["status"]["sb kernel"] = "n/a"
    peers = s.peers
    if peers.jax:

        def make_jax():
            jax, jnp = peers.jax, peers.jnp
            f = jax.jit(jax.value_and_grad(array_loss("jax", jnp, acts, net.loss, net.l2)))
            pj = tuple(jnp.asarray(a) for a in arrays)
            Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

            def result():
                v, g = f(pj, Xj, Yj)
                return [float(v)] + [np.asarray(x) for x in g]

            return (lambda: jax.block_until_ready(f(pj, Xj, Yj))), result

        check("jax.jit", make_jax)
    if peers.torch:

        def make_torch():
            torch = peers.torch
            f = array_loss("torch", torch, acts, net.loss, net.l2)
            pt = tuple(torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays)
            Xt = torch.tensor(X, dtype=torch.float64)
            Yt = torch.tensor(Y, dtype=torch.float64)

            def call():
                value = f(pt, Xt, Yt)
                return value, torch.autograd.grad(value, pt)

            def result():
                v, g = call()
                return [float(v.detach())] + [x.detach().numpy() for x in g]

            return call, result

        check("torch eager", make_torch)

    progress(f"timing {label} batch {X.shape[0]}: {', '.join(fns)}")
    record_timings(row, s.compare(fns), PER_CALL_RATIOS)
    return row


def loss_grad_cells(row: dict) -> list[str]:
    head = [row["network"], str(row["batch"])]
    if "timings" not in row:
        return error_cells(head, PER_CALL_HEADERS)
    r = row["ratios"]
    return head + [
        time_cell(row, "symbackprop"),
        time_cell(row, "numba ref"),
        fmt_ratio(r["sb/ref"]),
        f"<={row['target']:g}",
        verdict(r["sb/ref"], row["target"]),
        time_cell(row, "sb kernel"),
        fmt_ratio(r["kernel/ref"]),
        time_cell(row, "jax.jit"),
        fmt_ratio(r["jax/sb"]),
        time_cell(row, "torch eager"),
        fmt_ratio(r["torch/sb"]),
        f"{100 * row['noise_iqr_rel_max']:.0f}%",
        fmt_time(row["sb_first_call_s"]),
    ]


KERNEL_FOOTNOTE = (
    "* sb kernel: the generated module's raw @njit _loss_and_grad called with positional arrays "
    "(no dict\n  validation, no result dict): a diagnostic of the kernel alone. The target "
    "column is for the public\n  model.loss_and_grad(params, X, Y), which includes that "
    "wrapper."
)


def table_small(s: Session) -> dict:
    sizes, acts = (64, 32, 10), ("sigmoid", "softmax")
    net = make_net(sizes, acts, "cross_entropy")
    label = "64-32-10 sigmoid/softmax CE"
    try:
        model = s.compile("small", net)
    except Exception as exc:
        s.note(f"net.compile failed for {label}: {short_error(exc)}")
        rows = [{"network": label, "batch": b, "error": short_error(exc)} for b in SMALL_TARGETS]
        return {"title": "", "text": "ERROR", "rows": rows}
    params = random_params(net, seed=0)
    rows = []
    for batch, target in SMALL_TARGETS.items():
        X, Y = classification_data(64, 10, batch, seed=batch)
        rows.append(
            loss_grad_row(s, label, net, model, acts, params, X, Y, ref_sigmoid_softmax, target)
        )
    text = render_table(PER_CALL_HEADERS, [loss_grad_cells(r) for r in rows])
    return {
        "title": "64-32-10 network: per-call forward + backward, model.loss_and_grad",
        "text": text + "\n" + KERNEL_FOOTNOTE,
        "rows": rows,
    }


def table_mnist(s: Session) -> dict:
    sizes, acts = (784, 256, 128, 10), ("relu", "relu", "softmax")
    net = make_net(sizes, acts, "cross_entropy")
    label = "784-256-128-10 relu/relu/softmax CE"
    try:
        model = s.compile("mnist", net)
    except Exception as exc:
        s.note(f"net.compile failed for {label}: {short_error(exc)}")
        return {
            "title": "",
            "text": "ERROR",
            "rows": [{"network": label, "error": short_error(exc)}],
        }
    params = random_params(net, seed=1)
    X, Y = classification_data(784, 10, 128, seed=128)
    rows = [
        loss_grad_row(s, label, net, model, acts, params, X, Y, ref_relu_relu_softmax, MNIST_TARGET)
    ]
    text = render_table(PER_CALL_HEADERS, [loss_grad_cells(r) for r in rows])
    return {
        "title": "784-256-128-10 network (BLAS-bound): per-call forward + backward, "
        "model.loss_and_grad",
        "text": text + "\n" + KERNEL_FOOTNOTE,
        "rows": rows,
    }


# ============================================================================ table: Hessians

HESSIAN_HEADERS = [
    "problem",
    "P",
    "symbackprop",
    "hand-written",
    "sb/ref",
    "target",
    "ok?",
    "jax.jit",
    "jax/sb",
    "torch.func",
    "torch/sb",
    "jax/ref",
    "torch/ref",
    "noise",
    "sb 1st call [incl. codegen+Numba]",
]
HESSIAN_RATIOS = {
    "sb/ref": ("symbackprop", "hand-written"),
    "jax/sb": ("jax.jit", "symbackprop"),
    "torch/sb": ("torch.func", "symbackprop"),
    "jax/ref": ("jax.jit", "hand-written"),
    "torch/ref": ("torch.func", "hand-written"),
}


def hessian_row(
    s: Session, label: str, net, model, acts, params, X, Y, ref_call, target, ref_name: str
) -> dict:
    names = list(params)
    arrays = [params[k] for k in names]
    shapes = [a.shape for a in arrays]
    sizes = [a.size for a in arrays]
    P = sum(sizes)
    row = {"problem": label, "P": P, "target": target, "reference": ref_name, "status": {}}
    fns = {}
    # The Hessian every implementation is checked against: symbackprop's; if model.hessian
    # fails, the first implementation that runs (the hand-written one), confirmed by the peers.
    baseline = {"H": None, "name": None}
    try:
        H, first = wall(lambda: model.hessian(params, X, Y))
        H = np.asarray(H)
        row["sb_first_call_s"] = first
        row["status"]["symbackprop"] = "ok"
        baseline.update(H=H, name="symbackprop")
        fns["symbackprop"] = lambda: model.hessian(params, X, Y)
        if H.shape != (P, P):
            s.note(f"{label}: model.hessian has shape {H.shape}, expected {(P, P)}")
        elif not np.allclose(H, H.T, rtol=1e-10, atol=1e-12):
            s.note(
                f"{label}: model.hessian is not symmetric "
                f"(max |H - H^T| {float(np.max(np.abs(H - H.T))):.3g})"
            )
    except Exception as exc:
        s.note(f"model.hessian FAILED for {label}: {short_error(exc)}")
        row["error"] = short_error(exc)
        row["status"]["symbackprop"] = "ERROR"

    def check(name, make):
        against = baseline["name"]

        def disagreement(got):
            got = np.asarray(got)
            if against is None:  # nothing to check it against: it becomes the baseline
                baseline.update(H=got, name=name)
                return None
            want = baseline["H"]
            if agrees(got, want):
                return None
            err = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("nan")
            return f"shape {got.shape}, max abs diff {err:.3g}"

        subject = f"{name} Hessian"
        if not s.admit(
            row, fns, name, make, disagreement, where=label, subject=subject, against=against
        ):
            return
        if against is None:
            row["status"][name] = "unconfirmed"
        elif row["status"].get(against) == "unconfirmed":
            row["status"][against] = f"verified by {name}"

    if ref_call is not None:
        check("hand-written", lambda: (ref_call, ref_call))
    else:
        row["status"]["hand-written"] = "none"
    theta = np.concatenate([a.ravel() for a in arrays])

    def unflatten(t):
        out, start = [], 0
        for shape, size in zip(shapes, sizes):
            out.append(t[start : start + size].reshape(shape))
            start += size
        return tuple(out)

    peers = s.peers
    if peers.jax:

        def make_jax():
            jax, jnp = peers.jax, peers.jnp
            f = array_loss("jax", jnp, acts, net.loss, net.l2)
            Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
            h = jax.jit(jax.hessian(lambda t: f(unflatten(t), Xj, Yj)))
            tj = jnp.asarray(theta)
            return (lambda: h(tj).block_until_ready()), (lambda: np.asarray(h(tj)))

        check("jax.jit", make_jax)
    if peers.torch:

        def make_torch():
            torch = peers.torch
            f = array_loss("torch", torch, acts, net.loss, net.l2)
            Xt = torch.tensor(X, dtype=torch.float64)
            Yt = torch.tensor(Y, dtype=torch.float64)
            h = torch.func.hessian(lambda t: f(unflatten(t), Xt, Yt))
            tt = torch.tensor(theta, dtype=torch.float64)
            return (lambda: h(tt)), (lambda: h(tt).detach().numpy())

        check("torch.func", make_torch)

    if baseline["name"] != "symbackprop" and baseline["name"] is not None:
        s.note(
            f"{label}: without symbackprop's Hessian, the others were checked against "
            f"{baseline['name']} ({row['status'][baseline['name']]})"
        )
    if not fns:
        return row
    progress(f"timing Hessian {label}: {', '.join(fns)}")
    record_timings(row, s.compare(fns), HESSIAN_RATIOS)
    return row


def hessian_cells(row: dict) -> list[str]:
    head = [row["problem"], str(row.get("P", "-"))]
    if "timings" not in row:
        return error_cells(head, HESSIAN_HEADERS)
    r = row["ratios"]
    ok = verdict(r["sb/ref"], row["target"])
    if "symbackprop" not in row["timings"]:
        ok = "FAIL"
    return head + [
        time_cell(row, "symbackprop"),
        time_cell(row, "hand-written"),
        fmt_ratio(r["sb/ref"]),
        f"<={row['target']:g}",
        ok,
        time_cell(row, "jax.jit"),
        fmt_ratio(r["jax/sb"]),
        time_cell(row, "torch.func"),
        fmt_ratio(r["torch/sb"]),
        fmt_ratio(r["jax/ref"]),
        fmt_ratio(r["torch/ref"]),
        f"{100 * row['noise_iqr_rel_max']:.0f}%",
        fmt_time(row.get("sb_first_call_s")),
    ]


def table_hessian(s: Session) -> dict:
    rows = []
    # (a) L2-regularised logistic regression: 50 features + bias, 500 samples.
    label = f"logistic regression 50+1, m=500, l2={LOGREG_L2:g}"
    acts = ("sigmoid",)
    net = make_net((50, 1), acts, "binary_cross_entropy", l2=LOGREG_L2)
    rng = np.random.default_rng(50)
    X = rng.normal(size=(500, 50))
    params = random_params(net, seed=50, scale=0.3)
    true_w = rng.normal(size=50) * 0.3
    Y = (rng.uniform(size=(500, 1)) < 1.0 / (1.0 + np.exp(-(X @ true_w))[:, None])).astype(float)
    try:
        model = s.compile("logreg", net)
        W1, b1 = params["W1"], params["b1"]
        rows.append(
            hessian_row(
                s,
                label,
                net,
                model,
                acts,
                params,
                X,
                Y,
                lambda: ref_logreg_hessian(W1, b1, X, Y, LOGREG_L2),
                LOGREG_TARGET,
                "closed form",
            )
        )
    except Exception as exc:
        s.note(f"Hessian table, {label}: {short_error(exc)}")
        rows.append({"problem": label, "error": short_error(exc)})

    # (b) 2-8-1 tanh hidden layer, linear output, mse, 16 samples.
    label = "2-8-1 tanh/linear mse, m=16"
    acts = ("tanh", "linear")
    net = make_net((2, 8, 1), acts, "mse")
    rng = np.random.default_rng(281)
    X = rng.normal(size=(16, 2))
    Y = np.sin(X[:, :1]) + 0.1 * rng.normal(size=(16, 1))
    params = random_params(net, seed=281, scale=0.7)
    try:
        model = s.compile("tanh", net)
        arr = [params[k] for k in params]
        rows.append(
            hessian_row(
                s,
                label,
                net,
                model,
                acts,
                params,
                X,
                Y,
                lambda: ref_tanh_mse_hessian(*arr, X, Y),
                TANH_TARGET,
                "hand-written",
            )
        )
    except Exception as exc:
        s.note(f"Hessian table, {label}: {short_error(exc)}")
        rows.append({"problem": label, "error": short_error(exc)})

    text = render_table(HESSIAN_HEADERS, [hessian_cells(r) for r in rows])
    text += (
        "\n  symbackprop: model.hessian(params, X, Y), (P, P) in init_params order (W1, b1, "
        "...). jax: jax.jit(jax.hessian(f)) and\n  torch: torch.func.hessian(f), both of f "
        "over the same parameters flattened into one vector."
    )
    return {"title": "Exact Hessians over all parameters", "text": text, "rows": rows}


# ============================================================================ table: compile scale

CHILD_SCRIPT = r"""
import json, os, sys, time
t0 = time.perf_counter()
import numpy as np
import symbackprop as sb
t_import = time.perf_counter() - t0
cfg = json.loads(sys.argv[1])
sizes, acts = cfg["sizes"], cfg["acts"]
net = sb.Sequential(inputs=sizes[0], layers=[sb.Dense(u, a) for u, a in zip(sizes[1:], acts)],
                    loss=cfg["loss"])
t = time.perf_counter()
model = net.compile(cache_dir=cfg["cache"])
t_compile = time.perf_counter() - t
stages_compile = dict(model.cost().seconds)
params = net.init_params(seed=0)
rng = np.random.default_rng(0)
X = rng.normal(size=(cfg["batch"], sizes[0]))
Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], cfg["batch"])]
t = time.perf_counter()
loss, grads = model.loss_and_grad(params, X, Y)
t_first = time.perf_counter() - t
stages_after = dict(model.cost().seconds)
t = time.perf_counter()
model.loss_and_grad(params, X, Y)
t_second = time.perf_counter() - t
import numba
print("CHILD-RESULT " + json.dumps({
    "import_s": t_import, "compile_s": t_compile, "first_call_s": t_first,
    "second_call_s": t_second, "stages_compile_s": stages_compile,
    "stages_after_first_call_s": stages_after, "loss": float(loss),
    "numba_threads": numba.config.NUMBA_NUM_THREADS}))
"""


def _child(cache: Path, sizes, acts, loss, batch) -> dict:
    """Run CHILD_SCRIPT in a new Python process (same thread settings); its measurements."""
    cfg = {
        "cache": str(cache),
        "sizes": list(sizes),
        "acts": list(acts),
        "loss": loss,
        "batch": batch,
    }
    return run_child(CHILD_SCRIPT, cfg)


def _sum_stages(stages: dict, keys) -> float:
    return sum(v for k, v in stages.items() if k in keys)


def table_compile(s: Session) -> dict:
    sizes, acts, loss, batch = (
        (784, 256, 128, 10),
        ("relu", "relu", "softmax"),
        "cross_entropy",
        128,
    )
    cache = s.cfg.fresh_cache("compile")
    rows, cells = [], []
    for label in ("process 1: empty cache", "process 2: same cache"):
        progress(f"compile table, 784-256-128-10, {label} (subprocess)")
        try:
            r = _child(cache, sizes, acts, loss, batch)
        except Exception as exc:
            s.note(f"compile table, {label}: {short_error(exc)}")
            rows.append({"process": label, "error": short_error(exc)})
            cells.append([label, "ERROR"] + ["-"] * 7)
            continue
        cold = label.startswith("process 1")
        total = r["compile_s"] + r["first_call_s"]
        total_target = COLD_TOTAL_TARGET if cold else WARM_TOTAL_TARGET
        r.update({"process": label, "total_s": total, "total_target_s": total_target})
        rows.append(r)
        cells.append(
            [
                label,
                fmt_time(r["compile_s"]),
                (verdict(r["compile_s"], COMPILE_TARGET) + f" (<{COMPILE_TARGET:g} s)")
                if cold
                else "",
                fmt_time(r["first_call_s"]),
                fmt_time(total),
                f"<{total_target:g} s",
                verdict(total, total_target),
                fmt_time(r["second_call_s"]),
                fmt_time(r["import_s"]),
            ]
        )
    text = render_table(
        [
            "784-256-128-10, batch 128",
            "net.compile()",
            "compile ok?",
            "1st loss_and_grad",
            "compile + 1st call",
            "target",
            "ok?",
            "2nd call",
            "import symbackprop [not in total]",
        ],
        cells,
        align="lrlrrrlrr",
    )
    for r in rows:
        if "error" in r:
            continue
        text += f"\n  {r['process']}: net.compile() stages: " + ", ".join(
            f"{k} {v:.3f}s" for k, v in r["stages_compile_s"].items()
        )
        extra = {
            k: v
            for k, v in r["stages_after_first_call_s"].items()
            if r["stages_compile_s"].get(k) != v
        }
        if extra:
            text += "; added by the 1st call: " + ", ".join(
                f"{k} {v:.3f}s" for k, v in extra.items()
            )
    text += (
        "\n  Each process is a fresh `python -c` (sys.executable) with the same thread "
        "settings; process 1 starts from an\n  empty cache folder (SymPy + printer + "
        "write/import in net.compile(), Numba's cold compile in the 1st call);\n  process 2 "
        "loads the module from the cache and Numba's object code from the cache's kernels/ folder."
    )

    # Source size vs depth/width: symbolic only (no Numba).
    size_rows, size_cells = [], []
    for arch, arch_acts, arch_loss in (
        ((4, 3, 2), ("sigmoid", "softmax"), "cross_entropy"),
        ((784, 256, 128, 10), ("relu", "relu", "softmax"), "cross_entropy"),
        ((784, 256, 128, 64, 10), ("relu", "relu", "relu", "softmax"), "cross_entropy"),
    ):
        name = "-".join(map(str, arch))
        progress(f"source size, {name}")
        try:
            sp.core.cache.clear_cache()
            net = make_net(arch, arch_acts, arch_loss)
            model, t_compile = wall(lambda: net.compile(cache_dir=s.cfg.fresh_cache(f"src{name}")))
            path = getattr(model, "path", None)
            first_lines = (
                len(Path(path).read_text(encoding="utf-8").splitlines())
                if path is not None
                else None
            )
            source, t_source = wall(lambda: model.source)
        except Exception as exc:
            s.note(f"source size, {name}: {short_error(exc)}")
            size_cells.append([name, "ERROR"] + ["-"] * 5)
            continue
        n_params = sum(int(np.prod(v.shape)) for v in net.init_params(seed=0).values())
        r = {
            "network": name,
            "layers": len(arch) - 1,
            "params": n_params,
            "compile_s": t_compile,
            "source_s": t_source,
            "first_order_lines": first_lines,
            "source_lines": len(source.splitlines()),
            "source_chars": len(source),
        }
        size_rows.append(r)
        size_cells.append(
            [
                name,
                str(r["layers"]),
                f"{n_params:,}",
                fmt_time(t_compile),
                str(first_lines) if first_lines is not None else "-",
                fmt_time(t_source),
                str(r["source_lines"]),
            ]
        )
    text += (
        "\n\nGenerated source size (cold, empty cache; symbolic work only, no Numba). "
        "'first-order lines': the module net.compile()\nwrites (forward, loss, "
        "loss_and_grad); model.source adds the Hessian code, generated on that first read:\n"
    )
    text += render_table(
        [
            "network",
            "layers",
            "parameters",
            "net.compile()",
            "first-order lines",
            "model.source",
            "model.source lines",
        ],
        size_cells,
        align="lrrrrrr",
    )
    return {
        "title": "Compile scale: 784-256-128-10 cold and cached, in fresh processes; "
        "source size vs layers",
        "text": text,
        "rows": rows,
        "source_size_rows": size_rows,
    }


# ============================================================================ main


def main(argv=None) -> int:
    return _suite.run_suite(
        argv,
        name="networks",
        doc=__doc__,
        title="symbackprop network benchmarks",
        method_lines=[
            (
                "symbackprop calls are model.loss_and_grad(params, X, Y) / "
                "model.hessian(params, X, Y) with a dict of float64 ndarrays (validation "
                "included); numba refs are called directly;"
            ),
            (
                "jax.jit(jax.value_and_grad | jax.hessian)(...) with block_until_ready on jnp "
                "arrays; torch eager float64: forward + torch.autograd.grad; torch.func.hessian"
            ),
            (
                "every peer's loss and gradients (or Hessian) are checked against symbackprop's "
                "(np.allclose, rtol 1e-7) before timing"
            ),
        ],
        runners={
            "small": table_small,
            "mnist": table_mnist,
            "hessian": table_hessian,
            "compile": table_compile,
        },
        make_config=_suite.Config.make,
        make_session=Session,
        quick_help="smoke run: fewer repeats, shorter loops (same networks)",
        cache_help="keep compiled modules (and Numba's object code) here for the per-call "
        "and Hessian tables, so a re-run skips Numba compilation; default: a "
        "fresh temporary cache per run. The compile table always starts cold. "
        "Clear it after changing symbackprop",
    )


if __name__ == "__main__":
    raise SystemExit(main())
