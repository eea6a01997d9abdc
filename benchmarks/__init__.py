"""Benchmarks for symbackprop. Run ``python -m benchmarks.scalar`` (see benchmarks/README.md).

This package must stay import-light: ``benchmarks.scalar`` sets thread-count environment
variables before NumPy, Numba, PyTorch or JAX are imported, so nothing may import them here.
"""
