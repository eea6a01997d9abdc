"""Which slides to trust: the lecture notes' derivations, each run through symbackprop's checker.

Every derivative formula in the notes' activation tables, the worked examples' gradients, their
critical points and Hessian eigenvalues, and the 2-2-2 network's numbers, as the notes write them
(plain text or LaTeX, transcribed from ../shared/seeds/): derivatives go through
check_derivative (SymPy simplification and evaluation at random points), critical points through
classify and critical_points, the network's numbers through a compiled sb.Sequential. Prints one
row per claim: the slide, the claim, right or WRONG, and a counterexample (a point with the true
and the notes' value) or the true value. A correction shown after "Right:" was checked as well.

Run: python examples/lecture_check.py
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass

import numpy as np
import sympy as sp

import symbackprop as sb
from symbackprop.analysis.check import check_derivative
from symbackprop.analysis.critical import classify, critical_points
from symbackprop.analysis.parse import parse

# Column widths of the table; the slide, the claim and the detail wrap inside theirs.
WIDTHS = {"#": 3, "slide": 16, "claim": 42, "verdict": 7, "detail": 52}
ROUNDING = 5e-4  # the notes print 3 decimals: a number within half a unit of the 3rd is right

S = sb.sigmoid
x, y, z, q = sp.symbols("x y z q")
x1, x2, x3 = sp.symbols("x1 x2 x3")
X3 = [x1, x2, x3]


@dataclass
class Row:
    slide: str
    claim: str
    ok: bool
    detail: str


def num(v) -> str:
    return f"{float(v):.6g}"


def at(point: dict) -> str:
    names = ", ".join(str(s) for s in point)
    values = ", ".join(num(v) for v in point.values())
    return f"{names} = {values}" if len(point) == 1 else f"({names}) = ({values})"


def sigmoid_prime(u):
    return S(u) * (1 - S(u))


def notes(text: str, symbols, defs: dict | None = None) -> sp.Expr:
    """The notes' formula as SymPy, their shorthands (o1, h1, delta_o1, f1) replaced by what
    they stand for, so that the claim is in the variables of f."""
    defs = defs or {}
    expr = parse(text, list(symbols) + list(defs))
    for _ in range(4):  # shorthands defined through other shorthands
        expr = expr.xreplace(defs)
    return expr


def derivative(slide, claim, f, wrt, claimed, right=None) -> Row:
    """check_derivative(f, wrt, claimed) as a row; ``right`` (text) is the correction shown for
    a wrong claim, and is checked before it is shown."""
    r = check_derivative(f, wrt, claimed)
    if r.ok:
        how = "proved" if r.evidence == "symbolic" else f"equal at {r.samples} random points"
        return Row(slide, claim, True, how)
    if r.counterexample is None:  # "inconclusive": no evidence either way, so not trusted
        return Row(slide, claim, False, str(r))
    if r.kind == "derivative":
        found = f"true {num(r.expected_value)}, notes {num(r.claimed_value)}"
    else:
        found = "; ".join(
            f"{r.labels[i]} true {num(r.expected_value[i])}, notes {num(r.claimed_value[i])}"
            for i in r.wrong_entries
            if r.expected_value[i] != r.claimed_value[i]
        )
    detail = f"at {at(r.counterexample)}: {found}"
    if right is not None:
        fix = check_derivative(f, wrt, right)
        assert fix.ok, f"the correction {right!r} for {claim!r} is itself wrong: {fix}"
        detail += f". Right: {right}"
    elif r.kind != "derivative":
        entry = lambda i: r.expected[i] if len(i) == 2 else r.expected[i[0], 0]  # noqa: E731
        detail += ". Right: " + "; ".join(
            f"{r.labels[i]} = {sp.sstr(entry(i))}" for i in r.wrong_entries
        )
    return Row(slide, claim, False, detail)


def value(slide, claim, claimed, true, how="") -> Row:
    """A worked number: right when it is the true value rounded as the notes round it."""
    ok = abs(claimed - true) <= ROUNDING
    return Row(slide, claim, ok, f"true {true:.9g}" + (f" ({how})" if how else ""))


# ---- seed 000: Lec4. back propagation ------------------------------------------------------------

F1 = parse("x1^2 + x1(1-x2) + x2^2 - x2 x3 + x3^2 + x3", X3)  # the Hessian example
F2 = parse("x1(1-x2) + (x2-1)^2 - x3 + x3^2 + x1", X3)  # the algorithm slide's example
F1_NOTES_GRADIENT = ["2x1 + 1", "-x1 + 2x2 - x3", "-x2 + 2x3 + 1"]


def check_000() -> list[Row]:
    alpha = sp.Symbol("alpha", positive=True)  # ELU's alpha
    tab, tabs = "activation table", "both tables"
    elu = parse(r"\begin{cases} x & x > 0 \\ \alpha(e^x - 1) & x \leq 0 \end{cases}", [x, alpha])
    rows = [
        derivative(
            tab,
            "sigmoid 1/(1+e^{-x}): e^{-x}/(1+e^{-x})^2",
            r"\frac{1}{1+e^{-x}}",
            x,
            r"e^{-x} / (1+e^{-x})^2",
        ),
        derivative(
            tab,
            "tanh (e^x-e^{-x})/(e^x+e^{-x}): 1 - tanh^2(x)",
            r"\frac{e^x - e^{-x}}{e^x + e^{-x}}",
            x,
            r"1 - \tanh^2(x)",
        ),
        derivative(
            "summary table",
            "tanh written 2/(1+e^{-2x}) - 1: 1 - tanh^2(x)",
            r"\frac{2}{1+e^{-2x}} - 1",
            x,
            r"1 - \tanh^2(x)",
        ),
        derivative(
            tab, "ReLU max(0, x): 1_{x>0}", r"\max(0, x)", x, r"\begin{cases} 1 & x > 0 \end{cases}"
        ),
        derivative(
            tab,
            "ReLU max(0, x): 1_{x>0} + 0_{x<0}",
            r"\max(0, x)",
            x,
            r"\begin{cases} 1 & x > 0 \\ 0 & x < 0 \end{cases}",
        ),
        derivative(
            tabs,
            "Leaky ReLU max(0.01x, x): 0.01_{x>0} + 1_{x<0}",
            r"\max(0.01x, x)",
            x,
            r"\begin{cases} 0.01 & x > 0 \\ 1 & x < 0 \end{cases}",
            right="1 if x > 0 else 0.01",
        ),
        # alpha = 0.25 (a usual PReLU start): for a symbolic alpha > 1 the claim would be right.
        derivative(
            tabs,
            "PReLU max(alpha x, x): alpha_{x>0} + 1_{x<0}, at alpha = 0.25",
            r"\max(0.25x, x)",
            x,
            r"\begin{cases} 0.25 & x > 0 \\ 1 & x < 0 \end{cases}",
            right="1 if x > 0 else 0.25",
        ),
        derivative(
            "table (summary's f)",
            "ELU: 0.01_{x>0} + alpha(e^{-|x|} - 1)_{x<0}",
            elu,
            x,
            r"\begin{cases} 0.01 & x > 0 \\ \alpha(e^{-|x|} - 1) & x < 0 \end{cases}",
            right="1 if x > 0 else alpha e^x",
        ),
        derivative(
            "Derivatives",
            "f = x^2 y + y: grad f = (2xy, x^2 + 1)",
            "x^2 y + y",
            [x, y],
            ["2xy", "x^2 + 1"],
        ),
    ]

    ex = "Minimization ex."
    rows += [
        derivative(
            ex,
            "f = x1^2 + x1(1-x2) + x2^2 - x2x3 + x3^2 + x3: grad f = (2x1 + (1-x2), -x1 + 2x2 - x3,"
            " -x2 + 2x3 + 1)",
            F1,
            X3,
            r"\begin{pmatrix} 2x_1 + (1-x_2) \\ -x_1 + 2x_2 - x_3 \\ -x_2 + 2x_3 + 1 \end{pmatrix}",
        ),
        derivative(ex, "... = (2x1 + 1, -x1 + 2x2 - x3, -x2 + 2x3 + 1)", F1, X3, F1_NOTES_GRADIENT),
        derivative(
            ex,
            "Hessian ((2, -1, 0), (-1, 2, -1), (0, -1, 2))",
            F1,
            X3,
            r"\begin{pmatrix} 2 & -1 & 0 \\ -1 & 2 & -1 \\ 0 & -1 & 2 \end{pmatrix}",
        ),
    ]
    [true] = critical_points(F1, X3)
    claimed = {x1: -1, x2: 1, x3: 1}
    p = classify(F1, X3, claimed)
    own = tuple(parse(g, X3).subs(claimed) for g in F1_NOTES_GRADIENT)
    rows.append(
        Row(
            ex,
            "grad f = 0 at (x1, x2, x3) = (-1, 1, 1)",
            p.is_critical,
            f"grad f there is {tuple(p.gradient)}, norm {p.gradient_norm:.3g} (even the notes' "
            f"own gradient is {own} there). True: {true.explain()}",
        )
    )
    eigenvalues = sorted(float(e) for e in true.eigenvalues)
    off = [c for c in (3.414, 0.646, 2) if all(abs(c - e) > ROUNDING for e in eigenvalues)]
    rows.append(
        Row(
            ex,
            "Hessian eigenvalues 3.414, 0.646, 2",
            not off,
            f"true {', '.join(map(sp.sstr, true.eigenvalues))} = "
            f"{', '.join(f'{e:.4g}' for e in eigenvalues)}; "
            f"{', '.join(map(str, off))} is not an eigenvalue",
        )
    )
    rows.append(
        Row(
            ex,
            "all eigenvalues > 0, so a minimum",
            true.kind == "minimum",
            f"the Hessian is constant and positive definite: {true.kind}",
        )
    )
    p = classify(F1, X3, {x1: 0, x2: 1, x3: 1})
    rows.append(
        Row(
            ex,
            "(0, 1, 1) is the minimum",
            p.is_critical,
            f"not critical: grad f there is {tuple(p.gradient)}, norm {p.gradient_norm:.3g}; the "
            f"minimum is at {tuple(true.coordinates)}",
        )
    )

    alg = "Minimization alg."
    points = critical_points(F2, X3)
    rows += [
        derivative(
            alg,
            "f = x1(1-x2) + (x2-1)^2 - x3 + x3^2 + x1: grad f = (1, -x2, 1)",
            F2,
            X3,
            r"\begin{pmatrix} 1 & -x_2 & 1 \end{pmatrix}",
        ),
        Row(
            alg,
            "(implied) grad f = (1, -x2, 1) never vanishes: no critical point",
            not points,
            "; ".join(p.explain() for p in points),
        ),
    ]

    lo, hi = classify(x**2, [x], {x: 0}), classify(-(x**2), [x], {x: 0})
    up = classify(x1**2 + x2**2, [x1, x2], {x1: 0, x2: 0})
    down = classify(-(x1**2) - x2**2, [x1, x2], {x1: 0, x2: 0})
    rows += [
        Row(
            "Minimization",
            "f' = 0 and f'' > 0 => local min; f'' < 0 => max",
            (lo.kind, hi.kind) == ("minimum", "maximum"),
            f"x^2 at 0: {lo.kind}; -x^2 at 0: {hi.kind}",
        ),
        Row(
            "Minimization",
            "grad f = 0 and Hessian eigenvalues > 0 => MAX, < 0 => min",
            (up.kind, down.kind) == ("maximum", "minimum"),
            f"swapped: x1^2 + x2^2 at 0 has eigenvalues {up.eigenvalues} and is a {up.kind}; "
            f"-(x1^2 + x2^2) there is a {down.kind}",
        ),
    ]

    z1, z2, z3 = zs = sp.symbols("z1 z2 z3")
    gate = "non-differentiable"
    true_at = tuple(sp.diff(sp.Max(*zs), v).subs({z1: 1, z2: 2, z3: 3}) for v in zs)
    rows += [
        derivative(
            gate,
            "f = max(z1, z2, z3): df/dz_i = 1 if i = argmax z_j else 0",
            sp.Max(*zs),
            list(zs),
            [
                "1 if z1 > max(z2, z3) else 0",
                "1 if z2 > max(z1, z3) else 0",
                "1 if z3 > max(z1, z2) else 0",
            ],
        ),
        Row(
            gate,
            "at (z1, z2, z3) = (1, 2, 3): df/dz = (0, 0, 1)",
            true_at == (0, 0, 1),
            f"true {true_at}",
        ),
    ]
    return rows


# ---- seed 001: Lecture 4 (computational graphs) --------------------------------------------------


def check_001() -> list[Row]:
    graph, sig = "(x+y)z example", "sigmoid slide"
    sigmoid = r"\frac{1}{1 + e^{-x}}"
    return [
        derivative(graph, "q = x + y: dq/dx = 1, dq/dy = 1", "x + y", [x, y], ["1", "1"]),
        derivative(graph, "f = qz: df/dq = z, df/dz = q", "q z", [q, z], ["z", "q"]),
        derivative(
            graph,
            "chain rule: df/dx = df/dq dq/dx = z, df/dy = z, df/dz = q",
            "(x + y) z",
            [x, y, z],
            ["z * 1", "z * 1", "x + y"],
        ),
        derivative(
            sig, "d sigma/dx = e^{-x}/(1 + e^{-x})^2", sigmoid, x, r"\frac{e^{-x}}{(1 + e^{-x})^2}"
        ),
        derivative(
            sig,
            "= ((1 + e^{-x} - 1)/(1 + e^{-x})) (1/(1 + e^{-x}))",
            sigmoid,
            x,
            r"\left( \frac{1 + e^{-x} - 1}{1 + e^{-x}} \right) \left( \frac{1}{1 + e^{-x}} \right)",
        ),
        derivative(sig, "= (1 - sigma(x)) sigma(x)", sigmoid, x, r"(1 - \sigma(x)) \sigma(x)"),
    ]


# ---- seed 002: Backpropagation (Kuan-Yu Chen), the 2-2-2 network ---------------------------------

# The 2-2-2 network's numbers; W has shape (units, inputs): row k holds the weights into unit k.
PARAMS = {
    "W1": np.array([[0.15, 0.20], [0.25, 0.30]]),  # w1 w2 / w3 w4
    "b1": np.array([0.35, 0.35]),
    "W2": np.array([[0.40, 0.45], [0.50, 0.55]]),  # w5 w6 / w7 w8
    "b2": np.array([0.60, 0.60]),
}
INPUT = np.array([[0.05, 0.10]])
TARGET = np.array([[0.01, 0.99]])


def check_002_derivations() -> list[Row]:
    t1, t2, o1, o2, h1, h2, i1, i2, b1, b2 = sp.symbols("t1 t2 o1 o2 h1 h2 i1 i2 b1 b2")
    w1, w2, w3, w4, w5, w6, w7, w8 = sp.symbols("w1:9")
    delta_o1, delta_o2, net_o1, a0 = sp.symbols("delta_o1 delta_o2 net_o1 a0")
    hidden = {h1: S(w1 * i1 + w2 * i2 + b1), h2: S(w3 * i1 + w4 * i2 + b1)}
    output = {o1: S(w5 * h1 + w6 * h2 + b2), o2: S(w7 * h1 + w8 * h2 + b2)}
    # the notes' delta_o = (1/2 x 2 x (t - o) x (-1)) (o x (1 - o))
    deltas = {
        delta_o1: notes(
            r"\left(\frac{1}{2} \times 2 \times (t_1 - o_1) \times (-1)\right)"
            r"(o_1 \times (1 - o_1))",
            [t1, o1],
        ),
        delta_o2: notes(
            r"\left(\frac{1}{2} \times 2 \times (t_2 - o_2) \times (-1)\right)"
            r"(o_2 \times (1 - o_2))",
            [t2, o2],
        ),
    }
    top = {**deltas, **output}  # the shorthands in terms of h1, h2
    every = {**top, **hidden}  # ... and in terms of the inputs
    loss_o = notes(
        r"\frac{1}{2} \times (t_1 - o_1)^2 + \frac{1}{2} \times (t_2 - o_2)^2", [t1, t2, o1, o2]
    )
    loss_h = loss_o.xreplace(output)  # f of the hidden activations h1, h2
    loss = loss_h.xreplace(hidden)  # f of the inputs i1, i2 and all the parameters
    upd = "Update params "
    f_prime = sigmoid_prime
    return [
        derivative(
            upd + "3",
            "df/do1 = 1/2 * 2 * (t1 - o1) * (-1)",
            loss_o,
            o1,
            r"\frac{1}{2} \times 2 \times (t_1 - o_1) \times (-1)",
        ),
        derivative(
            upd + "4",
            "do1/dnet_o1 = o1 (1 - o1), o1 = 1/(1 + e^{-net_o1})",
            S(net_o1),
            net_o1,
            notes("o1 (1 - o1)", [o1], {o1: S(net_o1)}),
        ),
        derivative(upd + "5", "dnet_o1/dw5 = h1", "w5 h1 + w6 h2 + b2", w5, "h1"),
        derivative(
            upd + "6",
            "df/dw5 = (1/2 * 2 (t1 - o1)(-1)) (o1(1 - o1)) h1",
            loss_h,
            w5,
            notes("delta_o1 h1", [h1], top),
        ),
        derivative(
            upd + "7",
            "df/dh1 = (...)(o1(1 - o1))(w5) + (...)(o2(1 - o2))(w7)",
            loss_h,
            h1,
            notes("delta_o1 w5 + delta_o2 w7", [w5, w7], top),
        ),
        derivative(
            upd + "8",
            "dh1/dnet_h1 = h1 (1 - h1); dnet_h1/dw1 = i1",
            hidden[h1],
            w1,
            notes("h1 (1 - h1) i1", [i1, h1], hidden),
        ),
        derivative(
            upd + "12-14",
            "df/dw1 = delta_h1 i1 = (delta_o1 w5 + delta_o2 w7) h1(1 - h1) i1",
            loss,
            w1,
            notes("(delta_o1 w5 + delta_o2 w7) h1 (1 - h1) i1", [w5, w7, i1], every),
        ),
        derivative(
            upd + "14",
            "df/dw6 = delta_o1 h2; df/dw4 = delta_h2 i2",
            loss,
            [w6, w4],
            [
                notes("delta_o1 h2", [], every),
                notes("(delta_o1 w6 + delta_o2 w8) h2 (1 - h2) i2", [w6, w8, i2], every),
            ],
        ),
        derivative(
            "Backprop 2-3",
            "da3/da0 = f'(f(f(a0))) f'(f(a0)) f'(a0), f = sigma",
            S(S(S(a0))),
            a0,
            f_prime(S(S(a0))) * f_prime(S(a0)) * f_prime(a0),
        ),
    ]


def check_002_activations() -> list[Row]:
    act = "Activation fns"
    sigmoid, tanh = r"\frac{1}{1 + e^{-x}}", r"\frac{(e^x - e^{-x})}{(e^x + e^{-x})}"
    xs = sp.symbols("x1:4")
    fs = sp.symbols("f1:4")
    softmax = [sp.exp(v) / sum(sp.exp(u) for u in xs) for v in xs]
    return [
        derivative(
            act,
            "Sigmoid: f'(x) = f(x)(1 - f(x))",
            sigmoid,
            x,
            r"f(x)(1 - f(x))".replace("f(x)", rf"\left({sigmoid}\right)"),
        ),
        derivative(
            act,
            "TanH: f'(x) = 1 - f(x)^2",
            tanh,
            x,
            r"1 - f(x)^2".replace("f(x)", rf"\left({tanh}\right)"),
        ),
        derivative(
            act,
            "ReLU: f'(x) = 0 for x < 0, 1 for x >= 0",
            r"\begin{cases} 0 & \text{for } x < 0 \\ x & \text{for } x \geq 0 \end{cases}",
            x,
            r"\begin{cases} 0 & \text{for } x < 0 \\ 1 & \text{for } x \geq 0 \end{cases}",
        ),
        derivative(
            act,
            "Leaky ReLU: f'(x) = 0.01 for x < 0, 1 for x >= 0",
            r"\begin{cases} 0.01x & \text{for } x < 0 \\ x & \text{for } x \geq 0 \end{cases}",
            x,
            r"\begin{cases} 0.01 & \text{for } x < 0 \\ 1 & \text{for } x \geq 0 \end{cases}",
        ),
        derivative(
            act,
            "SoftPlus ln(1 + e^x): f'(x) = 1/(1 + e^{-x})",
            r"\ln(1 + e^x)",
            x,
            r"\frac{1}{1 + e^{-x}}",
        ),
        derivative(
            act,
            "Softmax, J = 3: df_i/dx_j = f_i(x)(delta_ij - f_j(x))",
            softmax,
            list(xs),
            [
                [
                    notes(f"f{i} ({int(i == j)} - f{j})", [], dict(zip(fs, softmax)))
                    for j in (1, 2, 3)
                ]
                for i in (1, 2, 3)
            ],
        ),
        derivative(
            act,
            "Maxout max_i x_i, 3 inputs: df/dx_j = 1 if j = argmax, else 0",
            sp.Max(*xs),
            list(xs),
            [
                "1 if x1 > max(x2, x3) else 0",
                "1 if x2 > max(x1, x3) else 0",
                "1 if x3 > max(x1, x2) else 0",
            ],
        ),
    ]


def check_002_network() -> list[Row]:
    """The worked forward pass, loss and two gradients, with symbackprop's compiled network."""
    net = sb.Sequential(
        inputs=2, layers=[sb.Dense(2, "sigmoid"), sb.Dense(2, "sigmoid")], loss="half_sse"
    )
    model = net.compile()
    p, i, t = PARAMS, INPUT[0], TARGET[0]
    h = 1 / (1 + np.exp(-(p["W1"] @ i + p["b1"])))
    o = model.forward(p, INPUT)[0]
    loss, grads = model.loss_and_grad(p, INPUT, TARGET)
    first = 0.5 * (t[0] - o[0]) ** 2
    rounded = 0.5 * ((0.01 - 0.751) ** 2 + (0.99 - 0.773) ** 2)
    fwd, mse = "Forward Prop. 2", "Mean Squared Err"
    rows = [
        value(fwd, "h1 = sigma(0.15*0.05 + 0.2*0.1 + 0.35) = 0.593", 0.593, h[0]),
        value(fwd, "h2 = sigma(0.25*0.05 + 0.3*0.1 + 0.35) = 0.597", 0.597, h[1]),
        value(
            fwd, "o1 = sigma(0.4*0.593 + 0.45*0.597 + 0.6) = 0.751", 0.751, o[0], "compiled forward"
        ),
        value(
            fwd, "o2 = sigma(0.5*0.593 + 0.55*0.597 + 0.6) = 0.773", 0.773, o[1], "compiled forward"
        ),
        value(
            mse,
            "MSE = 1/2((0.01 - 0.751)^2 + (0.99 - 0.773)^2) = 0.275",
            0.275,
            loss,
            f"symbackprop's half_sse loss; {rounded:.6f} from the slide's rounded o1, o2; 0.275 "
            f"is the first term {first:.6f} alone",
        ),
    ]
    # The slides' deltas at these numbers against the generated backward pass.
    delta_o = -(t - o) * o * (1 - o)
    delta_h1 = (delta_o[0] * p["W2"][0, 0] + delta_o[1] * p["W2"][1, 0]) * h[0] * (1 - h[0])
    for claim, by_hand, generated in [
        ("df/dw5 = delta_o1 h1 at these numbers", delta_o[0] * h[0], grads["W2"][0, 0]),
        ("df/dw1 = delta_h1 i1 at these numbers", delta_h1 * i[0], grads["W1"][0, 0]),
    ]:
        rows.append(
            Row(
                "Update params 14",
                claim,
                abs(by_hand - generated) <= 1e-12 * max(1.0, abs(generated)),
                f"{by_hand:.9g} by hand, {generated:.9g} by the generated backward pass",
            )
        )
    return rows


