"""Cost report of a compiled function: operation counts per generated function before and after
the optimizer passes, the gradient/value ratio against the cheap-gradient bound, stage timings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ir.graph import Graph, toposort

# Griewank & Walther: a reverse-mode gradient costs at most 4 times the function (ops(grad) <=
# 4 ops(f) under their cost model); symbackprop aims for 3 in operation counts.
CHEAP_GRADIENT_BOUND = 4.0


def count_ops(graph: Graph, groups) -> int:
    """Operations (non-leaf nodes) needed to compute the output ``groups`` of ``graph``."""
    roots = [n for g in groups if g in graph.outputs for n in graph.outputs[g].nodes]
    return sum(1 for n in toposort(roots) if n.args)


@dataclass
class CostReport:
    """Operation counts and timings of one compiled function.

    >>> r = CostReport({"value": 10, "grad": 40}, {"value": 8, "grad": 20}, {"passes": 0.01})
    >>> r.gradient_ratio
    2.5
    """

    ops_before: dict[str, int]
    ops_after: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def gradient_ratio(self) -> float | None:
        """ops(gradient) / ops(value) after the passes (None for a vector function)."""
        value, grad = self.ops_after.get("value"), self.ops_after.get("grad")
        if not value or grad is None:
            return None
        return grad / value

    def to_dict(self) -> dict:
        return {
            "ops_before": self.ops_before,
            "ops_after": self.ops_after,
            "seconds": {k: round(v, 6) for k, v in self.seconds.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> CostReport:
        return cls(dict(d["ops_before"]), dict(d["ops_after"]), dict(d.get("seconds", {})))

    def table(self) -> str:
        lines = [f"  {'function':<16}{'before':>10}{'after':>10}"]
        for name, after in self.ops_after.items():
            lines.append(f"  {name:<16}{self.ops_before.get(name, after):>10}{after:>10}")
        ratio = self.gradient_ratio
        if ratio is not None:
            verdict = "within" if ratio <= CHEAP_GRADIENT_BOUND else "ABOVE"
            lines.append(
                f"  gradient/value ratio {ratio:.2f} ({verdict} the cheap-gradient "
                f"bound {CHEAP_GRADIENT_BOUND:g})"
            )
        if self.seconds:
            lines.append("  seconds: " + ", ".join(f"{k} {v:.3f}" for k, v in self.seconds.items()))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()
