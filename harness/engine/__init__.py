"""Engine: one evaluation, from an `EvalConfig` to a finished run folder.

Owns the settings (`config`), planning and run identity (`plan`, `identity`), turning backend results into
records (`records`, `extract`, `judge`), aggregation (`results`) and the streaming loop (`runner`).
May import `harness.backends`, `harness.runs`, `harness.reports` (to render a finished run's tables),
`harness.tasks`, `harness.metrics` and `harness.core`; never the workflows or the CLI.
"""
