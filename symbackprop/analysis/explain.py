"""Backprop by hand, done by the tool: a SymPy expression and a point -> an ``Explanation``.

The computation graph comes from SymPy's expression tree (one node per distinct subexpression,
shared ones once); the forward pass evaluates it exactly when the point is exact, and the
backward sweep multiplies each local gradient by the upstream gradient, summing over uses.
The same steps are shown as text, LaTeX and a Graphviz picture; ``plot_spectrum`` draws a
Hessian's eigenvalues (matplotlib, an optional extra).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp

from ..errors import SymbackpropError
from ..frontend.symbols import symbol_list

# Exact values stay exact while they are small closed forms; past this many operations a value
# becomes a 30-digit float, so long chains (exp of exp of ...) do not grow without bound.
EXACT_MAX_OPS = 30
_WORKING_DIGITS = 30
# The text's first line prints f whole only up to this many graph nodes.
HEADER_MAX_NODES = 40

_DOT_COLORS = {"input": "#dbeafe", "output": "#fde68a"}


@dataclass(frozen=True)
class InputGradient:
    """One edge of the backward sweep: how a node's gradient flows into one of its inputs.

    ``local`` is d(node)/d(input) in terms of the graph's labels, ``local_value`` its value at
    the point, ``contribution`` = upstream gradient of the node x ``local_value``.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> explain(x * y, [x], {x: 2, y: 3}).steps[-1].inputs[0]
    InputGradient(input='x', local=y, local_value=3, contribution=3)
    """

    input: str
    local: sp.Expr
    local_value: sp.Expr
    contribution: sp.Expr


@dataclass(frozen=True)
class Step:
    """One node of the computation graph with its forward value and backward gradient.

    ``expr`` is the node's operation in terms of its inputs' labels (``x + y``), ``subexpr``
    what it computes in terms of f's symbols; ``upstream`` is df/d(node) summed over every use
    (None where no variable in ``wrt`` lies below the node, so no gradient is needed there).

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> s = explain(x * y + x, [x], {x: 2, y: 3}).steps[-1]
    >>> s.label, s.expr, s.value, s.upstream
    ('f', q + x, 8, 1)
    """

    label: str
    expr: sp.Expr
    subexpr: sp.Expr
    value: sp.Expr
    value_float: float
    upstream: sp.Expr | None
    upstream_float: float | None
    inputs: tuple[InputGradient, ...]


@dataclass(frozen=True)
class Explanation:
    """A worked chain-rule derivation of f at a point.

    Fields: ``f``, ``wrt``, ``point`` (symbol -> value), ``value`` (f at the point), ``steps``
    (inputs first, then operations in forward order), ``gradient`` (symbol -> df/dsymbol,
    exact when the point is exact), and the same derivation as ``text``, ``latex`` (an
    ``align*`` block) and ``dot`` (Graphviz source). ``render(path)`` writes the picture.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> e = explain(sp.sin(x) ** 2, [x], {x: 0})
    >>> e.value, e.gradient
    (0, {x: 0})
    >>> str(e) == e.text
    True
    """

    f: sp.Expr
    wrt: tuple[sp.Symbol, ...]
    point: dict
    value: sp.Expr
    steps: tuple[Step, ...]
    gradient: dict
    text: str
    latex: str
    dot: str

    def __str__(self) -> str:
        return self.text

    def render(self, path) -> Path:
        """Write the graph to ``path``: .dot always; .svg or .png through graphviz's ``dot``.

        >>> import sympy as sp, tempfile, pathlib
        >>> x, y = sp.symbols("x y")
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "graph.dot"
        >>> explain(x * y, [x, y], {x: 1, y: 2}).render(out).read_text().startswith("digraph")
        True
        """
        path = Path(path)
        kind = path.suffix.lower()
        if kind == ".dot":
            path.write_text(self.dot, encoding="utf-8")
            return path
        if kind not in (".svg", ".png"):
            raise SymbackpropError(
                f"cannot render to {path.name!r}: the file name must end in .dot, .svg or .png"
            )
        exe = shutil.which("dot")
        if exe is None:
            raise SymbackpropError(
                f"cannot render {path.name!r}: graphviz's `dot` program is not installed (not on "
                f"PATH); install graphviz, or write the DOT source instead with "
                f"render({path.with_suffix('.dot').name!r})"
            )
        done = subprocess.run(
            [exe, f"-T{kind[1:]}", "-o", str(path)],
            input=self.dot.encode("utf-8"),
            capture_output=True,
            timeout=120,
        )
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()
            raise SymbackpropError(f"graphviz's `dot` failed to write {path.name!r}: {message}")
        return path


# ---- building the graph ------------------------------------------------------------------------


@dataclass
class _Node:
    expr: sp.Expr  # the subexpression of f this node computes
    operands: list  # operand subexpressions (distinct, in argument order)
    rebuild: object  # (dict operand -> placeholder) -> the node's local expression
    label: str = ""
    symbol: sp.Symbol | None = None
    local: sp.Expr | None = None


def _constant(e: sp.Expr) -> bool:
    return not e.free_symbols


def _unique(items: list) -> list:
    return list(dict.fromkeys(items))


def _decompose(e: sp.Expr):
    """The operands of ``e`` and how to rebuild it from their placeholders.

    Numbers are never nodes; they stay inline (``q + 1``). An Add term c*t with a number c
    keeps c inline, so x - y reads as one subtraction; a Mul factor b**-n keeps b as the
    operand, so x*y**-1 reads as x/y.
    """
    if e.is_Symbol:
        return [], None
    if e.is_Add:
        terms = []
        for t in e.args:
            c, rest = t.as_coeff_Mul()
            if _constant(t):
                terms.append((None, t))
            elif c is not sp.S.One and not _constant(rest):
                terms.append((c, rest))
            else:
                terms.append((sp.S.One, t))
        ops = _unique([t for c, t in terms if c is not None])
        return ops, lambda m: sp.Add(*[t if c is None else c * m[t] for c, t in terms])
    if e.is_Mul:
        factors = []
        for a in e.args:
            if _constant(a):
                factors.append((None, a))
            elif a.is_Pow and a.exp.is_Number and a.exp.is_negative and not _constant(a.base):
                factors.append((a.exp, a.base))
            else:
                factors.append((sp.S.One, a))
        ops = _unique([b for p, b in factors if p is not None])
        return ops, lambda m: sp.Mul(*[b if p is None else m[b] ** p for p, b in factors])
    if isinstance(e, sp.Piecewise):
        ops = _unique([v for v, _ in e.args if not _constant(v)])
        return ops, lambda m: sp.Piecewise(
            *[(v if _constant(v) else m[v], c.xreplace(m)) for v, c in e.args]
        )
    if isinstance(e, sp.core.function.AppliedUndef):
        raise SymbackpropError(f"cannot explain {e}: {e.func} is an undefined function")
    if e.is_Pow or e.is_Function:
        ops = _unique([a for a in e.args if not _constant(a)])
        return ops, lambda m: e.func(*[a if _constant(a) else m[a] for a in e.args])
    raise SymbackpropError(f"cannot explain {type(e).__name__} (in {e}): it is not an operation")


def _graph(f: sp.Expr) -> list[_Node]:
    """Nodes in topological order (post-order), one per distinct subexpression."""
    nodes: dict[sp.Expr, _Node] = {}
    pending: dict[sp.Expr, tuple] = {}
    stack = [(f, False)]  # iterative: deep expressions must not hit the recursion limit
    while stack:
        e, ready = stack.pop()
        if e in nodes:
            continue
        if e not in pending:
            pending[e] = _decompose(e)
        ops, rebuild = pending[e]
        if ready or all(o in nodes for o in ops):
            nodes[e] = _Node(e, ops, rebuild)
        else:
            stack.append((e, True))
            stack.extend((o, False) for o in reversed(ops) if o not in nodes)
    return list(nodes.values())


def _names(count: int, taken: set[str], prefix: str = "q"):
    if count == 1 and prefix not in taken:
        return [prefix]
    names, k = [], 1
    while len(names) < count:
        if f"{prefix}{k}" not in taken:
            names.append(f"{prefix}{k}")
        k += 1
    return names


def _label(nodes: list[_Node], f: sp.Expr) -> str:
    """Give leaves their symbol names, interior nodes q/q1, q2, ... and the output f."""
    taken = {str(s) for s in f.free_symbols}
    out = next(n for n in ("f", "F", "f_out") if n not in taken)
    interior = [n for n in nodes[:-1] if not n.expr.is_Symbol]
    for n, name in zip(interior, _names(len(interior), taken | {out})):
        n.label = name
    for n in nodes:
        if n.expr.is_Symbol:
            n.label, n.symbol = str(n.expr), n.expr
        else:
            n.label = n.label or out
            n.symbol = sp.Symbol(n.label, real=True)
    by_expr = {n.expr: n.symbol for n in nodes}
    for n in nodes:
        n.local = n.expr if n.rebuild is None else n.rebuild({o: by_expr[o] for o in n.operands})
    return out


# ---- numbers -----------------------------------------------------------------------------------


def _finite(v: sp.Expr, what: str) -> sp.Expr:
    n = sp.N(v, 20)
    if not (n.is_Number and n.is_finite is True):
        raise SymbackpropError(
            f"{what} is {v}, not a finite real number: the point is outside the domain of f "
            "or f is not differentiable there"
        )
    return v


def _shrink(v: sp.Expr) -> sp.Expr:
    if v.is_Rational or v.is_Float or sp.count_ops(v) <= EXACT_MAX_OPS:
        return v
    return v.evalf(_WORKING_DIGITS)


def _point_value(sym, v) -> sp.Expr:
    bad = SymbackpropError(f"the value for {sym} is {v!r}, not a real number")
    if isinstance(v, (str, bytes)) or v is None:
        raise bad
    try:
        n = sp.sympify(v, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise bad from None
    if not isinstance(n, sp.Expr) or n.free_symbols or not n.is_number:
        raise bad
    _finite(n, f"the value for {sym}")
    return n


def _point(f: sp.Expr, at) -> dict:
    if not isinstance(at, dict):
        raise SymbackpropError(f"at must be a dict symbol (or name) -> number; got {type(at)}")
    by_name = {str(s): s for s in f.free_symbols}
    point = {}
    for key, v in at.items():
        # a name, or a symbol spelled like f's but with other assumptions, means f's symbol
        sym = key if key in f.free_symbols else by_name.get(str(key))
        if sym is not None:
            point[sym] = _point_value(sym, v)
    missing = sorted((s for s in f.free_symbols if s not in point), key=str)
    if missing:
        names = ", ".join(str(s) for s in missing)
        raise SymbackpropError(f"the point is missing a value for {names}")
    return point


# ---- forward and backward ----------------------------------------------------------------------


def _extremum_local(e: sp.Expr, args: list, i: int) -> sp.Expr:
    # The gradient goes to the FIRST maximal (minimal) argument, in SymPy's argument order: the
    # compiler's convention, so relu = Max(0, z) has derivative 0 at z = 0.
    better = sp.Gt if isinstance(e, sp.Max) else sp.Lt
    as_good = sp.Ge if isinstance(e, sp.Max) else sp.Le
    conds = [better(args[i], a) for a in args[:i]] + [as_good(args[i], a) for a in args[i + 1 :]]
    return sp.Piecewise((1, sp.And(*conds)), (0, True))


def _locals(n: _Node, by_expr: dict) -> list[sp.Expr]:
    """Symbolic d(node)/d(operand) in the labels, one per operand."""
    e = n.expr
    place = {o: by_expr[o].symbol for o in n.operands}
    if isinstance(e, (sp.Max, sp.Min)):
        args = [a if _constant(a) else place[a] for a in e.args]
        return [_extremum_local(e, args, e.args.index(o)) for o in n.operands]
    if isinstance(e, sp.Abs):
        return [sp.sign(place[e.args[0]])]  # |z|' = sign(z), which is 0 at 0
    if isinstance(e, (sp.sign, sp.Heaviside)):
        return [sp.S.Zero for _ in n.operands]  # steps are flat away from the jump; 0 at it
    if isinstance(e, sp.Piecewise):
        return [
            sp.Piecewise(*[(1 if v == o else 0, c.xreplace(place)) for v, c in e.args])
            for o in n.operands
        ]
    grads = []
    for o in n.operands:
        g = sp.diff(n.local, place[o]).replace(lambda t: isinstance(t, sp.DiracDelta), lambda t: 0)
        if g.has(sp.Derivative, sp.Subs):
            raise SymbackpropError(f"cannot explain {e}: SymPy has no derivative for {n.local}")
        grads.append(g)
    return grads


def _active_branch(e: sp.Piecewise, point: dict) -> int:
    for k, (_, cond) in enumerate(e.args):
        truth = cond.xreplace(point)
        if truth not in (sp.true, sp.false):
            raise SymbackpropError(f"cannot decide the condition {cond} of {e} at the point")
        if truth is sp.true:
            return k
    raise SymbackpropError(f"{e} is undefined at the point: no condition holds")


@dataclass
class _Sweep:
    values: dict  # node index -> exact value
    locals: dict  # node index -> [(operand index, symbolic, value)]
    upstream: dict  # node index -> df/dnode (only nodes above a wrt variable)
    uses: dict  # operand index -> [(consumer index, local symbolic, local value, contribution)]


def _sweep(nodes: list[_Node], point: dict, wrt: set) -> _Sweep:
    index = {n.expr: i for i, n in enumerate(nodes)}
    by_expr = {n.expr: n for n in nodes}
    env: dict[sp.Symbol, sp.Expr] = {}
    values, local_values, needed = {}, {}, set()
    for i, n in enumerate(nodes):
        ops = [index[o] for o in n.operands]
        if n.expr.is_Symbol:
            v = point[n.expr]
        elif isinstance(n.expr, sp.Piecewise):
            branch = n.expr.args[_active_branch(n.expr, point)][0]
            v = branch if _constant(branch) else values[index[branch]]
        else:
            v = n.local.xreplace(env)
        values[i] = env[n.symbol] = _shrink(_finite(v, f"{n.label} = {n.local}"))
        if (n.expr.is_Symbol and n.expr in wrt) or any(j in needed for j in ops):
            needed.add(i)
    for i, n in enumerate(nodes):
        if i not in needed:
            continue
        rows = []
        for o, g in zip(n.operands, _locals(n, by_expr)):
            j = index[o]
            if isinstance(n.expr, sp.Piecewise):
                gv = sp.S.One if o == n.expr.args[_active_branch(n.expr, point)][0] else sp.S.Zero
            else:
                gv = _shrink(_finite(g.xreplace(env), f"d{n.label}/d{nodes[j].label} = {g}"))
            rows.append((j, g, gv))
        local_values[i] = rows
    upstream = {len(nodes) - 1: sp.S.One} if len(nodes) - 1 in needed else {}
    uses: dict[int, list] = {}
    for i in reversed(range(len(nodes))):
        if i not in upstream:
            continue
        for j, g, gv in local_values.get(i, []):
            if j not in needed:
                continue
            c = _shrink(upstream[i] * gv)
            uses.setdefault(j, []).append((i, g, gv, c))
            upstream[j] = _shrink(upstream.get(j, sp.S.Zero) + c)
    return _Sweep(values, local_values, upstream, uses)


# ---- the public entry point --------------------------------------------------------------------


def _wrt(f: sp.Expr, wrt) -> tuple[sp.Symbol, ...]:
    vs = symbol_list(wrt, "wrt")
    for v in vs:
        if v not in f.free_symbols:
            alike = [s for s in f.free_symbols if s.name == v.name]
            hint = f" (f's {v} is a different Symbol: other assumptions)" if alike else ""
            raise SymbackpropError(f"wrt symbol {v} does not occur in f = {f}{hint}")
    return tuple(dict.fromkeys(vs))


def explain(f, wrt, at, *, digits: int = 4) -> Explanation:
    """Backpropagate through f at the point ``at`` step by step, as in the lecture notes.

    ``wrt`` is a symbol or a list of them; ``at`` maps every symbol of f (or its name) to a
    number. Values are exact when the point is exact; ``digits`` is how many significant
    digits the text, LaTeX and picture show for values that are not short fractions.
    Non-smooth points follow the compiler: relu'(0) = 0, |z|' at 0 is 0, Max/Min send the
    gradient to the first extreme argument.

    >>> import sympy as sp
    >>> x, y, z = sp.symbols("x y z")
    >>> e = explain((x + y) * z, [x, y, z], {x: -2, y: 5, z: -4})
    >>> e.gradient
    {x: -4, y: -4, z: 3}
    >>> print(e.text)
    f = z*(x + y) at x = -2, y = 5, z = -4
    <BLANKLINE>
    Forward pass:
      q = x + y = 3
          local gradients: dq/dx = 1, dq/dy = 1
      f = q*z = -12
          local gradients: df/dz = q, df/dq = z
    <BLANKLINE>
    Backward pass (upstream gradient * local gradient, summed over every use):
      df/df = 1
      df/dq = z = -4
      df/dx = df/dq * dq/dx = -4 * 1 = -4
      df/dy = df/dq * dq/dy = -4 * 1 = -4
      df/dz = q = 3
    <BLANKLINE>
    Gradient: df/dx = -4, df/dy = -4, df/dz = 3
    """
    if isinstance(f, str) or not isinstance(f, (sp.Expr, int, float)):
        raise SymbackpropError(f"f must be a SymPy expression; got {type(f).__name__}")
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise SymbackpropError(f"digits must be an integer of at least 1; got {digits!r}")
    f = sp.sympify(f)
    variables = _wrt(f, wrt)
    point = _point(f, at)
    nodes = _graph(f)
    out = _label(nodes, f)
    sweep = _sweep(nodes, point, set(variables))
    leaf = {n.expr: i for i, n in enumerate(nodes) if n.expr.is_Symbol}
    # inputs in wrt order, then the other symbols by name; operations in forward order
    leaves = [leaf[v] for v in variables if v in leaf]
    leaves += [i for s, i in sorted(leaf.items(), key=lambda t: str(t[0])) if s not in variables]
    steps = _steps(nodes, sweep, leaves)
    gradient = {v: sweep.upstream.get(leaf.get(v), sp.S.Zero) for v in variables}
    view = _View(nodes, sweep, point, variables, leaves, out, digits)
    return Explanation(
        f=f,
        wrt=variables,
        point=point,
        value=sweep.values[len(nodes) - 1],
        steps=steps,
        gradient=gradient,
        text=view.text(),
        latex=view.latex(),
        dot=view.dot(),
    )


def _steps(nodes: list[_Node], sweep: _Sweep, leaves: list[int]) -> tuple[Step, ...]:
    order = leaves + [i for i, n in enumerate(nodes) if not n.expr.is_Symbol]
    flow = {(j, i): c for j, uses in sweep.uses.items() for i, _, _, c in uses}
    steps = []
    for i in order:
        n, u = nodes[i], sweep.upstream.get(i)
        inputs = tuple(
            InputGradient(nodes[j].label, g, gv, flow[j, i])
            for j, g, gv in sweep.locals.get(i, [])
            if (j, i) in flow
        )
        value = sweep.values[i]
        steps.append(
            Step(
                n.label,
                n.local,
                n.expr,
                value,
                float(value),
                u,
                None if u is None else float(u),
                inputs,
            )
        )
    return tuple(steps)


# ---- presentation ------------------------------------------------------------------------------


def _show(e: sp.Expr) -> str:
    if isinstance(e, sp.Piecewise):  # "1 if q > 0 else 0" reads better than Piecewise((1, ...))
        parts = [f"{sp.sstr(v)} if {sp.sstr(c)}" for v, c in e.args if c is not sp.true]
        last = next((sp.sstr(v) for v, c in e.args if c is sp.true), "undefined")
        return " else ".join(parts + [last])
    return sp.sstr(e)


class _View:
    """Formats one sweep as text, LaTeX and DOT (a class only to share the number format)."""

    def __init__(self, nodes, sweep, point, wrt, leaves, out, digits):
        self.nodes, self.sweep, self.point, self.wrt = nodes, sweep, point, wrt
        self.leaves, self.out, self.digits = leaves, out, digits
        self.interior = [i for i, n in enumerate(nodes) if not n.expr.is_Symbol]

    def num(self, v: sp.Expr, latex: bool = False) -> tuple[str, bool]:
        """(shown string, whether it is exact)."""
        if v.is_Rational and len(str(v)) <= 12:
            return (sp.latex(v) if latex else str(v)), True
        x = float(v)
        s = f"{x:.{self.digits}g}"
        return s, float(s) == x and (v.is_Float or v.is_Rational)

    def deriv(self, top: str, bottom: str, latex: bool = False) -> str:
        if latex:
            t, b = sp.latex(sp.Symbol(top)), sp.latex(sp.Symbol(bottom))
            return rf"\frac{{\partial {t}}}{{\partial {b}}}"
        return f"d{top}/d{bottom}"

    def chain(self, j: int, latex: bool = False) -> str:
        """df/d(node j) = sum over uses of upstream * local, symbolically then in numbers."""
        n, out = self.nodes[j], self.out
        uses = self.sweep.uses[j]
        sym, nums, exact = [], [], True
        for i, g, gv, _ in uses:
            if i == len(self.nodes) - 1:  # a direct input of f: the upstream gradient is 1
                sym.append(sp.latex(g) if latex else _show(g))
                s, ok = self.num(gv, latex)
                nums.append(self.factor(s, bool(nums), latex))
            else:
                c = self.nodes[i].label
                times = " " if latex else " * "
                sym.append(self.deriv(out, c, latex) + times + self.deriv(c, n.label, latex))
                (u, ok1), (s, ok2) = self.num(self.sweep.upstream[i], latex), self.num(gv, latex)
                ok = ok1 and ok2
                nums.append(
                    self.factor(u, bool(nums), latex)
                    + self.times(latex)
                    + self.factor(s, True, latex)
                )
            exact = exact and ok
        total, ok = self.num(self.sweep.upstream[j], latex)
        exact = exact and ok
        eq = " = " if exact else (r" \approx " if latex else " ≈ ")
        parts = [" + ".join(sym), " + ".join(nums), total]
        shown = [parts[0]] + [p for k, p in enumerate(parts[1:], 1) if p != parts[k - 1]]
        return shown[0] + "".join(eq + p for p in shown[1:])

    @staticmethod
    def factor(s: str, later: bool, latex: bool) -> str:
        if later and s.startswith("-"):
            return rf"\left({s}\right)" if latex else f"({s})"
        return s

    @staticmethod
    def times(latex: bool) -> str:
        return r" \cdot " if latex else " * "

    def at(self, latex: bool = False) -> str:
        sep = r",\ " if latex else ", "
        items = sorted(self.point.items(), key=lambda t: str(t[0]))
        if latex:
            return sep.join(f"{sp.latex(s)} = {self.num(v, True)[0]}" for s, v in items)
        return sep.join(f"{s} = {self.num(v)[0]}" for s, v in items)

    def value_line(self, i: int, latex: bool = False) -> str:
        n = self.nodes[i]
        s, exact = self.num(self.sweep.values[i], latex)
        expr = sp.latex(n.local) if latex else _show(n.local)
        eq = " = " if exact else (r" \approx " if latex else " ≈ ")
        if latex:
            return f"{sp.latex(n.symbol)} &= {expr}{eq}{s}"
        return f"{n.label} = {expr}{eq}{s}"

    def local_items(self, i: int, latex: bool = False) -> list[str]:
        n = self.nodes[i]
        rows = self.sweep.locals.get(i, [])
        return [
            f"{self.deriv(n.label, self.nodes[j].label, latex)} = "
            + (sp.latex(g) if latex else _show(g))
            for j, g, _ in rows
            if j in self.sweep.upstream
        ]

    def backward_order(self) -> list[int]:
        last = len(self.nodes) - 1
        order = [i for i in reversed(self.interior) if i != last] + self.leaves
        return [i for i in order if i in self.sweep.upstream and i != last]

    def gradient_items(self, latex: bool = False) -> list[str]:
        leaf = {self.nodes[i].expr: i for i in self.leaves}
        items = []
        for v in self.wrt:
            g = self.sweep.upstream.get(leaf.get(v), sp.S.Zero)
            items.append(f"{self.deriv(self.out, str(v), latex)} = {self.num(g, latex)[0]}")
        return items

    def text(self) -> str:
        out, last = self.out, len(self.nodes) - 1
        # printing is recursive in SymPy: a deep f is named by its size, its steps say the rest
        whole = self.nodes[last].expr
        shown = sp.sstr(whole) if len(self.nodes) <= HEADER_MAX_NODES else f"({last + 1} nodes)"
        lines = [f"{out} = {shown} at {self.at()}", "", "Forward pass:"]
        if not self.interior:  # f is a single variable
            lines.append(
                f"  {out} = {self.nodes[last].label} = {self.num(self.sweep.values[last])[0]}"
            )
        for i in self.interior:
            lines.append("  " + self.value_line(i))
            items = self.local_items(i)
            if items:
                lines.append("      local gradients: " + ", ".join(items))
        lines += ["", "Backward pass (upstream gradient * local gradient, summed over every use):"]
        if last in self.sweep.upstream:
            lines.append(f"  {self.deriv(out, self.nodes[last].label)} = 1")
        else:  # wrt only occurs in Piecewise conditions, which carry no gradient
            lines.append("  (no variable in wrt feeds an operation of f: every gradient is 0)")
        for j in self.backward_order():
            lines.append(f"  {self.deriv(out, self.nodes[j].label)} = {self.chain(j)}")
        lines += ["", "Gradient: " + ", ".join(self.gradient_items())]
        return "\n".join(lines)

    def latex(self) -> str:
        last = len(self.nodes) - 1
        rows = [rf"&\text{{forward pass at }} {self.at(True)}"]
        for i in self.interior:
            row = self.value_line(i, True)
            items = self.local_items(i, True)
            rows.append(row + (r" && " + r",\quad ".join(items) if items else ""))
        rows.append(r"&\text{backward pass: upstream gradient} \times \text{local gradient}")
        if last in self.sweep.upstream:
            d = self.deriv(self.out, self.nodes[last].label, True)
            rows.append(f"{d} &= 1")
        for j in self.backward_order():
            rows.append(
                f"{self.deriv(self.out, self.nodes[j].label, True)} &= {self.chain(j, True)}"
            )
        body = " \\\\\n".join(rows)
        return "\\begin{align*}\n" + body + "\n\\end{align*}"

    def dot(self) -> str:
        last = len(self.nodes) - 1
        lines = [
            "digraph explanation {",
            "  rankdir=LR;",
            '  node [fontname="Helvetica"];',
            '  edge [fontname="Helvetica", fontsize=10];',
        ]
        for i, n in enumerate(self.nodes):
            head = n.label if n.expr.is_Symbol else f"{n.label} = {_show(n.local)}"
            shown, exact = self.num(self.sweep.values[i])
            label = [head, ("= " if exact else "≈ ") + shown]
            if i in self.sweep.upstream:
                g = self.num(self.sweep.upstream[i])[0]
                label.append(f"{self.deriv(self.out, n.label)} = {g}")
            if i == last:
                style = f'shape=box, style="filled,bold", fillcolor="{_DOT_COLORS["output"]}"'
            elif n.expr.is_Symbol:
                style = f'shape=box, style=filled, fillcolor="{_DOT_COLORS["input"]}"'
            else:
                style = "shape=ellipse"
            lines.append(f'  n{i} [label="{_dot_escape(chr(10).join(label))}", {style}];')
        index = {n.expr: k for k, n in enumerate(self.nodes)}
        # the red edge labels are the contributions flowing back, like the notes' red numbers
        flow = {(j, i): c for j, uses in self.sweep.uses.items() for i, _, _, c in uses}
        for i, n in enumerate(self.nodes):
            for o in n.operands:
                j = index[o]
                attrs = ""
                if (j, i) in flow:
                    c = _dot_escape(self.num(flow[j, i])[0])
                    attrs = f' [label="{c}", fontcolor="red"]'
                lines.append(f"  n{j} -> n{i}{attrs};")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _dot_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# ---- Hessian spectrum --------------------------------------------------------------------------


def _eigenvalues(eigenvalues) -> np.ndarray:
    try:
        values = np.array([complex(v) for v in np.ravel(np.asarray(eigenvalues, dtype=object))])
    except (TypeError, ValueError):
        raise SymbackpropError(
            f"eigenvalues must be real numbers; got {eigenvalues!r:.80}"
        ) from None
    if values.size == 0:
        raise SymbackpropError("eigenvalues is empty: nothing to plot")
    scale = max(1.0, float(np.max(np.abs(values))))
    if np.any(np.abs(values.imag) > 1e-9 * scale):
        raise SymbackpropError("eigenvalues have imaginary parts: a Hessian's are real")
    if not np.all(np.isfinite(values.real)):
        raise SymbackpropError("eigenvalues contain NaN or infinity: nothing sensible to plot")
    return np.sort(values.real)


def spectrum_counts(eigenvalues, tol: float | None = None) -> tuple[int, int, int]:
    """How many eigenvalues are negative, zero (|lambda| <= tol) and positive.

    The default tol is sqrt(machine epsilon) * max(1, max |lambda|): eigenvalues of an exactly
    singular Hessian computed in float64 land far below it, genuine curvature far above.

    >>> spectrum_counts([-2.0, 1e-13, 0.5, 3.0])
    (1, 1, 2)
    """
    lam = _eigenvalues(eigenvalues)
    if tol is None:
        tol = np.sqrt(np.finfo(float).eps) * max(1.0, float(np.max(np.abs(lam))))
    zero = np.abs(lam) <= tol
    return int(np.sum(~zero & (lam < 0))), int(np.sum(zero)), int(np.sum(~zero & (lam > 0)))


def plot_spectrum(eigenvalues, path=None, *, title: str = "Hessian spectrum", tol=None):
    """Plot a Hessian's eigenvalues: sorted stems and a histogram, negative ones in red.

    The title counts negative / zero / positive eigenvalues (zero within ``tol``, as in
    ``spectrum_counts``). Writes ``path`` (any format matplotlib knows, by extension) and
    returns it, or returns the matplotlib Figure when no path is given. Needs matplotlib, an
    optional extra (``pip install matplotlib``); draws off-screen on the Agg canvas.

    >>> try:
    ...     fig = plot_spectrum([-1.0, 0.0, 2.0, 3.0])
    ...     shown = fig._suptitle.get_text()
    ... except SymbackpropError as err:  # matplotlib is not installed
    ...     shown = "Hessian spectrum: 1 negative, 1 zero, 2 positive"
    >>> shown
    'Hessian spectrum: 1 negative, 1 zero, 2 positive'
    """
    lam = _eigenvalues(eigenvalues)
    neg, zero, pos = spectrum_counts(lam, tol)
    try:
        import matplotlib  # noqa: F401  (an optional extra: import it only when plotting)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SymbackpropError(
            "plot_spectrum needs matplotlib, which is not installed: pip install matplotlib"
        ) from None
    if tol is None:
        tol = np.sqrt(np.finfo(float).eps) * max(1.0, float(np.max(np.abs(lam))))
    kinds = [
        (lam < -tol, "#dc2626", f"negative ({neg})"),
        (np.abs(lam) <= tol, "#6b7280", f"zero ({zero})"),
        (lam > tol, "#2563eb", f"positive ({pos})"),
    ]
    # A Figure on an Agg canvas, not pyplot: no display, and no global backend switched.
    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    stems, hist = fig.subplots(1, 2)
    index = np.arange(lam.size)
    for mask, color, name in kinds:
        if mask.any():
            stems.vlines(index[mask], 0, lam[mask], color=color, linewidth=1)
            stems.plot(index[mask], lam[mask], "o", color=color, markersize=3, label=name)
    stems.axhline(0, color="black", linewidth=0.6)
    nonzero = np.abs(lam[np.abs(lam) > tol])
    if nonzero.size and nonzero.max() / nonzero.min() > 1e3:  # spectra span decades: symlog
        stems.set_yscale("symlog", linthresh=float(nonzero.min()))
    stems.set(xlabel="index (sorted)", ylabel="eigenvalue")
    stems.legend(loc="best", fontsize=8)
    hist.hist(
        [lam[m] for m, _, _ in kinds],
        bins=min(50, max(10, lam.size // 4)),
        color=[c for _, c, _ in kinds],
        stacked=True,
    )
    hist.axvline(0, color="black", linewidth=0.6)
    hist.set(xlabel="eigenvalue", ylabel="count")
    fig.suptitle(f"{title}: {neg} negative, {zero} zero, {pos} positive")
    if path is None:
        return fig
    path = Path(path)
    fig.savefig(path)
    return path
