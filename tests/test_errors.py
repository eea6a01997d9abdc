"""Bad input gets a clear sb.SymbackpropError (a ValueError) naming the offending thing, and
nothing half-done: a rejected compile leaves no file in the cache. NaN in, NaN out.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb

x, y, z, a = sp.symbols("x y z a", real=True)


@pytest.fixture(scope="module")
def fn():
    """f(x, y), with a relu so NaN has to get through a comparison."""
    return sb.compile(x**2 * y + sb.relu(x) + sp.sin(y) + sp.Abs(y - 1), [x, y])


@pytest.fixture(scope="module")
def vector_fn():
    return sb.compile([x * y, sp.exp(x) + sb.hardtanh(y), sp.Max(x, y)], [x, y])


def _raises(match=None):
    return pytest.raises(sb.SymbackpropError, match=match)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file()}


def test_error_type_is_a_value_error():
    assert issubclass(sb.SymbackpropError, ValueError)
    with pytest.raises(ValueError):
        sb.compile(x + y, [x])


# ---- compile-time errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "f, vars, name",
    [
        (x + y + sp.Symbol("zeta"), [x, y], "zeta"),
        (sp.exp(x) * sp.Symbol("lambda_2"), [x], "lambda_2"),
        ([x, y * sp.Symbol("beta")], [x, y], "beta"),
        (sp.Piecewise((x, sp.Symbol("q") > 0), (y, True)), [x, y], "q"),
        (x + y, [x], "y"),
    ],
)
def test_unknown_free_symbol_is_named(f, vars, name):
    with _raises() as info:
        sb.compile(f, vars)
    assert re.search(rf"\b{re.escape(name)}\b", str(info.value)), str(info.value)


@pytest.mark.parametrize(
    "vars, needle",
    [
        ([], "empty"),
        ((), "empty"),
        ([x, y, x], "x"),
        ([x, "y"], "y"),
        ([x, x + y], "x + y"),
        ([x, 3], "3"),
        (None, "None"),
    ],
)
def test_bad_vars(vars, needle):
    with _raises() as info:
        sb.compile(x + y, vars)
    assert needle in str(info.value), str(info.value)


def test_duplicated_variable_message_says_so():
    with _raises(r"\by\b") as info:
        sb.compile(x + y, [x, y, z, y])
    assert "twice" in str(info.value) or "duplicate" in str(info.value).lower()


@pytest.mark.parametrize("constants", [{x: 2.0}, {a: 1.0, y: 3.0}])
def test_constant_naming_a_variable(constants):
    name = "x" if "x" in {str(k) for k in constants} else "y"
    with _raises() as info:
        sb.compile(a * x + y, [x, y], constants=constants)
    assert re.search(rf"\b{name}\b", str(info.value)), str(info.value)


def test_constant_naming_a_variable_by_name():
    p, q = sp.symbols("p q")
    with _raises(r"\bp\b"):
        sb.compile(p * q, [p, q], constants={"p": 2.0})


def test_constant_naming_a_real_variable_by_name():
    with _raises(r"\bx\b"):
        sb.compile(a * x + y, [x, y], constants={"x": 2.0})


@pytest.mark.parametrize(
    "constants, needle",
    [
        ({a: "not a number"}, "a"),
        ({a: y}, "a"),
        ([(a, 1.0)], "constants"),
    ],
)
def test_bad_constants(constants, needle):
    with _raises() as info:
        sb.compile(a * x, [x], constants=constants)
    assert re.search(rf"\b{needle}\b", str(info.value)), str(info.value)


def test_constants_are_folded_in():
    p, q, c = sp.symbols("p q c")
    fn = sb.compile([c * p**2 + q], [p, q], constants={"c": 3})
    np.testing.assert_allclose(fn.jacobian([2.0, 5.0]), [[12.0, 1.0]])
    fn = sb.compile([a * x**2 + y], [x, y], constants={a: 3})
    np.testing.assert_allclose(fn.jacobian([2.0, 5.0]), [[12.0, 1.0]])


def test_constants_by_name_bind_symbols_with_assumptions():
    fn = sb.compile([a * x**2 + y], [x, y], constants={"a": 3})
    np.testing.assert_allclose(fn.jacobian([2.0, 5.0]), [[12.0, 1.0]])


@pytest.mark.parametrize(
    "f, needle",
    [
        ("x**2", "string"),
        ([], "empty"),
        (sp.MatrixSymbol("M", 2, 2), "matrix"),
        (x + sp.I, "I"),
        (sp.exp(2 * sp.I) * x, "I"),
    ],
)
def test_bad_expressions(f, needle):
    with _raises() as info:
        sb.compile(f, [x])
    assert needle.lower() in str(info.value).lower(), str(info.value)


UNSUPPORTED = [
    pytest.param(lambda: sp.gamma(x), "gamma", id="gamma"),
    pytest.param(lambda: sp.Function("g")(x), "g", id="undefined-function"),
    pytest.param(lambda: sp.exp(sp.loggamma(x)) + y**2, "loggamma", id="nested-loggamma"),
    pytest.param(lambda: [x * y, sp.floor(x) + y], "floor", id="vector-floor"),
    pytest.param(lambda: sp.besselj(0, x) * y, "besselj", id="besselj"),
]


@pytest.mark.parametrize("build, name", UNSUPPORTED)
def test_unsupported_function_is_named_and_nothing_is_cached(build, name, tmp_path):
    cache = tmp_path / "cache"
    # something already in the cache folder, so "nothing new" is a real comparison
    sb.compile(x + y, [x, y], cache_dir=cache)
    before = _files(cache)
    assert before, "the first compile should have written its module"
    with _raises() as info:
        sb.compile(build(), [x, y], cache_dir=cache)
    assert re.search(rf"\b{re.escape(name)}\b", str(info.value)), str(info.value)
    assert _files(cache) == before, "a rejected compile wrote into the cache"


def test_unsupported_function_in_an_empty_cache_writes_no_file(tmp_path):
    with _raises(r"\bgamma\b"):
        sb.compile(sp.gamma(x) + y, [x, y], cache_dir=tmp_path)
    assert _files(tmp_path) == set()


def test_unevaluated_derivative_is_named():
    g = sp.Function("g")
    with _raises() as info:
        sb.compile(sp.Derivative(g(x), x) + y, [x, y])
    assert re.search(r"\bDerivative\b|\bg\b", str(info.value)), str(info.value)


def test_integral_is_named_not_its_bound_variable():
    with _raises() as info:
        sb.compile(sp.Integral(x * z, (z, 0, 1)) + y, [x, y])
    assert "Integral" in str(info.value), str(info.value)


# ---- call-time errors -------------------------------------------------------------------------


SCALAR_METHODS = ["__call__", "grad", "value_and_grad", "hessian"]


@pytest.mark.parametrize("method", SCALAR_METHODS)
@pytest.mark.parametrize(
    "bad",
    [[1.0, 2.0, 3.0], [1.0], np.zeros((4, 3)), np.zeros((4, 1))],
    ids=["len3", "len1", "batch-3-cols", "batch-1-col"],
)
def test_wrong_input_length_names_the_expected_shape(fn, method, bad):
    with _raises() as info:
        getattr(fn, method)(bad)
    msg = str(info.value)
    assert "(2,)" in msg or "(batch, 2)" in msg, msg
    assert str(np.shape(bad)) in msg, msg


@pytest.mark.parametrize(
    "bad", [np.float64(1.0), np.zeros((2, 2, 2)), np.zeros((1, 1, 2))], ids=["0-d", "3-d", "3-d-b"]
)
def test_wrong_ndim(fn, bad):
    for method in SCALAR_METHODS:
        with _raises() as info:
            getattr(fn, method)(bad)
        msg = str(info.value)
        assert "(2,)" in msg or "(batch, 2)" in msg, msg
        if np.ndim(bad) > 0:  # (a 0-d x is reported after conversion, as shape (1,))
            assert str(np.shape(bad)) in msg, msg
    with _raises():
        fn.hvp(bad, bad)


def test_vector_function_wrong_input(vector_fn):
    with _raises(r"\(2,\)|\(batch, 2\)"):
        vector_fn([1.0, 2.0, 3.0])
    with _raises(r"\(2,\)|\(batch, 2\)"):
        vector_fn.jacobian(np.zeros((3, 5)))


@pytest.mark.parametrize(
    "x_, v",
    [
        ([1.0, 2.0], [1.0, 2.0, 3.0]),
        ([1.0, 2.0], [1.0]),
        ([1.0, 2.0], np.ones((1, 2))),
        (np.ones((3, 2)), np.ones((2, 2))),
        (np.ones((3, 2)), np.ones(2)),
    ],
)
def test_hvp_with_v_of_the_wrong_shape(fn, x_, v):
    with _raises() as info:
        fn.hvp(x_, v)
    msg = str(info.value)
    assert re.search(r"\bv\b", msg), msg
    assert str(np.shape(v)) in msg, msg


def test_jacobian_of_a_scalar_function(fn):
    with _raises() as info:
        fn.jacobian([1.0, 2.0])
    assert "grad" in str(info.value) or "scalar" in str(info.value)


def test_scalar_methods_of_a_vector_function(vector_fn):
    for call in (
        lambda: vector_fn.grad([1.0, 2.0]),
        lambda: vector_fn.value_and_grad([1.0, 2.0]),
        lambda: vector_fn.hessian([1.0, 2.0]),
        lambda: vector_fn.hvp([1.0, 2.0], [1.0, 0.0]),
        lambda: vector_fn.grad(np.array([1.0, 2.0])),
    ):
        with _raises() as info:
            call()
        assert "jacobian" in str(info.value), str(info.value)


def test_non_numeric_input(fn):
    with _raises():
        fn(["a", "b"])


def test_accepted_input_forms_agree(fn):
    """Lists, tuples, ints, float32, non-contiguous and Fortran-ordered arrays all read the
    same numbers."""
    X = np.array([[1.5, -0.5], [0.25, 2.0], [-1.0, 1.0]])
    want = np.array([fn.grad(r) for r in X])
    np.testing.assert_array_equal(fn.grad(X), want)
    np.testing.assert_array_equal(fn.grad(np.asfortranarray(X)), want)
    wide = np.zeros((3, 4))
    wide[:, ::2] = X
    np.testing.assert_array_equal(fn.grad(wide[:, ::2]), want)  # non-contiguous view
    np.testing.assert_array_equal(fn.grad(X.T.copy().T), want)
    assert fn((1, 2)) == fn([1.0, 2.0]) == fn(np.array([1, 2]))
    np.testing.assert_array_equal(fn.grad(np.array([1.5, -0.5], dtype=np.float32)), want[0])
    np.testing.assert_array_equal(fn.hvp(X[::-1], X), [fn.hvp(r, v) for r, v in zip(X[::-1], X)])
    # 1-D inputs of the right shape that are not plain contiguous native float64
    for r, row in enumerate(X):
        strided = wide[r, ::2]  # a non-contiguous view of shape (2,)
        assert not strided.flags.c_contiguous
        assert fn(strided) == fn(row.copy())
        np.testing.assert_array_equal(fn.grad(strided), want[r])
        v, g = fn.value_and_grad(strided)
        assert v == fn(row.copy())
        np.testing.assert_array_equal(g, want[r])
        frozen = row.copy()
        frozen.flags.writeable = False
        np.testing.assert_array_equal(fn.grad(frozen), want[r])
        np.testing.assert_array_equal(fn.grad(row.astype(">f8")), want[r])  # big-endian
        np.testing.assert_array_equal(fn.hessian(strided), fn.hessian(row.copy()))


# ---- NaN in, NaN out --------------------------------------------------------------------------


@pytest.mark.parametrize("nan_at", [0, 1])
def test_nan_in_nan_out(fn, nan_at):
    pt = np.array([0.7, 0.4])
    pt[nan_at] = np.nan
    assert math.isnan(fn(pt))
    g = fn.grad(pt)
    assert g.shape == (2,) and math.isnan(g[nan_at]), g
    v, g2 = fn.value_and_grad(pt)
    assert math.isnan(v) and math.isnan(g2[nan_at])
    H = fn.hessian(pt)
    # d2f/dx2 = 2y does not depend on x; the mixed term 2x and d2f/dy2 do
    assert H.shape == (2, 2) and np.isnan(H[0, 1]) == (nan_at == 0), H
    assert np.isnan(H[nan_at]).any(), H
    assert np.isnan(fn.hvp(pt, [1.0, 1.0])).any()


def test_nan_row_does_not_spill_into_other_rows(fn):
    X = np.array([[0.5, 1.5], [np.nan, 0.3], [-0.2, 2.0]])
    values, grads = fn(X), fn.grad(X)
    assert np.isnan(values[1]) and np.isnan(grads[1, 0])
    for r in (0, 2):
        assert values[r] == fn(X[r])
        np.testing.assert_array_equal(grads[r], fn.grad(X[r]))


def test_nan_in_vector_function(vector_fn):
    out = vector_fn([np.nan, 0.5])
    assert np.isnan(out).all(), out  # every output depends on x
    J = vector_fn.jacobian([0.5, np.nan])
    # d(xy)/dy = x is finite; hardtanh'(NaN) and d Max(x, NaN)/dy are NaN
    assert J[0, 1] == 0.5 and np.isnan(J[1:, 1]).all(), J


@pytest.mark.parametrize("pt", [[np.inf, 1.0], [-np.inf, 1.0], [1.0, np.inf], [1e308, -1e308]])
def test_infinite_input_does_not_crash(fn, pt):
    value = fn(pt)
    assert isinstance(value, float)
    assert fn.grad(pt).shape == (2,)
    assert fn.hessian(pt).shape == (2, 2)


def test_an_empty_cache_dir_is_refused(tmp_path, monkeypatch):
    """cache_dir="" would cache into the working directory."""
    monkeypatch.chdir(tmp_path)
    x = sp.Symbol("x_empty_cache_dir")
    with pytest.raises(sb.SymbackpropError, match="cache_dir is an empty string"):
        sb.compile(x**2, [x], cache_dir="")
    with pytest.raises(sb.SymbackpropError, match="cache_dir is an empty string"):
        sb.Sequential(inputs=1, layers=[sb.Dense(1)]).compile(cache_dir="  ")
    assert not list(tmp_path.iterdir())


# ---- limits that hold (issue 12): constants, numbers, infinities, cache folders -------------


@pytest.mark.parametrize(
    "value, needle",
    [
        (10**400, "is not a finite float64 number"),
        (10**5000, "is not a finite float64 number"),  # past Python's int-to-text limit too
        (sp.Integer(10) ** 400, "is not a finite float64 number"),
        (math.inf, "is not a finite float64 number"),
        (sp.oo, "is not a finite float64 number"),
        (math.nan, "is NaN"),
        (sp.zoo, "is not a real number"),
        (1 + 2j, "is not a real number"),
        (np.complex128(1.0), "is not a real number"),
    ],
    ids=["1e400", "1e5000", "Integer-1e400", "inf", "oo", "nan", "zoo", "complex", "complex128"],
)
def test_constants_must_be_finite_real_float64_numbers(value, needle, tmp_path):
    with _raises(rf"^constant a = .*{needle}"):
        sb.compile(a * x, [x], constants={a: value}, cache_dir=tmp_path)
    assert not _files(tmp_path)


def test_a_number_beyond_float64_in_the_expression_is_named():
    with _raises(r"the number 10000000000000000000\.\.\. \(401 characters\) is not a finite"):
        sb.compile(sp.Integer(10) ** 400 * x, [x])


@pytest.mark.parametrize(
    "f, shown",
    [(sp.oo * x, "oo"), (x - sp.oo, "-oo"), (sp.zoo * x, "zoo (complex infinity")],
)
def test_infinities_in_the_expression_are_called_infinite(f, shown):
    with _raises() as info:
        sb.compile(f, [x])
    message = str(info.value)
    assert f"the infinite value {shown}" in message and "complex constant" not in message, message


def test_nan_in_the_expression_still_gives_nan():
    assert math.isnan(sb.compile(x + sp.nan, [x])([1.0]))


class _BytesPath:
    def __fspath__(self):
        return b"/tmp/a"


@pytest.mark.parametrize(
    "folder, needle",
    [
        ("a\0b", r"cache_dir 'a\\x00b' holds a NUL byte \(at position 1\)"),
        (Path("cache\0"), r"holds a NUL byte \(at position 5\)"),
        ("cache\ud800", "cannot be encoded for the file system"),
        ("~no_such_user_symbackprop/cache", "~ cannot be expanded"),
        (_BytesPath(), "must be a str path"),
    ],
)
def test_a_cache_dir_that_cannot_be_a_path_is_named(folder, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with _raises(needle):
        sb.compile(x**2, [x], cache_dir=folder)
    with _raises(needle):
        sb.Sequential(inputs=1, layers=[sb.Dense(1)]).compile(cache_dir=folder)
    assert not list(tmp_path.iterdir())
