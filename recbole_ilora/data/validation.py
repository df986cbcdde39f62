"""Checks of a dataset before any training, each failing with one message that names the file or field and the fix.

``check_atomic_files`` runs before RecBole reads the files (RecBole answers an empty file, a missing column or a
text timestamp with a traceback, or drops interactions silently); ``check_loaded_dataset`` runs on RecBole's
filtered dataset (enough interactions for the split, enough items for the candidates).
"""

import codecs
import csv
import re
from logging import getLogger
from pathlib import Path

import numpy as np
import pandas as pd

from recbole_ilora.data.candidates import candidates_per_user
from recbole_ilora.data.datasets import holds_samples
from recbole_ilora.data.location import inter_files
from recbole_ilora.data.titles import TEXT_TYPES
from recbole_ilora.errors import DataError, UserError


def _encoding_error(path, encoding):
    """The error for a file that is not valid text in ``encoding``, naming its first bad line."""
    with open(path, "rb") as file:
        for number, raw in enumerate(file, 1):
            try:
                raw.decode(encoding)
            except UnicodeError as error:  # a decode error, or a codec's own (UTF-16 without a byte-order mark)
                where = f"{error.reason} at byte {error.start}" if isinstance(error, UnicodeDecodeError) else error
                return DataError(f"{path}, line {number}: not valid {encoding} text ({where}); convert the file to "
                                 f"{encoding}, or set the encoding key to the file's encoding (e.g. "
                                 f"--encoding=latin-1).")
    return DataError(f"{path} is not valid {encoding} text; convert it, or set the encoding key to its encoding.")


FIELD_TYPES = ("token", "token_seq", "float", "float_seq")  # RecBole's FeatureType names in atomic headers
# A header field whose type runs on into another column: the file is separated by another character (group 1).
SEPARATOR_INSIDE = re.compile(r"^(?:token_seq|token|float_seq|float)([^\w:])")
FIELD_LIMIT = csv.field_size_limit()  # the longest field RecBole's reader (pandas' python engine, csv) accepts


def check_regular_file(path):
    """An atomic file is a regular file: a folder reads as nothing, and a named pipe or device blocks or streams
    (a pipe passed as empty)."""
    if path.is_dir():
        raise DataError(f"{path} is a folder; an atomic file is a text file of that name.")
    if not path.is_file():
        raise DataError(f"{path} is not a regular file (a named pipe, socket or device); an atomic file is a text file "
                        f"of that name: copy the data into one.")


CLOSED_QUOTE = re.compile(r'"(?:[^"]|"")*"')  # a field RecBole's reader (csv quoting) reads as one quoted value


def _misquoted(line, separator):
    """The first field of ``line`` that RecBole's reader cannot read as the quoted value it takes it for (it opens with
    a double quote), and why; or None. An unclosed quote takes the following lines into the field; text after the
    closing quote stops the reader with an error naming no file or line."""
    for value in line.split(separator):
        if value.startswith('"') and not CLOSED_QUOTE.fullmatch(value):
            closed = CLOSED_QUOTE.match(value)
            return value, ("has text after its closing quote, which RecBole's reader refuses" if closed else
                           "opens a double quote it does not close, so RecBole's reader would take the following "
                           "lines into it")
    return None


def _header(path, config):
    """``{field name: column header}`` of an atomic file's first line."""
    encoding = config["encoding"] or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"encoding {encoding!r} is not a text encoding Python knows (e.g. utf-8, latin-1).") from None
    try:
        with open(path, encoding=encoding) as file:
            line = file.readline().rstrip("\r\n")
    except UnicodeError:
        raise _encoding_error(path, encoding) from None
    if line.startswith("\ufeff"):
        raise DataError(f"{path} starts with a byte-order mark, which RecBole would read as part of the first "
                        f"column's name: save it without one, or set --encoding=utf-8-sig.")
    columns = line.split(config["field_separator"])
    fields = {}
    for column in columns:
        name, sep, ftype = column.partition(":")
        if not sep or not name or not ftype:
            raise DataError(f"{path}, line 1: column {column!r} is not of the form name:type (e.g. user_id:token, "
                            f"timestamp:float), separated by {config['field_separator']!r} (field_separator).")
        inner = SEPARATOR_INSIDE.match(ftype)
        if inner:
            found = inner.group(1)
            fix = "leave field_separator unset (a tab, RecBole's default)" if found == "\t" else \
                f"set field_separator to {found!r}"
            raise DataError(f"{path}, line 1: the header splits into {len(columns)} field(s) with field_separator "
                            f"{config['field_separator']!r}, and {column!r} holds several columns separated by "
                            f"{found!r}: {fix}.")
        if ftype not in FIELD_TYPES:
            raise DataError(f"{path}, line 1: column {column!r} has type {ftype!r}; RecBole's types are "
                            f"{', '.join(FIELD_TYPES)} (a timestamp is float).")
        if name in fields:
            raise DataError(f"{path}, line 1: field {name!r} appears twice in the header.")
        fields[name] = column
    return fields


