"""The stiff Van der Pol oscillator u'' = mu (1 - u^2) u' - u as a vector model with scalar data
t, integrated by scipy's implicit Radau method with and without symbackprop's Jacobian.

Run: python examples/van_der_pol.py
"""

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp

import symbackprop as sb

MU = 1000.0  # very stiff: slow drifts along the cubic, then jumps on a time scale of 1/mu
T = 3000.0  # about two periods (a period is (3 - 2 ln 2) mu, about 1614)

# State (u, v = u'); the right-hand side is a list of expressions, so the compiled model is a
# vector model: rhs(y, t=...) is (2,) and rhs.jacobian(y, t=...) is (2, 2). The time t is the
# call-time data solve_ivp passes (this oscillator is autonomous and does not read it); mu is a
# constant folded into the code.
u, v, t, mu = sp.symbols("u v t mu")
rhs = sb.compile([v, mu * (1 - u**2) * v - u], [u, v], data=[t], constants={mu: MU})


calls = [0]  # right-hand-side evaluations, counted here: scipy's nfev leaves out the ones
# its finite-difference Jacobian makes (2 per Jacobian, one per state variable)


def fun(time, y):
    calls[0] += 1
    return rhs(y, t=time)


def jac(time, y):
    return rhs.jacobian(y, t=time)


y0 = np.array([2.0, 0.0])
# Check the Jacobian against central differences at a point off the limit cycle.
probe, h = np.array([1.3, -0.4]), 1e-6
fd = np.column_stack(
    [(fun(0.0, probe + h * e) - fun(0.0, probe - h * e)) / (2 * h) for e in np.eye(2)]
)
assert np.allclose(jac(0.0, probe), fd, rtol=1e-6), (jac(0.0, probe), fd)

print(f"Van der Pol, mu = {MU:g}, t in [0, {T:g}], y0 = {y0}, Radau (rtol 1e-6, atol 1e-9)")
runs = {}
for label, extra in (("with jac=rhs.jacobian", dict(jac=jac)), ("finite-difference Jacobian", {})):
    calls[0] = 0
    sol = solve_ivp(fun, (0.0, T), y0, method="Radau", rtol=1e-6, atol=1e-9, **extra)
    assert sol.success, sol.message
    runs[label] = sol, calls[0]
    print(
        f"  {label:<27} {calls[0]:6d} right-hand-side evaluations, {sol.njev:3d} Jacobians, "
        f"{sol.nlu:4d} LU factorizations, {sol.t.size - 1:4d} steps; u(T) = {sol.y[0, -1]:.6f}"
    )
(with_jac, n_with), (without, n_without) = runs.values()
print(
    f"  the analytic Jacobian saves {n_without - n_with} right-hand-side evaluations "
    f"({n_without / n_with:.2f}x fewer); |u(T) difference| = "
    f"{abs(with_jac.y[0, -1] - without.y[0, -1]):.1e}"
)
assert n_with < n_without, (n_with, n_without)
