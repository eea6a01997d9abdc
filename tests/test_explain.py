"""Explanations: the notes' backprop-by-hand examples worked by the tool, checked against
sympy.diff; the graph picture (DOT, rendered by graphviz when present), the LaTeX block, the
Hessian-spectrum plot (matplotlib optional), and errors that name the problem.
"""

from __future__ import annotations

import math
import re
import stat
import sys

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import expression_dags, reference, safe_points

import symbackprop as sb
from symbackprop.analysis import explain as explain_module
from symbackprop.analysis.explain import explain, plot_spectrum, spectrum_counts

x, y, z = sp.symbols("x y z", real=True)
w0, x0, w1, x1, w2 = sp.symbols("w0 x0 w1 x1 w2")
r, s = sp.symbols("r s", real=True)
SIGMOID_NEURON = 1 / (1 + sp.exp(-(w0 * x0 + w1 * x1 + w2)))
NEURON_POINT = {w0: 2, x0: -1, w1: -3, x1: -2, w2: -3}


def _sympy_gradient(f, wrt, at):
    return {v: sp.diff(f, v).subs(at) for v in wrt}


def _close(a, b, tol=1e-10):
    a, b = float(a), float(b)
    return abs(a - b) <= tol * (1 + abs(b))


# ---- the notes' worked examples ----------------------------------------------------------------

# f, wrt, point, {label: forward value}, expected gradient, lines the text must contain
NOTES = [
    pytest.param(
        (x + y) * z,
        [x, y, z],
        {x: -2, y: 5, z: -4},
        {"q": 3, "f": -12},
        {x: -4, y: -4, z: 3},
        [
            "q = x + y = 3",
            "f = q*z = -12",
            "df/dq = z = -4",
            "df/dz = q = 3",
            "df/dx = df/dq * dq/dx = -4 * 1 = -4",
            "df/dy = df/dq * dq/dy = -4 * 1 = -4",
            "Gradient: df/dx = -4, df/dy = -4, df/dz = 3",
        ],
        id="notes-(x+y)z",
    ),
    pytest.param(
        # the classic sigmoid neuron: the notes' graph has w0 x0 = -2, w1 x1 = 6, sum 1, then
        # *-1, exp 0.37, +1 1.37, 1/x 0.73 (SymPy folds the *-1 into the sum: q3 = -1)
        SIGMOID_NEURON,
        [w0, x0, w1, x1, w2],
        NEURON_POINT,
        {"q1": -2, "q2": 6, "q3": -1, "q4": math.exp(-1), "q5": 1 + math.exp(-1), "f": 0.7311},
        {w0: -0.1966, x0: 0.3932, w1: -0.3932, x1: -0.5898, w2: 0.1966},
        [
            "q1 = w0*x0 = -2",
            "q2 = w1*x1 = 6",
            "q3 = -q1 - q2 - w2 = -1",
            "q4 = exp(q3) ≈ 0.3679",
            "q5 = q4 + 1 ≈ 1.368",
            "f = 1/q5 ≈ 0.7311",
            "df/dq5 = -1/q5**2 ≈ -0.5344",
            "df/dq3 = df/dq4 * dq4/dq3 ≈ -0.5344 * 0.3679 ≈ -0.1966",
            "df/dx1 = df/dq2 * dq2/dx1 ≈ 0.1966 * (-3) ≈ -0.5898",
        ],
        id="notes-sigmoid-neuron",
    ),
    pytest.param(
        # the notes' max gate: a gradient router, (z1, z2, z3) = (1, 2, 3) -> (0, 0, 1)
        sp.Max(x, y, z),
        [x, y, z],
        {x: 1, y: 2, z: 3},
        {"f": 3},
        {x: 0, y: 0, z: 1},
        ["f = Max(x, y, z) = 3", "df/dz = 1 if (x < z) & (y < z) else 0 = 1"],
        id="notes-max-gate",
    ),
]