def _read_columns(path, config, headers, as_recbole=False):
    """Columns (a table) as written, read in one pass; a missing (truncated) cell is an empty string. ``as_recbole``:
    as RecBole's reader reads them (quotes taken off; a cell pandas takes for a missing value, such as NA or None,
    is NaN), once the lines are known to be whole and well quoted (``_check_field_counts``)."""
    encoding, separator = config["encoding"] or "utf-8", config["field_separator"]
    as_written = {} if as_recbole else {"keep_default_na": False, "quoting": csv.QUOTE_NONE}
    try:
        table = pd.read_csv(path, sep=separator, usecols=list(headers), dtype=str, encoding=encoding,
                            engine="python" if len(separator) > 1 else "c", **as_written)
    except UnicodeError:
        raise _encoding_error(path, encoding) from None
    except pd.errors.ParserError as error:
        raise DataError(f"{path}: {str(error).strip()} (fields separated by {separator!r}, field_separator); "
                        f"fix that line.") from None
    return table if as_recbole else table.fillna("")


def _read_column(path, config, header, as_recbole=False):
    """One column, as ``_read_columns`` reads it."""
    return _read_columns(path, config, [header], as_recbole)[header]


def _check_not_read_as_missing(path, config, column, values, consequence, fix):
    """No written value of ``column`` (``values``: as written) is one RecBole's reader takes for a missing value:
    pandas' read_csv does so for NA, null, None, NaN, N/A, #N/A, "" and more (pandas is asked, so the lists agree)."""
    missing = _read_column(path, config, column, as_recbole=True).isna() & (values.str.strip() != "")
    rows = np.flatnonzero(missing.to_numpy())
    if len(rows):
        raise DataError(f"{path}, line {rows[0] + 2}: {column.partition(':')[0]} {values.iloc[rows[0]]!r} is read by "
                        f"RecBole's reader as a missing value, as pandas reads NA, null, None, NaN, N/A, #N/A and \"\" "
                        f"({len(rows)} such line(s)), so {consequence}: {fix}.")


def _check_filled(path, field, values, what, consequence):
    """No cell of a column the run needs is empty (``what``: the column, ``consequence``: what RecBole does then)."""
    empty = np.flatnonzero((values.str.strip() == "").to_numpy())
    if len(empty):
        raise DataError(f"{path}, line {empty[0] + 2}: empty {field} ({what}; {len(empty)} such line(s), e.g. a "
                        f"truncated last line). {consequence}: complete or remove these lines.")


def _check_ids(path, config, column, values):
    """An id column (``values``: as written) holds ids as RecBole reads them: an empty one or one pandas reads as
    missing (NA, None, ...) is dropped with its line, and one with spaces around it is another id."""
    field = column.partition(":")[0]
    _check_filled(path, field, values, "an id", "RecBole would drop the line")
    padded = np.flatnonzero((values != values.str.strip()).to_numpy())
    if len(padded):
        raise DataError(f"{path}, line {padded[0] + 2}: {field} {values.iloc[padded[0]]!r} has spaces around it "
                        f"({len(padded)} such line(s)), which RecBole reads as another id than "
                        f"{values.iloc[padded[0]].strip()!r}: remove them.")
    _check_not_read_as_missing(path, config, column, values, "RecBole would drop the line",
                           "rename the id in every file of the dataset (e.g. 'NA' to 'id_NA')")


