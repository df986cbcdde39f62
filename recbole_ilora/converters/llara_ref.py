"""The iLoRA / LLaRA papers' exact splits -> a pre-split dataset ``llara-<variant>`` for ``--protocol=llara``.

Input: one folder of the papers' data as JSON lines (``lastfm/``, ``movielens/`` or ``steam/``): ``train_data.jsonl``,
``Val_data.jsonl``, ``Test_data.jsonl``, one sample a line: ``seq`` = the last 10 item ids right-padded with the
padding id (= the number of items), ``len_seq``, ``next`` = the target (MovieLens: ``[item, rating]`` pairs; the
ratings are not used). Titles: ``id2name.txt`` (``id::name``, UTF-8) or, for MovieLens, ``u.item`` (ML-100K,
``|``-separated, latin-1; the papers' item id is the u.item id - 1).

Output: ``NAME.train.inter``, ``NAME.valid.inter``, ``NAME.test.inter``, one row per sample: ``user_id`` (a pseudo
user per sample, ``<part>-<line>``, the source line), ``item_id_list`` (token_seq: the history, oldest first,
without padding) and ``item_id`` (the target); ``NAME.item``: every catalogue item with its title, since the papers
draw candidates from the whole catalogue. Samples with fewer than ``--min_history`` history items are left out
(default 3, the papers' ``len_seq >= 3`` filter, applied by their loaders to every part). Titles are built as the
papers' loaders build them: names stripped; MovieLens titles without the year and with a trailing ", The" / ", A"
/ ", An" moved to the front.
"""

import json
from dataclasses import dataclass

import pandas as pd

from recbole_ilora.converters.atomic import Table
from recbole_ilora.converters.pipeline import Converted, clean_titles
from recbole_ilora.converters.rawfiles import BadLine, parse_lines
from recbole_ilora.converters.stats import split_stats
from recbole_ilora.errors import ConfigurationError, RawDataError

NAME = "llara-ref"
SUMMARY = "the iLoRA/LLaRA papers' exact splits (JSON lines + id2name.txt / u.item) -> llara-<variant>, " \
          "for --protocol=llara"
PARTS = {"train": "train_data.jsonl", "valid": "Val_data.jsonl", "test": "Test_data.jsonl"}
ARTICLES = (", The", ", An", ", A")


@dataclass(frozen=True)
class Variant:
    titles: str         # catalogue file
    text_field: str     # title field of NAME.item (the dataset YAML's item_text_field)
    encoding: str


VARIANTS = {
    "lastfm": Variant("id2name.txt", "artist_name", "utf-8"),
    "movielens": Variant("u.item", "movie_title", "latin-1"),
    "steam": Variant("id2name.txt", "app_name", "utf-8"),
}


def add_arguments(group):
    group.add_argument("--variant", choices=list(VARIANTS), default=None,
                       help="which of the papers' datasets --raw holds (default: from the folder's name or files)")
    group.add_argument("--min_history", type=int, default=3,
                       help="keep samples with at least this many history items (default: %(default)s, the papers' "
                            "len_seq >= 3)")
    group.add_argument("--train_from_histories", action="store_true",
                       help="without train_data.jsonl (movielens, steam here): train on every prefix of the valid "
                            "and test histories (not the papers' training data)")


def _catalogue_variants(folder):
    """``{catalogue file: [variants]}`` of the catalogue files ``folder`` holds (lastfm and steam share one name)."""
    found = {}
    for variant, spec in VARIANTS.items():
        if (folder / spec.titles).is_file():
            found.setdefault(spec.titles, []).append(variant)
    return found


