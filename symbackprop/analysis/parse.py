"""User text (a plain formula or LaTeX) -> SymPy, without evaluating any of it as Python.

A tokenizer accepts only numbers, names, operators and parentheses; a recursive-descent parser
builds SymPy objects directly from those tokens (no ``eval``, ``sympify`` or ``parse_expr`` on
user text), and names resolve only to the caller's symbols, a fixed table of math functions and
the constants e and pi. LaTeX is first translated to that plain syntax by a small translator.
"""

from __future__ import annotations

import keyword
import re

import sympy as sp

from ..errors import SymbackpropError
from ..frontend.functions import sigmoid, softplus

MAX_LENGTH = 2000  # characters of user text; longer input is refused before any parsing
MAX_DEPTH = 100  # nesting of parentheses, braces, signs and powers
# Exact arithmetic on literals could build astronomically large integers (9^9^9): refuse a
# numeric power whose result would need more bits than this.
MAX_POWER_BITS = 100_000

# name -> (SymPy callable, fewest arguments, most arguments)
FUNCTIONS: dict[str, tuple[object, int, int]] = {
    "exp": (sp.exp, 1, 1),
    "log": (sp.log, 1, 2),  # natural log; log(x, b) is log base b
    "ln": (sp.log, 1, 1),
    "sqrt": (sp.sqrt, 1, 1),
    "sin": (sp.sin, 1, 1),
    "cos": (sp.cos, 1, 1),
    "tan": (sp.tan, 1, 1),
    "sinh": (sp.sinh, 1, 1),
    "cosh": (sp.cosh, 1, 1),
    "tanh": (sp.tanh, 1, 1),
    "asin": (sp.asin, 1, 1),
    "acos": (sp.acos, 1, 1),
    "atan": (sp.atan, 1, 1),
    "arcsin": (sp.asin, 1, 1),
    "arccos": (sp.acos, 1, 1),
    "arctan": (sp.atan, 1, 1),
    "sigmoid": (sigmoid, 1, 1),
    "sigma": (sigmoid, 1, 1),  # LaTeX \sigma(x), unless the caller has a symbol named sigma
    "softplus": (softplus, 1, 1),
    "abs": (sp.Abs, 1, 1),
    "Abs": (sp.Abs, 1, 1),
    "max": (sp.Max, 1, 64),
    "Max": (sp.Max, 1, 64),
    "min": (sp.Min, 1, 64),
    "Min": (sp.Min, 1, 64),
    "Heaviside": (sp.Heaviside, 1, 1),
}
# nan is "undefined": what a LaTeX cases environment is where none of its cases holds.
CONSTANTS: dict[str, sp.Expr] = {"e": sp.E, "E": sp.E, "pi": sp.pi, "nan": sp.nan}

_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|<=|>=|[-+*/^(),<>])"
)
# Characters refused with a reason (anything else outside the grammar is refused too).
_REASONS = {
    ".": "attribute access is not allowed",
    "'": "quotes (strings) are not allowed",
    '"': "quotes (strings) are not allowed",
    "`": "quotes (strings) are not allowed",
    "[": "brackets and subscripts are not allowed",
    "]": "brackets and subscripts are not allowed",
    "{": "braces are only understood in LaTeX",
    "}": "braces are only understood in LaTeX",
    ";": "';' is not allowed",
    "=": "'=' is not allowed (give the right-hand side only)",
    "\\": "backslashes are only understood in LaTeX",
}
_KEYWORDS = {"if", "else"}  # the only words with grammar meaning: ``a if x > 0 else b``
_COMPARE = {
    "<": sp.StrictLessThan,
    "<=": sp.LessThan,
    ">": sp.StrictGreaterThan,
    ">=": sp.GreaterThan,
}


def _fail(text: str, pos: int, what: str) -> SymbackpropError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    return SymbackpropError(f"cannot parse {shown!r}: {what} at position {pos}")