@pytest.mark.parametrize("f, wrt, at, forward, gradient, lines", NOTES)
def test_notes_examples(f, wrt, at, forward, gradient, lines):
    e = explain(f, wrt, at)
    values = {st.label: st.value_float for st in e.steps}
    for label, want in forward.items():
        assert _close(values[label], want, 1e-3), (label, values[label], want)
    for v, want in gradient.items():
        assert _close(e.gradient[v], want, 1e-3), (v, e.gradient[v], want)
    for v, want in _sympy_gradient(f, wrt, at).items():
        assert _close(e.gradient[v], want), (v, e.gradient[v], want)
    for line in lines:
        assert line in e.text, f"{line!r} not in\n{e.text}"
    assert _close(e.value, f.subs(at))


def test_exact_point_gives_exact_values():
    e = explain((x + y) * z, [x, y, z], {x: -2, y: 5, z: -4})
    assert e.gradient == {x: -4, y: -4, z: 3}
    assert all(isinstance(g, sp.Integer) for g in e.gradient.values())
    assert e.value == -12
    e = explain(sp.sqrt(x) * y, [x, y], {x: 2, y: sp.Rational(1, 3)})
    assert e.gradient[x] == sp.sqrt(2) / 12 and e.gradient[y] == sp.sqrt(2)


def test_point_keys_may_be_names_or_look_alike_symbols():
    plain = sp.Symbol("x")  # f's x is real=True; a user's plain x still means it
    e = explain(x * y, [x], {plain: 3, "y": 2})
    assert e.gradient == {x: 2} and e.point == {x: 3, y: 2}


def test_steps_structure_for_the_notes_example():
    e = explain((x + y) * z, [x, y, z], {"x": -2, "y": 5, "z": -4})  # names work as keys
    by_label = {st.label: st for st in e.steps}
    assert [st.label for st in e.steps] == ["x", "y", "z", "q", "f"]  # inputs, then forward order
    q, f = by_label["q"], by_label["f"]
    assert (q.expr, q.subexpr, q.value, q.upstream) == (x + y, x + y, 3, -4)
    assert f.upstream == 1 and f.upstream_float == 1.0
    local = {g.input: (g.local, g.local_value, g.contribution) for g in f.inputs}
    assert local == {"q": (z, -4, -4), "z": (sp.Symbol("q", real=True), 3, 3)}
    assert {g.input: g.contribution for g in q.inputs} == {"x": -4, "y": -4}
    assert by_label["x"].inputs == () and by_label["x"].upstream == -4


# ---- random expressions against sympy.diff -----------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag=expression_dags(max_nodes=5), seed=st.integers(0, 2**16))
def test_gradient_matches_sympy_diff(dag, seed):
    points = safe_points(dag, seed, 1)
    if points is None:
        return
    at = dict(zip(dag.variables, [float(p) for p in points[0]]))
    wrt = [v for v in dag.variables if v in dag.expr.free_symbols]  # SymPy may cancel some
    e = explain(dag.expr, wrt, at)
    want = reference(dag.expr, dag.variables).grad(points[0])
    got = [float(e.gradient.get(v, 0.0)) for v in dag.variables]
    assert got == pytest.approx(list(want), rel=1e-8, abs=1e-8), dag


EXACT = [
    (x * y + sp.exp(x * y) + x, {x: 1, y: 2}),
    (x / y - sp.log(x**2 + 1) * sp.sin(y), {x: sp.Rational(1, 2), y: 3}),
    (sp.tanh(x - 2 * y) ** 2 + sp.cos(x) / (1 + y**2), {x: -1, y: sp.Rational(2, 3)}),
    (sb.sigmoid(x * y) + sb.softplus(x - y), {x: 2, y: -1}),
    (sp.Max(0, x - y) * sp.Abs(y) + sp.Min(x, 1), {x: 3, y: -2}),
    (x**y + sp.sqrt(1 + x**2) ** 3, {x: 2, y: sp.Rational(1, 3)}),
]


