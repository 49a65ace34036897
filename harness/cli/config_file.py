"""`harness eval --config FILE.yaml`: every setting the command line can give, in a file; the command line wins.

Keys are the flags' names without dashes, `-` or `_` alike (`max_new_tokens`, `dataset-args`).
`dataset_args` and `model_args` are YAML mappings, not JSON strings; `datasets` a list. Each value
is checked exactly as the flag's is, and a mistake names the file, the key and the fix. Each run
folder gets `config.yaml`, every setting the run used, so `harness eval --config RUN/config.yaml`
repeats it (and, the run being finished, reports it at once).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.core.errors import UserError
from harness.runs.store import CONFIG_FILE

__all__ = ["CONFIG_FILE", "apply_config_file", "settings_yaml"]

_JSON_KEYS = ("dataset_args", "model_args")
_NOT_SAVED = ("config", "command", "replace_stale")


def _load(path: Path) -> dict[str, Any]:
    import yaml

    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{path}: a config file is a mapping of settings, e.g. 'model: smollm2-135m-instruct'")
    return value


def apply_config_file(parser: argparse.ArgumentParser, path: Path) -> None:
    """Make the file's settings the defaults of `parser` (the `eval` subparser), so flags given on the command line win."""
    actions = {a.dest: a for a in parser._actions if a.option_strings and a.dest not in ("help", "config")}
    defaults: dict[str, Any] = {}
    for raw_key, value in _load(path).items():
        key = str(raw_key).replace("-", "_")
        action = actions.get(key)
        if action is None:
            raise UserError(f"{path}: unknown setting {raw_key!r} (known: {', '.join(sorted(actions))})")
        defaults[key] = _check(path, key, action, value)
    parser.set_defaults(**defaults)


def _check(path: Path, key: str, action: argparse.Action, value: Any) -> Any:
    """The value as the flag would have produced it, or a one-line error naming the file and key."""
    if key in _JSON_KEYS:
        if not isinstance(value, dict):
            raise UserError(f"{path}: {key} must be a mapping (YAML), e.g. {key}: {{general_mcq: {{local_path: DIR}}}}")
        return json.dumps(value)
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise UserError(f"{path}: {key} must be true or false, got {value!r}")
        return value
    if action.nargs in ("+", "*"):
        items = value if isinstance(value, list) else [value]
        return [_one(path, key, action, v) for v in items]
    return _one(path, key, action, value)


def _one(path: Path, key: str, action: argparse.Action, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise UserError(f"{path}: {key} must be a single value, got {type(value).__name__}")
    if action.type is not None and callable(action.type):
        try:
            value = action.type(str(value))
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise UserError(f"{path}: {key}: {exc}") from None
    if action.choices is not None and value not in action.choices:
        raise UserError(f"{path}: {key} must be one of {', '.join(map(str, action.choices))}, got {value!r}")
    return value


def settings_yaml(ns: argparse.Namespace) -> str:
    """Every setting of an `eval` command as YAML, the form `--config` reads."""
    import yaml

    settings: dict[str, Any] = {}
    for key, value in vars(ns).items():
        if key in _NOT_SAVED:
            continue
        settings[key] = json.loads(value) if key in _JSON_KEYS else value
    header = "# The settings of this run: `harness eval --config THIS_FILE` repeats it (flags given on the command line win).\n"
    return header + str(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True))
