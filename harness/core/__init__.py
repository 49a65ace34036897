"""Core: program-wide errors, redaction of secrets, provenance, process groups.

Owns what every layer needs and nothing that knows about models, runs or reports. May import only the
standard library and third-party packages: it is the bottom of the import graph (`tests/test_layers.py`).
"""
