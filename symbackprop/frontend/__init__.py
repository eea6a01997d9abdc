"""Front ends: SymPy expressions (and, later, networks of layers) -> IR nodes."""