def _check_text(text) -> str:
    if not isinstance(text, str):
        raise SymbackpropError(f"expected a formula as text; got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise SymbackpropError(
            f"formula of {len(text)} characters refused: the limit is {MAX_LENGTH}"
        )
    if not text.strip():
        raise SymbackpropError("cannot parse an empty formula")
    return text


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) triples; refuses every character outside the grammar."""
    match = re.search(r"\.\s*[A-Za-z_]", text)
    if match:
        raise _fail(text, match.start(), "'.' followed by a name (attribute access is not allowed)")
    if "__" in text:
        raise _fail(text, text.index("__"), "a dunder name ('__') is not allowed")
    tokens, pos, depth = [], 0, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            reason = _REASONS.get(ch, "this character is not part of a formula")
            raise _fail(text, pos, f"{ch!r}: {reason}")
        kind, tok = m.lastgroup, m.group()
        if kind == "name" and keyword.iskeyword(tok) and tok not in _KEYWORDS:
            raise _fail(text, pos, f"the Python keyword {tok!r} is not allowed")
        if tok == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise _fail(text, pos, f"nesting deeper than {MAX_DEPTH} levels")
        elif tok == ")":
            depth -= 1
        if kind != "ws":
            tokens.append((kind, tok, pos))
        pos = m.end()
    tokens.append(("end", "", len(text)))
    return tokens


def _norm(name: str) -> str:
    return name.replace("_", "")


class _Names:
    """Resolves a name: the caller's symbols first, then functions, then e/pi."""

    def __init__(self, symbols, allow_new: bool):
        self.allow_new = allow_new
        self.exact: dict[str, sp.Symbol] = {}
        loose: dict[str, list[sp.Symbol]] = {}
        for s in symbols:
            if not isinstance(s, sp.Symbol):
                raise SymbackpropError(f"symbols must be SymPy Symbols; got {s!r}")
            self.exact.setdefault(s.name, s)
            loose.setdefault(_norm(s.name), []).append(s)
        # x_1 and x1 name the same symbol unless the caller has both.
        self.loose = {k: v[0] for k, v in loose.items() if len(v) == 1}

    def symbol(self, name: str) -> sp.Symbol | None:
        return self.exact.get(name) or self.loose.get(_norm(name))

    def split(self, name: str) -> list[sp.Expr] | None:
        """'x2x3' -> [x2, x3] when every piece is a symbol or constant (implicit product)."""
        best: list[list[sp.Expr] | None] = [[]] + [None] * len(name)
        for end in range(1, len(name) + 1):
            for start in range(end):
                piece, head = name[start:end], best[start]
                if head is None:
                    continue
                value = self.symbol(piece)
                if value is None and piece in ("e", "pi"):
                    value = CONSTANTS[piece]
                if value is not None and (best[end] is None or len(head) + 1 < len(best[end])):
                    best[end] = head + [value]
        return best[len(name)] if len(best[len(name)] or []) > 1 else None

    def known(self) -> str:
        return ", ".join(sorted(self.exact)) or "none"


