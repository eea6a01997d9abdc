"""What the commands print: one JSON object, numbers for JSON and for people, aligned matrices and
tables, and the colour of each kind of critical point (colour shows only where Click allows it).
"""

from __future__ import annotations

import json

import click

KIND_COLOURS = {"minimum": "green", "maximum": "blue", "saddle": "yellow", "degenerate": "magenta"}


def echo_json(obj) -> None:
    """Print one indented JSON object.

    >>> echo_json({"ok": True})
    {
      "ok": true
    }
    """
    click.echo(json.dumps(obj, indent=2))


def number(v):
    """A JSON number for a SymPy or NumPy value (None where it is not finite and real).

    >>> import sympy as sp
    >>> number(sp.sqrt(4)), number(sp.zoo), number(float("nan"))
    (2.0, None, None)
    """
    import sympy as sp

    try:
        f = float(sp.N(v)) if isinstance(v, sp.Basic) else float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and abs(f) != float("inf") else None


def exact(v) -> str:
    """An exact value as text, with its decimal value when that differs.

    >>> import sympy as sp
    >>> exact(2 - sp.sqrt(2)), exact(sp.Rational(1, 2)), exact(1e-25)
    ('2 - sqrt(2) ~0.585786', '1/2', '0')
    """
    import sympy as sp

    if not isinstance(v, sp.Basic):
        # a numeric search's zero comes back as rounding noise (1e-25): show it as 0
        return "0" if abs(float(v)) < 1e-12 else f"{float(v):.6g}"
    if v.is_Rational:
        return str(v)
    approx = number(v)
    return f"{v} ~{approx:.6g}" if approx is not None else str(v)


def as_tuple(items: list[str]) -> str:
    """'(a, b)' for several items, the item alone for one.

    >>> as_tuple(["1", "2"]), as_tuple(["1"])
    ('(1, 2)', '1')
    """
    return items[0] if len(items) == 1 else "(" + ", ".join(items) + ")"


def matrix_lines(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Rows of strings as bracketed lines, columns aligned.

    >>> print("\\n".join(matrix_lines([["y", "x"], ["cos(x)", "0"]])))
      [     y, x]
      [cos(x), 0]
    """
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    return [indent + "[" + ", ".join(s.rjust(w) for s, w in zip(r, widths)) + "]" for r in rows]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A header and rows as left-aligned columns.

    >>> print("\\n".join(table(["point", "kind"], [["(0, 0)", "saddle"]])))
      point    kind
      (0, 0)   saddle
    """
    widths = [max(len(r[j]) for r in [header] + rows) for j in range(len(header))]
    fmt = lambda r: "  " + "   ".join(s.ljust(w) for s, w in zip(r, widths)).rstrip()  # noqa: E731
    return [fmt(header)] + [fmt(r) for r in rows]
