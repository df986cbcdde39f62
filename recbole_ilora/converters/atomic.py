"""RecBole atomic files, written so that a reader finds the old dataset or the new one, never half of one.

Format (what RecBole 1.2.1's reader, ``pandas.read_csv(sep="\\t", engine="python")``, reads back exactly): a header
of ``field:type`` columns, tab-separated UTF-8 rows, and CSV quoting for a value that holds a double quote (a
title such as ``"Glow Ball" - The billiard puzzle game`` would otherwise stop the reader). Tabs, line breaks and
other line separators inside a text are replaced by spaces: they cannot survive a line-based format. Titles are
``token`` fields, one whole string each, so that spacing and punctuation survive; ``recbole_ilora.data.titles``
reads token and token_seq titles alike.

All files go into a hidden folder beside the target, which is then renamed into place: an interrupted conversion
leaves nothing behind, and a folder that already holds different data is replaced only with ``overwrite``.
"""

import csv
import filecmp
import math
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recbole_ilora.errors import OutputExistsError

ATOMIC_SUFFIXES = (".inter", ".user", ".item", ".kg", ".link", ".net")
PROVENANCE_FILE = "conversion.json"  # how the folder was made; not data, so left out of the comparison

# Characters that end a line for some reader (Python's universal newlines, str.splitlines) or separate fields.
_BREAKS = re.compile("[\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")

# Values pandas.read_csv turns into NaN by default (pandas' STR_NA_VALUES), quoted or not: RecBole would read
# such a title or id as missing, so converters treat them as missing from the start.
READ_AS_MISSING = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
    "NULL", "NaN", "None", "n/a", "nan", "null",
})


def clean_text(value):
    """``value`` with tabs and line breaks replaced by spaces (one each, so lengths and positions stay)."""
    return _BREAKS.sub(" ", value)


def is_missing(value):
    """True when RecBole would read ``value`` (a title or an id) as missing (None and NaN included: pandas 3's
    string columns hold a missing value as NaN)."""
    return value is None or not isinstance(value, str) and pd.isna(value) or value.strip() == "" \
        or value in READ_AS_MISSING


@dataclass
class Table:
    """One atomic file: ``fields`` as ``[(name, type)]`` (RecBole types: token, token_seq, float, float_seq) and
    ``rows``, a DataFrame with one column per field, in that order. token_seq cells are lists of tokens."""

    fields: list
    rows: pd.DataFrame

    def header(self):
        return "\t".join(f"{name}:{ftype}" for name, ftype in self.fields)


def _format_column(values, ftype):
    if ftype == "float":
        numbers = pd.to_numeric(values)
        integral = numbers == numbers.round()
        if integral.all():  # timestamps and ratings: written as integers, like RecBole's own files
            return numbers.astype("int64").astype(str).tolist()
        return [str(int(x)) if whole else repr(float(x)) for x, whole in zip(numbers, integral)]
    if ftype in ("token_seq", "float_seq"):
        return [" ".join(map(str, cell)) for cell in values]
    return ["" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x) for x in values]  # missing: empty


def write_table(path, table):
    """Write ``table`` to ``path`` in RecBole's atomic format."""
    columns = [_format_column(table.rows.iloc[:, index], ftype) for index, (_, ftype) in enumerate(table.fields)]
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write(table.header() + "\n")
        csv.writer(file, delimiter="\t", quotechar='"', quoting=csv.QUOTE_MINIMAL, lineterminator="\n") \
            .writerows(zip(*columns))


def _atomic_files(folder):
    return sorted(path.name for path in folder.iterdir() if path.is_file() and path.suffix in ATOMIC_SUFFIXES)


def _difference(existing, new):
    """None when ``existing`` holds exactly the atomic files of ``new``; else what differs, in words."""
    old_files, new_files = _atomic_files(existing), _atomic_files(new)
    if old_files != new_files:
        return f"it holds {', '.join(old_files) or 'no atomic files'}; the new data is {', '.join(new_files)}"
    changed = [name for name in new_files if not filecmp.cmp(existing / name, new / name, shallow=False)]
    return f"{', '.join(changed)} differ(s) from the new conversion" if changed else None


def _other_files(folder):
    """Entries of a dataset folder that a conversion did not write: anything but atomic files and the provenance
    file, and everything when the provenance file is missing (the folder was never written by a conversion)."""
    entries = sorted(path.name for path in folder.iterdir())
    if PROVENANCE_FILE not in entries:
        return entries
    return [name for name in entries if name != PROVENANCE_FILE and Path(name).suffix not in ATOMIC_SUFFIXES]


def write_dataset(out_root, name, tables, extra_files=None, overwrite=False, overwrite_other_files=False):
    """Write ``tables`` (``{file name: Table}``) and ``extra_files`` (``{file name: text}``) as ``out_root/name/``.

    Returns ``(folder, status)``, status being ``written`` (new folder), ``replaced`` (``overwrite`` of different
    data) or ``unchanged`` (the folder already held exactly these atomic files). Raises ``OutputExistsError`` when
    the folder holds different data and ``overwrite`` is False, or holds files no conversion wrote (a user's own) and
    ``overwrite_other_files`` is False; nothing is changed then.
    """
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    target = out_root / name
    if target.exists() and not target.is_dir():
        raise OutputExistsError(f"{target} exists and is not a folder: remove it or choose another --out / --name.")
    partial = out_root / f".{name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
    partial.mkdir()
    try:
        for file_name, table in tables.items():
            write_table(partial / file_name, table)
        for file_name, text in (extra_files or {}).items():
            (partial / file_name).write_text(text, encoding="utf-8")
        if target.is_dir() and any(target.iterdir()):
            difference = _difference(target, partial)
            if difference is None:
                shutil.rmtree(partial)
                return target, "unchanged"
            if not overwrite:
                raise OutputExistsError(
                    f"{target} already holds a different dataset ({difference}). Pass --overwrite to replace the "
                    f"whole folder, or write elsewhere with --out or --name."
                )
            others = _other_files(target)
            if others and not overwrite_other_files:
                raise OutputExistsError(
                    f"{target} holds files prepare_dataset did not write ({', '.join(others[:5])}"
                    f"{', ...' if len(others) > 5 else ''}), which --overwrite would delete with the folder: move "
                    f"them, write elsewhere with --out or --name, or pass --overwrite_other_files to delete them."
                )
            retired = out_root / f".{name}.old-{os.getpid()}-{secrets.token_hex(4)}"
            os.replace(target, retired)
            os.replace(partial, target)
            shutil.rmtree(retired, ignore_errors=True)
            return target, "replaced"
        if target.is_dir():
            target.rmdir()  # an empty folder holds no data to protect
        os.replace(partial, target)
        return target, "written"
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
