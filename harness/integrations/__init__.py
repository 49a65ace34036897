"""Hooks that call the harness from other tools (training loops)."""
