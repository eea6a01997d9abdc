"""Training benchmark: one epoch of examples/train_digits.py's training (64-32-10, sigmoid hidden
layer, softmax + cross-entropy, Adam, minibatches of 32) with symbackprop's ``fit`` against the
same loop in PyTorch eager (and JAX, when installed).

    python -m benchmarks.training            # about a minute
    python -m benchmarks.training --quick    # smoke run: fewer repeats, shorter loops

One table, ``epoch``: the wall time of one training epoch over the digits training split (1221
samples, 39 minibatches, a fresh permutation per epoch), median over interleaved repeats
(benchmarks/_timing.py), single-threaded. Rows: Adam (the example's optimizer) and SGD with
momentum. Columns:

* ``sb fit``: ``fit(model, params, X, Y, optimizer, epochs=1, batch_size=32, progress=False,
  train_accuracy=False)``: everything a call does (flattening the parameters, shuffling, the
  steps, writing the parameters back), without the per-epoch accuracy pass (the peers' loops
  have none);
* ``sb fit+acc``: the same with ``fit``'s default end-of-epoch training-set accuracy;
* ``torch f64`` / ``torch f32``: ``nn.Sequential(Linear, Sigmoid, Linear)``, ``F.cross_entropy``,
  ``torch.optim``'s optimizer; zero_grad / forward / backward / step per minibatch, in float64
  (the same arithmetic as symbackprop) and float32 (PyTorch's default);
* ``jax.jit``: one jitted step (value_and_grad + the optimizer update, optax's when installed,
  else the same formulas written out), float64, minibatch sliced inside the jit.

Before timing, each peer trains one epoch on the same permutation from the same parameters;
its parameters must agree with symbackprop's (float64 peers: rtol 1e-6, float32: 1e-3), or it
is marked MISMATCH and not timed. Ratios are peer time / symbackprop time from the same run.
"""

from __future__ import annotations

from ._timing import fmt_ratio, fmt_time, pin_threads, wall

# Single-threaded everything (the other suites' settings); before NumPy, Numba, torch, JAX.
pin_threads()

import numpy as np  # noqa: E402

import symbackprop as sb  # noqa: E402
from symbackprop.training import SGD, Adam, fit  # noqa: E402

from . import _suite  # noqa: E402
from ._suite import error_cells, progress, record_timings, render_table, short_error  # noqa: E402

TARGET = 3.0  # PyTorch eager (float64) epoch time / symbackprop's, at least
BATCH = 32
SIZES = (64, 32, 10)
OPTIMIZERS = {
    "Adam(lr=0.01)": (lambda: Adam(lr=0.01), "Adam", dict(lr=0.01)),
    "SGD(lr=0.1, momentum=0.9)": (
        lambda: SGD(lr=0.1, momentum=0.9),
        "SGD",
        dict(lr=0.1, momentum=0.9),
    ),
}
HEADERS = [
    "optimizer",
    "sb fit",
    "sb fit+acc",
    "torch f64",
    "torch/sb",
    "target",
    "ok?",
    "torch f32",
    "f32/sb",
    "jax.jit",
    "jax/sb",
    "noise",
]
RATIOS = {
    "torch/sb": ("torch f64", "sb fit"),
    "f32/sb": ("torch f32", "sb fit"),
    "jax/sb": ("jax.jit", "sb fit"),
}


