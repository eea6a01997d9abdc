"""Analysis on top of the compiler: checking hand derivations, critical points, explanations."""
