"""Workflows: jobs built from whole evaluations.

Checkpoint trends, quantized-vs-reference comparison, serving performance, scoring a file of pairs.

May import the engine, reports, runs, backends and everything below; never the CLI.
"""
