"""Compiled functions plugged into scipy.optimize.minimize (jac=fn.grad, hess=fn.hessian,
hessp=fn.hvp), next to symbackprop's own minimize on the same problems.

Run: python examples/minimize_scipy.py
"""

import numpy as np
import sympy as sp
from scipy.optimize import minimize as scipy_minimize

import symbackprop as sb
from symbackprop.training import minimize

# The lecture notes' quadratic: its minimum is (-1, -1, -1).
x1, x2, x3 = sp.symbols("x1 x2 x3")
f = x1**2 + x1 * (1 - x2) + x2**2 - x2 * x3 + x3**2 + x3
fn = sb.compile(f, [x1, x2, x3])
x0 = np.zeros(3)

print("f = x1^2 + x1 (1 - x2) + x2^2 - x2 x3 + x3^2 + x3 from x0 = (0, 0, 0)")
for method, derivatives in [
    ("BFGS", dict(jac=fn.grad)),
    ("Newton-CG", dict(jac=fn.grad, hess=fn.hessian)),
    ("Newton-CG", dict(jac=fn.grad, hessp=fn.hvp)),
    ("trust-exact", dict(jac=fn.grad, hess=fn.hessian)),
    ("trust-krylov", dict(jac=fn.grad, hessp=fn.hvp)),
]:
    r = scipy_minimize(fn, x0, method=method, **derivatives)
    given = "+".join(derivatives)
    print(
        f"  scipy {method:<12} ({given:<9}) x = {np.round(r.x, 6)}, f = {r.fun:.6f}, "
        f"{r.nit} iterations, {r.nfev} f / {r.get('njev', 0)} grad evaluations"
    )
for method in ("gd", "newton", "adam"):
    r = minimize(fn, x0, method, lr=0.1 if method != "newton" else None, classify=True)
    print(
        f"  symbackprop {method:<6} x = {np.round(r.x, 6)}, f = {r.fun:.6f}, "
        f"{r.iterations} iterations, stopped: {r.stop_reason}; {r.point.kind}"
    )

# Rosenbrock in 5 variables: non-convex, so Newton's Hessian needs the fallback at times.
xs = sp.symbols("x1:6")
rosen = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(4))
rn = sb.compile(rosen, list(xs))
start = np.array([-1.2, 1.0, -1.2, 1.0, -1.2])
print("\nRosenbrock, 5 variables, from", start)
r = scipy_minimize(rn, start, method="trust-exact", jac=rn.grad, hess=rn.hessian)
print(f"  scipy trust-exact      x = {np.round(r.x, 6)}, {r.nit} iterations")
r = scipy_minimize(rn, start, method="Newton-CG", jac=rn.grad, hessp=rn.hvp)
print(f"  scipy Newton-CG (hvp)  x = {np.round(r.x, 6)}, {r.nit} iterations")
r = minimize(rn, start, "newton", tol_grad=1e-10, classify=True)
print(
    f"  symbackprop newton     x = {np.round(r.x, 6)}, {r.iterations} iterations "
    f"({r.hessian_modifications} with a modified Hessian), stopped: {r.stop_reason}; "
    f"{r.point.kind}"
)
print("  (Rosenbrock in 4 to 7 variables has a second, local minimum near x1 = -1: Newton's")
print("  eigenvalue test confirms it is a minimum; the global one is (1, 1, 1, 1, 1))")