class _Parser:
    """Precedence climbing over the token list; every method returns a SymPy object."""

    def __init__(self, text: str, names: _Names):
        self.text, self.names = text, names
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    # -- token helpers
    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        kind, got, pos = self.take()
        if got != tok:
            raise _fail(self.text, pos, f"expected {tok!r}, found {got or 'the end'!r}")

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(self.text, pos, f"nesting deeper than {MAX_DEPTH} levels")

    def starts_operand(self, tok) -> bool:
        kind, t, _ = tok
        return kind == "num" or t == "(" or (kind == "name" and t not in _KEYWORDS)

    # -- grammar
    def parse(self) -> sp.Expr:
        value = self.expression()
        kind, tok, pos = self.peek()
        if kind != "end":
            raise _fail(self.text, pos, f"unexpected {tok!r}")
        return value

    def expression(self) -> sp.Expr:
        """sum ['if' condition 'else' expression]"""
        value = self.sum()
        if self.peek()[1] == "if":
            self.take()
            condition = self.condition()
            self.expect("else")
            other = self.expression()
            # a if c else (b if d else e) is one flat Piecewise: (a, c), (b, d), (e, True)
            rest = other.args if isinstance(other, sp.Piecewise) else ((other, True),)
            return sp.Piecewise((value, condition), *rest)
        return value

    def condition(self):
        """sum (< | <= | > | >=) sum [...]: a chain a < x < b means a < x and x < b."""
        left, parts = self.sum(), []
        while self.peek()[1] in _COMPARE:
            op = self.take()[1]
            right = self.sum()
            parts.append(_COMPARE[op](left, right))
            left = right
        if not parts:
            kind, tok, pos = self.peek()
            raise _fail(self.text, pos, "expected a comparison after 'if'")
        return sp.And(*parts)

    def sum(self) -> sp.Expr:
        value = self.product()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            right = self.product()
            value = value + right if op == "+" else value - right
        return value

    def product(self) -> sp.Expr:
        """Explicit * and /, and implicit multiplication by juxtaposition ('2x(1-x)')."""
        value = self.signed()
        while True:
            tok = self.peek()
            if tok[1] in ("*", "/"):
                self.take()
                right = self.signed()
                value = value * right if tok[1] == "*" else value / right
            elif self.starts_operand(tok):
                value = value * self.signed()
            else:
                return value

    def signed(self) -> sp.Expr:
        """Unary sign binds looser than power: -x^2 is -(x^2); 2^-x is 2^(-x)."""
        kind, tok, pos = self.peek()
        if tok in ("+", "-"):
            self.take()
            self.enter(pos)
            operand = self.signed()
            self.depth -= 1
            return -operand if tok == "-" else operand
        return self.power()

    def power(self) -> sp.Expr:
        """atom [(^ | **) signed]: right-associative, so x^2^3 is x^(2^3)."""
        base = self.atom()
        kind, tok, pos = self.peek()
        if tok in ("^", "**"):
            self.take()
            self.enter(pos)
            exponent = self.signed()
            self.depth -= 1
            return self.pow(base, exponent, pos)
        return base

    def pow(self, base, exponent, pos) -> sp.Expr:
        if base.is_Rational and exponent.is_Rational:
            bits = max(int(base.p).bit_length(), int(base.q).bit_length())
            if bits > 1 and abs(exponent) * bits > MAX_POWER_BITS:
                raise _fail(self.text, pos, "a numeric power too large to compute exactly")
        return sp.Pow(base, exponent)

    def atom(self) -> sp.Expr:
        kind, tok, pos = self.take()
        if kind == "num":
            power = re.search(r"[eE]([+-]?\d+)", tok)
            if power and abs(int(power.group(1))) > 400:  # 1e999999 would be a huge exact integer
                raise _fail(self.text, pos, f"the number {tok} is out of range")
            # Decimal literals are exact rationals (0.01 is 1/100), so symbolic checks stay exact.
            return sp.Rational(tok) if any(c in tok for c in ".eE") else sp.Integer(tok)
        if tok == "(":
            self.enter(pos)
            value = self.expression()
            self.expect(")")
            self.depth -= 1
            return value
        if kind == "name" and tok not in _KEYWORDS:
            return self.name(tok, pos)
        raise _fail(self.text, pos, f"unexpected {tok or 'end of input'!r}")

    def name(self, name: str, pos: int) -> sp.Expr:
        symbol = self.names.symbol(name)
        if symbol is not None:
            return symbol
        if name in FUNCTIONS:
            return self.call(name, pos)
        if name in CONSTANTS:
            return CONSTANTS[name]
        pieces = self.names.split(name)
        if pieces is not None:
            return sp.Mul(*pieces)
        if self.names.allow_new:
            return sp.Symbol(name)
        raise _fail(self.text, pos, f"unknown name {name!r} (known symbols: {self.names.known()})")

    def call(self, name: str, pos: int) -> sp.Expr:
        """f(a, b), f x (one operand, 'sin 2x' is sin(2)*x), and f^2(x) meaning f(x)^2."""
        function, fewest, most = FUNCTIONS[name]
        exponent = None
        if self.peek()[1] in ("^", "**"):
            self.take()
            exponent = self.atom()
        self.enter(pos)
        if self.peek()[1] == "(":
            self.take()
            args = [self.expression()]
            while self.peek()[1] == ",":
                self.take()
                args.append(self.expression())
            self.expect(")")
        elif self.starts_operand(self.peek()) or self.peek()[1] in ("+", "-"):
            args = [self.signed()]
        else:
            raise _fail(self.text, pos, f"function {name!r} needs an argument")
        self.depth -= 1
        if not fewest <= len(args) <= most:
            takes = f"{fewest}" if fewest == most else f"{fewest} to {most}"
            raise _fail(self.text, pos, f"{name} takes {takes} argument(s), got {len(args)}")
        value = function(*args)
        return value if exponent is None else self.pow(value, exponent, pos)


