"""Finding and reading raw files: any of several folders, plain or gzip, decoded line by line with file:line errors.

Every converter reads its input through here, so that a missing file, a wrong encoding or a wrong separator gives
the same kind of message everywhere: the file, the line, what was expected and what to change.
"""

import gzip
from pathlib import Path

from tqdm import tqdm

from recbole_ilora.errors import RawDataError

# Separators a raw file may use instead of the expected one: named in the wrong-separator message.
KNOWN_SEPARATORS = {"::": "'::'", "\t": "tab", ",": "comma", ";": "semicolon", "|": "'|'"}
PROGRESS_EVERY = 65536  # lines between progress-bar updates


class RawFolders:
    """The folders given with ``--raw``; a file is looked up in each, in order, plain or with ``.gz``."""

    def __init__(self, paths):
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if not paths:
            raise RawDataError("No raw folder given: pass --raw FOLDER (the folder holding the downloaded files).")
        self.folders = []
        for path in map(Path, paths):
            if not path.exists():
                raise RawDataError(f"--raw {path}: no such folder.")
            if not path.is_dir():
                raise RawDataError(f"--raw {path}: a file; pass the folder that holds it (--raw {path.parent}).")
            self.folders.append(path)

    def find(self, *names, hint=""):
        """The first of ``names`` (or ``name.gz``) found in the folders; a ``RawDataError`` when none is."""
        path = self.find_optional(*names)
        if path is None:
            where = ", ".join(str(folder) for folder in self.folders)
            raise RawDataError(
                f"Missing raw file: none of {', '.join(names)} (plain or .gz) in {where}. {hint}".strip())
        return path

    def find_optional(self, *names):
        for folder in self.folders:
            for name in names:
                for candidate in (folder / name, folder / f"{name}.gz"):
                    if candidate.is_file():
                        return candidate
        return None


def _is_gzip(path):
    with open(path, "rb") as file:
        return file.read(2) == b"\x1f\x8b"


def read_lines(path, encoding, issues, fallback_encoding=None, progress=False):
    """Yield ``(line number, text)`` for each non-empty line of ``path`` (plain or gzip), without its line end.

    Args:
        encoding: the file's documented encoding. A line that does not decode is an error naming file and line,
            unless ``fallback_encoding`` is given: then it is decoded with that and counted as a warning.
        issues: where warnings are counted (a latin-1 file whose line is valid multi-byte UTF-8 is one).
        progress: show a progress bar over the file's bytes.
    """
    size = Path(path).stat().st_size
    bar = tqdm(total=size, unit="B", unit_scale=True, desc=Path(path).name, disable=not progress, leave=False)
    latin1 = encoding.replace("_", "-").lower() in ("latin-1", "latin1", "iso-8859-1", "iso8859-1")
    compressed = _is_gzip(path)
    if Path(path).suffix == ".gz" and not compressed:
        issues.warn("file named .gz is not gzip-compressed: read as plain text", str(path))
    with open(path, "rb") as raw:
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        try:
            for number, line in enumerate(stream, start=1):
                if number % PROGRESS_EVERY == 0:
                    bar.update(raw.tell() - bar.n)
                line = line.rstrip(b"\r\n")
                if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]  # a UTF-8 byte-order mark
                if not line.strip():
                    continue
                yield number, _decode(line, encoding, fallback_encoding, latin1, f"{path}:{number}", issues)
        except (OSError, EOFError) as error:  # a truncated or corrupt .gz
            raise RawDataError(f"{path}: cannot be read to the end ({error}); download it again.") from None
        finally:
            bar.close()


