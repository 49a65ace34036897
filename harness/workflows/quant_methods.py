"""Quantization methods by name, as transformers loads them, and what each needs to run.

A method this machine cannot run fails with one line naming the method and what it needs; the
caller records it and carries on with the other variants.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from harness.core.errors import UserError

__all__ = ["METHODS", "load_kwargs", "weight_bytes"]

# name -> (what it is, pip packages it needs, needs CUDA)
METHODS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "fp32": ("float32 weights", (), False),
    "bf16": ("bfloat16 weights", (), False),
    "fp16": ("float16 weights", (), False),
    "int8": ("bitsandbytes LLM.int8 (load_in_8bit)", ("bitsandbytes",), False),
    "nf4": ("bitsandbytes 4-bit NF4", ("bitsandbytes",), False),
    "fp4": ("bitsandbytes 4-bit FP4", ("bitsandbytes",), False),
    "torchao-int8": ("torchao Int8WeightOnlyConfig", ("torchao",), False),
    "torchao-int4": ("torchao Int4WeightOnlyConfig", ("torchao",), True),
    "hqq-4bit": ("HQQ 4-bit through transformers", ("hqq",), False),
    "eetq": ("EETQ int8 weight-only (EetqConfig)", ("eetq",), True),
}


def load_kwargs(method: str, device: str) -> dict[str, Any]:
    """`from_pretrained` keyword arguments for `method`, or a `UserError` saying what is missing."""
    import torch

    if method not in METHODS:
        raise UserError(f"unknown quantization {method!r} (known: {', '.join(METHODS)}; pre-quantized checkpoints: --variant NAME=PATH)")
    what, packages, cuda = METHODS[method]
    if cuda and not device.startswith("cuda"):  # said first: installing the package would not help here
        raise UserError(f"{method} ({what}) needs a CUDA device; this run is on {device}")
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise UserError(f"{method} ({what}) needs {' '.join(missing)}: pip install {' '.join(missing)}")
    compute = torch.float32 if device == "cpu" else torch.bfloat16
    if method in ("fp32", "bf16", "fp16"):
        return {"dtype": {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[method]}
    if method == "int8":
        from transformers import BitsAndBytesConfig

        return {"quantization_config": BitsAndBytesConfig(load_in_8bit=True), "dtype": compute}  # type: ignore[no-untyped-call]
    if method in ("nf4", "fp4"):
        from transformers import BitsAndBytesConfig

        config = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True, bnb_4bit_quant_type=method, bnb_4bit_compute_dtype=compute
        )
        return {"quantization_config": config, "dtype": compute}
    if method.startswith("torchao"):
        from torchao.quantization import Int4WeightOnlyConfig, Int8WeightOnlyConfig
        from transformers import TorchAoConfig

        quant = Int8WeightOnlyConfig() if method == "torchao-int8" else Int4WeightOnlyConfig()
        return {"quantization_config": TorchAoConfig(quant), "dtype": compute}
    if method == "eetq":
        from transformers import EetqConfig

        return {"quantization_config": EetqConfig("int8"), "dtype": torch.float16}  # EETQ's kernels take fp16 activations
    from transformers import HqqConfig

    return {"quantization_config": HqqConfig(nbits=4), "dtype": compute}


def _tensor_bytes(t: Any) -> int:
    """Bytes a tensor holds, looking inside tensor subclasses (torchao) at their inner tensors."""
    if hasattr(t, "__tensor_flatten__") and type(t).__name__ not in ("Parameter", "Tensor"):
        names, _ = t.__tensor_flatten__()
        return sum(_tensor_bytes(getattr(t, n)) for n in names)
    return int(t.numel() * t.element_size())


def weight_bytes(model: Any) -> int:
    """Memory of the weights and buffers as stored (packed 4-bit counts as packed)."""
    seen: set[int] = set()
    total = 0
    for t in [*model.parameters(), *model.buffers()]:
        if id(t) in seen:
            continue
        seen.add(id(t))
        total += _tensor_bytes(t)
        state = getattr(t, "quant_state", None)  # bitsandbytes 4-bit: absmax and friends
        absmax = getattr(state, "absmax", None)
        if absmax is not None:
            total += _tensor_bytes(absmax)
        scb = getattr(t, "SCB", None)  # bitsandbytes int8 row scales
        if scb is not None:
            total += _tensor_bytes(scb)
    return total
