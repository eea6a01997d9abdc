"""Models over data: symbackprop's loop kernels against hand-written Numba loops and JAX.

    python -m benchmarks.data               # full run, a few minutes (most of it Numba compiling)
    python -m benchmarks.data --quick       # smoke run: fewer rows, fewer repeats, shorter loops
    python -m benchmarks.data --only cold   # one table (repeatable, or comma-separated)

Tables (see benchmarks/README.md for how to read them):

* ``gmm``        -- 2-component 1-D Gaussian-mixture negative log-likelihood, 5 parameters,
                    N = 10^6 rows: ``fn.value_and_grad`` and ``fn.hessian`` against one-pass
                    hand-written Numba loops (value + gradient; value + gradient + Hessian).
* ``poisson``    -- Poisson regression, 4 parameters, X (N, 4) and y, N = 10^5: the same calls.
* ``oscillator`` -- damped-oscillator least squares, 6 parameters, 200 points: the same calls.
* ``cold``       -- cold build in a fresh process with an empty cache (derive, print, Numba
                    compile, first call) for the Gaussian mixture and the oscillator at
                    N = 10^2 and 10^7.

Every time is a median over interleaved repeats of a timeit-style loop (benchmarks/_timing.py),
and each comparison is a ratio measured in the same run. Absolute times depend on the machine;
read the ratios. Thread settings, table style and JSON output are those of benchmarks.scalar;
the ``all cores`` column alone runs symbackprop with ``threads=os.cpu_count()``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from ._timing import fmt_ratio, fmt_time, pin_threads, run_child, wall

# Single-threaded everything, for a fair per-call comparison: the same settings as
# benchmarks/scalar.py. Must precede the imports of NumPy, Numba and JAX (they read the
# settings once, at import).
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

# Targets from issue 14, reported against (never asserted).
TARGETS = {"value_and_grad": 1.2, "hessian": 1.5}  # symbackprop / hand-written loop, GMM
COLD_TARGET = 2.0  # seconds: derive + print + Numba compile + first call, minus the loop itself
REF_RTOL = 1e-9  # the hand-written loops must agree with symbackprop this closely
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


# ============================================================================ configuration


@dataclass(kw_only=True)
class Config(_suite.Config):
    gmm_n: int
    poisson_n: int
    oscillator_n: int
    cold_sizes: tuple[int, ...]

    @classmethod
    def make(cls, quick: bool) -> Config:
        if quick:
            return super().make(
                quick, gmm_n=10**5, poisson_n=10**4, oscillator_n=200, cold_sizes=(10**2, 10**5)
            )
        return super().make(
            quick, gmm_n=10**6, poisson_n=10**5, oscillator_n=200, cold_sizes=(10**2, 10**7)
        )


# ============================================================================ models
# Each model: the SymPy expression, its parameters and data symbols, generated data, a test
# point, and the same function in array code for JAX (``array_f(theta, *data, m)``, m = jnp).

ROW = sp.Symbol("i", integer=True)
N = sp.Symbol("N", integer=True)


def gmm_model():
    """-sum_i log(w N(x_i; m1, e^s1) + (1 - w) N(x_i; m2, e^s2)), w = sigmoid(z), with the
    larger log-component factored out of the log-sum-exp (finite far from the data)."""
    x = sp.IndexedBase("x")
    z, m1, m2, s1, s2 = sp.symbols("z m1 m2 s1 s2")
    l1 = -sp.log(1 + sp.exp(-z)) - s1 - (x[ROW] - m1) ** 2 * sp.exp(-2 * s1) / 2
    l2 = -sp.log(1 + sp.exp(z)) - s2 - (x[ROW] - m2) ** 2 * sp.exp(-2 * s2) / 2
    big = sp.Max(l1, l2)
    body = -(big + sp.log(sp.exp(l1 - big) + sp.exp(l2 - big)))
    f = sp.Sum(body, (ROW, 0, N - 1)) + N * sp.log(2 * sp.pi) / 2
    return f, [z, m1, m2, s1, s2], [x]


def gmm_data(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    first = rng.random(n) < 0.3
    return {"x": np.where(first, rng.normal(-2.0, 0.5, n), rng.normal(1.5, 1.0, n))}


GMM_THETA = np.array([-0.7, -1.8, 1.4, -0.6, 0.1])


def poisson_model():
    """sum_i exp(eta_i) - y_i eta_i with eta_i = sum_j w_j X[i, j] (the log y_i! term is
    constant and left out)."""
    X, y = sp.IndexedBase("X"), sp.IndexedBase("y")
    w = sp.symbols("w0:4")
    eta = sum(w[j] * X[ROW, j] for j in range(4))
    return sp.Sum(sp.exp(eta) - y[ROW] * eta, (ROW, 0, N - 1)), list(w), [X, y]


def poisson_data(n: int, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(0.0, 0.5, (n, 3))])
    y = rng.poisson(np.exp(X @ np.array([0.3, 0.5, -0.4, 0.2]))).astype(np.float64)
    return {"X": X, "y": y}


POISSON_THETA = np.array([0.2, 0.4, -0.3, 0.1])


def oscillator_model():
    """sum_i (y_i - A exp(-g t_i) cos(w t_i + phi) - c t_i - d)^2."""
    t, y = sp.IndexedBase("t"), sp.IndexedBase("y")
    A, g, w, phi, c, d = sp.symbols("A g w phi c d")
    model = A * sp.exp(-g * t[ROW]) * sp.cos(w * t[ROW] + phi) + c * t[ROW] + d
    return sp.Sum((y[ROW] - model) ** 2, (ROW, 0, N - 1)), [A, g, w, phi, c, d], [t, y]


def oscillator_data(n: int, seed: int = 2) -> dict:
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, n)
    y = 2.0 * np.exp(-0.3 * t) * np.cos(3.0 * t + 0.5) + 0.05 * t - 0.2
    return {"t": t, "y": y + rng.normal(0.0, 0.05, n)}


OSCILLATOR_THETA = np.array([1.8, 0.25, 2.9, 0.4, 0.04, -0.1])

# For the cold-build child processes: model name -> (model, data, theta).
MODELS = {
    "gmm": (gmm_model, gmm_data, GMM_THETA),
    "poisson": (poisson_model, poisson_data, POISSON_THETA),
    "oscillator": (oscillator_model, oscillator_data, OSCILLATOR_THETA),
}


def gmm_array(theta, x, m):
    z, m1, m2, s1, s2 = theta[0], theta[1], theta[2], theta[3], theta[4]
    a = -m.logaddexp(0.0, -z) - s1 - (x - m1) ** 2 * m.exp(-2.0 * s1) / 2
    b = -m.logaddexp(0.0, z) - s2 - (x - m2) ** 2 * m.exp(-2.0 * s2) / 2
    return -m.sum(m.logaddexp(a, b)) + x.shape[0] * LOG_SQRT_2PI


def poisson_array(theta, X, y, m):
    eta = X @ theta
    return m.sum(m.exp(eta) - y * eta)


def oscillator_array(theta, t, y, m):
    A, g, w, phi, c, d = (theta[k] for k in range(6))
    r = y - (A * m.exp(-g * t) * m.cos(w * t + phi) + c * t + d)
    return m.sum(r * r)


# ---------------------------------------------------------------- hand-written Numba references
# One pass over the rows each, written from the closed forms below; every one is checked
# against symbackprop (to REF_RTOL) before it is timed.


@nb.njit(error_model="numpy", nogil=True)
def _softplus(a):
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


@nb.njit(error_model="numpy", nogil=True)
def gmm_vg_ref(theta, x):
    # a_i = log w - s1 - d1^2 p1 / 2, b_i likewise, L_i = logaddexp(a_i, b_i) and
    # r1 = e^(a - L), r2 = e^(b - L) (from one exp); f = -sum L + N log sqrt(2 pi).
    # dL/dz = r1 - w, dL/dm1 = r1 d1 p1, dL/ds1 = r1 (d1^2 p1 - 1), likewise for component 2.
    z, m1, m2, s1, s2 = theta[0], theta[1], theta[2], theta[3], theta[4]
    w = 1.0 / (1.0 + math.exp(-z))
    c1 = -_softplus(-z) - s1
    c2 = -_softplus(z) - s2
    p1, p2 = math.exp(-2.0 * s1), math.exp(-2.0 * s2)
    n = x.shape[0]
    f = sr1 = sr2 = sr1d = sr2d = sr1dd = sr2dd = 0.0
    for i in range(n):
        d1, d2 = x[i] - m1, x[i] - m2
        a = c1 - 0.5 * p1 * d1 * d1
        b = c2 - 0.5 * p2 * d2 * d2
        if a >= b:
            e = math.exp(b - a)
            L = a + math.log1p(e)
            r1 = 1.0 / (1.0 + e)
            r2 = e * r1
        else:
            e = math.exp(a - b)
            L = b + math.log1p(e)
            r2 = 1.0 / (1.0 + e)
            r1 = e * r2
        f -= L
        sr1 += r1
        sr2 += r2
        sr1d += r1 * d1
        sr2d += r2 * d2
        sr1dd += r1 * d1 * d1
        sr2dd += r2 * d2 * d2
    g = np.empty(5)
    g[0] = -(sr1 - n * w)
    g[1] = -p1 * sr1d
    g[2] = -p2 * sr2d
    g[3] = -(p1 * sr1dd - sr1)
    g[4] = -(p2 * sr2dd - sr2)
    return f + n * 0.9189385332046727, g


@nb.njit(error_model="numpy", nogil=True)
def gmm_vgh_ref(theta, x):
    # Hessian of L: r1 Hess(a) + r2 Hess(b) + r1 r2 delta delta^T, delta = grad a - grad b =
    # (1, d1 p1, -d2 p2, d1^2 p1 - 1, 1 - d2^2 p2); Hess(a): zz -w(1-w), m1m1 -p1,
    # m1s1 -2 d1 p1, s1s1 -2 d1^2 p1 (b likewise). f's Hessian is -sum of L's.
    z, m1, m2, s1, s2 = theta[0], theta[1], theta[2], theta[3], theta[4]
    w = 1.0 / (1.0 + math.exp(-z))
    c1 = -_softplus(-z) - s1
    c2 = -_softplus(z) - s2
    p1, p2 = math.exp(-2.0 * s1), math.exp(-2.0 * s2)
    n = x.shape[0]
    f = sr1 = sr2 = sr1d = sr2d = sr1dd = sr2dd = 0.0
    u00 = u01 = u02 = u03 = u04 = u11 = u12 = u13 = u14 = 0.0
    u22 = u23 = u24 = u33 = u34 = u44 = 0.0
    for i in range(n):
        d1, d2 = x[i] - m1, x[i] - m2
        a = c1 - 0.5 * p1 * d1 * d1
        b = c2 - 0.5 * p2 * d2 * d2
        if a >= b:
            e = math.exp(b - a)
            L = a + math.log1p(e)
            r1 = 1.0 / (1.0 + e)
            r2 = e * r1
        else:
            e = math.exp(a - b)
            L = b + math.log1p(e)
            r2 = 1.0 / (1.0 + e)
            r1 = e * r2
        f -= L
        sr1 += r1
        sr2 += r2
        sr1d += r1 * d1
        sr2d += r2 * d2
        q1, q2 = r1 * d1 * d1, r2 * d2 * d2
        sr1dd += q1
        sr2dd += q2
        u = r1 * r2
        e1, e2 = d1 * p1, -d2 * p2
        e3, e4 = d1 * e1 - 1.0, 1.0 + d2 * e2
        ue1, ue2, ue3, ue4 = u * e1, u * e2, u * e3, u * e4
        u00 += u
        u01 += ue1
        u02 += ue2
        u03 += ue3
        u04 += ue4
        u11 += ue1 * e1
        u12 += ue1 * e2
        u13 += ue1 * e3
        u14 += ue1 * e4
        u22 += ue2 * e2
        u23 += ue2 * e3
        u24 += ue2 * e4
        u33 += ue3 * e3
        u34 += ue3 * e4
        u44 += ue4 * e4
    g = np.empty(5)
    g[0] = -(sr1 - n * w)
    g[1] = -p1 * sr1d
    g[2] = -p2 * sr2d
    g[3] = -(p1 * sr1dd - sr1)
    g[4] = -(p2 * sr2dd - sr2)
    H = np.empty((5, 5))
    H[0, 0] = n * w * (1.0 - w) - u00
    H[0, 1], H[0, 2], H[0, 3], H[0, 4] = -u01, -u02, -u03, -u04
    H[1, 1] = p1 * sr1 - u11
    H[1, 2] = -u12
    H[1, 3] = 2.0 * p1 * sr1d - u13
    H[1, 4] = -u14
    H[2, 2] = p2 * sr2 - u22
    H[2, 3] = -u23
    H[2, 4] = 2.0 * p2 * sr2d - u24
    H[3, 3] = 2.0 * p1 * sr1dd - u33
    H[3, 4] = -u34
    H[4, 4] = 2.0 * p2 * sr2dd - u44
    for j in range(5):
        for k in range(j):
            H[j, k] = H[k, j]
    return f + n * 0.9189385332046727, g, H


@nb.njit(error_model="numpy", nogil=True)
def poisson_vg_ref(theta, X, y):
    # f = sum exp(eta) - y eta; grad = sum (mu - y) X_i, mu = exp(eta).
    f = g0 = g1 = g2 = g3 = 0.0
    w0, w1, w2, w3 = theta[0], theta[1], theta[2], theta[3]
    for i in range(X.shape[0]):
        x0, x1, x2, x3 = X[i, 0], X[i, 1], X[i, 2], X[i, 3]
        eta = w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3
        mu = math.exp(eta)
        f += mu - y[i] * eta
        r = mu - y[i]
        g0 += r * x0
        g1 += r * x1
        g2 += r * x2
        g3 += r * x3
    return f, np.array([g0, g1, g2, g3])


@nb.njit(error_model="numpy", nogil=True)
def poisson_vgh_ref(theta, X, y):
    # ... and the Hessian sum mu X_i X_i^T (upper triangle accumulated, then mirrored).
    f = g0 = g1 = g2 = g3 = 0.0
    h00 = h01 = h02 = h03 = h11 = h12 = h13 = h22 = h23 = h33 = 0.0
    w0, w1, w2, w3 = theta[0], theta[1], theta[2], theta[3]
    for i in range(X.shape[0]):
        x0, x1, x2, x3 = X[i, 0], X[i, 1], X[i, 2], X[i, 3]
        eta = w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3
        mu = math.exp(eta)
        f += mu - y[i] * eta
        r = mu - y[i]
        g0 += r * x0
        g1 += r * x1
        g2 += r * x2
        g3 += r * x3
        m0, m1, m2, m3 = mu * x0, mu * x1, mu * x2, mu * x3
        h00 += m0 * x0
        h01 += m0 * x1
        h02 += m0 * x2
        h03 += m0 * x3
        h11 += m1 * x1
        h12 += m1 * x2
        h13 += m1 * x3
        h22 += m2 * x2
        h23 += m2 * x3
        h33 += m3 * x3
    H = np.array(
        [[h00, h01, h02, h03], [h01, h11, h12, h13], [h02, h12, h22, h23], [h03, h13, h23, h33]]
    )
    return f, np.array([g0, g1, g2, g3]), H


@nb.njit(error_model="numpy", nogil=True)
def oscillator_vg_ref(theta, t, y):
    # m = A e cos(u) + c t + d with e = exp(-g t), u = w t + phi; f = sum r^2, r = y - m;
    # grad f = -2 sum r dm, dm = (e cos, -t A e cos, -t A e sin, -A e sin, t, 1).
    A, g, w, phi, c, d = theta[0], theta[1], theta[2], theta[3], theta[4], theta[5]
    f = gA = gg = gw = gp = gc = gd = 0.0
    for i in range(t.shape[0]):
        ti = t[i]
        e = math.exp(-g * ti)
        co, si = math.cos(w * ti + phi), math.sin(w * ti + phi)
        ec, aes = e * co, A * e * si
        r = y[i] - (A * ec + c * ti + d)
        f += r * r
        gA += r * ec
        gg -= r * ti * A * ec
        gw -= r * ti * aes
        gp -= r * aes
        gc += r * ti
        gd += r
    return f, -2.0 * np.array([gA, gg, gw, gp, gc, gd])


@nb.njit(error_model="numpy", nogil=True)
def oscillator_vgh_ref(theta, t, y):
    # H = 2 sum (dm dm^T - r d2m); the nonzero second derivatives of m (E = A e cos,
    # S = A e sin): Ag -t e cos, Aw -t e sin, Aphi -e sin, gg t^2 E, gw t^2 S, gphi t S,
    # ww -t^2 E, wphi -t E, phiphi -E.
    A, g, w, phi, c, d = theta[0], theta[1], theta[2], theta[3], theta[4], theta[5]
    f = 0.0
    grad = np.zeros(6)
    H = np.zeros((6, 6))
    dm = np.empty(6)
    for i in range(t.shape[0]):
        ti = t[i]
        e = math.exp(-g * ti)
        co, si = math.cos(w * ti + phi), math.sin(w * ti + phi)
        ec, es = e * co, e * si
        E, S = A * ec, A * es
        r = y[i] - (E + c * ti + d)
        f += r * r
        dm[0], dm[1], dm[2], dm[3], dm[4], dm[5] = ec, -ti * E, -ti * S, -S, ti, 1.0
        for j in range(6):
            grad[j] -= 2.0 * r * dm[j]
            for k in range(j, 6):
                H[j, k] += 2.0 * dm[j] * dm[k]
        r2 = 2.0 * r
        H[0, 1] += r2 * ti * ec
        H[0, 2] += r2 * ti * es
        H[0, 3] += r2 * es
        H[1, 1] -= r2 * ti * ti * E
        H[1, 2] -= r2 * ti * ti * S
        H[1, 3] -= r2 * ti * S
        H[2, 2] += r2 * ti * ti * E
        H[2, 3] += r2 * ti * E
        H[3, 3] += r2 * E
    for j in range(6):
        for k in range(j):
            H[j, k] = H[k, j]
    return f, grad, H


@dataclass
class Problem:
    name: str
    label: str
    model: tuple  # (expr, params, data symbols)
    data: dict  # name -> array, in the order of the data symbols
    theta: np.ndarray
    refs: dict  # "value_and_grad" -> (theta, *data) -> (f, g); "hessian" -> (f, g, H)
    array_f: object  # (theta, *data, m) -> scalar, for JAX
    target: dict = field(default_factory=dict)  # call -> sb/ref target (only the GMM has them)

    @property
    def n(self) -> int:
        return len(next(iter(self.data.values())))


def gmm_problem(n: int) -> Problem:
    return Problem(
        "gmm",
        "Gaussian mixture",
        gmm_model(),
        gmm_data(n),
        GMM_THETA,
        {"value_and_grad": gmm_vg_ref, "hessian": gmm_vgh_ref},
        gmm_array,
        TARGETS,
    )


def poisson_problem(n: int) -> Problem:
    return Problem(
        "poisson",
        "Poisson regression",
        poisson_model(),
        poisson_data(n),
        POISSON_THETA,
        {"value_and_grad": poisson_vg_ref, "hessian": poisson_vgh_ref},
        poisson_array,
    )


def oscillator_problem(n: int) -> Problem:
    return Problem(
        "oscillator",
        "damped oscillator",
        oscillator_model(),
        oscillator_data(n),
        OSCILLATOR_THETA,
        {"value_and_grad": oscillator_vg_ref, "hessian": oscillator_vgh_ref},
        oscillator_array,
    )


# ============================================================================ per-call tables

CALLS = ("value_and_grad", "hessian")
HEADERS = [
    "problem",
    "N",
    "P",
    "call",
    "symbackprop",
    "numba ref",
    "sb/ref",
    "target",
    "ok?",
    "jax.jit",
    "jax/sb",
    "sb all cores",
    "1 core/all",
    "noise",
    "sb 1st call [incl. Numba]",
]
RATIOS = {
    "sb/ref": ("symbackprop", "numba ref"),
    "jax/sb": ("jax.jit", "symbackprop"),
    "1 core/all": ("symbackprop", "sb all cores"),
}


def close_to(got, want, rtol: float) -> str | None:
    """None if every array in ``got`` is within rtol of ``want`` (relative to the largest
    entry of each), else how far off the worst one is."""
    worst = 0.0
    for a, b in zip(got, want):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return f"shape {a.shape} != {b.shape}"
        scale = max(1e-300, float(np.max(np.abs(b), initial=0.0)))
        worst = max(worst, float(np.max(np.abs(a - b), initial=0.0)) / scale)
    return None if worst <= rtol else f"max difference {worst:.2e} of the largest entry"


class Session(_suite.Session):
    def __init__(self, cfg: Config):
        super().__init__(cfg)
        self.threads_supported: bool | None = None

    def all_cores(self, fn, method: str, problem: Problem):
        """(timed call, call returning its result) of symbackprop on os.cpu_count() threads,
        or None where the data methods take no threads= keyword (noted once)."""
        call = getattr(fn, method)
        cores = os.cpu_count() or 1
        try:
            call(problem.theta, threads=cores, **problem.data)
        except TypeError as exc:
            if self.threads_supported is None:
                self.note(f"'sb all cores' left out: {method}(..., threads=) raised {exc}")
            self.threads_supported = False
            return None
        except sb.SymbackpropError as exc:
            if "threads" not in str(exc):
                raise
            if self.threads_supported is None:
                self.note(f"'sb all cores' left out: {method}(..., threads=) is refused: {exc}")
            self.threads_supported = False
            return None
        self.threads_supported = True
        run = lambda: call(problem.theta, threads=cores, **problem.data)  # noqa: E731
        return run, run


def _jax_calls(peers, problem: Problem):
    jax, jnp = peers.jax, peers.jnp
    data = [jnp.asarray(a) for a in problem.data.values()]
    theta = jnp.asarray(problem.theta)
    f = lambda th, *d: problem.array_f(th, *d, jnp)  # noqa: E731
    vg, hess = jax.jit(jax.value_and_grad(f)), jax.jit(jax.hessian(f))

    def make(call):
        if call == "value_and_grad":
            timed = lambda: jax.block_until_ready(vg(theta, *data))  # noqa: E731
            result = lambda: tuple(np.asarray(v) for v in vg(theta, *data))  # noqa: E731
        else:
            timed = lambda: hess(theta, *data).block_until_ready()  # noqa: E731
            result = lambda: np.asarray(hess(theta, *data))  # noqa: E731
        return timed, result

    return make


def per_call_rows(s: Session, problem: Problem) -> list[dict]:
    """value_and_grad and hessian of symbackprop, the hand-written loop, JAX and symbackprop on
    all cores, timed interleaved per call."""
    expr, params, data_syms = problem.model
    where = f"{problem.name} N={problem.n}"
    progress(f"sb.compile {where}")
    try:
        fn, t_compile = wall(
            lambda: sb.compile(expr, params, data=data_syms, cache_dir=s.cfg.run_cache)
        )
    except Exception as exc:
        s.note(f"sb.compile failed for {where}: {short_error(exc)}")
        return [
            {"problem": problem.name, "n": problem.n, "call": c, "error": short_error(exc)}
            for c in CALLS
        ]
    jax_make = _jax_calls(s.peers, problem) if s.peers.jax else None
    args = (problem.theta, *problem.data.values())
    rows = []
    for call in CALLS:
        row = {
            "problem": problem.name,
            "n": problem.n,
            "P": len(params),
            "call": call,
            "status": {},
            "sb_compile_s": t_compile,
        }
        sb_call = getattr(fn, call)
        progress(f"first fn.{call} {where} (Numba compiles here)")
        try:
            expected, first = wall(lambda: sb_call(problem.theta, **problem.data))
        except Exception as exc:
            s.note(f"fn.{call} failed for {where}: {short_error(exc)}")
            row["error"] = short_error(exc)
            rows.append(row)
            continue
        row["sb_first_call_s"] = first
        fns = {"symbackprop": lambda: sb_call(problem.theta, **problem.data)}
        want = expected if call == "value_and_grad" else (expected,)
        ref = problem.refs[call]
        ref_result = (  # the Hessian reference returns (f, g, H): compare H
            (lambda: ref(*args)) if call == "value_and_grad" else (lambda: (ref(*args)[2],))
        )
        s.admit(
            row,
            fns,
            "numba ref",
            lambda: (lambda: ref(*args), ref_result),
            lambda got: close_to(got, want, REF_RTOL),
            where=where,
            subject=f"hand-written {call}",
        )
        if jax_make is not None:

            def jax_disagreement(got):
                got = got if call == "value_and_grad" else (got,)
                ok = all(agrees(a, b) for a, b in zip(got, want))
                return None if ok else close_to(got, want, 0.0)

            s.admit(
                row,
                fns,
                "jax.jit",
                lambda: jax_make(call),
                jax_disagreement,
                where=where,
                subject=f"jax {call}",
            )
        threaded = s.all_cores(fn, call, problem) if s.threads_supported is not False else None
        if threaded is None:
            row["status"]["sb all cores"] = "no threads="
        else:
            s.admit(
                row,
                fns,
                "sb all cores",
                lambda: threaded,
                lambda got: close_to(got if call == "value_and_grad" else (got,), want, 1e-12),
                where=where,
                subject=f"symbackprop {call} on {os.cpu_count()} threads",
            )
        progress(f"timing {where} {call}: {', '.join(fns)}")
        record_timings(row, s.compare(fns), RATIOS)
        rows.append(row)
    return rows


def per_call_cells(row: dict, problem: Problem) -> list[str]:
    head = [problem.label, f"{row['n']:.0e}" if row["n"] >= 1000 else str(row["n"])]
    head += [str(row.get("P", "-")), row["call"]]
    if "timings" not in row:
        return error_cells(head, HEADERS)
    r = row["ratios"]
    target = problem.target.get(row["call"])
    return head + [
        time_cell(row, "symbackprop"),
        time_cell(row, "numba ref"),
        fmt_ratio(r["sb/ref"]),
        f"<={target:g}" if target else "-",
        verdict(r["sb/ref"], target) if target else "-",
        time_cell(row, "jax.jit"),
        fmt_ratio(r["jax/sb"]),
        time_cell(row, "sb all cores"),
        fmt_ratio(r["1 core/all"]),
        f"{100 * row['noise_iqr_rel_max']:.0f}%",
        fmt_time(row["sb_first_call_s"]),
    ]


def _per_call_table(s: Session, problem: Problem, title: str) -> dict:
    rows = per_call_rows(s, problem)
    return {
        "title": title,
        "headers": HEADERS,
        "cells": [per_call_cells(r, problem) for r in rows],
        "rows": rows,
    }


def table_gmm(s: Session) -> dict:
    n = s.cfg.gmm_n
    return _per_call_table(
        s, gmm_problem(n), f"2-component Gaussian-mixture NLL, 5 parameters, N = {n:.0e}"
    )


def table_poisson(s: Session) -> dict:
    n = s.cfg.poisson_n
    return _per_call_table(
        s, poisson_problem(n), f"Poisson regression, X (N, 4) and y, N = {n:.0e}"
    )


def table_oscillator(s: Session) -> dict:
    n = s.cfg.oscillator_n
    return _per_call_table(
        s,
        oscillator_problem(n),
        f"damped oscillator A exp(-g t) cos(w t + phi) + c t + d, sum of squares, {n} points",
    )


# ============================================================================ table: cold build

COLD_SCRIPT = r"""
import json, sys, tempfile, time
cfg = json.loads(sys.argv[1])
t = time.perf_counter()
import numpy as np, sympy as sp
import symbackprop as sb
from benchmarks.data import MODELS
import_s = time.perf_counter() - t
model, make_data, theta = MODELS[cfg["model"]]
data = make_data(cfg["n"])  # not timed
out = {"import_s": import_s}
t, c = time.perf_counter(), time.process_time()
expr, params, syms = model()
fn = sb.compile(expr, params, data=syms, cache_dir=cfg["cache"])
out["compile_s"], out["compile_cpu_s"] = time.perf_counter() - t, time.process_time() - c
for call in ("value_and_grad", "hessian"):
    method = getattr(fn, call)
    t, c = time.perf_counter(), time.process_time()
    method(theta, **data)
    out[call + "_first_s"] = time.perf_counter() - t
    out[call + "_first_cpu_s"] = time.process_time() - c
    warm = []
    for _ in range(3):
        t = time.perf_counter()
        method(theta, **data)
        warm.append(time.perf_counter() - t)
    out[call + "_warm_s"] = sorted(warm)[1]
