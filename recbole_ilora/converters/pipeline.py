"""One conversion from raw files to a dataset folder: read (per dataset), filter, write atomically, report.

A sequence converter (ml-1m, lastfm, steam) reads its raw files into a ``Source``; ``to_sequences`` applies the
shared filters and builds the atomic tables; ``prepare`` times the whole, writes the folder and returns a
``Report`` whose ``text()`` is what the command prints.
"""

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from recbole_ilora import __version__
from recbole_ilora.converters import filters
from recbole_ilora.converters.atomic import PROVENANCE_FILE, Table, clean_text, is_missing, write_dataset
from recbole_ilora.converters.issues import Issues
from recbole_ilora.converters.rawfiles import RawFolders
from recbole_ilora.converters.stats import format_stats, sequence_stats
from recbole_ilora.errors import RawDataError
from recbole_ilora.files import check_writable
from recbole_ilora.paths import check_plain_name


@dataclass
class ConvertOptions:
    """Every converter option; the command line sets them (``prepare_dataset NAME --help`` lists each one's)."""

    name: str = None                # output dataset name; None = the converter's default
    min_user_inter: int = 1         # k-core: minimum interactions per user
    min_item_inter: int = 1         # k-core: minimum interactions per item
    min_rating: float = None        # drop interactions rated below (datasets with ratings)
    drop_untitled: bool = True      # drop items without a title (and their interactions); counted
    encoding: str = None            # override the raw files' documented encoding
    strict: bool = False            # a bad raw line is an error instead of a counted warning
    overwrite: bool = False         # replace an output folder that holds a different conversion
    overwrite_other_files: bool = False  # ... and delete files in it that no conversion wrote
    progress: bool = False          # progress bars while reading
    with_listens: bool = False      # lastfm: add listen-only pairs from user_artists.dat
    keep_repeats: bool = False      # lastfm: one interaction per tag assignment time, not per (user, artist)
    reviews: str = None             # steam: interactions file name (default: whichever is present)
    variant: str = None             # llara-ref: lastfm | movielens | steam (default: from the folder)
    min_history: int = 3            # llara-ref: keep samples with at least this many history items
    train_from_histories: bool = False  # llara-ref: train on prefixes of valid/test histories if no train file