def _check_field_counts(path, config, expected):
    """Every line has the header's number of fields (RecBole's reader drops surplus fields and fills missing ones
    silently: a separator inside a value, or a line cut short, shifts or loses data)."""
    separator, encoding = config["field_separator"], config["encoding"] or "utf-8"
    try:
        with open(path, encoding=encoding) as file:
            next(file, None)
            for number, line in enumerate(file, 2):
                line = line.rstrip("\r\n")
                if "\x00" in line:
                    raise DataError(f"{path}, line {number}: a NUL byte (a binary or corrupt file); remove it.")
                if len(line) > FIELD_LIMIT and max(map(len, line.split(separator))) > FIELD_LIMIT:
                    raise DataError(f"{path}, line {number}: a field longer than {FIELD_LIMIT:,} characters, which "
                                    f"RecBole's reader cannot read: shorten it (an LLM reads at most "
                                    f"max_title_tokens of a title anyway).")
                misquoted = _misquoted(line, separator)
                if misquoted is not None:
                    value, problem = misquoted
                    quoted = '"' + value.replace('"', '""') + '"'
                    raise DataError(f"{path}, line {number}: the value {value[:60]!r} {problem}: remove the quotes, "
                                    f"or quote the whole value with its inner quotes doubled ({quoted[:66]}).")
                if line and line.count(separator) + 1 != expected:
                    raise DataError(f"{path}, line {number}: {line.count(separator) + 1} fields where the header "
                                    f"has {expected} (separated by {separator!r}, field_separator): a separator "
                                    f"inside a value, or a line cut short; fix that line.")
    except UnicodeError:
        raise _encoding_error(path, encoding) from None


# Per config key naming a column the run needs: what the column is, why the run needs it (beyond the ids), the type
# RecBole needs it to have, and why.
ID_TYPE = ("token", "RecBole maps ids as tokens")
FIELD_KEYS = {
    "USER_ID_FIELD": ("user id", "", *ID_TYPE),
    "ITEM_ID_FIELD": ("item id", "", *ID_TYPE),
    "TIME_FIELD": ("timestamp", " (the split orders each user's interactions by time: eval_args order TO)", "float",
                   "RecBole would order a token column by first appearance, not by time"),
}


def _column_type(column):
    """The type of a header column ``name:type``."""
    return column.partition(":")[2]


def _required_fields(config, header):
    """The keys of the columns a run needs: the ids, and the timestamp where the split or the pre-split files' samples
    are built by time (pre-split samples with their history, ``item_id_list``, need none)."""
    keys = ["USER_ID_FIELD", "ITEM_ID_FIELD"]
    if (config["eval_args"] or {}).get("order") == "TO" and not (config["benchmark_filename"]
                                                                  and holds_samples(header, config)):
        keys.append("TIME_FIELD")
    return keys


def _check_required_column(path, config, header, loaded, key):
    """The column ``key`` names is in the header, loaded, and of the type RecBole needs: a wrong one is named by its
    key, since the key may name the wrong column as well as the header give the wrong type."""
    field, (what, why_needed, ftype, why_type) = config[key], FIELD_KEYS[key]
    if field not in header:
        raise DataError(f"{path} has no {field} column ({what}{why_needed}); its columns are {', '.join(header)}. Add "
                        f"it, or name the right column with {key}.")
    if loaded is not None and field not in loaded:
        raise DataError(f"load_col's inter list {loaded} does not load {field} ({what}{why_needed}) from {path}: add "
                        f"it.")
    if _column_type(header[field]) != ftype:
        raise DataError(f"{path}, line 1: {key} names column {header[field]!r} as the {what}, which must have type "
                        f"{ftype} ({why_type}): set {key} to the {what} column, or write {field}:{ftype} if this "
                        f"column is it.")