out["stages"] = dict(fn.cost().seconds)
print("CHILD-RESULT " + json.dumps(out))
"""


def table_cold(s: Session) -> dict:
    rows, cells = [], []
    for model in ("gmm", "oscillator"):
        for n in s.cfg.cold_sizes:
            cache = s.cfg.fresh_cache(f"{model}-{n}")
            progress(f"cold build {model} N={n} (fresh process, empty cache)")
            try:
                r = run_child(COLD_SCRIPT, {"model": model, "n": n, "cache": str(cache)})
            except Exception as exc:
                s.note(f"cold build {model} N={n}: {short_error(exc)}")
                rows.append({"model": model, "n": n, "error": short_error(exc)})
                cells.append([model, str(n), "ERROR"] + ["-"] * 8)
                continue
            # The build: sb.compile plus what the first call costs beyond a warm call (Numba
            # compiling, lazy code generation), so that a long loop at N = 10^7 is not counted.
            vg_build = r["value_and_grad_first_s"] - r["value_and_grad_warm_s"]
            h_build = r["hessian_first_s"] - r["hessian_warm_s"]
            build = r["compile_s"] + vg_build
            # The same in CPU seconds of the process: on a busy machine (wall >> CPU) this is
            # closer to what a quiet one takes.
            build_cpu = (
                r["compile_cpu_s"] + r["value_and_grad_first_cpu_s"] - r["value_and_grad_warm_s"]
            )
            r.update(
                {
                    "model": model,
                    "n": n,
                    "build_s": build,
                    "build_cpu_s": build_cpu,
                    "hessian_build_s": h_build,
                }
            )
            rows.append(r)
            cells.append(
                [
                    model,
                    f"{n:.0e}",
                    fmt_time(r["compile_s"]),
                    fmt_time(r["value_and_grad_first_s"]),
                    fmt_time(r["value_and_grad_warm_s"]),
                    fmt_time(build),
                    verdict(build, COLD_TARGET),
                    fmt_time(build_cpu),
                    fmt_time(r["hessian_first_s"]),
                    fmt_time(h_build),
                    fmt_time(build + h_build),
                ]
            )
    text = render_table(
        [
            "model",
            "N",
            "sb.compile [excl. Numba]",
            "1st value_and_grad",
            "warm value_and_grad",
            "build = compile + (1st - warm)",
            f"<={COLD_TARGET:g} s?",
            "build [CPU s]",
            "1st hessian",
            "hessian build (1st - warm)",
            "build incl. hessian",
        ],
        cells,
        align="lrrrrrlrrrr",
    )
    for r in rows:
        if "stages" in r:
            text += f"\n  {r['model']} N={r['n']:.0e} stages: " + ", ".join(
                f"{k} {v:.2f}s" for k, v in r["stages"].items()
            )
    text += (
        "\n  Each row is a fresh interpreter with an empty cache folder (imports and data "
        "generation not counted); 'warm' is\n  the median of 3 further calls, so 1st - warm "
        "is Numba compiling (and, for the Hessian, generating its\n  code on first use). "
        "'build [CPU s]' is the same build in the process's CPU time (time.process_time),\n"
        "  less the warm call: on a loaded machine wall time exceeds it, and it is the better "
        "estimate of a quiet\n  machine's build."
    )
    return {
        "title": "Cold build: derive, print, Numba compile and first call, fresh process",
        "text": text,
        "rows": rows,
    }


# ============================================================================ main


def main(argv=None) -> int:
    return _suite.run_suite(
        argv,
        name="data",
        doc=__doc__,
        title="symbackprop models-over-data benchmarks",
        method_lines=[
            "symbackprop calls are fn.value_and_grad(theta, **data) / fn.hessian(theta, **data) "
            "on float64 ndarrays, input validation included; the hand-written Numba loops are "
            "called directly; jax.jit(jax.value_and_grad | jax.hessian) on jnp arrays with "
            "block_until_ready; 'sb all cores' passes threads=os.cpu_count() "
            f"({os.cpu_count()})",
        ],
        runners={
            "gmm": table_gmm,
            "poisson": table_poisson,
            "oscillator": table_oscillator,
            "cold": table_cold,
        },
        make_config=Config.make,
        make_session=Session,
        quick_help="smoke run: fewer rows (GMM 10^5, Poisson 10^4, cold 10^2 and 10^5), fewer "
        "repeats, shorter loops",
        cache_help="keep compiled modules (and Numba's object code) here for the per-call "
        "tables, so a re-run skips Numba compilation (the cold table always starts empty)",
    )


if __name__ == "__main__":
    raise SystemExit(main())