@dataclass
class Source:
    """What a sequence converter read from the raw files.

    ``interactions``: columns user, item, timestamp, order (raw order, breaks ties), optionally rating.
    ``items``: one row per item id, column ``item`` first; ``item_fields`` maps its columns to atomic fields as
    ``[(column, field, type)]``; ``text_column`` is the title column. ``users`` / ``user_fields`` likewise
    (optional). ``raw_counts``: what the raw files hold, for the report and the published-count checks.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame
    item_fields: list
    text_column: str
    raw_counts: dict
    users: pd.DataFrame = None
    user_fields: list = None
    notes: list = field(default_factory=list)


@dataclass
class Converted:
    """Atomic tables ready to write, with what the report says about them."""

    name: str
    tables: dict
    stats: object
    raw_counts: dict
    steps: list
    notes: list = field(default_factory=list)
    raw_files: list = field(default_factory=list)


@dataclass
class Report:
    converter: str
    converted: Converted
    folder: Path
    status: str
    seconds: float
    warnings: list

    def text(self):
        c = self.converted
        lines = [f"{self.converter} -> {self.folder} ({self.status}) in {self.seconds:.1f} s"]
        lines += [f"  read {path}" for path in c.raw_files]
        lines.append("  raw: " + ", ".join(f"{count:,} {what}" for what, count in c.raw_counts.items()))
        lines += [f"  {step}" for step in c.steps if step]
        lines += [f"  note: {note}" for note in c.notes]
        lines += [f"  warning: {warning}" for warning in self.warnings]
        return "\n".join(lines) + "\n\n" + format_stats(c.name, c.stats)


def clean_titles(items, text_column, steps):
    """Clean titles (tabs / line breaks -> spaces); the item ids that end up with a usable title."""
    raw = items[text_column].astype(object)
    cleaned = raw.map(lambda title: clean_text(title) if isinstance(title, str) else None)
    changed = int((cleaned.notna() & (cleaned != raw)).sum())
    if changed:
        steps.append(f"{changed:,} title(s) had tabs or line breaks, replaced by spaces")
    missing = cleaned.map(is_missing)
    unreadable = int((missing & raw.map(lambda t: isinstance(t, str) and t.strip() != "")).sum())
    if unreadable:
        steps.append(f"{unreadable:,} title(s) such as 'NA' or 'None', which RecBole reads as missing, count as "
                     f"untitled")
    items = items.assign(**{text_column: cleaned})
    return items, items.loc[~missing, "item"]


def to_sequences(source, options, name):
    """Filter ``source`` and build ``name.inter`` (+ ``.item``, ``.user``) in time order per user."""
    steps = []
    inter = source.interactions
    ids_missing = inter["user"].map(is_missing) | inter["item"].map(is_missing)
    if ids_missing.any():
        steps.append(f"dropped {int(ids_missing.sum()):,} interaction(s) whose user or item id RecBole reads as "
                     f"missing (empty, 'NA', 'null', ...)")
        inter = inter[~ids_missing]
    inter, line = filters.drop_duplicates(inter)
    steps.append(line)
    items, titled = clean_titles(source.items, source.text_column, steps)
    inter, line = filters.drop_untitled(inter, titled, options.drop_untitled)
    steps.append(line)
    inter, line = filters.min_rating(inter, options.min_rating)
    steps.append(line)
    inter, line = filters.k_core(inter, options.min_user_inter, options.min_item_inter)
    steps.append(line)
    if inter.empty:
        raise RawDataError(
            f"No interactions left for {name} after filtering (raw: "
            f"{', '.join(f'{count:,} {what}' for what, count in source.raw_counts.items())}; "
            f"{'; '.join(step for step in steps if step)}). Relax --min_user_inter / --min_item_inter / "
            f"--min_rating, or check that the interaction and title files belong together."
        )
    # Users in order of first appearance in the raw files; each user's interactions by time, ties in raw order.
    first_seen = inter.groupby("user", sort=False)["order"].transform("min")
    inter = inter.assign(_first=first_seen).sort_values(["_first", "timestamp", "order"], kind="stable")
    inter_fields = [("user", "user_id", "token"), ("item", "item_id", "token")]
    if "rating" in inter:
        inter_fields.append(("rating", "rating", "float"))
    inter_fields.append(("timestamp", "timestamp", "float"))
    tables = {f"{name}.inter": _table(inter, inter_fields)}
    used = inter["item"].unique()
    tables[f"{name}.item"] = _table(items[items["item"].isin(used)], source.item_fields)
    if source.users is not None:
        users = source.users[source.users["user"].isin(inter["user"].unique())]
        tables[f"{name}.user"] = _table(users, source.user_fields)
    stats = sequence_stats(inter["user"], inter["item"])
    return Converted(name, tables, stats, source.raw_counts, steps, list(source.notes))


def _table(frame, fields):
    return Table([(name, ftype) for _, name, ftype in fields],
                 frame[[column for column, _, _ in fields]].reset_index(drop=True))


def prepare(converter, raw, out="dataset", options=None, echo=None):
    """Convert the raw files in ``raw`` (a folder or a list of folders) with ``converter`` into ``out/NAME/``.

    Returns the ``Report``; ``echo`` (e.g. ``print``) receives its text. Raises ``RawDataError``,
    ``ConfigurationError`` or ``OutputExistsError`` with a message naming the file, line or option to fix.
    """
    from recbole_ilora.converters import get_converter

    options = options or ConvertOptions()
    if options.name is not None:
        check_plain_name("--name", options.name)
    check_writable(out, "--out")
    module = get_converter(converter)
    issues = Issues(strict=options.strict)
    start = time.perf_counter()
    converted = module.convert(RawFolders(raw), options, issues)
    provenance = {
        "converter": converter, "recbole_ilora": __version__, "raw_files": [str(p) for p in converted.raw_files],
        "options": asdict(options), "raw_counts": converted.raw_counts,
        "steps": [step for step in converted.steps if step], "notes": converted.notes,
        "warnings": issues.counts, "stats": converted.stats,
    }
    folder, status = write_dataset(out, converted.name, converted.tables,
                                   {PROVENANCE_FILE: json.dumps(provenance, indent=2, default=str) + "\n"},
                                   overwrite=options.overwrite, overwrite_other_files=options.overwrite_other_files)
    report = Report(converter, converted, folder, status, time.perf_counter() - start, issues.summary())
    if echo:
        echo(report.text())
    return report