def check_inter_file(path, config):
    """An interaction file: not empty, a well-formed header with the id and time fields of their types, values of
    the header's types. Returns the header and the needed columns' values (a DataFrame of text, one row a line)."""
    check_regular_file(path)
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty: an atomic .inter file starts with a header line such as "
                        f"'user_id:token<TAB>item_id:token<TAB>timestamp:float', then one interaction per line.")
    header = _header(path, config)
    loaded = (config["load_col"] or {}).get("inter") if config["load_col"] else None
    _check_loaded_columns(path, header, loaded, "inter")
    keys = _required_fields(config, header)
    for key in keys:
        _check_required_column(path, config, header, loaded, key)
    _check_field_counts(path, config, len(header))
    columns = {}
    for key in keys:
        field, (what, why_needed, _, _) = config[key], FIELD_KEYS[key]
        values = columns[field] = _read_column(path, config, header[field])
        if values.empty:
            raise DataError(f"{path} has a header but no interactions.")
        if key == "TIME_FIELD":
            _check_filled(path, field, values, f"{what}{why_needed}", "RecBole would fill it with the column mean, "
                          "which moves the line to the end of its user's sequence, where it becomes the test target")
        else:
            _check_ids(path, config, header[field], values)
    _check_values(path, config, header, loaded)
    return header, pd.DataFrame(columns)


def _check_values(path, config, header, loaded):
    """Every value of a number column parses as its type (RecBole stops at the first that does not, naming neither
    file nor line): finite numbers, in a float_seq column separated by seq_separator. Text, inf or nan in a timestamp
    would sort a line anywhere in its user's sequence. An empty :float value of a column RecBole loads (``loaded``:
    load_col's list for the file, None for all) would be filled with the column's mean, without a word. A column
    RecBole does not load is not read (a file of 10,000 unused columns is read once, for the loaded ones)."""
    numeric = {field: column for field, column in header.items() if _column_type(column) in ("float", "float_seq")
               and (loaded is None or field in loaded)}
    table = _read_columns(path, config, numeric.values()) if numeric else None
    for field, column in numeric.items():
        ftype, values = _column_type(column), table[column]
        if ftype == "float":
            _check_filled(path, field, values, "a :float column", "RecBole would fill it with the column's mean "
                          "(leave the column out of load_col if the run does not need it)")
        cells = values.str.split(config["seq_separator"]).explode() if ftype == "float_seq" else values
        numbers = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
        bad = cells.index[~np.isfinite(numbers) & (cells.str.strip() != "").to_numpy()].unique()
        if len(bad):
            expected = "a finite number" if ftype == "float" else \
                f"a list of finite numbers separated by {config['seq_separator']!r} (seq_separator)"
            example = " (a timestamp: e.g. seconds since 1970)" if field == config["TIME_FIELD"] else ""
            raise DataError(f"{path}, line {bad[0] + 2}: {field} {values.iloc[bad[0]]!r} is not {expected} "
                            f"({len(bad)} such line(s)); a :{ftype} column holds finite numbers only{example}.")


def _check_loaded_columns(path, header, loaded, kind):
    """Every column load_col names for this file is in its header (RecBole skips a missing one silently)."""
    missing = [field for field in loaded or [] if field not in header]
    if missing:
        raise DataError(f"load_col's {kind} list names {missing}, which {path} has no column of (its columns: "
                        f"{', '.join(header)}): remove them or correct their names.")


def _check_repeated_interactions(parts):
    """No line repeats another's user, item and timestamp, in its own file or in another part of a pre-split dataset
    (``parts``: ``{path: needed columns}``): RecBole keeps both, and a repeated interaction becomes a test target that
    is also in its history or in the training data, inflating every metric."""
    values = pd.concat(parts.values(), ignore_index=True)
    repeated = np.flatnonzero(values.duplicated().to_numpy())
    if not len(repeated):
        return
    paths = np.repeat(np.array(list(parts), dtype=object), [len(columns) for columns in parts.values()])
    lines = np.concatenate([np.arange(len(columns)) + 2 for columns in parts.values()])
    first = values.iloc[repeated[0]]
    original = int(np.flatnonzero((values == first).all(axis=1).to_numpy())[0])
    path = paths[repeated[0]]
    other = f"line {lines[original]}" if paths[original] == path else f"{paths[original]}, line {lines[original]}"
    fix = "remove the repeats" if len(parts) > 1 else ("remove the repeats, or set rm_dup_inter: first to have "
                                                       "RecBole keep each user's first interaction with an item")
    raise DataError(f"{path}, line {lines[repeated[0]]} repeats {other} ({', '.join(values.columns)}: "
                    f"{', '.join(map(str, first))}; {len(repeated)} repeated line(s)): {fix}.")