def _locate(raw, options):
    """``(variant, folder, how)``: from --variant, the folder's name, or the catalogue file it holds when that file
    is one variant's; ``how`` says which, for the report. A folder holding catalogues of several variants is
    refused."""
    for folder in raw.folders:
        if options.variant and (folder / options.variant).is_dir():
            return options.variant, folder / options.variant, "--variant"
        if options.variant:
            return options.variant, folder, "--variant"
        if folder.name in VARIANTS:
            return folder.name, folder, f"the folder's name, {folder.name}"
        found = _catalogue_variants(folder)
        variants = [variant for names in found.values() for variant in names]
        if len(variants) == 1:
            (titles,) = found
            return variants[0], folder, f"{folder / titles}, the catalogue of {variants[0]} only"
        if variants:
            held = "; ".join(f"{titles} ({' or '.join(names)})" for titles, names in found.items())
            raise RawDataError(f"Cannot tell which of the papers' datasets {folder} holds: its catalogue files fit "
                               f"several ({held}). Pass --variant {'|'.join(variants)}.")
    inside = sorted(path.name for folder in raw.folders for path in folder.iterdir() if path.name in VARIANTS)
    hint = f" It holds {', '.join(inside)}: pass one of them, e.g. --raw {raw.folders[0] / inside[0]}." if inside \
        else ""
    raise RawDataError(f"Cannot tell which of the papers' datasets {raw.folders[0]} holds.{hint} Or pass "
                       f"--variant {'|'.join(VARIANTS)}.")


def movielens_title(title):
    """The papers' MovieLens title: the year removed, a trailing article moved to the front."""
    title = title.strip()
    if title.endswith(")") and title[-6:-5] == "(" and title[-5:-1].isdigit():
        title = title[:-6].rstrip()
    for article in ARTICLES:
        if title.endswith(article):
            return f"{article[2:]} {title[:-len(article)]}"
    return title


def read_catalogue(path, variant, encoding, issues):
    """One row per item id (the papers' ids, as strings) with its title."""
    def entry(text, where, _first):
        if variant == "movielens":
            fields = text.split("|")
            if len(fields) >= 2 and fields[0].strip().isdigit():
                return str(int(fields[0]) - 1), movielens_title(fields[1])
            raise BadLine("expected u.item's 'id|title|...'")
        fields = text.split("::", 1)  # a name holding '::' keeps it (the papers' loader cut it there)
        if len(fields) == 2 and fields[0].strip().isdigit():
            return fields[0].strip(), fields[1].strip()
        raise BadLine("expected 'id::name'")

    rows = [row for _, _, row in parse_lines(path, encoding, issues, entry)]
    catalogue = pd.DataFrame(rows, columns=["item", VARIANTS[variant].text_field]).drop_duplicates("item")
    if len(catalogue) != len(rows):
        issues.warn("duplicate item id in the catalogue (first kept)", str(path), f"{len(rows) - len(catalogue)}")
    return catalogue


def _item_id(value):
    value = value[0] if isinstance(value, list) and value else value  # MovieLens: [item, rating]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"item {value!r} is not an integer id")
    return value


def parse_sample(record, padding, where, issues):
    """``(history, target)`` as lists of int ids; raises ValueError naming what is wrong."""
    if not isinstance(record, dict) or not isinstance(record.get("seq"), list) or "next" not in record:
        raise ValueError("expected an object with 'seq' (a list) and 'next'")
    items = [_item_id(value) for value in record["seq"]]
    target = _item_id(record["next"])
    if any(not 0 <= item <= padding for item in items) or not 0 <= target < padding:
        raise ValueError(f"item id outside the catalogue 0..{padding - 1} (padding id {padding})")
    history = [item for item in items if item != padding]
    if items[:len(history)] != history:
        issues.warn("padding inside a history (padding removed)", where)
    if record.get("len_seq") not in (len(history), None) and not (record.get("len_seq") == 1 and not history):
        issues.warn("len_seq disagrees with seq (seq used)", where, f"len_seq {record.get('len_seq')}, "
                    f"{len(history)} items")
    return history, target


def read_samples(path, padding, issues):
    """``[(line, history, target)]`` of every well-formed sample in ``path``."""
    def sample(text, where, _first):
        try:
            return parse_sample(json.loads(text), padding, where, issues)
        except ValueError as error:  # json.JSONDecodeError is a ValueError too
            raise BadLine(str(error), "malformed sample") from None

    return [(number, *history_target) for _, number, history_target in parse_lines(path, "utf-8", issues, sample)]


def _prefixes(parts, min_history):
    """Training samples from the valid / test histories: each prefix of >= min_history items -> the next item."""
    seen, samples = set(), []
    for part in ("valid", "test"):
        for line, history, _ in parts[part]:
            for end in range(min_history, len(history)):
                key = (tuple(history[:end]), history[end])
                if key not in seen:
                    seen.add(key)
                    samples.append((f"{part}{line}.{end}", list(key[0]), key[1]))
    return samples


