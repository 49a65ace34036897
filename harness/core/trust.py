"""Running the user's own code is an explicit choice: `--trust-code`, or `trust_code: true` in a settings file.

An `evaluate:` metric script or module folder (and any future plugin) is Python that runs in this process
with the user's rights. A settings file is treated as untrusted input (it may come from a pull request), so
naming code in it is not enough: the run must also opt in, as `trust_remote_code` does for models in
transformers. `require` refuses code that was not opted in, in one line, before it is imported; once a
command has opted in for a piece of code, later loads of it in the same process pass.
"""

from __future__ import annotations

from harness.core.errors import UserError

__all__ = ["FLAG", "require"]

FLAG = "--trust-code"
_allowed: set[str] = set()


def require(target: str, *, opted_in: bool, what: str) -> None:
    """Allow `target` to run when the user opted in (remembered for this process); else one line naming the opt-in.

    >>> require("evaluate:./m.py", opted_in=False, what="evaluate:./m.py")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    harness.core.errors.UserError: evaluate:./m.py runs Python code ... pass --trust-code ...
    """
    if opted_in:
        _allowed.add(target)
        return
    if target in _allowed:
        return
    raise UserError(f"{what} runs Python code (the module's own, with your rights); pass {FLAG} (or trust_code: true in a "
                    "--config file) to allow it")  # fmt: skip
