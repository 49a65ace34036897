"""`python -m harness` is the `harness` command."""

from harness.cli.main import entry

# Guarded: engines that spawn workers (vLLM) re-import the main module in each child.
if __name__ == "__main__":
    entry()
