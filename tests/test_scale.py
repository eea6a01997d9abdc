"""Scale as a design property, checked on operation counts (deterministic, no timing):
cheap gradients (ops(grad) <= 3 ops(f)), code size linear in the function's size, and a
sparse Hessian filled without computing its zeros. Timings live in benchmarks/.
"""

from __future__ import annotations

import re

import pytest
import sympy as sp

import symbackprop as sb


def rosenbrock(n):
    xs = sp.symbols(f"x0:{n}")
    return sp.Add(
        *[100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(n - 1)]
    ), xs


def nested_sin(depth):
    x = sp.Symbol("x")
    e = x
    for _ in range(depth):
        e = sp.sin(e)
    return e, [x]


def product(n):
    xs = sp.symbols(f"x0:{n}")
    return sp.Mul(*xs), xs


@pytest.mark.parametrize(
    "make, size",
    [(rosenbrock, 1000), (product, 100), (nested_sin, 30)],
    ids=["rosenbrock-1000", "product-100", "sin-nested-30"],
)
def test_cheap_gradient_operation_count(make, size):
    f, xs = make(size)
    report = sb.compile(f, xs).cost()
    assert report.gradient_ratio <= 3.0, report.table()


@pytest.mark.parametrize("n", [25, 50, 100])
def test_gradient_cost_is_linear_not_quadratic(n):
    # O(n) operations for n partial derivatives; per-variable sympy.diff costs O(n^2).
    assert sb.compile(*product(n)).cost().ops_after["grad"] <= 3 * n


def test_generated_code_grows_linearly_and_hessian_skips_zeros():
    sizes = (25, 50, 100)
    lines, stores = [], []
    for n in sizes:
        source = sb.compile(*rosenbrock(n)).source
        lines.append(len(source.splitlines()))
        stores.append(len(re.findall(r"^ +hessian\[\d+, \d+\] = ", source, re.M)))
    growth = [(lines[k + 1] - lines[k]) / (sizes[k + 1] - sizes[k]) for k in range(2)]
    assert abs(growth[1] - growth[0]) <= 0.1 * growth[0], (lines, growth)
    # tridiagonal: n diagonal stores + (n - 1) upper entries mirrored once each
    assert stores == [3 * n - 2 for n in sizes]
