"""Finding and reading raw files: any of several folders, plain or gzip, decoded line by line with file:line errors.

Every converter reads its input through here, so that a missing file, a wrong encoding or a wrong separator gives
the same kind of message everywhere: the file, the line, what was expected and what to change.
"""

import gzip
from pathlib import Path

from tqdm import tqdm

from recbole_ilora.converters.issues import EXAMPLES_PER_KIND
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
        """The first of ``names`` (or ``name.gz``) in the folders, or None; a ``RawDataError`` for one that is there
        but not a regular file (reported as missing, it sent the user looking for a file that was there)."""
        for folder in self.folders:
            for name in names:
                for candidate in (folder / name, folder / f"{name}.gz"):
                    if candidate.exists():
                        return _regular_file(candidate)
        return None


def _regular_file(path):
    """``path`` if it is a regular file (or a link to one), else a ``RawDataError`` saying what it is."""
    if path.is_dir():
        raise RawDataError(f"{path} is a folder, not the raw file: put the downloaded file in its place.")
    if not path.is_file():
        raise RawDataError(f"{path} is not a regular file (a device, named pipe or socket): put the downloaded file "
                           f"in its place.")
    return path


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


class BadLine(ValueError):
    """What a ``parse_lines`` parser raises for a line to skip: a counted warning of ``kind`` whose detail is the
    message, and one bad line more against the file (a file of mostly bad lines is an error)."""

    def __init__(self, detail, kind="malformed line"):
        super().__init__(detail)
        self.kind = kind


class Tally:
    """The units (lines, or records inside them) read from one file: how many were used and how many skipped, with
    the first skipped ones, so that a file of mostly bad units is an error naming them rather than a pile of warnings
    (each converter's files by the same rule)."""

    def __init__(self, path, issues, unit="lines"):
        self.path, self.issues, self.unit = path, issues, unit
        self.used = self.skipped = 0
        self.examples = []

    def use(self):
        self.used += 1

    def skip(self, kind, where, detail=""):
        """Count one skipped unit at ``where``, as a warning of ``kind``."""
        self.issues.warn(kind, where, detail)
        self.skipped += 1
        if len(self.examples) < EXAMPLES_PER_KIND:
            self.examples.append(f"{where} ({detail})" if detail else where)

    def check(self):
        """Units that mostly failed mean the file is in another format: an error naming the first bad ones."""
        if self.skipped and (self.used == 0 or self.skipped > self.used):
            raise RawDataError(
                f"{self.path}: {self.skipped:,} of {self.used + self.skipped:,} {self.unit} could not be parsed, so "
                f"this is not the expected format. First bad {self.unit}: {'; '.join(self.examples)}"
            )


def split_fields(text, separator, count, where, layout, first=False):
    """``text`` split into exactly ``count`` fields, else a ``BadLine``.

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
    raise BadLine(f"{len(fields)} field(s) where {count} were expected: {layout}")


def header_positions(text, separator, columns, where):
    """Where each of ``columns`` (a raw format's documented header) is in a first line that is a header, or None for
    a first line of data. A header names the columns in any order (case and spaces aside); one that names others is
    an error, as reading its lines by position would take one column for another."""
    names = [name.strip().lower() for name in text.split(separator)]
    expected = [column.lower() for column in columns]
    if not set(names) & set(expected):
        return None
    if sorted(names) != sorted(expected):
        raise RawDataError(f"{where}: the header names the columns {text.split(separator)}, not the documented "
                           f"{list(columns)} (in any order): this is not the expected file (another release of the "
                           f"dataset?); name its columns so, or convert it to that layout.")
    return [names.index(name) for name in expected]


HEADER = object()  # what a ``parse_lines`` parser returns for a header line: skipped, counted neither way


def parse_lines(path, encoding, issues, parse, fallback_encoding=None, progress=False):
    """Yield ``(where, number, record)`` for each line of ``path`` that ``parse`` turns into a record.

    ``parse(text, where, first)`` returns the record or ``HEADER``, or raises ``BadLine`` for a line to skip;
    ``first`` is true until a data line has been seen. Once the file is read, a file without data lines or of mostly
    bad ones is an error (``Tally.check``). Other arguments: see ``read_lines``.
    """
    tally = Tally(path, issues)
    for number, text in read_lines(path, encoding, issues, fallback_encoding=fallback_encoding, progress=progress):
        where = f"{path}:{number}"
        try:
            record = parse(text, where, tally.used + tally.skipped == 0)
        except BadLine as bad:
            tally.skip(bad.kind, where, str(bad))
            continue
        if record is not HEADER:
            tally.use()
            yield where, number, record
    if tally.used + tally.skipped == 0:
        raise RawDataError(f"{path}: no data lines (an empty or truncated file); download it again.")
    tally.check()


def read_fields(path, encoding, issues, separator, columns, record=lambda *fields: fields, header=False,
                fallback_encoding=None, progress=False):
    """Yield ``(where, number, record)`` per line of ``path`` of ``len(columns)`` fields separated by ``separator``
    (``columns``: the raw format's documented ones): ``record(*fields)`` of its fields in that order, where a
    ``ValueError`` makes the line a malformed one. With ``header``, a first line naming the columns is the file's
    header, and the lines are read by its names (``header_positions``)."""
    layout = separator.encode("unicode_escape").decode().join(columns)
    order = list(range(len(columns)))

    def parse(text, where, first):
        nonlocal order
        positions = header_positions(text, separator, columns, where) if header and first else None
        if positions is not None:
            order = positions
            return HEADER
        fields = split_fields(text, separator, len(columns), where, layout, first=first)
        try:
            return record(*(fields[position] for position in order))
        except ValueError as error:
            raise BadLine(f"{error}; {layout}") from None

    return parse_lines(path, encoding, issues, parse, fallback_encoding=fallback_encoding, progress=progress)


# Timestamps become 64-bit numbers in RecBole's float columns and in pandas; anything beyond is no timestamp.
LARGEST_TIMESTAMP = 2**53  # the largest integer a float64 holds exactly


def timestamp(text):
    """``text`` as a whole-number timestamp; ``ValueError`` for text that is none, or a number too large to be one
    (it would overflow the 64-bit columns later, as a traceback)."""
    value = int(text)
    if not -LARGEST_TIMESTAMP <= value <= LARGEST_TIMESTAMP:
        raise ValueError(f"timestamp {text.strip()} is out of range (|t| <= 2**53)")
    return value