def check_002_losses() -> list[Row]:
    slide = "Squared & CE loss"
    return [
        value(
            slide,
            "L_SL(y, y'1) = (0.3-0.4)^2 + (0.5-0.5)^2 + (0.2-0.1)^2 = 0.02",
            0.02,
            (0.3 - 0.4) ** 2 + (0.5 - 0.5) ** 2 + (0.2 - 0.1) ** 2,
        ),
        value(
            slide,
            "L_SL(y, y'2) = (0.3-0.2)^2 + (0.5-0.5)^2 + (0.2-0.3)^2 = 0.02",
            0.02,
            (0.3 - 0.2) ** 2 + (0.5 - 0.5) ** 2 + (0.2 - 0.3) ** 2,
        ),
        value(
            slide,
            "L_CE(y, y'1) = -0.3 log 0.4 - 0.5 log 0.5 - 0.2 log 0.1 = 1.08198",
            1.08198,
            -0.3 * np.log(0.4) - 0.5 * np.log(0.5) - 0.2 * np.log(0.1),
        ),
        value(
            slide,
            "L_CE(y, y'2) = -0.3 log 0.2 - 0.5 log 0.5 - 0.2 log 0.3 = 1.0702",
            1.0702,
            -0.3 * np.log(0.2) - 0.5 * np.log(0.5) - 0.2 * np.log(0.3),
        ),
    ]


