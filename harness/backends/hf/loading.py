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

from harness.backends.default_model import gguf_origin, resolve_alias, weights_origin
from harness.core.distributed import local_rank
from harness.core.errors import UserError, one_line

__all__ = ["LoadedModel", "adapter_base", "expected_fingerprint", "load_model", "pick_device", "pick_dtype", "require_model",
           "weights_digest"]  # fmt: skip


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


def weights_digest(folder: Path) -> str:
    """Hash of the weight files' names, sizes and first MiB: cheap, and changes when weights change."""
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")) + sorted(folder.glob("*.gguf")):
        h.update(path.name.encode())
        h.update(str(path.stat().st_size).encode())
        with path.open("rb") as f:
            h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


def _resolve(name: str) -> tuple[Path | str, str | None]:
    """(local folder or hub id, GGUF file name in the folder or None); a path that exists but is neither is an error."""
    path = resolve_alias(name) or Path(name).expanduser()
    if not path.exists():
        return name, None
    if path.is_file() and path.suffix == ".gguf":
        return path.parent, path.name
    if path.is_dir():
        return path, None
    raise UserError(f"{path}: not a model folder or .gguf file")


def require_model(name: str) -> None:
    """Refuse, before any work, a model that is neither a local folder/GGUF file nor (offline) in the hub cache."""
    source, _ = _resolve(name)
    if isinstance(source, Path) or os.environ.get("HF_HUB_OFFLINE", "0") in ("0", "", "false"):
        return
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = isinstance(try_to_load_from_cache(str(source), "config.json"), str)
    except Exception:  # an id the hub would not accept (a mistyped path): not cached
        cached = False
    if not cached:
        raise UserError(f"model {name!r} is not a local path and not in the Hugging Face cache: offline (HF_HUB_OFFLINE=1) it is "
                        "not downloaded; fetch it while online or pass a local folder")  # fmt: skip


def _dtype_name(dtype: str, device: str, source: Path | str, gguf: str | None) -> str:
    """The dtype a load will give, as `str(torch.dtype)`: what the checkpoint's config says when `auto` on a GPU."""
    if dtype != "auto":
        return str(pick_dtype(dtype, device))
    if device == "cpu" or gguf or not isinstance(source, Path):
        return "torch.float32" if device == "cpu" or gguf else "auto"
    try:
        config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return "torch.float32"
    text = config.get("dtype") or config.get("torch_dtype") or (config.get("text_config") or {}).get("dtype") or "float32"
    return f"torch.{text}"


def expected_fingerprint(name: str, *, device: str, dtype: str, base_model: str | None = None) -> dict[str, Any]:
    """The fingerprint `load_model` records for these arguments, computed without loading any weights.

    It names the weights (folder and a digest of their files, or the hub id), the adapter when
    there is one, the dtype the load gives and the device type. `EvalCallback` computes it for a
    checkpoint it just saved and `eval-checkpoints` for the same folder, so a checkpoint evaluated
    during training is recognised afterwards.
    """
    device_type = pick_device(device).split(":")[0]
    source, gguf = _resolve(name)
    if isinstance(source, Path) and (source / "adapter_config.json").exists():
        base = adapter_base(source, base_model)
        return {
            **expected_fingerprint(base, device=device, dtype=dtype),
            "adapter": str(source.resolve()),
            "adapter_weights": weights_digest(source),
        }
    fingerprint: dict[str, Any] = {
        "backend": "hf",
        "model": str(source.resolve()) if isinstance(source, Path) else source,
        "weights": weights_digest(source) if isinstance(source, Path) else None,
        "dtype": _dtype_name(dtype, device_type, source, gguf),
        "device": device_type,
    }
    if gguf:
        fingerprint["gguf_file"] = gguf
        fingerprint["origin"] = gguf_origin(gguf, str(fingerprint["dtype"]).removeprefix("torch."))
    elif isinstance(source, Path) and (origin := weights_origin(source, str(fingerprint["dtype"]).removeprefix("torch."))):
        fingerprint["origin"] = origin
    return fingerprint


