"""SYMBACKPROP_DEBUG: 1 prints graph sizes after each pass and where generated modules go,
2 also prints the IR after each pass, 3 also prints each generated module's source."""

from __future__ import annotations

import os
import sys


def level() -> int:
    try:
        return int(os.environ.get("SYMBACKPROP_DEBUG", "0") or 0)
    except ValueError:
        return 1


def log(message: str) -> None:
    print(f"[symbackprop] {message}", file=sys.stderr)