def check_002() -> list[Row]:
    parts = (check_002_derivations, check_002_activations, check_002_network, check_002_losses)
    return [row for part in parts for row in part()]


# ---- seeds 003 and 004: matrix gradients and the layer's backward function -----------------------

W = sp.Matrix(2, 2, sp.symbols("W11 W12 W21 W22"))
U = sp.Matrix(sp.symbols("u1:3"))  # the upstream weights: s = u^T h, so ds/dh = u
B = sp.Matrix(sp.symbols("b1:3"))


def check_003() -> list[Row]:
    slide = "Matrix gradients"
    W23 = sp.Matrix(2, 3, sp.symbols("W11 W12 W13 W21 W22 W23"))
    x_in = sp.Matrix(sp.symbols("x1:4"))
    z_out = W23 * x_in + B
    xs = sp.Matrix(sp.symbols("x1:3"))
    zs = W * xs + B
    s = (U.T * zs.applyfunc(S))[0]  # s = u^T h, h = f(z), z = W x + b, with f = sigma
    delta = sp.Matrix([U[i] * sigmoid_prime(zs[i]) for i in range(2)])  # delta_i = u_i f'(z_i)
    return [
        derivative(
            slide,
            "dz_i/dW_ij = x_j; W23 is used only for z2, not z1",
            list(z_out),
            list(W23),
            [[*x_in, 0, 0, 0], [0, 0, 0, *x_in]],
        ),
        derivative(
            slide,
            "ds/dW = delta^T x^T: ds/dW_ij = delta_i x_j (f = sigma)",
            s,
            list(W),
            list(delta * xs.T),
        ),
        derivative(slide, "grad_x s = W^T delta", s, list(xs), list(W.T * delta)),
    ]


