"""Prints a scalar data model's compiled entry points: for data below the threaded size, one
Numba call checks the layout (``_layout``), runs every sum's loop and the outer function, and
combines them, so a call over a few hundred rows costs little more than its loop.

They return ok=False where the Python path must take over: data that does not fit (the
Python path then says why) or loops large enough to split over threads. The combination is
the one in templates/data_api.py.tmpl, written as loops (np.dot would need BLAS, and so SciPy).
"""

from __future__ import annotations

from .lines import Lines

# (entry point, the sums' kernel suffix, what each sum stores, what the entry returns)
ENTRIES = (
    ("_value_fused", "value", (), "value"),
    ("_value_and_grad_fused", "grad", ("G[{k}]",), "grad"),
    ("_hessian_fused", "hessian", ("G[{k}]", "Hs[{k}]"), "hessian"),
)


def entry_source(order: tuple[str, ...], arrays: tuple[str, ...], sums: int) -> str:
    """The three entry points for data arguments ``order`` (of which ``arrays`` are the
    arrays the kernels read; the scalars reach them in ds) and ``sums`` sums. Their scratch
    arrays come from the caller (``_scratch``): allocating inside would compile NumPy's
    allocators for each shape, a large part of a cold build."""
    call_data = "".join(f"{n}, " for n in order)
    call_arrays = "".join(f"{n}, " for n in arrays)
    out = []
    for name, suffix, stores, result in ENTRIES:
        scratch = "ds, bounds, ss" + (", G, go" if stores else "")
        scratch += ", Hs, Ho, H" if result == "hessian" else ", g" if result == "grad" else ""
        b = Lines()
        b.add('@nb.njit(cache=CACHE, error_model="numpy")')
        b.add(f"def {name}(xs, {call_data}{scratch}):")
        with b.indented():
            b.add(f'"""{result}: one call for data below the threaded size; (ok, value)."""')
            b.add(f"if not _layout({call_data}ds, bounds):")
            b.add("    return False, 0.0")
            b.add("for k in range(N_SUMS):  # large enough to split over threads: the Python path")
            b.add("    if bounds[k, 1] - bounds[k, 0] >= 2 * PARALLEL_ROWS:")
            b.add("        return False, 0.0")
            for k in range(sums):
                extra = "".join(f", {s.format(k=k)}" for s in stores)
                b.add(
                    f"ss[{k}] = _sum{k}_{suffix}(xs, ds, {call_arrays}bounds[{k}, 0], "
                    f"bounds[{k}, 1]{extra})"
                )
            if result == "value":
                b.add("return True, _outer_value(xs, ss, ds)")
            else:
                b.add("f = _outer_value_and_grad_into(xs, ss, ds, go)")
                if result == "grad":
                    b.add("for p in range(N_PARAMS):  # g = F_theta + F_S G")
                    b.add("    g[p] = go[p]")
                    b.add("    for k in range(N_SUMS):")
                    b.add("        g[p] += go[N_PARAMS + k] * G[k, p]")
                else:
                    b.add("_outer_hessian_into(xs, ss, ds, Ho)")
                    b.add("_combine_hessian(go, Ho, G, Hs, H)")
                b.add("return True, f")
        out.append(b.text())
    return "\n\n\n".join(out)