def _check_part_types(headers):
    """Pre-split parts (``{path: header}``) give a column one type: RecBole stacks them into one table (a column
    typed token in one part and float in another failed there, naming neither)."""
    first = {}
    for path, header in headers.items():
        for field, column in header.items():
            earlier_path, earlier = first.setdefault(field, (path, column))
            if column != earlier:
                raise DataError(f"{path}, line 1: column {column!r} is {earlier!r} in {earlier_path}: RecBole stacks "
                                f"the parts into one table, so give the column one type in every part.")


def _check_pre_split_parts(config, parts):
    """Pre-split files of plain interactions (``parts``: ``{path: needed columns}``, train first) become samples as
    leave-one-out makes them (``datasets.PreSplitInteractions``): each user's lines in time order across the parts,
    a line's history being the user's earlier lines. So each part must follow the earlier ones in time, and give
    samples."""
    uid, time = config["USER_ID_FIELD"], config["TIME_FIELD"]
    seen = pd.DataFrame({"user": pd.Series(dtype=object), "time": pd.Series(dtype=float), "written": "", "line": 0,
                         "path": None})  # the lines of the parts before
    for number, (part, (path, columns)) in enumerate(zip(config["benchmark_filename"], parts.items())):
        lines = pd.DataFrame({"user": columns[uid], "time": pd.to_numeric(columns[time]), "written": columns[time],
                              "line": np.arange(len(columns)) + 2, "path": path})
        if number:
            _check_one_line_per_user(path, lines)
        _check_after_earlier_parts(path, lines, seen)
        _check_histories(config, part, path, lines, seen)
        seen = pd.concat([seen, lines], ignore_index=True)


def _check_one_line_per_user(path, lines):
    """An evaluation part (valid, test) holds one line per user: results are recorded as one rank per user, so a
    second line of a user would shift every later user's rank onto the wrong user."""
    again = lines[lines["user"].duplicated()]
    if len(again):
        user, second = again["user"].iloc[0], again["line"].iloc[0]
        first = lines.loc[lines["user"] == user, "line"].iloc[0]
        raise DataError(f"{path}, line {second}: user {user!r} has a second line in this "
                        f"evaluation part (the first is line {first}; {again['user'].nunique()} such user(s)); "
                        f"each user is evaluated once per part: keep the last line, and move the earlier ones to the "
                        f"training file.")


def _check_after_earlier_parts(path, lines, seen):
    """No line of a part is dated before a line of its user in an earlier part (``seen``): its own future would enter
    that part's histories, and it would have none of its own (a test file of such lines tested nobody)."""
    early = lines["time"] < lines["user"].map(seen.groupby("user")["time"].max())
    if early.any():
        line = lines[early].iloc[0]
        later = seen[(seen["user"] == line["user"]) & (seen["time"] > line["time"])].iloc[0]
        raise DataError(f"{path}, line {line['line']}: the interaction of user {line['user']!r} at {line['written']} "
                        f"is dated before the user's line {later['line']} in {later['path']} (at {later['written']}): "
                        f"a part of a pre-split dataset holds each user's interactions after those in the parts "
                        f"before it. Fix the timestamps, or move the lines to the part they belong to.")


def _check_histories(config, part, path, lines, seen):
    """A part's line with no earlier line of its user (in it or in ``seen``) has no history, and sequential models
    drop it: normal in the first part, counted in a later one (``_report_dropped``); a part left with no sample is
    refused."""
    firsts = lines.sort_values("time", kind="stable").drop_duplicates("user")  # each user's first line here
    cold = firsts[~firsts["user"].isin(seen["user"])]
    before = ", ".join(dict.fromkeys(Path(earlier).name for earlier in seen["path"])) or "no earlier part"
    if len(cold) == len(lines):
        raise DataError(f"{path} gives no {part} sample: each of its {len(lines)} line(s) is the first interaction of "
                        f"its user (none in {before}), which has no history to predict it from. A part of a pre-split "
                        f"dataset holds each user's later interactions, after those in the parts before it.")
    if len(seen) and len(cold):
        example = cold.sort_values("line").iloc[0]
        _report_dropped(config, f"{len(cold)} line(s) of {path} are the first interaction of their user (none in "
                                f"{before}), so they have no history and sequential models drop them (e.g. line "
                                f"{example['line']}, user {example['user']!r}).",
                        f"Add the users' earlier interactions to {before}, or remove these lines")


