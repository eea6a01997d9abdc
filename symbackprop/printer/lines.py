"""A small line builder for generated source: indentation is structure, not string padding."""

from __future__ import annotations

from contextlib import contextmanager


class Lines:
    """Collects source lines at the current indentation.

    >>> b = Lines()
    >>> b.add("def f(x):")
    >>> with b.indented():
    ...     b.add("return x")
    >>> print(b.text())
    def f(x):
        return x
    """

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._depth = 0

    def add(self, line: str = "") -> None:
        self._lines.append(("    " * self._depth + line) if line else "")

    @contextmanager
    def indented(self):
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def text(self) -> str:
        return "\n".join(self._lines)
