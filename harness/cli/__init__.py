"""CLI: argument parsing, one handler per command, exit codes, terminal output and progress.

The top of the import graph: it may import every layer, and nothing imports it (except `harness.__main__`).
"""
