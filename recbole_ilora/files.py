"""Atomic writes of files and folders: what every save of this package goes through.

Content is written to a uniquely named temporary sibling (``NAME.partial-PID-RANDOM``) and then renamed over the
target, so a reader never sees a half-written file and two processes writing the same target never share a
temporary (two runs writing one JSON result raced on a shared ``NAME.partial``). Temporaries left behind by a
process that died mid-write are removed when the next write of the same target starts.
"""

import hashlib
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

from recbole_ilora.errors import OutputFolderError, UserError
from recbole_ilora.paths import read_user_text

PARTIAL_TAG = ".partial-"


def partial_path(path):
    """A fresh temporary sibling of ``path``, named after this process."""
    path = Path(path)
    return path.with_name(f"{path.name}{PARTIAL_TAG}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(path):
    """Delete temporaries of ``path`` whose writing process no longer runs; return how many were removed."""
    path = Path(path)
    removed = 0
    for leftover in path.parent.glob(f"{path.name}{PARTIAL_TAG}*"):
        pid = leftover.name[len(path.name) + len(PARTIAL_TAG):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def file_sha256(path, chunk=1 << 24):
    """SHA-256 of a file's content (16 hex digits: a name, not a signature), read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:16]


def _nearest_existing(folder, what):
    """``folder``, or its nearest existing parent if it does not exist yet, which must be a folder."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a dangling link: creating the folder there fails after the work
            raise OutputFolderError(f"{what} {folder}: {existing} is a link to {existing.readlink()}, which does not "
                                    f"exist: create its target, or remove the link.")
        existing = existing.parent
    if not existing.is_dir():
        raise OutputFolderError(f"{what} {folder}: {existing} is a file, not a folder: choose a folder.")
    return existing


def check_writable(folder, what):
    """Fail now, not after hours, when ``folder`` cannot be written: a probe file is written in it, or, if it does
    not exist yet, in its nearest existing parent (nothing is left behind); ``what`` names the key or folder. Any
    error of the file system (a name too long, a link loop, no permission) is that key's error."""
    folder = Path(folder).expanduser()
    try:
        probe = partial_path(_nearest_existing(folder, what) / ".write-probe")
        probe.write_text("")
        probe.unlink()
    except OutputFolderError:
        raise
    except OSError as error:
        raise OutputFolderError(f"{what} {folder} cannot be written ({error.strerror or error}): make it writable, "
                                f"free space, or choose another folder.") from None


def write_file_atomic(path, write):
    """``write(temporary_path)`` then rename it to ``path``; return ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path)
    partial = partial_path(path)
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_text_atomic(text, path):
    """Write ``text`` to ``path`` so that a reader never sees a half-written file; return the path."""
    return write_file_atomic(path, lambda partial: partial.write_text(text, encoding="utf-8"))


class MarkedBlockError(UserError, ValueError):
    """A file that should hold a generated block lacks its begin or end marker."""


def marked_text(what, path, begin, end):
    """The text of ``path`` (``what``: the option naming it), which must hold a ``begin`` marker and, after it, an
    ``end`` marker: checked before a command's work, and again when the block is written."""
    text = read_user_text(what, path)
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise MarkedBlockError(f"{what} {path} has no block between '{begin}' and '{end}': add those two lines where "
                               f"the generated text belongs")
    return text, start, stop


def replace_marked_block(what, path, begin, end, block):
    """Rewrite the lines of ``path`` from the ``begin`` marker to the ``end`` marker (both kept) with ``block``,
    atomically: a generated part of a hand-written file (the README's figures, rendered from the results)."""
    text, start, stop = marked_text(what, path, begin, end)
    return write_text_atomic(text[:start] + begin + "\n" + block.strip("\n") + "\n" + text[stop:], path)


def write_json_atomic(payload, path):
    return write_text_atomic(json.dumps(payload, indent=2) + "\n", path)


@contextmanager
def folder_atomic(path, keep_existing=False):
    """Yield a temporary folder to fill; on success it replaces ``path`` (with ``keep_existing``, an existing
    ``path`` wins instead: another process produced the same content first, as two first-time conversions of one
    backbone cache do). On failure the temporary is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path)
    partial = partial_path(path)
    partial.mkdir()
    try:
        yield partial
        if path.exists() and keep_existing:
            return
        retired = None
        if path.exists():
            retired = partial_path(path)
            os.replace(path, retired)
        os.replace(partial, path)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
