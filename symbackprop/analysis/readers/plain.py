"""Plain formula text (``2x(1-x)^2``, ``a if x > 0 else b``) -> SymPy, never evaluated as Python.

Over data: ``t[i]``, ``X[i, 2]``, ``t[i + 1]`` read a declared data name (a ``sp.Indexed``;
brackets follow nothing else), and ``sum(body, i)`` is the sum over every row,
``Sum(body, (i, 0, N - 1))`` with the length symbol N, ``sum(body, i, lo, hi)`` the sum from lo
to hi inclusive. Inside brackets and bounds every name is an integer (an index or a length).

A tokenizer accepts only numbers, names, operators and parentheses; a recursive-descent parser
builds SymPy objects directly from those tokens (no ``eval``, ``sympify`` or ``parse_expr``), and
names mean what ``names.Names`` says. Every failure is a SymbackpropError with the position.
"""

from __future__ import annotations

import keyword
import operator
import re

import sympy as sp

from ...errors import SymbackpropError
from .names import FUNCTIONS, Names
from .text import MAX_DEPTH, MAX_POWER_BITS, SYMPY_ERRORS, fail

_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|<=|>=|[-+*/^(),<>\[\]])",
    re.ASCII,  # Unicode digits and letters are not part of a formula
)
# Characters refused with a reason (anything else outside the grammar is refused too).
_REASONS = {
    ".": "attribute access is not allowed",
    "'": "quotes (strings) are not allowed",
    '"': "quotes (strings) are not allowed",
    "`": "quotes (strings) are not allowed",
    "{": "braces are only understood in LaTeX",
    "}": "braces are only understood in LaTeX",
    ";": "';' is not allowed",
    "=": "'=' is not allowed (give the right-hand side only)",
    "\\": "backslashes are only understood in LaTeX",
}
_KEYWORDS = {"if", "else"}  # the only words with grammar meaning: ``a if x > 0 else b``
SUM = "sum"  # sum(body, i[, lo, hi]): a Sum, unless a symbol of that name is declared
LENGTH = "N"  # the length symbol of sum(body, i): every row, i = 0 .. N - 1
_INTEGER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*", re.ASCII)
_COMPARE = {
    "<": sp.StrictLessThan,
    "<=": sp.LessThan,
    ">": sp.StrictGreaterThan,
    ">=": sp.GreaterThan,
}


def tokenize(text: str) -> list[tuple[str, object, int]]:
    """(kind, text, position) triples; refuses every character outside the grammar.

    >>> tokenize("2x^2")
    [('num', '2', 0), ('name', 'x', 1), ('op', '^', 2), ('num', '2', 3), ('end', '', 4)]
    """
    match = re.search(r"\.\s*[A-Za-z_]", text)
    if match:
        raise fail(text, match.start(), "'.' followed by a name (attribute access is not allowed)")
    if "__" in text:
        raise fail(text, text.index("__"), "a dunder name ('__') is not allowed")
    tokens, pos, depth = [], 0, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            reason = _REASONS.get(ch, "this character is not part of a formula")
            raise fail(text, pos, f"{ch!r}: {reason}")
        kind, tok = m.lastgroup, m.group()
        if kind == "name" and keyword.iskeyword(tok) and tok not in _KEYWORDS:
            raise fail(text, pos, f"the Python keyword {tok!r} is not allowed")
        if tok in ("(", "["):
            depth += 1
            if depth > MAX_DEPTH:
                raise fail(text, pos, f"nesting deeper than {MAX_DEPTH} levels")
        elif tok in (")", "]"):
            depth -= 1
        if kind != "ws":
            tokens.append((kind, tok, pos))
        pos = m.end()
    tokens.append(("end", "", len(text)))
    return tokens


