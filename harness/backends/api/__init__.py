"""The `api` backend: an OpenAI-compatible server behind a concurrency window, with retries and deadlines.

`client` speaks HTTP (redacted, retried); `backend` turns requests into completions and log-probabilities.
May import `harness.backends` (the contract), `harness.core`, `harness.tasks` and `harness.metrics`.
"""