def digits_split():
    """The training split of examples/train_digits.py (same scaling, same seeds)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X, Y = digits.data / 16.0, np.eye(10)[digits.target]
    X_train, _, Y_train, _ = train_test_split(
        X, Y, test_size=0.2, random_state=0, stratify=digits.target
    )
    X_train, _, Y_train, _ = train_test_split(X_train, Y_train, test_size=0.15, random_state=0)
    return np.ascontiguousarray(X_train), np.ascontiguousarray(Y_train)


# ============================================================================ peers


def torch_trainer(torch, params, X, Y, optimizer: str, kwargs: dict, dtype):
    """(epoch(order), parameters as a dict of float64 arrays) for the usual PyTorch loop."""
    nn, F = torch.nn, torch.nn.functional
    model = nn.Sequential(
        nn.Linear(SIZES[0], SIZES[1]), nn.Sigmoid(), nn.Linear(SIZES[1], SIZES[2])
    )
    model = model.to(dtype)
    with torch.no_grad():
        for layer, k in ((model[0], 1), (model[2], 2)):
            layer.weight.copy_(torch.tensor(params[f"W{k}"]))
            layer.bias.copy_(torch.tensor(params[f"b{k}"]))
    opt = getattr(torch.optim, optimizer)(model.parameters(), **kwargs)
    Xt = torch.tensor(X, dtype=dtype)
    labels = torch.tensor(Y.argmax(1))
    m = X.shape[0]

    def epoch(order):
        idx = torch.from_numpy(order)
        Xs, ys = Xt[idx], labels[idx]
        for a in range(0, m, BATCH):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(Xs[a : a + BATCH]), ys[a : a + BATCH])
            loss.backward()
            opt.step()

    def state():
        return {
            "W1": model[0].weight.detach().double().numpy().copy(),
            "b1": model[0].bias.detach().double().numpy().copy(),
            "W2": model[2].weight.detach().double().numpy().copy(),
            "b2": model[2].bias.detach().double().numpy().copy(),
        }

    return epoch, state


def jax_trainer(jax, jnp, params, X, Y, optimizer: str, kwargs: dict):
    """(epoch(order), parameters) for a jitted train step; optax's update when installed."""
    try:
        import optax
    except ImportError:
        optax = None
    names = ("W1", "b1", "W2", "b2")
    p = tuple(jnp.asarray(params[k]) for k in names)
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    m = X.shape[0]

    def loss_fn(p, Xb, Yb):
        W1, b1, W2, b2 = p
        Z = jax.nn.sigmoid(Xb @ W1.T + b1) @ W2.T + b2
        return jnp.mean(jax.scipy.special.logsumexp(Z, axis=1) - jnp.sum(Yb * Z, axis=1))

    if optax is not None:
        tx = (
            optax.adam(kwargs["lr"], eps=1e-8)
            if optimizer == "Adam"
            else optax.sgd(kwargs["lr"], momentum=kwargs["momentum"])
        )
        init, update = tx.init, lambda g, s, p: tx.update(g, s, p)
    else:
        init, update = _jax_rule(jax, jnp, optimizer, kwargs)

    def step(p, s, Xs, Ys, a, size):
        Xb = jax.lax.dynamic_slice_in_dim(Xs, a, size)
        Yb = jax.lax.dynamic_slice_in_dim(Ys, a, size)
        g = jax.grad(loss_fn)(p, Xb, Yb)
        updates, s = update(g, s, p)
        return jax.tree_util.tree_map(lambda x, u: x + u, p, updates), s

    step = jax.jit(step, static_argnums=5)
    box = {"p": p, "s": init(p)}

    def epoch(order):
        idx = jnp.asarray(order)
        Xs, Ys = Xj[idx], Yj[idx]
        p, s = box["p"], box["s"]
        for a in range(0, m, BATCH):
            p, s = step(p, s, Xs, Ys, a, min(BATCH, m - a))
        box["p"], box["s"] = jax.block_until_ready((p, s))

    def state():
        return {k: np.asarray(v) for k, v in zip(names, box["p"])}

    return epoch, state, ("optax" if optax is not None else "hand-written update")


def _jax_rule(jax, jnp, optimizer, kwargs):
    """(init, update) with optax's signature: PyTorch's Adam or SGD-momentum written out."""
    tmap = jax.tree_util.tree_map
    lr = kwargs["lr"]
    if optimizer == "Adam":
        b1, b2, eps = 0.9, 0.999, 1e-8

        def init(p):
            zeros = tmap(jnp.zeros_like, p)
            return (zeros, zeros, jnp.zeros((), jnp.int32))

        def update(g, s, p):
            mom, vel, t = s
            t = t + 1
            mom = tmap(lambda m_, g_: b1 * m_ + (1 - b1) * g_, mom, g)
            vel = tmap(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, vel, g)
            bc1, bc2 = 1 - b1**t, 1 - b2**t
            step = tmap(
                lambda m_, v_: -lr / bc1 * m_ / (jnp.sqrt(v_) / jnp.sqrt(bc2) + eps), mom, vel
            )
            return step, (mom, vel, t)

        return init, update
    mu = kwargs["momentum"]

    def init(p):
        return (tmap(jnp.zeros_like, p), jnp.zeros((), jnp.int32))

    def update(g, s, p):
        buf, t = s
        buf = tmap(lambda b_, g_: jnp.where(t == 0, g_, mu * b_ + g_), buf, g)
        return tmap(lambda b_: -lr * b_, buf), (buf, t + 1)

    return init, update


# ============================================================================ table


def agree(got: dict, want: dict, rtol: float) -> str | None:
    worst = max(float(np.max(np.abs(got[k] - want[k]) / (np.abs(want[k]) + 1e-3))) for k in want)
    return None if worst <= rtol else f"max relative difference {worst:.3g} > {rtol:g}"


