"""Each run's log: RecBole's log file and console output, opened before the run's checks so that every warning of
the run reaches its file, and scoped so that a prerequisite run inside it (the SASRec encoder stage) logs to its
own file and hands the console and file back when it ends.

RecBole's ``init_logger`` configures the root logger with ``logging.basicConfig``, which is a no-op once handlers
exist; a run therefore sets its handlers aside, lets RecBole configure fresh ones, and restores the outer ones on
exit. Under torchrun only rank 0 writes the log (and the console); the other ranks print warnings and errors only.
"""

import logging
import uuid
from contextlib import contextmanager
from pathlib import Path

from recbole.utils import init_logger

from recbole_ilora import distributed


class _Buffer(logging.Handler):
    """Keeps records until the run's log exists."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@contextmanager
def early_records():
    """Collect what is logged while a run's config is built (before its log file can be named); yields the list
    of records, which ``run_log`` replays into the log."""
    buffer = _Buffer()
    root = logging.getLogger()
    root.addHandler(buffer)
    try:
        yield buffer.records
    finally:
        root.removeHandler(buffer)


def _own_file(root):
    """Move RecBole's log file handler to a file of this run's own, and return its path. RecBole names the file by
    model, dataset, second and a digest of the config: two runs of one experiment started in the same second would
    write one file (and, named after it, one tensorboard folder)."""
    handler = next((h for h in root.handlers if isinstance(h, logging.FileHandler)), None)
    if handler is None:
        return None
    shared = Path(handler.baseFilename)
    own = logging.FileHandler(shared.with_name(f"{shared.stem}-{uuid.uuid4().hex[:6]}{shared.suffix}"))
    own.setLevel(handler.level)
    own.setFormatter(handler.formatter)
    root.removeHandler(handler)
    handler.close()
    root.addHandler(own)
    if shared.is_file() and shared.stat().st_size == 0:  # nothing was logged to it: only its name was taken
        shared.unlink(missing_ok=True)
    return own.baseFilename


@contextmanager
def run_log(config, earlier=()):
    """The run's log for the duration of the block; yields its file path (None on ranks other than 0). ``earlier``
    records (``early_records``) are written to it first."""
    root = logging.getLogger()
    outer_handlers, outer_level = root.handlers[:], root.level
    for handler in outer_handlers:
        root.removeHandler(handler)
    log_file = None
    try:
        if distributed.is_main():
            init_logger(config)
            log_file = _own_file(root)
        else:
            logging.basicConfig(level=logging.WARNING, format=f"rank {distributed.rank()}: %(levelname)s %(message)s")
        for record in earlier:
            root.handle(record)
        yield log_file
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        for handler in outer_handlers:
            root.addHandler(handler)
        root.setLevel(outer_level)
