"""Load a causal LM and its tokenizer for the HF backend, from whatever the user names.

`--model` may be: a built-in alias (`smollm2-135m-instruct`), a local model folder (safetensors
preferred), a `.gguf` file (de-quantized by transformers), a PEFT adapter folder
(`adapter_config.json`; base from `base_model` or the adapter's config), or a hub id, which
must already be in the local cache when offline.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.backends.default_model import resolve_alias
from harness.distributed import local_rank
from tasks.errors import UserError

__all__ = ["LoadedModel", "load_model", "pick_device", "pick_dtype"]


@dataclass
class LoadedModel:
    """The model, its tokenizer and what identifies the weights."""

    model: Any
    tokenizer: Any
    fingerprint: dict[str, Any]


def pick_device(device: str) -> str:
    """`auto` is the first CUDA device when there is one, else the CPU; under torchrun, `cuda:LOCAL_RANK`.

    With more ranks than GPUs on a host, ranks share GPUs round-robin.
    """
    import torch

    rank = local_rank()
    if device == "auto" or (device == "cuda" and rank is not None):
        if not torch.cuda.is_available():
            return "cpu"
        return "cuda" if rank is None else f"cuda:{rank % torch.cuda.device_count()}"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA device is available here (use --device cpu)")
    return device


def pick_dtype(dtype: str, device: str) -> Any:
    """`auto`: float32 on CPU (bf16 matmuls are slower and rounder there), the checkpoint's dtype on GPU."""
    import torch

    names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype == "auto":
        return torch.float32 if device == "cpu" else "auto"
    if dtype not in names:
        raise UserError(f"--dtype {dtype}: use auto, float32, bfloat16 or float16")
    return names[dtype]


def _weights_digest(folder: Path) -> str:
    """Hash of the weight files' names, sizes and first MiB: cheap, and changes when weights change."""
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")) + sorted(folder.glob("*.gguf")):
        h.update(path.name.encode())
        h.update(str(path.stat().st_size).encode())
        with path.open("rb") as f:
            h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


def load_model(name: str, *, device: str, dtype: str, trust_remote_code: bool = False, base_model: str | None = None) -> LoadedModel:
    """Resolve `name` and load it on `device`; user mistakes become one-line `UserError`s."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = pick_device(device)
    torch_dtype = pick_dtype(dtype, device)
    alias = resolve_alias(name)
    path = alias or Path(name).expanduser()
    common: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    source: Path | str
    if path.exists():
        if path.is_file() and path.suffix == ".gguf":
            source, common["gguf_file"] = path.parent, path.name
        elif path.is_dir():
            source = path
        else:
            raise UserError(f"{path}: not a model folder or .gguf file")
        if (source / "adapter_config.json").exists():
            return _load_adapter(source, device=device, dtype=dtype, trust_remote_code=trust_remote_code, base_model=base_model)
        digest = _weights_digest(source)
        source_id = str(source.resolve())
    else:
        source, digest = name, None
        source_id = name
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **common)
        model: Any = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, **common)
    except OSError as exc:
        if not isinstance(source, Path):
            hint = "offline (HF_HUB_OFFLINE=1) it is not downloaded; fetch it while online or pass a local folder" if offline else str(exc)
            raise UserError(f"model {name!r} is not a local path and not in the Hugging Face cache: {hint}") from None
        raise UserError(f"{source}: cannot load the model ({str(exc).splitlines()[0]})") from None
    model.to(device).eval()
    fingerprint = {"backend": "hf", "model": source_id, "weights": digest, "dtype": str(model.dtype), "device": device}
    if "gguf_file" in common:
        fingerprint["gguf_file"] = common["gguf_file"]
    return LoadedModel(model, tokenizer, fingerprint)


def _load_adapter(folder: Path, *, device: str, dtype: str, trust_remote_code: bool, base_model: str | None) -> LoadedModel:
    try:
        from peft import PeftModel
    except ModuleNotFoundError:
        raise UserError(f"{folder} is a PEFT adapter: pip install peft") from None
    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    base_name = base_model or config.get("base_model_name_or_path")
    if not base_name:
        raise UserError(f"{folder}/adapter_config.json names no base model: pass --model-args '{{\"base_model\": PATH}}'")
    base = load_model(base_name, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
    model = PeftModel.from_pretrained(base.model, str(folder)).to(base.model.device).eval()
    fingerprint = {**base.fingerprint, "adapter": str(folder.resolve()), "adapter_weights": _weights_digest(folder)}
    return LoadedModel(model, base.tokenizer, fingerprint)
