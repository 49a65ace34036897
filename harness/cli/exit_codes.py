"""Exit codes: a contract scripts rely on (docs/errors.md, `harness --help`). Only the CLI turns outcomes into them."""

from __future__ import annotations

__all__ = ["EXIT_CODES_HELP", "INPUT_ERROR", "INTERNAL_ERROR", "INTERRUPTED", "OK", "RESULT_SAYS_NO", "TERMINATED"]

OK = 0
RESULT_SAYS_NO = 1  # the run worked and its answer is no: a regression, failed samples
INPUT_ERROR = 2  # the input or the environment is wrong: one line says what, where and the fix
INTERNAL_ERROR = 3  # a bug in the harness: one line names the log file holding the traceback
INTERRUPTED = 130  # Ctrl-C (SIGINT): finished samples are saved, the same command resumes
TERMINATED = 143  # SIGTERM (Slurm preemption, docker stop): as for Ctrl-C

EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    the result says no: a regression (compare --fail-on-regression) or failed samples (api)
  2    the input or the environment is wrong; one line on stderr says what, where and the fix
  3    an internal error; one line names the log file that holds the traceback
  130  interrupted (Ctrl-C); 143 terminated (SIGTERM): finished samples are kept, rerun to resume
"""