def _report_dropped(config, message, fix):
    """Data RecBole would drop or keep without what it needs (``message`` says which and what RecBole does, ``fix``
    how to complete it): a warning, or with ``strict_data`` an error."""
    if config["strict_data"]:
        raise DataError(f"{message} {fix}, or run without --strict_data to go on with a warning.")
    getLogger().warning(f"{message} (--strict_data=True refuses such data)")


def _fate_of_unknown_items(config):
    """What RecBole does with interactions of items absent from the ``.item`` file: it drops them where it filters the
    interactions (Dataset._filter_inter_by_user_or_item), which it does only for a dataset it splits itself."""
    kept = "so RecBole keeps them as items without features (LLM models refuse items without a title)"
    if config["benchmark_filename"]:
        return f"pre-split files are not filtered, {kept}"
    if not config["filter_inter_by_user_or_item"]:
        return f"filter_inter_by_user_or_item is False, {kept}"
    return "RecBole drops them"


def check_items_have_metadata(path, item_file, config):
    """Count interactions with items missing from the ``.item`` file, saying what RecBole does with them (silently):
    a warning, or an error with ``strict_data``."""
    iid = config["ITEM_ID_FIELD"]
    inter_items = _read_column(path, config, _header(path, config)[iid])
    known = set(_read_column(item_file, config, _header(item_file, config)[iid]))
    unknown = ~inter_items.isin(known)
    count = int(unknown.sum())
    if not count:
        return 0
    _report_dropped(config, f"{count} of {len(inter_items)} interactions in {path} name items absent from {item_file} "
                            f"(e.g. {inter_items[unknown].iloc[0]!r}): {_fate_of_unknown_items(config)}.",
                    f"Add the items to {item_file.name}")
    return count


def check_sequence_cells(path, config):
    """Under pandas >= 3 RecBole 1.2.1 cannot read an empty token_seq / float_seq cell, or one pandas reads as missing
    (see compat): refuse it."""
    if int(pd.__version__.split(".")[0]) < 3:
        return
    for field, column in _header(path, config).items():
        if column.endswith(("token_seq", "float_seq")):
            values = _read_column(path, config, column)
            empty = np.flatnonzero((values.str.strip() == "").to_numpy())
            if len(empty):
                raise DataError(f"{path}, line {empty[0] + 2}: empty {field} ({len(empty)} such line(s)), which "
                                f"RecBole 1.2.1 cannot read under pandas {pd.__version__}: fill the cells, or drop "
                                f"the column from load_col.")
            _check_not_read_as_missing(path, config, column, values, f"RecBole 1.2.1 cannot read it under pandas "
                                   f"{pd.__version__}", "write it otherwise, or drop the column from load_col")


def _check_text_field(item_file, header, config):
    """The titles' column (``item_text_field``) is text: RecBole would read a float one as numbers, or fail."""
    field = config["item_text_field"]
    if field in header and _column_type(header[field]) not in {ftype.value for ftype in TEXT_TYPES}:
        raise DataError(f"{item_file}, line 1: column {header[field]!r} holds the item titles (item_text_field), "
                        f"which are text: write {field}:token_seq (or {field}:token, one token a title).")


def _check_titles(path, config, header):
    """No title is one RecBole's reader takes for a missing value: the item would have none (a token_seq title
    'None' stopped RecBole with "'float' object has no attribute 'split'")."""
    field = config["item_text_field"]
    if field in header:
        _check_not_read_as_missing(path, config, header[field], _read_column(path, config, header[field]),
                               "the item would have no title", "write the title otherwise (e.g. with its year)")