def adapter_base(folder: Path, base_model: str | None) -> str:
    """The base model an adapter folder is trained on: `base_model` when given, else the one its adapter_config.json names."""
    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    base_name = base_model or config.get("base_model_name_or_path")
    if not base_name:
        raise UserError(f"{folder}/adapter_config.json names no base model: pass --model-args '{{\"base_model\": PATH}}'")
    return str(base_name)


SHARDING = ("auto", "balanced", "balanced_low_0", "sequential")  # accelerate's device maps that spread a model over GPUs


def load_model(
    name: str, *, device: str, dtype: str, trust_remote_code: bool = False, base_model: str | None = None, device_map: str | None = None
) -> LoadedModel:
    """Resolve `name` and load its weights straight onto `device` (or spread over the GPUs by `device_map`).

    The weights go from the file to the device (`device_map`), never through a CPU copy and `.to()`: on a GPU
    the copy from a memory-mapped file was single-threaded. `device_map` `auto` (or `balanced`, `sequential`)
    shards a model larger than one GPU over the visible GPUs, as lm-eval's `parallelize=True` does; it is
    not combined with torchrun's data parallelism (one process per GPU). User mistakes are one-line `UserError`s.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if device_map is not None and device_map not in SHARDING:
        raise UserError(f"device_map {device_map!r}: use one of {', '.join(SHARDING)} to shard over the GPUs, or --device to pick one")
    if device_map is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UserError("device_map shards one model over the GPUs; torchrun runs one model per GPU: use one or the other")
    device = pick_device(device)
    source, gguf = _resolve(name)
    if isinstance(source, Path) and (source / "adapter_config.json").exists():
        return _load_adapter(source, device=device, dtype=dtype, trust_remote_code=trust_remote_code, base_model=base_model,
                             device_map=device_map)  # fmt: skip
    common: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if gguf:
        common["gguf_file"] = gguf
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **common)
        placement = device_map if device_map is not None else device
        model: Any = AutoModelForCausalLM.from_pretrained(source, dtype=pick_dtype(dtype, device), device_map=placement, **common)
    except OSError as exc:
        if not isinstance(source, Path):
            hint = "offline (HF_HUB_OFFLINE=1) it is not downloaded; fetch it while online or pass a local folder" if offline else str(exc)
            raise UserError(f"model {name!r} is not a local path and not in the Hugging Face cache: {hint}") from None
        raise UserError(f"{Path(source) / gguf if gguf else source}: cannot load the model ({one_line(exc)[:200]})") from None
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError, EOFError) as exc:
        # An empty folder, a truncated or foreign file: transformers says so in many ways; all are bad input.
        where = Path(source) / gguf if gguf else source
        raise UserError(f"{where}: cannot load the model ({type(exc).__name__}: {one_line(exc)[:200]})") from None
    model.eval()
    return LoadedModel(model, tokenizer, expected_fingerprint(name, device=device, dtype=dtype))


def _load_adapter(
    folder: Path, *, device: str, dtype: str, trust_remote_code: bool, base_model: str | None, device_map: str | None = None
) -> LoadedModel:
    try:
        from peft import PeftModel
    except ModuleNotFoundError:
        raise UserError(f"{folder} is a PEFT adapter: pip install peft") from None
    base = load_model(adapter_base(folder, base_model), device=device, dtype=dtype, trust_remote_code=trust_remote_code,
                      device_map=device_map)  # fmt: skip
    model = PeftModel.from_pretrained(base.model, str(folder))
    if device_map is None:
        model = model.to(base.model.device)
    model.eval()
    fingerprint = {**base.fingerprint, "adapter": str(folder.resolve()), "adapter_weights": weights_digest(folder)}
    return LoadedModel(model, base.tokenizer, fingerprint)
