"""Loader: the on-disk code cache and the wrappers around generated modules."""