def epoch_row(s: _suite.Session, model, net, X, Y, label: str, spec) -> dict:
    make_ours, torch_name, kwargs = spec
    row = {"optimizer": label, "status": {}}
    m = X.shape[0]
    init = net.init_params(seed=0)
    order0 = np.random.default_rng(0).permutation(m)

    # The reference: one symbackprop epoch over order0 (shuffle=False on pre-permuted data).
    ref = {k: v.copy() for k, v in init.items()}
    _, first = wall(
        lambda: fit(
            model,
            ref,
            X[order0],
            Y[order0],
            optimizer=make_ours(),
            epochs=1,
            batch_size=BATCH,
            shuffle=False,
            progress=False,
        )  # fmt: skip
    )
    row["sb_first_epoch_s"] = first

    params, opt = {k: v.copy() for k, v in init.items()}, make_ours()
    seeds = iter(range(1, 10**9))
    fns = {
        "sb fit": lambda: fit(model, params, X, Y, optimizer=opt, epochs=1, batch_size=BATCH,
                              seed=next(seeds), progress=False, train_accuracy=False),
        "sb fit+acc": lambda: fit(model, params, X, Y, optimizer=opt, epochs=1,
                                  batch_size=BATCH, seed=next(seeds), progress=False),
    }  # fmt: skip
    orders = np.random.default_rng(1)
    peers = s.peers
    where = f"{label} epoch"

    def admit(name, make, rtol):
        def build():
            epoch, state = make()[:2]
            return (lambda: epoch(orders.permutation(m))), (lambda: (epoch(order0), state())[1])

        s.admit(row, fns, name, build, lambda got: agree(got, ref, rtol), where=where)

    if peers.torch:
        torch = peers.torch
        for name, dtype, rtol in (
            ("torch f64", torch.float64, 1e-6),
            ("torch f32", torch.float32, 1e-3),
        ):
            admit(
                name, lambda d=dtype: torch_trainer(torch, init, X, Y, torch_name, kwargs, d), rtol
            )
    if peers.jax:
        made = {}

        def make_jax():
            made["t"] = jax_trainer(peers.jax, peers.jnp, init, X, Y, torch_name, kwargs)
            return made["t"]

        admit("jax.jit", make_jax, 1e-6)
        if "t" in made:
            row["jax_update"] = made["t"][2]
    progress(f"timing {where}: {', '.join(fns)}")
    record_timings(row, s.compare(fns), RATIOS)
    return row


def cells(row: dict) -> list[str]:
    head = [row["optimizer"]]
    if "timings" not in row:
        return error_cells(head, HEADERS)
    r = row["ratios"]

    def t(name):
        return _suite.time_cell(row, name)

    ok = "-" if r["torch/sb"] is None else ("ok" if r["torch/sb"] >= TARGET else "UNDER")
    return head + [
        t("sb fit"),
        t("sb fit+acc"),
        t("torch f64"),
        fmt_ratio(r["torch/sb"]),
        f">={TARGET:g}",
        ok,
        t("torch f32"),
        fmt_ratio(r["f32/sb"]),
        t("jax.jit"),
        fmt_ratio(r["jax/sb"]),
        f"{100 * row['noise_iqr_rel_max']:.0f}%",
    ]


def table_epoch(s: _suite.Session) -> dict:
    X, Y = digits_split()
    net = sb.Sequential(
        inputs=SIZES[0],
        layers=[sb.Dense(SIZES[1], "sigmoid"), sb.Dense(SIZES[2], "softmax")],
        loss="cross_entropy",
    )
    model, seconds = wall(lambda: net.compile(cache_dir=s.cfg.run_cache))
    rows = []
    for label, spec in OPTIMIZERS.items():
        try:
            rows.append(epoch_row(s, model, net, X, Y, label, spec))
        except Exception as exc:
            s.note(f"{label} failed: {short_error(exc)}")
            rows.append({"optimizer": label, "error": short_error(exc)})
    jax_note = next((r["jax_update"] for r in rows if "jax_update" in r), None)
    foot = [
        f"digits training split: {X.shape[0]} samples, {-(-X.shape[0] // BATCH)} minibatches of "
        f"<= {BATCH} per epoch; times are per epoch. net.compile() took {fmt_time(seconds)}; "
        + ", ".join(
            f"first epoch ({r['optimizer']}, incl. Numba) {fmt_time(r['sb_first_epoch_s'])}"
            for r in rows
            if "sb_first_epoch_s" in r
        ),
    ]
    if jax_note:
        foot.append(f"jax.jit: {jax_note} inside one jitted step per minibatch")
    return {
        "title": "one epoch of the digits training (64-32-10, batch 32), wall time",
        "text": render_table(HEADERS, [cells(r) for r in rows]) + "\n" + "\n".join(foot),
        "rows": rows,
        "compile_s": seconds,
    }


def main(argv=None) -> int:
    return _suite.run_suite(
        argv,
        name="training",
        doc=__doc__,
        title="symbackprop training benchmark",
        method_lines=[
            (
                "symbackprop: fit(model, params, X, Y, optimizer, epochs=1, batch_size=32, "
                "progress=False[, train_accuracy=False]) per timed call (one epoch)"
            ),
            (
                "torch eager: nn.Sequential + F.cross_entropy + torch.optim, zero_grad/forward/"
                "backward/step per minibatch; jax: one jax.jit step per minibatch"
            ),
            (
                "every peer's parameters after one epoch on the same permutation are checked "
                "against symbackprop's before timing"
            ),
        ],
        runners={"epoch": table_epoch},
        make_config=_suite.Config.make,
        make_session=_suite.Session,
        quick_help="smoke run: fewer repeats, shorter loops",
        cache_help="keep the compiled network here (default: a fresh temporary cache per run)",
    )


if __name__ == "__main__":
    raise SystemExit(main())