def _loaded_feature_file(config, kind):
    """The dataset's ``.item`` or ``.user`` file (``kind``) if RecBole loads it, else None (RecBole skips one that is
    not a regular file without a word)."""
    path = Path(config["data_path"]) / f"{config['dataset']}.{kind}"
    if path.exists():
        check_regular_file(path)
    return path if path.is_file() and (not config["load_col"] or kind in config["load_col"]) else None


FEATURE_ID_KEYS = {"item": "ITEM_ID_FIELD", "user": "USER_ID_FIELD"}  # the key naming the id column of each file


def _feature_header(path, config, kind):
    """The header of a loaded ``.item`` or ``.user`` file, which has the id column its key names, loaded: RecBole joins
    the file to the interactions by it, and fails without it (swapped id keys, or load_col leaving it out)."""
    header, key = _header(path, config), FEATURE_ID_KEYS[kind]
    field, loaded = config[key], (config["load_col"] or {}).get(kind)
    fix = f"name its id column with {key}, or leave {kind} out of load_col to run without the file"
    if field not in header:
        raise DataError(f"{path} has no {field} column ({key}), by which RecBole joins it to the interactions (its "
                        f"columns: {', '.join(header)}): {fix}.")
    if loaded is not None and field not in loaded:
        raise DataError(f"load_col's {kind} list {loaded} does not load {field} ({key}), by which RecBole joins "
                        f"{path} to the interactions: add it.")
    return header


def _check_feature_file(path, config, kind, header):
    """A ``.item`` or ``.user`` file: load_col's columns, whole lines, values of their types."""
    loaded = (config["load_col"] or {}).get(kind)
    _check_loaded_columns(path, header, loaded, kind)
    _check_field_counts(path, config, len(header))
    id_column = header[config[FEATURE_ID_KEYS[kind]]]
    ids = _read_column(path, config, id_column)
    if ids.empty:
        raise DataError(f"{path} has a header but no {kind}s: add one line per {kind}, or remove the file (or its "
                        f"load_col entry) to run without {kind} features.")
    _check_ids(path, config, id_column, ids)
    twice = np.flatnonzero(ids.duplicated().to_numpy())
    if len(twice):
        raise DataError(f"{path}, line {twice[0] + 2}: {kind} {ids.iloc[twice[0]]!r} is listed again "
                        f"({len(twice)} repeated id(s)); which line RecBole keeps is undefined: keep one "
                        f"line per {kind}.")
    if kind == "item":
        _check_titles(path, config, header)
    check_sequence_cells(path, config)
    _check_values(path, config, header, loaded)


# Every config key ``check_atomic_files`` reads (tested): two configs that agree on them check the same files the
# same way, so a planner checks each such set once.
ATOMIC_FILE_KEYS = ("data_path", "dataset", "benchmark_filename", "encoding", "field_separator", "seq_separator",
                    "load_col", "USER_ID_FIELD", "ITEM_ID_FIELD", "TIME_FIELD", "LIST_SUFFIX", "item_text_field",
                    "rm_dup_inter", "filter_inter_by_user_or_item", "eval_args", "eval_users", "strict_data", "topk")


class AtomicFileChecks:
    """``check_atomic_files`` for the many runs a planner plans: each way of reading the files is checked once, and
    its error raised again for every run that reads them so."""

    def __init__(self):
        self.errors = {}  # {the values of ATOMIC_FILE_KEYS: the error of those files, or None}

    def check(self, config):
        key = repr([config[key] for key in ATOMIC_FILE_KEYS])
        if key not in self.errors:
            try:
                check_atomic_files(config)
                self.errors[key] = None
            except UserError as error:  # a DataError, or a file missing
                self.errors[key] = error
        if self.errors[key] is not None:
            raise self.errors[key]


