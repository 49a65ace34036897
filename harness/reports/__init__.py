"""Reports: read-only views of finished runs (terminal, Markdown, CSV, JSON, HTML), compare and the notebook API.

May import `harness.runs` (the run-folder format), `harness.metrics` and `harness.core`; never the engine or a
backend, so `harness report` and `harness compare` never import torch.
"""