# ---------------------------------------------------------------------------------------------
# LaTeX -> the plain syntax above. Only a common subset is understood; anything else is refused.

_LATEX_FUNCTIONS = {
    "exp", "ln", "log", "sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin", "arccos",
    "arctan", "max", "min",
}  # fmt: skip
_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "iota",
    "kappa", "mu", "nu", "xi", "rho", "sigma", "tau", "phi", "varphi", "chi", "psi", "omega",
}  # fmt: skip
_LATEX_SPACING = {",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "limits"}
_LATEX_SIZES = {"big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr"}
_LATEX_TIMES = {"cdot", "times", "ast"}
_LATEX_RELATIONS = {"geq": ">=", "ge": ">=", "leq": "<=", "le": "<=", "lt": "<", "gt": ">"}
_LATEX_WORDS = {"mathrm", "operatorname", "text", "textrm", "mathit", "mathbf", "boldsymbol"}
_CONDITION_WORDS = {"for", "if", "when", "where", "otherwise", "else", "and"}
_MATRIX_ENVIRONMENTS = {"pmatrix", "bmatrix", "Bmatrix", "matrix", "smallmatrix"}


class _Latex:
    """Recursive descent over LaTeX, emitting plain text (``\\frac{a}{b}`` -> ``((a)/(b))``).

    ``e^{x}`` becomes ``e^(x)`` (the constant e, so the exponential), ``\\ln`` and ``\\log`` the
    natural log, ``x_{1}`` the name ``x_1``, ``\\tanh^2(x)`` ``tanh^(2)(x)``, ``|x|`` and
    ``\\left| x \\right|`` ``abs(x)``, a ``cases`` environment a piecewise value. A formula with
    ``=`` keeps its right-hand side (``f'(x) = 2x`` reads as ``2x``).
    """

    def __init__(self, text: str):
        self.text, self.i, self.depth = text, 0, 0
        self.in_condition = False

    def fail(self, what: str, pos: int | None = None) -> SymbackpropError:
        return _fail(self.text, self.i if pos is None else pos, what)

    # -- character helpers
    def skip_space(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def at(self, prefix: str) -> bool:
        return self.text.startswith(prefix, self.i)

    def at_command(self, *names: str) -> bool:
        m = re.match(r"\\([A-Za-z]+)", self.text[self.i :])
        return bool(m) and m.group(1) in names

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels")

    def expect(self, token: str) -> None:
        self.skip_space()
        if not self.at(token):
            raise self.fail(f"expected {token!r}")
        self.i += len(token)

    # -- entry point
    def translate(self) -> str | list[list[str]]:
        """The plain text, or rows of cells for a matrix environment."""
        self.i = self.right_hand_side()
        self.skip_space()
        env = re.match(r"\\begin\s*\{(\w+)\}", self.text[self.i :])
        if env and env.group(1) in _MATRIX_ENVIRONMENTS:
            self.i += env.end()
            rows = self.rows(env.group(1))
            self.skip_space()
            if self.i < len(self.text):
                raise self.fail("a matrix must be the whole formula")
            return [[value for value, _ in row] for row in rows]
        plain = self.sequence(lambda: False)
        if not plain.strip():
            raise self.fail("empty formula")
        return plain

    def right_hand_side(self) -> int:
        """Where the text after the last top-level '=' starts (0 when there is none)."""
        start, depth = 0, 0
        for k, ch in enumerate(self.text):
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if ch == "=" and depth == 0 and self.text[k - 1 : k] not in ("<", ">", "!", "="):
                start = k + 1
        return start

    # -- grammar
    def sequence(self, stop) -> str:
        parts = []
        while True:
            self.skip_space()
            if self.i >= len(self.text) or stop():
                return " ".join(p for p in parts if p)
            parts.append(self.item())

    def item(self) -> str:
        text, ch = self.text, self.text[self.i]
        if ch == "{":
            return "(" + self.group() + ")"
        number = re.match(r"\d+(?:\.\d+)?|\.\d+", text[self.i :])
        if number:
            self.i += number.end()
            return number.group()
        if ch.isalpha():
            name = re.match(r"[A-Za-z][A-Za-z0-9]*", text[self.i :]).group()
            self.i += len(name)
            return self.subscripted(name)
        if ch in "+-*/,()<>":
            self.i += 1
            if ch in "<>" and self.at("="):
                self.i += 1
                return ch + "="
            return ch
        if ch in "[]":
            self.i += 1
            return "(" if ch == "[" else ")"
        if ch == "^":
            self.i += 1
            return "^ (" + self.argument() + ")"
        if ch == "|":
            self.i += 1
            self.enter()
            inner = self.sequence(lambda: self.at("|"))
            self.expect("|")
            self.depth -= 1
            return "abs(" + inner + ")"
        if ch == "\\":
            return self.command()
        if ch == "_":
            raise self.fail("a subscript must follow a name")
        raise self.fail(f"unexpected {ch!r}")

    def subscripted(self, name: str) -> str:
        """x_1, x_{12}, w_{ij} -> one name (x_1 matches a symbol named x1 or x_1)."""
        if not self.at("_"):
            return name
        self.i += 1
        self.skip_space()
        start = self.i
        sub = self.argument().replace(" ", "")
        if not re.fullmatch(r"[A-Za-z0-9]+", sub):
            raise self.fail("a subscript must be letters and digits", start)
        return f"{name}_{sub}"

    def argument(self) -> str:
        """A braced group or a single character/command (``^2``, ``\\frac12``, ``^\\pi``)."""
        self.skip_space()
        if self.i >= len(self.text):
            raise self.fail("missing argument at the end")
        ch = self.text[self.i]
        if ch == "{":
            return self.group()
        if ch == "\\":
            return self.command()
        if ch.isalnum():
            self.i += 1
            return ch
        if ch == "-":  # e^-x, a common shorthand for e^{-x}
            self.i += 1
            return "-" + self.argument()
        raise self.fail(f"unexpected {ch!r} where an argument was expected")

    def group(self) -> str:
        self.expect("{")
        self.enter()
        start = self.i
        inner = self.sequence(lambda: self.at("}"))
        self.expect("}")
        self.depth -= 1
        if not inner.strip():
            raise self.fail("empty braces", start)
        return inner

    def word(self) -> str:
        """The letters inside \\text{...} and friends."""
        self.expect("{")
        start = self.i
        end = self.text.find("}", start)
        if end < 0:
            raise self.fail("unclosed '{'")
        self.i = end + 1
        content = self.text[start:end].strip()
        if content and not re.fullmatch(r"[A-Za-z][A-Za-z0-9 ]*", content):
            raise self.fail(f"unsupported text {content!r}", start)
        return content

    def command(self) -> str:
        start = self.i
        m = re.match(r"\\([A-Za-z]+|.)", self.text[self.i :], re.S)
        if m is None:
            raise self.fail("a lone backslash")
        name = m.group(1)
        self.i += m.end()
        if name in ("frac", "dfrac", "tfrac"):
            top = self.argument()
            bottom = self.argument()
            return f"(({top})/({bottom}))"
        if name == "sqrt":
            self.skip_space()
            if self.at("["):
                self.i += 1
                self.enter()
                degree = self.sequence(lambda: self.at("]"))
                self.expect("]")
                self.depth -= 1
                return f"(({self.argument()})^(1/({degree})))"
            return f"sqrt({self.argument()})"
        if name in _LATEX_TIMES:
            return "*"
        if name == "div":
            return "/"
        if name in _LATEX_SPACING or name in _LATEX_SIZES:
            return ""
        if name == "left":
            return self.delimited()
        if name in ("lvert", "vert"):
            self.enter()
            inner = self.sequence(lambda: self.at_command("rvert", "vert"))
            self.i += len("\\rvert") if self.at_command("rvert") else len("\\vert")
            self.depth -= 1
            return "abs(" + inner + ")"
        if name in _LATEX_FUNCTIONS:
            if name == "log" and self.at("_"):
                raise self.fail("a logarithm with a base is not supported (\\log is ln)")
            return name
        if name in _GREEK:
            return self.subscripted(name)
        if name == "lambda":
            return self.subscripted("lamda")  # SymPy's spelling: 'lambda' is a Python keyword
        if name == "pi":
            return "pi"
        if name in _LATEX_RELATIONS:
            return _LATEX_RELATIONS[name]
        if name in _LATEX_WORDS:
            word = self.word()
            if self.in_condition and word in _CONDITION_WORDS:
                return ""
            return self.subscripted(word) if word else ""
        if name == "begin":
            env = self.word()
            if env == "cases":
                return self.cases()
            raise self.fail(f"environment {env!r} is not supported here", start)
        raise self.fail(f"unsupported LaTeX command '\\{name}'", start)

    def delimited(self) -> str:
        """\\left( ... \\right) -> ( ... ); \\left| ... \\right| -> abs( ... )."""
        opening = self.delimiter()
        self.enter()
        inner = self.sequence(lambda: self.at_command("right"))
        if not self.at_command("right"):
            raise self.fail("\\left without \\right")
        self.i += len("\\right")
        self.delimiter()
        self.depth -= 1
        return f"abs({inner})" if opening == "|" else f"({inner})"

    def delimiter(self) -> str:
        self.skip_space()
        for token, kind in (("\\lvert", "|"), ("\\rvert", "|"), ("\\vert", "|"), ("\\{", "(")):
            if self.at(token):
                self.i += len(token)
                return kind
        if self.i < len(self.text) and self.text[self.i] in "()[].|":
            self.i += 1
            return "|" if self.text[self.i - 1] == "|" else "("
        raise self.fail("expected a delimiter after \\left or \\right")

    def rows(self, env: str) -> list[list[tuple[str, str]]]:
        """Cells of an environment up to \\end{env}: rows split by \\\\, cells by &."""
        self.enter()
        rows, row = [], []

        def cell_end() -> bool:
            return self.at("&") or self.at("\\\\") or self.at_command("end")

        while True:
            start = self.i
            cell = self.sequence(cell_end).strip()
            if self.i >= len(self.text):
                raise self.fail(f"\\begin{{{env}}} without \\end{{{env}}}")
            row.append((cell, start))
            if self.at("&"):
                self.i += 1
                continue
            rows.append(row)
            row = []
            if self.at("\\\\"):
                self.i += 2
                self.skip_space()
                if not self.at_command("end"):
                    continue
            self.i += len("\\end")
            if self.word() != env:
                raise self.fail(f"\\begin{{{env}}} closed by a different \\end")
            self.depth -= 1
            rows = [r for r in rows if any(c for c, _ in r)]  # a trailing \\ leaves an empty row
            for r in rows:
                for cell, pos in r:
                    if not cell:
                        raise self.fail("empty cell", pos)
            return rows

    def cases(self) -> str:
        """value & condition rows -> nested 'a if c else ...'; where no case holds: nan."""
        result = "nan"
        for value, condition in reversed(self.rows_with_conditions()):
            value = value.strip(" ,")
            condition = condition.strip(" ,")
            result = f"(({value}) if {condition} else {result})" if condition else f"({value})"
        return result

    def rows_with_conditions(self) -> list[tuple[str, str]]:
        """The rows of a cases environment as (value, condition) text."""
        self.enter()
        branches = []
        while True:
            start = self.i
            value = self.sequence(lambda: self.at("&") or self.at("\\\\") or self.at_command("end"))
            condition = ""
            if self.at("&"):
                self.i += 1
                self.in_condition = True
                condition = self.sequence(lambda: self.at("\\\\") or self.at_command("end"))
                self.in_condition = False
            if self.i >= len(self.text):
                raise self.fail("\\begin{cases} without \\end{cases}", start)
            if value.strip():
                branches.append((value, condition))
            if self.at("\\\\"):
                self.i += 2
                continue
            self.i += len("\\end")
            if self.word() != "cases":
                raise self.fail("\\begin{cases} closed by a different \\end")
            self.depth -= 1
            if not branches:
                raise self.fail("empty cases", start)
            return branches


def parse(text: str, symbols=(), latex: bool | None = None, *, allow_new: bool = False):
    """Parse a formula typed by a person into SymPy, using the caller's own Symbol objects.

    ``text`` is plain (``^`` or ``**`` for powers, implicit multiplication as in ``2x(1-x2)``,
    ``e`` and ``pi`` as constants, ``a if x > 0 else b`` for a piecewise value) or LaTeX
    (``latex=True``; ``None`` detects LaTeX by a backslash or a brace). Names resolve to the
    ``symbols`` given (matched by name, so their assumptions are kept; ``x_1`` matches ``x1``),
    to a fixed function table (see ``FUNCTIONS``), or to ``e``/``pi``. A name made of symbol
    names reads as their product (``x2x3``). Decimals are exact (``0.01`` is 1/100). Implicit
    multiplication binds like ``*`` (``1/2x`` is x/2). With ``allow_new`` unknown names become
    fresh Symbols. A LaTeX matrix environment gives a SymPy Matrix.

    Nothing in ``text`` is ever evaluated as Python. Anything else (attribute access, quotes,
    brackets, unknown names, Python keywords, over ``MAX_LENGTH`` characters or ``MAX_DEPTH``
    levels of nesting) raises SymbackpropError naming what was refused and where.

    >>> import sympy as sp
    >>> x1, x2 = sp.symbols("x1 x2")
    >>> parse("2x1(1-x2) + x1^2 e^x2", [x1, x2])
    x1**2*exp(x2) + 2*x1*(1 - x2)
    >>> parse(r"\\frac{1}{1+e^{-x_1}}", [x1])
    1/(1 + exp(-x1))
    >>> parse("x.__class__", [x1])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: cannot parse 'x.__class__': '.' followed by ... position 1
    """
    text = _check_text(text)
    if latex is None:
        latex = "\\" in text or "{" in text
    names = _Names(symbols, allow_new)
    if not latex:
        return _parse_plain(text, names)
    translated = _Latex(text).translate()
    if isinstance(translated, list):  # a matrix: rows of cells
        return sp.Matrix([[_parse_translated(c, text, names) for c in row] for row in translated])
    return _parse_translated(translated, text, names)


def _parse_plain(text: str, names: _Names) -> sp.Expr:
    try:
        return _Parser(text, names).parse()
    except RecursionError:  # a safety net: the depth limits above stop well before this
        raise SymbackpropError(f"cannot parse: nesting deeper than {MAX_DEPTH} levels") from None


def _parse_translated(plain: str, latex_text: str, names: _Names) -> sp.Expr:
    try:
        return _parse_plain(plain, names)
    except SymbackpropError as error:
        shown = latex_text if len(latex_text) <= 60 else latex_text[:57] + "..."
        raise SymbackpropError(f"in LaTeX {shown!r}: {error}") from None