def _decode(line, encoding, fallback_encoding, latin1, where, issues):
    if b"\x00" in line or line.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RawDataError(
            f"{where}: NUL bytes or a UTF-16 byte-order mark: the file looks UTF-16- or UTF-32-encoded, not {encoding} "
            f"(an encoding problem, not a separator one). Re-save it as {encoding}, e.g. "
            f"`iconv -f UTF-16 -t {encoding} FILE > FILE.new`."
        )
    try:
        text = line.decode(encoding)
    except UnicodeDecodeError as error:
        if fallback_encoding is None:
            raise RawDataError(
                f"{where}: not valid {encoding} (byte {line[error.start]:#04x} at column {error.start + 1}). If the "
                f"file uses another encoding, pass it with --encoding (e.g. --encoding=latin-1)."
            ) from None
        issues.warn(f"line not valid {encoding}, read as {fallback_encoding}", where)
        return line.decode(fallback_encoding)
    if latin1 and max(line) >= 0x80:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return text
        issues.warn("line looks UTF-8-encoded in a latin-1 file", where,
                    "its accented letters would be garbled; pass --encoding=utf-8 if the file was re-encoded")
    return text


def split_fields(text, separator, count, where, issues, layout, first=False):
    """``text`` split into exactly ``count`` fields, else ``None`` and a counted "malformed line" warning.

    On the first data line (``first``) a line without ``separator`` that uses another known separator is an
    error: the whole file is in another format, and skipping every line would hide that.
    """
    fields = text.split(separator)
    if len(fields) == count:
        return fields
    if first and separator not in text:
        others = [name for sep, name in KNOWN_SEPARATORS.items() if sep != separator and sep in text]
        if others:
            raise RawDataError(
                f"{where}: expected {count} fields separated by {KNOWN_SEPARATORS.get(separator, repr(separator))} "
                f"({layout}), but the line has none and looks {others[0]}-separated: this is not the expected "
                f"file format (a CSV export or another release of the dataset?)."
            )
    issues.warn("malformed line", where, f"{len(fields)} field(s) where {count} were expected: {layout}")
    return None


HEADER = object()  # what a ``parse_lines`` parser returns for a header line: skipped, counted neither way


def parse_lines(path, encoding, issues, parse, fallback_encoding=None, progress=False):
    """Yield ``(where, number, record)`` for each line of ``path`` that ``parse`` turns into a record.

    ``parse(text, where, first)`` returns the record, ``None`` for a bad line (after counting its warning in
    ``issues``) or ``HEADER``; ``first`` is true until a data line has been seen. Once the file is read,
    ``check_enough_parsed`` turns a file of mostly bad lines into an error. Other arguments: see ``read_lines``.
    """
    parsed = skipped = 0
    for number, text in read_lines(path, encoding, issues, fallback_encoding=fallback_encoding, progress=progress):
        where = f"{path}:{number}"
        record = parse(text, where, parsed + skipped == 0)
        if record is HEADER:
            continue
        if record is None:
            skipped += 1
            continue
        parsed += 1
        yield where, number, record
    check_enough_parsed(path, parsed, skipped, issues)


def check_enough_parsed(path, parsed, skipped, issues):
    """A file whose lines mostly failed to parse is in the wrong format: an error, not a pile of warnings."""
    if parsed + skipped == 0:
        raise RawDataError(f"{path}: no data lines (an empty or truncated file); download it again.")
    if parsed == 0 or skipped > parsed:
        examples = "; ".join(issues.examples.get("malformed line", []))
        raise RawDataError(
            f"{path}: {skipped:,} of {parsed + skipped:,} lines could not be parsed, so this is not the expected "
            f"format. First bad lines: {examples}"
        )


# Timestamps become 64-bit numbers in RecBole's float columns and in pandas; anything beyond is no timestamp.
LARGEST_TIMESTAMP = 2**53  # the largest integer a float64 holds exactly


def timestamp(text):
    """``text`` as a whole-number timestamp; ``ValueError`` for text that is none, or a number too large to be one
    (it would overflow the 64-bit columns later, as a traceback)."""
    value = int(text)
    if not -LARGEST_TIMESTAMP <= value <= LARGEST_TIMESTAMP:
        raise ValueError(f"timestamp {text.strip()} is out of range (|t| <= 2**53)")
    return value
