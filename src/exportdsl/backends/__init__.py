"""Evaluation backends: the reference interpreter and the compiled Python evaluator."""