def check_004() -> list[Row]:
    slide = "Backward function"
    a = sp.Matrix(sp.symbols("a1:3"))
    zl = W * a + B
    J = (U.T * zl.applyfunc(S))[0]  # upstream J = u^T a[l], so da[l] = u; g = sigma
    dz = sp.Matrix([U[i] * sigmoid_prime(zl[i]) for i in range(2)])  # dz = da (.) g'(z)
    A = sp.Matrix(2, 2, sp.symbols("A11 A12 A21 A22"))  # columns: the m = 2 examples
    Z = W * A + B * sp.ones(1, 2)
    J_mean = sum((U.T * Z[:, c].applyfunc(S))[0] for c in range(2)) / 2
    dZ = sp.Matrix(2, 2, lambda i, c: U[i] * sigmoid_prime(Z[i, c]))  # per-example dA = u
    return [
        derivative(
            slide,
            "1 example: dW = dz a[l-1]^T, db = dz, da[l-1] = W^T dz (g = sigma)",
            J,
            [*W, *B, *a],
            [*(dz * a.T), *dz, *(W.T * dz)],
        ),
        derivative(
            slide,
            "minibatch m = 2: dW = 1/m dZ A[l-1]^T, db = 1/m dZ 1 (dA = dL/dA per example)",
            J_mean,
            [*W, *B],
            [*(dZ * A.T / 2), *(dZ * sp.ones(2, 1) / 2)],
        ),
        # an identity checked as a derivative: d/dz ln cosh z = tanh z, and both sides are 0 at 0
        derivative(
            "Prior to ReLU",
            "tanh(z) = 2 sigma(2z) - 1",
            sp.log(sp.cosh(z)),
            z,
            r"2\sigma(2z) - 1",
        ),
    ]