@pytest.mark.parametrize("f, at", EXACT, ids=[str(i) for i in range(len(EXACT))])
def test_exact_gradient_equals_sympy_diff(f, at):
    e = explain(f, [x, y], at)
    for v, want in _sympy_gradient(f, [x, y], at).items():
        assert sp.N(e.gradient[v] - want, 30) == pytest.approx(0, abs=1e-25), (v, f)


# ---- graph structure ---------------------------------------------------------------------------


def test_shared_subexpression_is_one_node_and_gradients_sum():
    f = x * y + sp.exp(x * y) + x
    e = explain(f, [x, y], {x: 1, y: 2})
    assert [st.subexpr for st in e.steps].count(x * y) == 1
    shared = next(st for st in e.steps if st.subexpr == x * y)
    assert shared.upstream == 1 + sp.exp(2)  # from f directly and through exp
    assert f"df/d{shared.label} = 1 + df/d" in e.text
    for v in (x, y):  # the gradient is the sum of every contribution flowing into the leaf
        flows = [g.contribution for st in e.steps for g in st.inputs if g.input == str(v)]
        assert sp.simplify(sum(flows) - e.gradient[v]) == 0
    assert len([g for st in e.steps for g in st.inputs if g.input == "x"]) == 2


def test_division_reads_as_division():
    e = explain(x / y, [x, y], {x: 3, y: 2})
    assert "f = x/y = 3/2" in e.text and "df/dy = -x/y**2 = -3/4" in e.text
    assert "**(-1)" not in e.text and "**-1" not in e.text


# name -> (f, wrt, point, expected gradient): the project's non-smooth conventions
NON_SMOOTH = {
    "relu'(0) = 0": (sb.relu(x), [x], {x: 0}, {x: 0}),
    "relu'(2) = 1": (sb.relu(x), [x], {x: 2}, {x: 1}),
    "|z|' at 0 is 0": (sp.Abs(x) * y, [x], {x: 0, y: 5}, {x: 0}),
    "|z|' at -3 is -1": (sp.Abs(x), [x], {x: -3}, {x: -1}),
    "max ties go to the first": (sp.Max(x, y), [x, y], {x: 1, y: 1}, {x: 1, y: 0}),
    "leaky relu": (sb.leaky_relu(x), [x], {x: -2}, {x: sp.Rational(1, 100)}),
    "sign is flat": (sp.sign(x) + x, [x], {x: 0}, {x: 1}),
}


@pytest.mark.parametrize("f, wrt, at, want", NON_SMOOTH.values(), ids=NON_SMOOTH.keys())
def test_non_smooth_conventions(f, wrt, at, want):
    assert explain(f, wrt, at).gradient == want


def test_deep_expression_does_not_recurse():
    f, value, slope = x, 0.5, 1.0
    for _ in range(80):  # deeper trips SymPy's own recursive constructors
        f = sp.sin(f) + 1
        value, slope = math.sin(value) + 1, slope * math.cos(value)  # the chain rule, by hand
    e = explain(f, [x], {x: sp.Rational(1, 2)})
    assert _close(e.value, value, 1e-12) and _close(e.gradient[x], slope, 1e-12)
    assert len(e.steps) == 1 + 2 * 80 and "(161 nodes)" in e.text


# ---- DOT, rendering and LaTeX ------------------------------------------------------------------


