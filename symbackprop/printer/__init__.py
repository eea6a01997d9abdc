"""Printers: IR -> source text for Numba, filled into the templates/ skeletons."""