SEEDS = [
    ("000", "Lec4. back propagation (seeds/000_23646b9830de4ffd.txt)", check_000),
    ("001", "Lecture 4, computational graphs (seeds/001_a741ce069b8010f0.txt)", check_001),
    ("002", "Backpropagation, Kuan-Yu Chen (seeds/002_00cf71c3501cabbd.txt)", check_002),
    ("003", "Backpropagation and Computation Graphs (seeds/003_b42c427a931cb5bc.txt)", check_003),
    ("004", "Deep Feedforward Networks (seeds/004_c0f8378422d0029b.txt)", check_004),
]
NOT_CHECKED = [
    "000 activation table, Maxout max(W1x+b1, W2x+b2): 'd/dx = softmax(W1, W2) . d/dx' is not a "
    "formula (the derivative is W1 where the first argument is larger, else W2).",
    "000 'grad = dL/dx = dL/dx1 + dL/dx2 + dL/dx3' and the SVM-loss gradient: garbled in the "
    "text (a gradient is a vector, not a sum of partials).",
    "000 'float h = 6x10^-8, 64 eps = 1x10^-16' (the step h for differences): garbled; 6e-8 "
    "matches float32's unit roundoff. For centered differences in float64, check_gradient uses "
    "h = cbrt(eps) max(1, |x_i|), about 6e-6.",
    "000, 001 computation-graph slides (f = (x+y)z at x = -2, y = 5, z = -4; the sigmoid neuron): "
    "their forward values and gradients were pictures, absent from the text.",
]


