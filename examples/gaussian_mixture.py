"""Maximum likelihood for a two-component 1-D Gaussian mixture over N samples: the negative
log-likelihood as a Sum over the data, fit by scipy's trust-exact with symbackprop's gradient
and Hessian, and by Newton-CG with its Hessian-vector product.

Run: python examples/gaussian_mixture.py
"""

import numpy as np
import sympy as sp
from scipy.optimize import minimize

import symbackprop as sb

# Parameters: z (weight w = sigmoid(z) of component 1), means m1, m2, log-sigmas s1, s2.
i, N = sp.Symbol("i", integer=True), sp.Symbol("N", integer=True)
x = sp.IndexedBase("x")
z, m1, m2, s1, s2 = sp.symbols("z m1 m2 s1 s2")
# log of each weighted component density, less log sqrt(2 pi); log w = -log(1 + exp(-z)) and
# log(1 - w) = -log(1 + exp(z)) (symbackprop prints both as softplus).
l1 = -sp.log(1 + sp.exp(-z)) - s1 - (x[i] - m1) ** 2 * sp.exp(-2 * s1) / 2
l2 = -sp.log(1 + sp.exp(z)) - s2 - (x[i] - m2) ** 2 * sp.exp(-2 * s2) / 2
# log(e^l1 + e^l2) with the larger exponent factored out, so that a sample far from both
# components gives a finite value (the plain form underflows to log(0)). The gradient of the
# factored max cancels exactly, so derivatives are those of the plain form.
M = sp.Max(l1, l2)
nll = (
    sp.Sum(-(M + sp.log(sp.exp(l1 - M) + sp.exp(l2 - M))), (i, 0, N - 1))
    + N * sp.log(2 * sp.pi) / 2
)
fn = sb.compile(nll, [z, m1, m2, s1, s2], data=[x])


def nll_numpy(theta, xs):
    """The same negative log-likelihood in NumPy (np.logaddexp), as an independent check."""
    z, m1, m2, s1, s2 = theta
    a = -np.logaddexp(0, -z) - s1 - (xs - m1) ** 2 * np.exp(-2 * s1) / 2
    b = -np.logaddexp(0, z) - s2 - (xs - m2) ** 2 * np.exp(-2 * s2) / 2
    return -np.logaddexp(a, b).sum() + xs.size * np.log(2 * np.pi) / 2


def unpack(theta):
    z, m1, m2, s1, s2 = theta
    return 1 / (1 + np.exp(-z)), m1, m2, np.exp(s1), np.exp(s2)


# 20 000 samples: 30 % from N(-2, 0.5^2), 70 % from N(1.5, 1).
truth = dict(w=0.3, m1=-2.0, m2=1.5, sigma1=0.5, sigma2=1.0)
rng = np.random.default_rng(1)
n = 20_000
first = rng.random(n) < truth["w"]
xs = np.where(first, rng.normal(truth["m1"], truth["sigma1"], n), rng.normal(truth["m2"], 1.0, n))

x0 = np.array([0.0, -1.0, 1.0, 0.0, 0.0])
assert np.isclose(fn(x0, x=xs), nll_numpy(x0, xs), rtol=1e-12)
far = np.array([0.0, -100.0, 100.0, -3.0, -3.0])  # every sample hundreds of sigmas away
print(f"NLL at x0 = {fn(x0, x=xs):.6f} (NumPy logaddexp: {nll_numpy(x0, xs):.6f})")
print(f"NLL far from the data = {fn(far, x=xs):.6e} (NumPy logaddexp: {nll_numpy(far, xs):.6e})")

print(f"\n2-component Gaussian mixture, {n} samples, from x0 = {x0}")
print(
    f"  truth:        w = {truth['w']:.4f}, m1 = {truth['m1']:.4f}, m2 = {truth['m2']:.4f}, "
    f"sigma1 = {truth['sigma1']:.4f}, sigma2 = {truth['sigma2']:.4f}"
)
fits = {}
for method, derivatives in [
    ("trust-exact", dict(jac=fn.grad, hess=fn.hessian)),
    ("Newton-CG", dict(jac=fn.grad, hessp=fn.hvp)),
]:
    r = minimize(fn, x0, args=(xs,), method=method, **derivatives)
    w, mu1, mu2, sig1, sig2 = unpack(r.x)
    given = "+".join(derivatives)
    print(
        f"  {method:<11} w = {w:.4f}, m1 = {mu1:.4f}, m2 = {mu2:.4f}, sigma1 = {sig1:.4f}, "
        f"sigma2 = {sig2:.4f}  ({given}: {r.nit} iterations, NLL {r.fun:.4f}, "
        f"|grad| {np.linalg.norm(fn.grad(r.x, x=xs)):.1e})"
    )
    fits[method] = r.x

est = unpack(fits["trust-exact"])
assert np.allclose(est, list(truth.values()), atol=0.05), est
assert np.allclose(fits["trust-exact"], fits["Newton-CG"], atol=1e-4)
# At the optimum the Hessian is positive definite: a minimum, and its inverse the covariance.
H = fn.hessian(fits["trust-exact"], x=xs)
eig = np.linalg.eigvalsh(H)
print(f"  Hessian eigenvalues at the optimum: {np.array2string(eig, precision=1)} (all > 0)")
se = np.sqrt(np.diag(np.linalg.inv(H)))
print("  standard errors (z, m1, m2, s1, s2):", np.array2string(se, precision=4))
assert np.all(eig > 0)