def check_atomic_files(config):
    """Run before RecBole loads ``config``'s dataset."""
    item_file = _loaded_feature_file(config, "item")
    parts, headers = {}, {}
    for path in (Path(config["data_path"]) / name for name in inter_files(config["dataset"],
                                                                          config["benchmark_filename"])):
        headers[path], parts[path] = check_inter_file(path, config)
        check_sequence_cells(path, config)
    _check_part_types(headers)
    item_header = item_file and _feature_header(item_file, config, "item")
    for path in parts if item_file else ():
        check_items_have_metadata(path, item_file, config)
    if not config["rm_dup_inter"]:
        _check_repeated_interactions(parts)
    if config["benchmark_filename"] and all(config["TIME_FIELD"] in columns for columns in parts.values()):
        _check_pre_split_parts(config, parts)
    if item_file:
        _check_text_field(item_file, item_header, config)
        _check_feature_file(item_file, config, "item", item_header)
    user_file = _loaded_feature_file(config, "user")
    if user_file:
        _check_feature_file(user_file, config, "user", _feature_header(user_file, config, "user"))


def _column(dataset, field):
    return np.asarray(dataset.inter_feat[field], dtype=np.int64)  # a DataFrame before the split, tensors after


def items_per_user(dataset):
    """Distinct items each user (internal ids 1..) interacted with."""
    pairs = np.unique(_column(dataset, dataset.uid_field) * dataset.item_num + _column(dataset, dataset.iid_field))
    return np.bincount(pairs // dataset.item_num, minlength=dataset.user_num)[1:]


def _leave_one_out(config):
    """RecBole's leave-one-out split of one ``.inter`` (``valid_and_test`` or ``test_only``), or None."""
    split = (config["eval_args"] or {}).get("split") or {}
    return None if config["benchmark_filename"] else split.get("LS")


def _interactions_per_user(dataset):
    return np.bincount(_column(dataset, dataset.uid_field), minlength=dataset.user_num)[1:]


def leave_one_out_training_samples(config, dataset):
    """The training samples leave-one-out gives a sequential model (each user's items but the first, less the held-out
    ones), or None under another split."""
    split = _leave_one_out(config)
    if split is None:
        return None
    held_out = 2 if split == "valid_and_test" else 1
    return int(np.maximum(_interactions_per_user(dataset) - 1 - held_out, 0).sum())


def check_loaded_dataset(config, dataset):
    """Run on RecBole's loaded (filtered) dataset: enough interactions per user for the split, and enough items
    outside every user's history for the sampled candidates."""
    counts = _interactions_per_user(dataset)
    interacted = items_per_user(dataset)
    if _leave_one_out(config) is not None:
        tested = int((counts >= 3).sum())
        if not tested:
            raise DataError(f"Dataset '{config['dataset']}': no user has the 3 interactions leave-one-out needs (one "
                            f"to train on, one to validate, one to test; the most any user has is "
                            f"{counts.max(initial=0)}).")
        if config["eval_users"] and config["eval_users"] >= tested:
            raise DataError(f"eval_users={config['eval_users']} is not below the {tested} users dataset "
                            f"'{config['dataset']}' tests: leave eval_users unset (~) to test every user, or lower it "
                            f"(the result would record a subset it did not draw).")
        few = int((counts < 3).sum())
        if few:  # a sequential model's samples are a user's items but the first: the two families split apart
            getLogger().warning(
                f"Dataset '{config['dataset']}': {few} user(s) have fewer than 3 interactions. Leave-one-out then "
                f"tests sequential models (SASRec, the LLM models) and general ones (Pop) on different users and "
                f"candidates, which the leaderboard refuses to compare: set user_inter_num_interval: \"[3,inf)\".")
    ranked = min(candidates_per_user(config, phase) or dataset.item_num - 1 for phase in ("valid", "test"))
    topk = config["topk"] if isinstance(config["topk"], list) else [config["topk"]]
    if max(topk) > ranked:
        raise DataError(f"topk {topk} asks for the top {max(topk)} of the {ranked} items each evaluated user of "
                        f"dataset '{config['dataset']}' ranks: lower topk to at most {ranked}.")
    needed = max(candidates_per_user(config, phase) for phase in ("valid", "test")) - 1
    short = int((dataset.item_num - 1 - interacted < needed).sum()) if needed > 0 else 0
    if short:
        raise DataError(
            f"Dataset '{config['dataset']}' has {dataset.item_num - 1} items; {short} user(s) have interacted with "
            f"so many (up to {interacted.max()}) that fewer than the {needed} negatives each evaluated user needs "
            f"are left. Filter such users (user_inter_num_interval) or use a protocol with fewer candidates.")
