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
    arrays the kernels read; the scalars reach them in ds) and ``sums`` sums."""
    data = ", ".join(order)
    call_data = "".join(f"{n}, " for n in order)
    call_arrays = "".join(f"{n}, " for n in arrays)
    out = []
    for name, suffix, stores, result in ENTRIES:
        b = Lines()
        b.add('@nb.njit(cache=CACHE, error_model="numpy")')
        args = f"xs, {call_data}" + (
            "g" if result == "grad" else "H" if result == "hessian" else ""
        )
        b.add(f"def {name}({args.rstrip(', ')}):")
        with b.indented():
            b.add(f'"""{result}: one call for data below the threaded size; (ok, value)."""')
            b.add(f"ok, ds, bounds = _layout({data})")
            b.add("if not ok or _large(bounds):")
            b.add("    return False, 0.0")
            b.add("ss = np.empty(N_SUMS)")
            if stores:
                b.add("G = np.zeros((N_SUMS, N_PARAMS))")
            if len(stores) > 1:
                b.add("Hs = np.zeros((N_SUMS, N_PARAMS, N_PARAMS))")
            for k in range(sums):
                extra = "".join(f", {s.format(k=k)}" for s in stores)
                b.add(
                    f"ss[{k}] = _sum{k}_{suffix}(xs, ds, {call_arrays}bounds[{k}, 0], "
                    f"bounds[{k}, 1]{extra})"
                )
            if result == "value":
                b.add("return True, _outer_value(xs, ss, ds)")
            else:
                b.add("go = np.empty(N_PARAMS + N_SUMS)")
                b.add("f = _outer_value_and_grad_into(xs, ss, ds, go)")
                if result == "grad":
                    b.add("_combine_grad(go, G, g)")
                else:
                    b.add("Ho = np.empty((N_PARAMS + N_SUMS, N_PARAMS + N_SUMS))")
                    b.add("_outer_hessian_into(xs, ss, ds, Ho)")
                    b.add("_combine_hessian(go, Ho, G, Hs, H)")
                b.add("return True, f")
        out.append(b.text())
    return "\n\n\n".join(out)