# ---- the table -----------------------------------------------------------------------------------


def lines(number: int, row: Row) -> list[str]:
    """One row as printed lines: each cell wraps inside its column."""
    cells = [
        [str(number)],
        textwrap.wrap(row.slide, WIDTHS["slide"]),
        textwrap.wrap(row.claim, WIDTHS["claim"]),
        ["right" if row.ok else "WRONG"],
        textwrap.wrap(row.detail, WIDTHS["detail"]) or [""],
    ]
    out = []
    for k in range(max(len(c) for c in cells)):
        parts = [(c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, WIDTHS.values())]
        out.append("  ".join(parts).rstrip())
    return out


def main() -> None:
    start = time.perf_counter()
    results = [(seed, title, check()) for seed, title, check in SEEDS]
    header = ["#", "slide", "claim", "verdict", "counterexample (true vs notes) or true value"]
    rule = "-" * (sum(WIDTHS.values()) + 2 * (len(WIDTHS) - 1))
    print("The lecture notes' derivations, checked by symbackprop\n")
    print("  ".join(h.ljust(w) for h, w in zip(header, WIDTHS.values())).rstrip())
    number = 0
    for seed, title, rows in results:
        print(rule)
        print(f"seed {seed}: {title}")
        for row in rows:
            number += 1
            print("\n".join(lines(number, row)))
    print(rule)
    print("\nNot checked (nothing checkable in the text):")
    for item in NOT_CHECKED:
        print(textwrap.fill(item, 100, initial_indent="- ", subsequent_indent="  "))
    rows = [row for _, _, rs in results for row in rs]
    wrong = sum(not row.ok for row in rows)
    print(f"\n({time.perf_counter() - start:.1f} s)")
    print(f"{len(rows)} claims checked: {len(rows) - wrong} right, {wrong} wrong")


if __name__ == "__main__":
    main()
