"""Runs: the run-folder format.

The record store (`samples.jsonl`), JSON-lines reading with one damage policy, score rows, and the typed
results file.

May import `harness.core`, `harness.tasks` and `harness.metrics`; it knows nothing of models or rendering.
"""