def _parse_dot(dot: str):
    assert dot.count("{") == dot.count("}") and dot.strip().startswith("digraph")
    assert dot.rstrip().endswith("}")
    nodes = dict(re.findall(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"', dot, re.M))
    edges = re.findall(r"^\s*(n\d+) -> (n\d+)", dot, re.M)
    return nodes, edges


def test_dot_is_structurally_sound():
    e = explain((x + y) * z, [x, y, z], {x: -2, y: 5, z: -4})
    nodes, edges = _parse_dot(e.dot)
    assert len(nodes) == 5 and len(edges) == 4
    assert all(a in nodes and b in nodes for a, b in edges)
    labels = sorted(nodes.values())
    assert "q = x + y\\n= 3\\ndf/dq = -4" in labels
    assert "f = q*z\\n= -12\\ndf/df = 1" in labels
    assert "x\\n= -2\\ndf/dx = -4" in labels
    # inputs and output look different from the operations
    styles = {
        n: re.search(rf"^\s*{n} \[.*shape=(\w+).*fillcolor=\"([^\"]+)\"", e.dot, re.M)
        for n in nodes
    }
    output = next(n for n, lab in nodes.items() if lab.startswith("f ="))
    leaf = next(n for n, lab in nodes.items() if lab.startswith("x\\n"))
    op = next(n for n, lab in nodes.items() if lab.startswith("q ="))
    assert styles[output].group(2) != styles[leaf].group(2) and styles[op] is None
    assert re.search(r'-> n\d+ \[label="-4", fontcolor="red"\]', e.dot)  # contributions on edges


def test_dot_for_the_neuron_declares_every_endpoint():
    nodes, edges = _parse_dot(explain(SIGMOID_NEURON, [w0, x1], NEURON_POINT).dot)
    assert all(a in nodes and b in nodes for a, b in edges) and len(nodes) == 11


def test_render_dot(tmp_path):
    e = explain((x + y) * z, [x], {x: -2, y: 5, z: -4})
    out = e.render(tmp_path / "graph.dot")
    assert out.read_text() == e.dot


def test_render_svg_without_graphviz_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(explain_module.shutil, "which", lambda name: None)
    e = explain((x + y) * z, [x], {x: -2, y: 5, z: -4})
    with pytest.raises(sb.SymbackpropError, match=r"graphviz's `dot`.*not installed.*\.dot"):
        e.render(tmp_path / "graph.svg")
    assert not (tmp_path / "graph.svg").exists()


def test_render_svg_runs_dot(tmp_path, monkeypatch):
    # a stand-in `dot` that records its arguments and echoes its input into the output file
    fake = tmp_path / "dot"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "args = sys.argv[1:]\n"
        "out = args[args.index('-o') + 1]\n"
        "open(out, 'w').write(' '.join(args[:1]) + '\\n' + sys.stdin.read())\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(explain_module.shutil, "which", lambda name: str(fake))
    e = explain((x + y) * z, [x], {x: -2, y: 5, z: -4})
    for kind in ("svg", "png"):
        out = e.render(tmp_path / f"graph.{kind}")
        assert out.read_text() == f"-T{kind}\n" + e.dot


@pytest.mark.skipif(explain_module.shutil.which("dot") is None, reason="graphviz not installed")
def test_render_svg_with_real_graphviz(tmp_path):
    out = explain(SIGMOID_NEURON, [w0], NEURON_POINT).render(tmp_path / "neuron.svg")
    assert "<svg" in out.read_text()


def test_render_rejects_unknown_extension(tmp_path):
    with pytest.raises(sb.SymbackpropError, match=r"graph\.pdf.*\.dot, \.svg or \.png"):
        explain(x * y, [x], {x: 1, y: 2}).render(tmp_path / "graph.pdf")


def test_latex_is_an_align_block():
    e = explain((x + y) * z, [x, y, z], {x: -2, y: 5, z: -4})
    assert e.latex.startswith("\\begin{align*}") and e.latex.endswith("\\end{align*}")
    assert "q &= x + y = 3" in e.latex
    assert (
        r"\frac{\partial f}{\partial x} &= \frac{\partial f}{\partial q} "
        r"\frac{\partial q}{\partial x} = -4 \cdot 1 = -4"
    ) in e.latex
    neuron = explain(SIGMOID_NEURON, [w0], NEURON_POINT).latex
    assert r"\approx" in neuron and "q_{1} &= w_{0} x_{0} = -2" in neuron


# ---- Hessian spectrum --------------------------------------------------------------------------

SPECTRA = [
    ([-2.0, 1e-13, 0.5, 3.0], (1, 1, 2)),
    ([1.0, 2.0, 3.0], (0, 0, 3)),
    ([sp.Integer(-1), 2 - sp.sqrt(2), sp.Integer(0)], (1, 1, 1)),
    ([-1e6, -1e-3, 0.0, 4e5], (1, 2, 1)),  # zero is relative to the largest |eigenvalue|
]


@pytest.mark.parametrize("eigenvalues, counts", SPECTRA)
def test_spectrum_counts(eigenvalues, counts):
    assert spectrum_counts(eigenvalues) == counts


def test_plot_spectrum_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = plot_spectrum([-3.0, -0.5, 0.0, 1e-12, 2.0, 50.0, 1e4], tmp_path / "spectrum.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = plot_spectrum([-1.0, 2.0, 3.0], title="loss Hessian")
    assert fig._suptitle.get_text() == "loss Hessian: 1 negative, 0 zero, 2 positive"


def test_plot_spectrum_without_matplotlib_names_it(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(sb.SymbackpropError, match="pip install matplotlib"):
        plot_spectrum([-1.0, 2.0])


@pytest.mark.parametrize(
    "eigenvalues, match",
    [([], "empty"), ([1.0, float("nan")], "NaN"), ([1 + 2j], "imaginary"), (["a"], "real")],
)
def test_plot_spectrum_rejects_bad_eigenvalues(eigenvalues, match):
    with pytest.raises(sb.SymbackpropError, match=match):
        plot_spectrum(eigenvalues)


# ---- errors ------------------------------------------------------------------------------------

ERRORS = [
    ((x + y) * z, [x], {x: -2, y: 5}, r"missing a value for z"),
    ((x + y) * z, [x], {x: -2}, r"missing a value for y, z"),
    (x * y, [z], {x: 1, y: 2}, r"wrt symbol z does not occur in f"),
    (x * y, [sp.Symbol("x")], {x: 1, y: 2}, r"f's x is a different Symbol"),
    (x * y, [], {x: 1, y: 2}, r"wrt is empty"),
    (x * y, ["x"], {x: 1, y: 2}, r"wrt entry 'x' is not a SymPy Symbol"),
    (x * y, [x], {x: "abc", y: 2}, r"value for x is 'abc', not a real number"),
    (x * y, [x], {x: 1, y: None}, r"value for y is None"),
    (x * y, [x], {x: 1, y: z}, r"value for y is z"),
    (x * y, [x], {x: 1, y: 1j}, r"value for y"),
    (x * y, [x], {x: float("nan"), y: 1}, r"value for x"),
    (x * y, [x], [1, 2], r"at must be a dict"),
    ("x*y", [x], {x: 1, y: 2}, r"f must be a SymPy expression"),
    (sp.log(x), [x], {x: -1}, r"f = log\(x\) is I\*pi.*outside the domain"),
    (sp.sqrt(x) + y, [x], {x: 0, y: 1}, r"dq/dx = 1/\(2\*sqrt\(x\)\) is zoo"),
    (sp.Function("g")(x), [x], {x: 1}, r"g is an undefined function"),
    (sp.floor(x), [x], {x: 1}, r"no derivative for floor\(x\)"),
]


@pytest.mark.parametrize("f, wrt, at, match", ERRORS)
def test_errors_name_the_problem(f, wrt, at, match):
    with pytest.raises(sb.SymbackpropError, match=match):
        explain(f, wrt, at)


@pytest.mark.parametrize("digits", [0, -1, 2.5, True])
def test_digits_must_be_a_positive_integer(digits):
    with pytest.raises(sb.SymbackpropError, match="digits must be an integer of at least 1"):
        explain(x * y, [x], {x: 1, y: 2}, digits=digits)


def test_wrt_only_in_a_condition_has_zero_gradient():
    f = sp.Piecewise((1, r > 0), (0, True)) + s
    e = explain(f, [r], {r: 1, s: 2})
    assert e.gradient == {r: 0} and "every gradient is 0" in e.text
