"""The harness forwards no token and projects no position that a plain per-question scorer would not (issue 36):
counted by hooks on the decoder and the output head (benchmarks/forward_work.py), in every scoring mode."""

from __future__ import annotations

import sys

import pytest
from conftest import ROOT, TEST_DATA

pytestmark = pytest.mark.slow
pytest.importorskip("torch")
sys.path.insert(0, str(ROOT / "benchmarks"))

from forward_work import tiny_model, work  # noqa: E402


def test_tokens_forwarded_and_head_positions_never_exceed_the_plain_scorer(tmp_path):
    counted = work(tiny_model(tmp_path / "tiny"), TEST_DATA / "arc_easy_100", 40)
    assert set(counted) == {"letter", "cloze", "letter 5-shot", "generation"}
    for mode, (mine, plain) in counted.items():
        tokens, head = mine.ratio(plain)
        print(f"{mode}: tokens {mine.decoder}/{plain.decoder} = {tokens:.2f}, head {mine.head}/{plain.head} = {head:.2f}, "
              f"padded {mine.padding}")  # fmt: skip
        assert tokens <= 1.0 and head <= 1.0, mode
    # The shared prefix runs once: 5-shot contexts repeat the same examples, so most of their tokens are not run again.
    assert counted["letter 5-shot"][0].decoder < 0.5 * counted["letter 5-shot"][1].decoder