def read_plain(text: str, names: Names) -> sp.Expr:
    """SymPy for the plain formula ``text``, its names read by ``names``.

    >>> x = sp.Symbol("x")
    >>> read_plain("2x^2 if x > 0 else -x", Names([x], allow_new=False))
    Piecewise((2*x**2, x > 0), (-x, True))
    """
    parser = _Parser(text, names)
    try:
        return parser.parse()
    except RecursionError:  # a safety net: the depth limits stop well before this
        raise parser.fail(f"nesting deeper than {MAX_DEPTH} levels") from None


class _Parser:
    """Precedence climbing over the token list; every method returns a SymPy object."""

    def __init__(self, text: str, names: Names):
        self.text, self.names = text, names
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.indices: list[sp.Symbol] = []  # the indices of the sums being read, innermost last
        self.integers = 0  # > 0 inside brackets and sum bounds, where names are integers
        self.lengths: set[sp.Symbol] = set()  # new integer symbols: lengths, free indices

    # -- helpers
    def peek(self) -> tuple[str, object, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, object, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, what: str, pos: int | None = None) -> SymbackpropError:
        """The error at ``pos``, by default where the last token read starts."""
        if pos is None:
            pos = self.tokens[max(self.i - 1, 0)][2]
        return fail(self.text, pos, what)

    def expect(self, tok: str) -> None:
        _, got, pos = self.take()
        if got != tok:
            raise self.fail(f"expected {tok!r}, found {got or 'the end'!r}", pos)

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels", pos)

    def nested(self, pos: int, read) -> sp.Expr:
        """``read()`` one level deeper: signs, powers and parentheses share MAX_DEPTH."""
        self.enter(pos)
        value = read()
        self.depth -= 1
        return value

    def starts_operand(self, tok) -> bool:
        kind, t, _ = tok
        return kind in ("num", "value") or t == "(" or (kind == "name" and t not in _KEYWORDS)

    def build(self, pos: int, make, *args):
        """``make(*args)``, SymPy's refusal (NaN in a comparison, Max of I) named at ``pos``."""
        try:
            return make(*args)
        except SYMPY_ERRORS as error:
            raise self.fail(f"{error or type(error).__name__}", pos) from None

    # -- grammar
    def parse(self) -> sp.Expr:
        value = self.expression()
        kind, tok, pos = self.peek()
        if kind != "end":
            raise self.fail(f"unexpected {tok!r}", pos)
        # N in 'sum(t[i], i) / N' is the length the sum runs to, one integer symbol
        same = {sp.Symbol(s.name): s for s in self.lengths}
        return value.xreplace(same) if same and hasattr(value, "xreplace") else value

    def expression(self) -> sp.Expr:
        """sum ['if' condition 'else' expression]"""
        value = self.sum()
        if self.peek()[1] == "if":
            pos = self.take()[2]
            condition = self.condition()
            self.expect("else")
            other = self.expression()
            # a if c else (b if d else e) is one flat Piecewise: (a, c), (b, d), (e, True)
            rest = other.args if isinstance(other, sp.Piecewise) else ((other, True),)
            return self.build(pos, sp.Piecewise, (value, condition), *rest)
        return value

    def condition(self):
        """sum (< | <= | > | >=) sum [...]: a chain a < x < b means a < x and x < b."""
        left, parts = self.sum(), []
        while self.peek()[1] in _COMPARE:
            op, pos = self.take()[1:]
            right = self.sum()
            parts.append(self.build(pos, _COMPARE[op], left, right))
            left = right
        if not parts:
            raise self.fail("expected a comparison after 'if'", self.peek()[2])
        return self.build(self.peek()[2], sp.And, *parts)

    def sum(self) -> sp.Expr:
        value = self.product()
        while self.peek()[1] in ("+", "-"):
            op, pos = self.take()[1:]
            right = self.product()
            value = self.build(pos, operator.add if op == "+" else operator.sub, value, right)
        return value

    def product(self) -> sp.Expr:
        """Explicit * and /, and implicit multiplication by juxtaposition ('2x(1-x)')."""
        value = self.signed()
        while True:
            kind, tok, pos = self.peek()
            if tok in ("*", "/"):
                self.take()
                right = self.signed()
                value = self.build(
                    pos, operator.mul if tok == "*" else operator.truediv, value, right
                )
            elif self.starts_operand((kind, tok, pos)):
                value = self.build(pos, operator.mul, value, self.signed())
            else:
                return value

    def signed(self) -> sp.Expr:
        """Unary sign binds looser than power: -x^2 is -(x^2); 2^-x is 2^(-x)."""
        _, tok, pos = self.peek()
        if tok in ("+", "-"):
            self.take()
            operand = self.nested(pos, self.signed)
            return self.build(pos, operator.neg, operand) if tok == "-" else operand
        return self.power()

    def power(self) -> sp.Expr:
        """atom [(^ | **) signed]: right-associative, so x^2^3 is x^(2^3)."""
        base = self.atom()
        _, tok, pos = self.peek()
        if tok in ("^", "**"):
            self.take()
            return self.pow(base, self.nested(pos, self.signed), pos)
        return base

    def pow(self, base, exponent, pos) -> sp.Expr:
        if base.is_Rational and exponent.is_Rational:
            bits = max(int(base.p).bit_length(), int(base.q).bit_length())
            if bits > 1 and abs(exponent) * bits > MAX_POWER_BITS:
                raise self.fail("a numeric power too large to compute exactly", pos)
        return self.build(pos, sp.Pow, base, exponent)

    def atom(self) -> sp.Expr:
        kind, tok, pos = self.take()
        if kind == "value":  # a factor of a word split by ``name`` ('xy' -> x, y)
            return self.indexed(tok, pos)
        if kind == "num":
            power = re.search(r"[eE]([+-]?\d+)", tok)
            if power and abs(int(power.group(1))) > 400:  # 1e999999 would be a huge exact integer
                raise self.fail(f"the number {tok} is out of range", pos)
            # Decimal literals are exact rationals (0.01 is 1/100), so symbolic checks stay exact.
            return sp.Rational(tok) if any(c in tok for c in ".eE") else sp.Integer(tok)
        if tok == "(":
            value = self.nested(pos, self.expression)
            self.expect(")")
            return value
        if kind == "name" and tok not in _KEYWORDS:
            return self.indexed(self.name(tok, pos), pos)
        if tok == "[":
            raise self.fail("'[': brackets follow a data name only (t[i])", pos)
        raise self.fail(f"unexpected {tok or 'end of input'!r}", pos)

    def name(self, name: str, pos: int) -> sp.Expr:
        for index in reversed(self.indices):
            if index.name == name:
                return index
        if name == SUM and self.names.symbol(SUM) is None and self.peek()[1] == "(":
            return self.summation(pos)
        if self.integers or (
            name == LENGTH and self.names.arrays and self.names.symbol(name) is None
        ):
            return self.integer(name, pos)  # N over data is the number of rows, an integer
        try:
            meaning = self.names.read(name)
        except SymbackpropError as error:
            raise self.fail(str(error), pos) from None
        if isinstance(meaning, str):
            return self.call(meaning, pos)
        if meaning is None:
            raise self.fail(f"unknown name {name!r} (known symbols: {self.names.known()})", pos)
        if len(meaning) > 1 and self.peek()[1] == "(":
            raise self.fail(
                f"unknown function {name!r} (for a product, write the factors apart: "
                f"{' '.join(map(str, meaning))} (...))",
                pos,
            )
        # The factors become tokens of their own, so a power binds to the last one only
        # (2xy^2 is 2*x*y**2).
        self.tokens[self.i : self.i] = [("value", factor, pos) for factor in meaning[1:]]
        return meaning[0]

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
            raise self.fail(f"function {name!r} needs an argument", pos)
        self.depth -= 1
        if not fewest <= len(args) <= most:
            takes = f"{fewest}" if fewest == most else f"{fewest} to {most}"
            raise self.fail(f"{name} takes {takes} argument(s), got {len(args)}", pos)
        value = self.build(pos, function, *args)
        return value if exponent is None else self.pow(value, exponent, pos)

    # -- models over data
    def indexed(self, value, pos: int) -> sp.Expr:
        """``value[k, ...]`` when brackets follow (only a data name's), else ``value``."""
        _, tok, at = self.peek()
        if tok != "[":
            return value
        array = self.names.array(value)
        if array is None:
            what = f"{value} is not" if isinstance(value, sp.Symbol) else "only a name is"
            raise self.fail(f"'[': brackets follow a data name only ({what} declared as data)", at)
        self.take()
        self.enter(at)
        self.integers += 1
        indices = [self.expression()]
        while self.peek()[1] == ",":
            self.take()
            indices.append(self.expression())
        self.integers -= 1
        self.expect("]")
        self.depth -= 1
        for k in indices:
            if k.is_integer is not True:
                raise self.fail(f"{array}[...]: the index {k} is not an integer", at)
        return self.build(at, lambda: array[tuple(indices)])

    def integer(self, name: str, pos: int) -> sp.Symbol:
        """A name inside brackets or sum bounds: an integer symbol (an index or a length)."""
        declared = self.names.symbol(name)
        if declared is not None and declared.is_integer is not True:
            raise self.fail(
                f"{name} is not an integer, so it cannot index data or bound a sum", pos
            )
        if declared is None and (name in FUNCTIONS or not _INTEGER_NAME.fullmatch(name)):
            raise self.fail(f"{name!r} cannot be an index or a length here", pos)
        if self.peek()[1] == "(":
            raise self.fail(f"no function calls inside brackets or sum bounds ({name}(...))", pos)
        if declared is not None:
            return declared
        symbol = sp.Symbol(name, integer=True)
        self.lengths.add(symbol)
        return symbol

    def summation(self, pos: int) -> sp.Expr:
        """sum(body, i) over every row (i = 0 .. N - 1), or sum(body, i, lo, hi) inclusive."""
        self.expect("(")
        index = sp.Symbol(self.index_name(pos), integer=True)
        declared = self.names.symbol(index.name)
        if declared is not None and declared != index:
            raise self.fail(f"the index {index} of sum(...) is also a symbol of the formula", pos)
        self.enter(pos)
        self.indices.append(index)
        body = self.expression()
        self.indices.pop()
        self.expect(",")
        self.take()  # the index name, found by index_name
        if self.peek()[1] == ",":
            self.take()
            self.integers += 1
            lo = self.expression()
            self.expect(",")
            hi = self.expression()
            self.integers -= 1
        else:
            length = self.names.symbol(LENGTH)
            if length is not None and length.is_integer is not True:
                raise self.fail(
                    f"sum(body, {index}) sums to the length {LENGTH}, but {LENGTH} is a symbol "
                    f"here; give the bounds: sum(body, {index}, lo, hi)",
                    pos,
                )
            if length is None:
                length = sp.Symbol(LENGTH, integer=True)
                self.lengths.add(length)
            lo, hi = sp.S.Zero, length - 1
        self.expect(")")
        self.depth -= 1
        for bound in (lo, hi):
            if bound.is_integer is not True:
                raise self.fail(f"the bound {bound} of sum(...) is not an integer", pos)
        return self.build(pos, sp.Sum, body, (index, lo, hi))

    def index_name(self, pos: int) -> str:
        """The index of the sum whose '(' was just read: the name after the body's comma."""
        depth = 0
        for k in range(self.i, len(self.tokens)):
            kind, tok, _ = self.tokens[k]
            if tok in ("(", "["):
                depth += 1
            elif tok in (")", "]"):
                depth -= 1
            if depth < 0 or kind == "end":
                break
            if tok == "," and depth == 0:
                kind, tok, _ = self.tokens[k + 1]
                if kind == "name" and self.tokens[k + 2][1] in (",", ")"):
                    if not _INTEGER_NAME.fullmatch(tok):
                        break
                    return tok
                break
        raise self.fail("expected sum(body, i) or sum(body, i, lo, hi) with i an index name", pos)
