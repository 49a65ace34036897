"""Forward work per scoring mode: token positions the decoder runs and positions the output head projects, harness / plain.

Counted, not timed, so the figures are the same on any machine: forward hooks on the model's decoder (every
position it runs, padding included) and on its output head (every position it projects through the
vocabulary), around the harness's hf backend and around a plain scorer on the same prompts. The plain
scorer is the least a per-question scorer without sharing does: letter, one pass over the context with the
head at its last position; cloze, the context once then each option's tokens after the first over its
cache (the head at the context's end and at every option token after the first); generation, the prompt
once then one position per new token. Any ratio above 1.0 is forward work the harness wastes.

A tiny random Llama (the default tokenizer and vocabulary, built here, no download) stands in for the model:
the counts do not depend on the weights. `work(...)` is what tests/test_forward_work.py asserts on.

    python benchmarks/forward_work.py [--n 200] [--data ../shared/data/arc_easy]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

MODES = {"letter": {"scoring": "letter"}, "cloze": {"scoring": "cloze"}, "letter 5-shot": {"scoring": "letter", "few_shot_num": 5}}


@dataclass
class Counts:
    """Tokens the decoder ran (real ones, and padded positions beside them) and positions the head projected."""

    decoder: int = 0
    head: int = 0
    padding: int = 0

    def ratio(self, plain: Counts) -> tuple[float, float]:
        return self.decoder / plain.decoder, self.head / plain.head


def tiny_model(folder: Path) -> Path:
    """A one-layer random Llama with the default model's tokenizer, saved to `folder` (once)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from harness.backends.default_model import resolve_alias

    if (folder / "config.json").is_file():
        return folder
    tok = AutoTokenizer.from_pretrained(resolve_alias("smollm2-135m-instruct"))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=2, max_position_embeddings=8192, tie_word_embeddings=True,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def counting(model: Any) -> Counts:
    """Hooks that add every decoder position and every head position to the returned counts."""
    counts = Counts()

    def decoder(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else args[0]
        mask = kwargs.get("attention_mask")
        real = int(ids.numel()) if mask is None else int(mask[:, -ids.shape[1] :].sum())  # the mask's last columns are these ids
        counts.decoder += real
        counts.padding += int(ids.numel()) - real

    def head(module: Any, args: Any) -> None:
        counts.head += int(args[0].shape[:-1].numel())

    model.get_decoder().register_forward_pre_hook(decoder, with_kwargs=True)
    model.get_output_embeddings().register_forward_pre_hook(head)
    return counts


def _samples(data: Path, args: dict[str, Any], n: int) -> list[Any]:
    from harness.engine.config import EvalConfig
    from harness.engine.plan import prepare_tasks

    config = EvalConfig(datasets=("general_mcq",), dataset_args={"general_mcq": {"local_path": str(data), **args}}, limit=n)
    return prepare_tasks(config, "letter")[0].loaded.samples


def harness_counts(model_dir: Path, samples: Sequence[Any], mode: str, *, generate: bool = False, new_tokens: int = 8) -> Counts:
    """The hf backend's forward work on `samples` (choice scoring in `mode`, or generation)."""
    from harness.backends import collect
    from harness.backends.generation import GenerationConfig
    from harness.backends.hf.backend import HFBackend
    from harness.engine.scorers import scorer_for

    backend = HFBackend(str(model_dir), dtype="float32", device="cpu")
    backend.scorer._plain_head()  # its one-off check is not scoring work
    counts = counting(backend.model)
    if generate:
        collect(
            backend.generate([scorer_for("generate").request(s) for s in samples], GenerationConfig(max_new_tokens=new_tokens, stop=()))
        )
    else:
        collect(backend.score_choices([scorer_for(mode).request(s) for s in samples]))
    return counts


def plain_counts(model_dir: Path, samples: Sequence[Any], mode: str, *, generate: bool = False, new_tokens: int = 8) -> Counts:
    """The least a per-question scorer without sharing runs (see the module docstring), counted on the same tokens."""
    from transformers import AutoTokenizer

    from harness.backends.prompting import chat_mode, encode_many, render_context
    from harness.engine.scorers import scorer_for

    tok = AutoTokenizer.from_pretrained(model_dir)
    counts = Counts()
    if generate:
        for s in samples:
            prompt = render_context(tok, s.messages, chat=chat_mode(tok, s.chat_template))
            counts.decoder += len(tok.encode(prompt, add_special_tokens=False)) + new_tokens - 1
            counts.head += new_tokens
        return counts
    for _, context, continuations in encode_many(tok, [scorer_for(mode).request(s) for s in samples]):
        counts.decoder += len(context) + sum(len(c) - 1 for c in continuations)
        counts.head += 1 + sum(len(c) - 1 for c in continuations)
    return counts


def work(model_dir: Path, data: Path, n: int) -> dict[str, tuple[Counts, Counts]]:
    """(harness, plain) counts per mode on the first `n` questions of `data` (a general_mcq folder)."""
    out = {}
    for name, args in MODES.items():
        samples = _samples(data, args, n)
        mode = str(args["scoring"])
        out[name] = (harness_counts(model_dir, samples, mode), plain_counts(model_dir, samples, mode))
    gen = _samples(data, {"scoring": "generate"}, min(n, 64))
    out["generation"] = (harness_counts(model_dir, gen, "generate", generate=True), plain_counts(model_dir, gen, "generate", generate=True))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="questions per mode (generation: at most 64)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "arc_easy")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        model = tiny_model(Path(tmp) / "tiny")
        print(f"forward work on {args.n} questions of {args.data} (tiny random Llama, the default tokenizer); counts, not times")
        print("| mode | tokens forwarded: harness / plain | ratio | head positions: harness / plain | ratio | padded positions (harness) |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, (mine, plain) in work(model, args.data, args.n).items():
            d, h = mine.ratio(plain)
            pad = f"{mine.padding} ({mine.padding / max(1, mine.decoder):.0%} of the tokens)"
            print(f"| {name} | {mine.decoder} / {plain.decoder} | {d:.2f} | {mine.head} / {plain.head} | {h:.2f} | {pad} |", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
