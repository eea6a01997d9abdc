"""LaTeX formulas -> SymPy: a translator into the plain syntax, then the plain reader.

Only a common subset of LaTeX is understood (fractions, roots, powers, subscripts, Greek letters,
the usual functions, |x|, \\left/\\right, cases and matrix environments); anything else is refused
with its position, as is every failure of the plain reader on the translation.
"""

from __future__ import annotations

import re

import sympy as sp

from ...errors import SymbackpropError
from .names import GREEK, Names
from .plain import read_plain
from .text import MAX_DEPTH, SYMPY_ERRORS, fail

# LaTeX's own function commands (others, like \operatorname{relu}, go through the plain names)
_LATEX_FUNCTIONS = {
    "exp", "ln", "log", "sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh", "tanh", "coth",
    "arcsin", "arccos", "arctan", "max", "min",
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

    def __init__(self, text: str, names: Names | None = None):
        self.text, self.i, self.depth = text, 0, 0
        self.in_condition = False
        self.names = names
        self.brackets: list[str] = []  # for each open '[': what its ']' becomes

    def fail(self, what: str, pos: int | None = None) -> SymbackpropError:
        return fail(self.text, self.i if pos is None else pos, what)

    # -- character helpers
    def skip_space(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def at(self, prefix: str) -> bool:
        return self.text.startswith(prefix, self.i)

    def at_command(self, *names: str) -> bool:
        m = re.match(r"\\([A-Za-z]+)", self.text[self.i :], re.ASCII)
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
        env = re.match(r"\\begin\s*\{(\w+)\}", self.text[self.i :], re.ASCII)
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
        number = re.match(r"\d+(?:\.\d+)?|\.\d+", text[self.i :], re.ASCII)
        if number:
            self.i += number.end()
            return number.group()
        if ch.isascii() and ch.isalpha():
            name = re.match(r"[A-Za-z][A-Za-z0-9]*", text[self.i :]).group()
            self.i += len(name)
            if (
                self.at("[")
                and self.names is not None
                and self.names.array(self.names.symbol(name)) is not None
            ):  # t[i] of a data name stays a read of the array
                self.i += 1
                self.brackets.append("]")
                return name + "["
            return self.subscripted(name)
        if ch in "+-*/,()<>":
            self.i += 1
            if ch in "<>" and self.at("="):
                self.i += 1
                return ch + "="
            return ch
        if ch in "[]":
            self.i += 1
            if ch == "[":
                self.brackets.append(")")
                return "("
            return self.brackets.pop() if self.brackets else ")"
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
        self.enter()  # \\frac\\frac..., e^---x: arguments nest without braces
        value = self.bare_argument()
        self.depth -= 1
        return value

    def bare_argument(self) -> str:
        self.skip_space()
        if self.i >= len(self.text):
            raise self.fail("missing argument at the end")
        ch = self.text[self.i]
        if ch == "{":
            return self.group()
        if ch == "\\":
            return self.command()
        if ch.isascii() and ch.isalnum():
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
        m = re.match(r"\\([A-Za-z]+|.)", self.text[self.i :], re.DOTALL | re.ASCII)
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
            if not self.at_command("rvert", "vert"):
                raise self.fail(f"\\{name} without \\rvert", start)
            self.i += len("\\rvert") if self.at_command("rvert") else len("\\vert")
            self.depth -= 1
            return "abs(" + inner + ")"
        if name in _LATEX_FUNCTIONS:
            if name == "log" and self.at("_"):
                raise self.fail("a logarithm with a base is not supported (\\log is ln)")
            return name
        if name in GREEK:
            return self.subscripted(name)
        if name in ("lambda", "Lambda"):  # SymPy's spelling: 'lambda' is a Python keyword
            return self.subscripted(name.replace("mb", "m"))
        if name == "pi":
            return "pi"
        if name == "sum":
            raise self.fail(
                "\\sum is not read in LaTeX; write sums over data in the plain syntax, "
                "sum(body, i) or sum(body, i, lo, hi)",
                start,
            )
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
            if rows == [[("", rows[0][0][1])]]:
                raise self.fail(f"empty \\begin{{{env}}}", rows[0][0][1])
            for r in rows:
                for cell, pos in r:
                    if not cell:
                        raise self.fail("empty cell", pos)
            for k, r in enumerate(rows[1:], 2):
                if len(r) != len(rows[0]):
                    raise self.fail(
                        f"row {k} has {len(r)} cell(s) and row 1 has {len(rows[0])}", r[0][1]
                    )
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


def read_latex(text: str, names: Names) -> sp.Expr | sp.Matrix:
    """SymPy for the LaTeX formula ``text`` (a Matrix for a matrix environment).

    >>> x = sp.Symbol("x")
    >>> read_latex(r"f'(x) = \\frac{e^{-x}}{2}", Names([x], allow_new=False))
    exp(-x)/2
    >>> read_latex(r"\\begin{pmatrix} x & 1 \\\\ 2 \\end{pmatrix}", Names([x], allow_new=False))
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: cannot parse ...: row 2 has 1 cell(s) and row 1 has 2 ...
    """
    translator = _Latex(text, names)
    try:
        translated = translator.translate()
    except RecursionError:  # a safety net: the depth limits stop well before this
        raise translator.fail(f"nesting deeper than {MAX_DEPTH} levels") from None
    if isinstance(translated, str):
        return _read_translated(translated, text, names)
    rows = [[_read_translated(cell, text, names) for cell in row] for row in translated]
    try:
        return sp.Matrix(rows)
    except SYMPY_ERRORS as error:  # a cell that is itself a matrix, say
        raise fail(text, 0, f"not a matrix of numbers and expressions ({error})") from None


def _read_translated(plain: str, latex_text: str, names: Names) -> sp.Expr:
    try:
        return read_plain(plain, names)
    except SymbackpropError as error:
        shown = latex_text if len(latex_text) <= 60 else latex_text[:57] + "..."
        raise SymbackpropError(f"in LaTeX {shown!r}: {error}") from None
