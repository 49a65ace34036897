"""The `harness` command: assembles the commands' parsers and runs one, turning every outcome into an exit code.

Each command keeps its flags and its handler in one module (`eval_cmd`, `report_cmd`, ...), as lm-eval's
subcommands do. Any user error is one line on stderr and exit 2; a bug is one line naming a log file, exit 3.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from harness.cli import checkpoints_cmd, compare_cmd, data_cmd, eval_cmd, list_cmd, perf_cmd, power_cmd, quant_cmd, report_cmd, score_cmd
from harness.cli.args import EXAMPLES, Help, Parser, version
from harness.cli.exit_codes import EXIT_CODES_HELP, INPUT_ERROR, INTERNAL_ERROR, INTERRUPTED, TERMINATED
from harness.cli.failures import describe_os_error, log_traceback
from harness.core.errors import UserError, one_line
from harness.core.quiet import quiet_libraries

__all__ = ["COMMANDS", "entry", "main"]

# In the order `harness --help` lists them.
COMMANDS: dict[str, ModuleType] = {
    m.NAME: m for m in (eval_cmd, report_cmd, compare_cmd, power_cmd, score_cmd, checkpoints_cmd, quant_cmd, perf_cmd, data_cmd, list_cmd)
}


def _parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = Parser(
        prog="harness",
        description="Evaluate LLMs on EvalScope-style general_mcq / general_qa data: correct numbers, fast, offline.",
        epilog=EXAMPLES + "\n" + EXIT_CODES_HELP,
        formatter_class=Help,
    )
    parser.add_argument("--version", action="version", version=version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        command.add(sub)
    return parser


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = action.choices[name]
    return sub


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `harness` console script; everything it prints passes through `harness.core.redact`."""
    from harness.core.redact import RedactingStream

    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams


class Terminated(KeyboardInterrupt):
    """SIGTERM (Slurm preemption, `docker stop`, Kubernetes): stop like Ctrl-C, with exit code 143."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _main(argv: Sequence[str] | None) -> int:
    # Offline unless the user says otherwise: the harness never downloads weights or data on its own.
    # Set HF_HUB_OFFLINE=0 to let transformers fetch a hub id that is not in the local cache.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = _parser()
    try:
        ns = parser.parse_args(argv)
        if ns.command == "eval" and ns.config is not None:
            from harness.cli.config_file import apply_config_file

            apply_config_file(_subparser(parser, "eval"), ns.config)
            ns = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a one-line parse error
        return exc.code if isinstance(exc.code, int) else INPUT_ERROR
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return INPUT_ERROR
    previous = signal.getsignal(signal.SIGTERM)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with quiet_libraries():
            code: int = COMMANDS[ns.command].run(ns)
        return code
    except UserError as exc:
        rank = os.environ.get("RANK") if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None
        print(f"error{f' (rank {rank})' if rank else ''}: {exc}", file=sys.stderr)
        return INPUT_ERROR
    except Terminated as exc:
        if not getattr(exc, "reported", False):  # a command that said what it kept (perf) has printed its own line
            print("terminated (SIGTERM): finished samples are saved; run the same command again to resume", file=sys.stderr)
        return TERMINATED
    except KeyboardInterrupt as exc:
        if not getattr(exc, "reported", False):
            print("interrupted: finished samples are saved; run the same command again to resume", file=sys.stderr)
        return INTERRUPTED
    except OSError as exc:
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return INPUT_ERROR
    except Exception as exc:  # a bug: one line, the traceback in a log file
        print(f"internal error: {type(exc).__name__}: {one_line(exc)[:200]}; {log_traceback(exc)}", file=sys.stderr)
        return INTERNAL_ERROR
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def entry() -> None:
    """The `harness` console script: `main`, then an exit that skips tearing down the libraries' objects when it can.

    Interpreter teardown frees every torch and transformers object one by one (1-1.3 s a run measured on the
    CPU, more with CUDA) after everything is written: the run store has closed its files, and stdout and
    stderr are flushed here. It is skipped only when nothing else needs an orderly exit: no worker process
    alive (a vLLM engine shuts its workers down at exit) and not under torchrun. `HARNESS_FULL_EXIT=1` keeps
    the normal exit. `main()` itself (what tests and Python callers use) returns as always.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: nothing more can reach it either way
            stream.flush()
    if _may_skip_teardown():
        import logging

        logging.shutdown()
        os._exit(code)
    raise SystemExit(code)


def _may_skip_teardown() -> bool:
    if os.environ.get("HARNESS_FULL_EXIT") or int(os.environ.get("WORLD_SIZE", "1")) > 1 or "torch" not in sys.modules:
        return False
    import multiprocessing

    return not multiprocessing.active_children()


if __name__ == "__main__":
    entry()