def _check_options(options):
    if options.min_user_inter != 1 or options.min_item_inter != 1 or options.min_rating is not None:
        raise ConfigurationError("llara-ref keeps the papers' splits as published: --min_user_inter, "
                                 "--min_item_inter and --min_rating would change them; leave them out "
                                 "(--min_history sets the only filter, the papers' own).")
    if options.min_history < 1:
        raise ConfigurationError("--min_history must be at least 1: RecBole's sequential models need a history.")


def convert(raw, options, issues):
    _check_options(options)
    variant, folder, how = _locate(raw, options)
    spec = VARIANTS[variant]
    for pickle in sorted(folder.glob("*.df")):
        if not (folder / f"{pickle.stem}.jsonl").is_file():
            issues.warn("pandas pickle not read (pickle can run code): export it as JSON lines", str(pickle))
    catalogue_path = folder / spec.titles
    if not catalogue_path.is_file():
        raise RawDataError(f"Missing raw file {catalogue_path}: the {variant} titles ({spec.titles}).")
    catalogue = read_catalogue(catalogue_path, variant, options.encoding or spec.encoding, issues)
    padding = len(catalogue)
    steps = []
    catalogue, titled = clean_titles(catalogue, spec.text_field, steps)
    titled = {int(item) for item in titled}
    paths, parts, raw_counts = [catalogue_path], {}, {"catalogue items": padding}
    for part, file_name in PARTS.items():
        path = folder / file_name
        if not path.is_file():
            if part == "train":
                continue
            raise RawDataError(f"Missing raw file {path}: the papers' {part} split of {variant}.")
        paths.append(path)
        parts[part] = read_samples(path, padding, issues)
        raw_counts[f"{part} samples"] = len(parts[part])
    notes = [f"variant {variant}, from {how}"]
    if "train" not in parts:
        if not options.train_from_histories:
            raise RawDataError(
                f"Missing raw file {folder / PARTS['train']}: the papers' training samples of {variant} are not in "
                f"this copy. Pass --train_from_histories to train on every prefix of the valid and test histories "
                f"(not the papers' training data; evaluation still uses exactly their valid and test samples), or "
                f"add the file."
            )
        parts["train"] = _prefixes(parts, options.min_history)
        notes.append(f"train: {len(parts['train']):,} prefixes of the valid and test histories "
                     f"(--train_from_histories; the papers' training samples are not available)")
    tables, stats = {}, []
    name = options.name or f"llara-{variant}"
    for part in PARTS:
        samples = parts[part]
        kept = [s for s in samples if len(s[1]) >= options.min_history]
        short = len(samples) - len(kept)
        untitled = [s for s in kept if not titled.issuperset([*s[1], s[2]])]
        if untitled and options.drop_untitled:
            kept = [s for s in kept if titled.issuperset([*s[1], s[2]])]
        steps.append(f"{part}: kept {len(kept):,} of {len(samples):,} samples"
                     + (f"; {short:,} with fewer than {options.min_history} history items left out" if short else "")
                     + (f"; {len(untitled):,} referencing an untitled item "
                        f"{'dropped' if options.drop_untitled else 'kept'}" if untitled else ""))
        if not kept:
            raise RawDataError(f"No {part} samples left for {name} after filtering ({steps[-1]}): lower "
                               f"--min_history, or check that the titles file belongs to these samples.")
        # Repeated samples are kept as published (lastfm's training split has some): each is a pseudo user of its
        # own, so none puts an item twice into one sequence, and the papers train and evaluate on exactly these.
        rows = pd.DataFrame({"user": [f"{part}-{line}" for line, _, _ in kept],
                             "history": [[str(item) for item in history] for _, history, _ in kept],
                             "item": [str(target) for _, _, target in kept]})
        tables[f"{name}.{part}.inter"] = Table(
            [("user_id", "token"), ("item_id_list", "token_seq"), ("item_id", "token")], rows)
        stats.append(split_stats(part, list(rows["history"]), list(rows["item"]), len(titled)))
    items = catalogue[catalogue["item"].astype(int).isin(titled)] if options.drop_untitled else catalogue
    tables[f"{name}.item"] = Table([("item_id", "token"), (spec.text_field, "token")], items.reset_index(drop=True))
    return Converted(name, tables, stats, raw_counts, steps, notes, paths)
