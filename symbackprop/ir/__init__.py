"""The IR: hash-consed nodes over a closed primitive set, graphs, a reference evaluator."""
