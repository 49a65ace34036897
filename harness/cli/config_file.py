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


# A settings file is small and flat: these bounds refuse hostile YAML (an alias bomb expands to gigabytes,
# deep nesting exhausts the stack) before it is built, with room to spare for any real config.
MAX_BYTES = 1 << 20
MAX_ALIASES = 16
MAX_DEPTH = 16


def _loader(path: Path) -> Any:
    """A yaml SafeLoader that counts aliases and depth while composing, and refuses duplicate keys."""
    import yaml

    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        aliases = 0
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                Loader.aliases += 1
                if Loader.aliases > MAX_ALIASES:
                    raise UserError(f"{path}: more than {MAX_ALIASES} YAML aliases (*name); write the settings out")
            Loader.depth += 1
            try:
                if Loader.depth > MAX_DEPTH:
                    raise UserError(f"{path}: settings nested more than {MAX_DEPTH} levels deep")
                return super().compose_node(parent, index)
            finally:
                Loader.depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, list | dict) or key in seen:
                    raise UserError(f"{path} line {key_node.start_mark.line + 1}: the key {key!r} is given twice (or is not a name)")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return Loader


def _load(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = path.read_bytes()
        if len(data) > MAX_BYTES:
            raise UserError(f"{path}: {len(data)} bytes; a config file holds at most {MAX_BYTES} (is this the right file?)")
        value = yaml.load(data.decode("utf-8"), Loader=_loader(path))  # noqa: S506 - a SafeLoader with limits
    except OSError as exc:
        raise UserError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); save the config file as UTF-8") from None
    except RecursionError:
        raise UserError(f"{path}: settings nested too deeply") from None
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
