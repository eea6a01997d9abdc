"""The formula readers (symbackprop/analysis/readers/): what names mean, that the function table
is what the compiler compiles, and that every refusal is a SymbackpropError with a position.
"""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import symbackprop as sb
from symbackprop.analysis.parse import FUNCTIONS, MAX_DEPTH, parse
from symbackprop.frontend import scalar
from symbackprop.frontend.scalar import to_ir, variable_nodes

x, y = sp.symbols("x y")


# ---- the function table is the compiler's -----------------------------------------------------


def _applied(function, fewest):
    return function(*[x, y][:fewest]) if fewest <= 2 else function(x, y, x)


def test_every_function_the_parser_offers_compiles():
    cannot = []
    for name, (function, fewest, _) in FUNCTIONS.items():
        try:
            to_ir([_applied(function, fewest)], dict(zip([x, y], variable_nodes([x, y]))))
        except sb.SymbackpropError:
            cannot.append(name)
    assert not cannot, f"the parser offers functions the compiler cannot compile: {cannot}"


def test_every_function_the_compiler_compiles_has_a_name():
    compiled = (
        set(scalar._UNARY_FUNCTIONS)
        | set(scalar._RECIPROCAL)
        | set(scalar._OF_RECIPROCAL)
        | {sp.Max, sp.Min, sp.Heaviside, sp.atan2}
    )
    spelled = {type(_applied(function, fewest)) for function, fewest, _ in FUNCTIONS.values()}
    missing = sorted(f.__name__ for f in compiled - spelled)
    assert not missing, f"compiled functions the parser has no name for: {missing}"


@pytest.mark.parametrize("name", ["relu", "sign", "erf", "erfc", "asinh", "atan2", "hardtanh"])
def test_a_compiled_function_is_never_read_as_a_variable(name):
    args = "(x, y)" if name == "atan2" else "(x)"
    expr = parse(f"{name}{args} + x", allow_new=True)
    assert expr.free_symbols <= {sp.Symbol("x"), sp.Symbol("y")}, expr


# ---- one rule for names ---------------------------------------------------------------------

NAMES = [  # text, read with allow_new and no symbols declared
    ("2xy", 2 * x * y),
    ("2xy^2", 2 * x * y**2),  # a power binds to the last factor of a word
    ("x1x2 + x_1", sp.Symbol("x1") * sp.Symbol("x2") + sp.Symbol("x_1")),
    ("alpha x + betax", sp.Symbol("alpha") * x + sp.Symbol("beta") * x),
    ("2pi x e^x", 2 * sp.pi * x * sp.exp(x)),
    ("w_ij x", sp.Symbol("w_ij") * x),
    ("a(x + 1)", sp.Symbol("a") * (x + 1)),
    ("relu(x) + sgn(y)", sp.Max(0, x) + sp.sign(y)),
]


@pytest.mark.parametrize("text, expected", NAMES, ids=[row[0] for row in NAMES])
def test_names_read_by_one_rule(text, expected):
    assert parse(text, allow_new=True) == expected


@pytest.mark.parametrize("text, expected", NAMES, ids=[row[0] for row in NAMES])
def test_a_formula_means_the_same_with_its_symbols_declared(text, expected):
    """What grad (nothing declared) and check (f's symbols declared) read must agree."""
    declared = sorted(expected.free_symbols, key=lambda s: s.name)
    assert parse(text, declared) == parse(text, allow_new=True)


@given(st.text(alphabet="xyzabt12_", min_size=1, max_size=8))
def test_random_words_mean_the_same_declared_or_not(word):
    try:
        free = parse(word, allow_new=True)
    except sb.SymbackpropError:
        return
    declared = sorted(free.free_symbols, key=lambda s: s.name)
    assert parse(word, declared) == free


@pytest.mark.parametrize(
    "text, words",
    [
        ("sinx", "spells the function 'sin'"),
        ("2xy(1 - x)", "unknown function 'xy'"),
        ("softmax(x)", "spells the function 'max'"),
        ("_x", "unknown name '_x'"),
    ],
)
def test_a_name_that_hides_a_function_is_refused(text, words):
    with pytest.raises(sb.SymbackpropError, match=r"at position \d") as error:
        parse(text, allow_new=True)
    assert words in str(error.value)


# ---- SymPy's and Python's exceptions never leak (issue 12, defect 7) -----------------------

LEAKED = [  # input, latex, what the message says
    ("x if x > nan else 1", None, "NaN comparison at position 7"),
    ("max(sqrt(-1), x)", None, "not comparable. at position 0"),
    ("x if sqrt(-1) > x else 1", None, "non-real I at position 14"),
    (r"\frac{é}{2}", True, "unexpected 'é' at position 6"),
    ("e^" + "-" * 1990 + "x", True, f"deeper than {MAX_DEPTH} levels at position"),
    ("e^" + "-" * 1990 + "x", False, f"deeper than {MAX_DEPTH} levels at position"),
    (r"\frac\frac" * 60 + "12", True, f"deeper than {MAX_DEPTH} levels at position"),
    (r"\begin{pmatrix} 1 & 2 \\ 3 \end{pmatrix}", True, "row 2 has 1 cell(s) and row 1 has 2"),
    (r"\lvert x", True, r"\lvert without \rvert at position 0"),
    ("٣x", None, "'٣': this character is not part of a formula at position 0"),
]


@pytest.mark.parametrize("text, latex, words", LEAKED, ids=[row[0][:30] for row in LEAKED])
def test_bad_formulas_raise_symbackprop_errors_with_the_position(text, latex, words):
    with pytest.raises(sb.SymbackpropError) as error:
        parse(text, [x], latex)
    assert words in str(error.value)
