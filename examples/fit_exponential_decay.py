"""Least-squares fit of y ~ a exp(-b t) + c: per-row residuals compiled with rows=i, their
(N, 3) Jacobian handed to scipy.optimize.least_squares.

Run: python examples/fit_exponential_decay.py
"""

import numpy as np
import sympy as sp
from scipy.optimize import least_squares

import symbackprop as sb

# The residual of row i; rows=i makes r(theta, t=..., y=...) the (N,) vector of residuals and
# r.jacobian(theta, t=..., y=...) its (N, 3) Jacobian.
i = sp.Symbol("i", integer=True)
t, y = sp.IndexedBase("t"), sp.IndexedBase("y")
a, b, c = sp.symbols("a b c")
r = sb.compile(y[i] - (a * sp.exp(-b * t[i]) + c), [a, b, c], data=[t, y], rows=i)

# Noisy observations of 2.5 exp(-1.3 t) + 0.4 on 200 points of [0, 5].
truth = np.array([2.5, 1.3, 0.4])
rng = np.random.default_rng(0)
t_obs = np.linspace(0.0, 5.0, 200)
y_obs = truth[0] * np.exp(-truth[1] * t_obs) + truth[2] + rng.normal(0.0, 0.02, t_obs.size)

x0 = np.array([1.0, 0.5, 0.0])
fit = least_squares(r, x0, jac=r.jacobian, args=(t_obs, y_obs))
without = least_squares(r, x0, args=(t_obs, y_obs))  # Jacobian by finite differences

# The fit's uncertainty from the Jacobian at the optimum: cov = s^2 (J^T J)^-1.
J = r.jacobian(fit.x, t=t_obs, y=y_obs)
dof = t_obs.size - truth.size
cov = (2 * fit.cost / dof) * np.linalg.inv(J.T @ J)
print("y ~ a exp(-b t) + c, 200 noisy points (noise sd 0.02), from x0 =", x0)
for name, value, err, true in zip("abc", fit.x, np.sqrt(np.diag(cov)), truth):
    print(f"  {name} = {value:.4f} +- {err:.4f}   (truth {true})")
print(f"  status: {fit.message}")
print(f"  {fit.nfev} residual evaluations, {fit.njev} Jacobian evaluations (jac=r.jacobian)")
print(
    f"  max |fit - truth| = {np.max(np.abs(fit.x - truth)):.4f}; the fit with a finite-difference "
    f"Jacobian agrees to {np.max(np.abs(fit.x - without.x)):.1e}"
)
assert np.allclose(fit.x, truth, atol=0.05), fit.x
assert np.allclose(fit.x, without.x, atol=1e-6)
