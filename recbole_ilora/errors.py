"""Errors a user can fix by changing input, and how the command lines report them.

Every one of them says what is wrong and how to fix it; the three CLIs (``run_recbole``, ``leaderboard``,
``prepare_dataset``) print it as one line plus a hint, without a traceback unless ``--debug`` is given.
"""

import os
import signal
import sys
import traceback
from contextlib import contextmanager


class UserError(Exception):
    """Base of the errors caused by input (config, data, files), not by this package."""


class ConfigurationError(UserError, ValueError):
    """A config key, model name or protocol name is wrong; the message says which and how to fix it."""


class DatasetNotFoundError(UserError, FileNotFoundError):
    """A dataset's atomic files are not where the config says; the message says how to produce them."""


class DataError(UserError, ValueError):
    """A dataset's atomic files cannot be used as they are; the message names the file or field and the fix."""


class RawDataError(UserError, ValueError):
    """A raw dataset file cannot be converted; the message names the file (and line) and what to change."""


class OutputExistsError(UserError, FileExistsError):
    """The output folder already holds different data; the message says how to replace or keep it."""


class CheckpointError(UserError, ValueError):
    """A checkpoint cannot be used: missing, unreadable, not this package's, or from another experiment."""


class TrainingDivergedError(UserError, ArithmeticError):
    """The training loss became NaN or infinite; the message names the epoch, batch and keys to change."""


class ResultWriteError(UserError, OSError):
    """A run's JSON result cannot be written where its name says (a folder not writable, another experiment's
    file there); the message names the checkpoint that holds the trained model and how to write the result."""


class OutputFolderError(UserError, OSError):
    """A folder a run writes to (results_dir, checkpoint_dir, the log folders) cannot be written."""


class OutOfMemoryError(UserError, MemoryError):
    """A run needs more memory than the machine has; the message names the keys that size it."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT, or SIGTERM) during a run; the message names the last checkpoint and the command that resumes
    it, ``checkpoint`` the file (None before any was written)."""

    def __init__(self, message, checkpoint=None):
        super().__init__(message)
        self.checkpoint = checkpoint


def add_debug_flag(parser):
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error, not just its message")


def refuse_empty(parser, options):
    """``parser.error`` for an option given with an empty value (``--config_files=``, as an unset shell variable
    gives it), which would otherwise mean "none" without a word (``options``: ``{option: value or None}``)."""
    for option, value in options.items():
        if value is not None and not value.strip():
            parser.error(f"{option} is empty (an unset shell variable?): give a value, or leave it out")


# The exit status of a command stopped by Ctrl-C (128 + SIGINT), as a shell reports a process killed by it.
INTERRUPTED_STATUS = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a batch scheduler's stop), raised where the process was, as Ctrl-C raises
    ``KeyboardInterrupt``: a command that runs child processes stops them too (a SIGTERM reaches only its target,
    while Ctrl-C reaches the terminal's whole process group)."""


@contextmanager
def sigterm_as_interrupt():
    """Around a command: SIGTERM ends it as Ctrl-C does (one line, how to resume), with the status a shell gives a
    process SIGTERM ended (143), so that a scheduler tells it from Ctrl-C's 130."""
    terminated = []

    def interrupt(signum, frame):
        terminated.append(signum)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    except SystemExit as stop:
        if terminated and stop.code == INTERRUPTED_STATUS:
            raise SystemExit(128 + signal.SIGTERM) from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def interrupts_ignored():
    """While a first interrupt is reported: a second Ctrl-C (or SIGTERM) would cut the report short."""
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def interrupt_while_loading(prog):
    """Around a command's imports (torch, transformers and RecBole take seconds): Ctrl-C or SIGTERM there ends the
    command with one line and exit status 130 or 143. Nothing has run yet, so the process ends at once: an exception
    raised inside a library's import can leave it half-loaded and surface as another error (numpy's
    AttributeError, a RecursionError) with its traceback."""
    def stop(signum, frame):
        os.write(2, f"{prog}: interrupted while starting; nothing was run\n".encode())
        os._exit(128 + signum)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def exit_on_user_error(prog, debug):
    """Context of a CLI's work: a ``UserError`` becomes ``PROG: error: MESSAGE`` plus a hint on stderr and exit
    status 2, an interrupt one line and exit status 130 (with ``debug``, the traceback first)."""
    try:
        yield
    except UserError as error:
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {error}", file=sys.stderr)
        if not debug:
            print(f"{prog}: hint: fix the input named above and run again (--debug shows where it failed).",
                  file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt as interrupt:  # one line, not a traceback of wherever the process was
        if debug:
            traceback.print_exc()
        print(f"{prog}: interrupted" + (f": {interrupt}" if str(interrupt) else ""), file=sys.stderr)
        raise SystemExit(INTERRUPTED_STATUS) from None
