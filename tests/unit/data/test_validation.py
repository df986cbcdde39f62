"""Checks of a dataset's atomic files before RecBole reads them: a column of the wrong type, a value that does not
parse as its column's type, a header split by the wrong separator, and pre-split files that disagree with each other
or with time are named by file, line and the key to change."""

import re

import pytest
from conftest import TINY_RUN, write_atomic_dataset
from unit.data.test_datasets import split_by_user

from recbole_ilora.config import Config
from recbole_ilora.data import load_dataset
from recbole_ilora.data.validation import ATOMIC_FILE_KEYS, AtomicFileChecks, check_atomic_files
from recbole_ilora.errors import ConfigurationError, DataError

PARTS = ["train", "valid", "test"]


def edit(path, change):
    path.write_text(change(path.read_text()))


def checked(root, name="tiny", **keys):
    """Check ``root/name`` as run_recbole does before RecBole reads it."""
    check_atomic_files(Config("SASRec", name, config_dict={**TINY_RUN, "data_path": str(root), **keys}))


@pytest.fixture
def data(tmp_path):
    return write_atomic_dataset(tmp_path / "data")


def test_a_timestamp_typed_token_is_refused_naming_the_column_and_float(data):
    """RecBole orders a token column by first appearance: on a shuffled file the test targets were wrong."""
    edit(data / "tiny" / "tiny.inter", lambda text: text.replace("timestamp:float", "timestamp:token", 1))
    with pytest.raises(DataError, match=re.escape(f"{data / 'tiny' / 'tiny.inter'}, line 1: TIME_FIELD names column "
                                                  f"'timestamp:token' as the timestamp, which must have type float")):
        checked(data)


@pytest.mark.parametrize("key, column, what", [("USER_ID_FIELD", "rating:float", "user id"),
                                               ("ITEM_ID_FIELD", "timestamp:float", "item id"),
                                               ("TIME_FIELD", "user_id:token", "timestamp")])
def test_a_key_naming_a_column_of_another_type_is_named(data, key, column, what):
    """The key may name the wrong column as well as the header give the wrong type: the message names both fixes."""
    with pytest.raises(DataError, match=re.escape(f"{key} names column '{column}' as the {what}, which must have "
                                                  f"type") + r".*: set " + key + f" to the {what} column, or write"):
        checked(data, **{key: column.split(":")[0]})


@pytest.mark.parametrize("separator, found, fix", [(",", "\t", "leave field_separator unset"),
                                                   ("\t", ",", "set field_separator to ','")])
def test_a_header_read_with_the_wrong_separator_names_field_separator(data, separator, found, fix):
    if separator == "\t":
        edit(data / "tiny" / "tiny.inter", lambda text: text.replace("\t", ","))
    with pytest.raises(DataError, match=re.escape(f"line 1: the header splits into 1 field(s) with field_separator "
                                                  f"{separator!r}") + ".*" + re.escape(f"by {found!r}: {fix}")):
        checked(data, field_separator=separator)


def test_a_title_column_typed_float_is_refused_before_recbole(data):
    edit(data / "tiny" / "tiny.item", lambda text: text.replace("movie_title:token_seq", "movie_title:float", 1))
    with pytest.raises(DataError, match=re.escape(f"{data / 'tiny' / 'tiny.item'}, line 1: column 'movie_title:float' "
                                                  f"holds the item titles (item_text_field), which are text")):
        checked(data, item_text_field="movie_title")
    with pytest.raises(DataError, match=re.escape(f"{data / 'tiny' / 'tiny.item'}, line 2: movie_title 'Movie number "
                                                  f"1' is not a finite number (60 such line(s))")):
        checked(data)  # no titles read: still a value RecBole cannot convert


def test_values_of_item_and_user_files_parse_as_their_types(data):
    folder = data / "tiny"
    header, *lines = (folder / "tiny.item").read_text().splitlines()
    lines = [f"{line}\t{'1 x' if line.startswith('i7') else '1 2.5'}" for line in lines]
    (folder / "tiny.item").write_text("\n".join([f"{header}\tscore:float_seq", *lines]) + "\n")
    load_col = {**TINY_RUN["load_col"], "item": ["item_id", "movie_title", "score"]}
    with pytest.raises(DataError, match=re.escape("tiny.item, line 8: score '1 x' is not a list of finite numbers "
                                                  "separated by ' ' (seq_separator) (1 such line(s))")):
        checked(data, load_col=load_col)
    edit(folder / "tiny.item", lambda text: text.replace("1 x", "1 3"))
    checked(data, load_col=load_col)
    (folder / "tiny.user").write_text("user_id:token\tage:float\nu1\t25\nu2\tunknown\n")
    with pytest.raises(DataError, match=re.escape("tiny.user, line 3: age 'unknown' is not a finite number")):
        checked(data, load_col={**load_col, "user": ["user_id", "age"]})
    checked(data)  # load_col reads no .user file


@pytest.fixture
def split(tmp_path):
    """The tiny dataset as pre-split files of plain interactions (each user's last two lines held out)."""
    return split_by_user(write_atomic_dataset(tmp_path / "data"))


def add_lines(root, part, lines):
    with open(root / "tiny" / f"tiny.{part}.inter", "a") as file:
        file.write("".join(line + "\n" for line in lines))


def test_a_pre_split_line_repeated_in_another_part_is_refused_naming_both_files(split):
    """Every test line also in the training file gave hit@1 0.87 instead of 0.07."""
    folder = split / "tiny"
    test_lines = (folder / "tiny.test.inter").read_text().splitlines()[1:]
    add_lines(split, "train", test_lines)
    train_length = len((folder / "tiny.train.inter").read_text().splitlines())
    with pytest.raises(DataError, match=re.escape(f"{folder / 'tiny.test.inter'}, line 2 repeats "
                                                  f"{folder / 'tiny.train.inter'}, line {train_length - 29} (user_id, "
                                                  f"item_id, timestamp: ") + ".*; 30 repeated line"):
        checked(split, benchmark_filename=PARTS)


def test_pre_split_parts_that_type_a_column_otherwise_are_refused(split):
    """rating:token in the training part, rating:float in the others: a TypeError in RecBole's stacking."""
    train = split / "tiny" / "tiny.train.inter"
    edit(train, lambda text: text.replace("rating:float", "rating:token", 1))
    with pytest.raises(DataError, match=re.escape(f"column 'rating:float' is 'rating:token' in {train}")):
        checked(split, benchmark_filename=PARTS)


def test_pre_split_lines_dated_before_the_earlier_parts_are_refused(split):
    """Test lines dated before the users' training lines gave a run with no test user, exit status 0."""
    test = split / "tiny" / "tiny.test.inter"
    header, *lines = test.read_text().splitlines()
    test.write_text("\n".join([header, *("\t".join(line.split("\t")[:3] + ["5"]) for line in lines)]) + "\n")
    with pytest.raises(DataError, match=re.escape(f"{test}, line 2: the interaction of user 'u1' at 5 is dated before "
                                                  f"the user's line 2 in {split / 'tiny' / 'tiny.train.inter'} (at "
                                                  f"1001000)")):
        checked(split, benchmark_filename=PARTS)


def test_a_user_with_two_lines_in_an_evaluation_part_is_refused(split):
    """A second test line of a user gave 31 users for 30 ranks in the JSON: every later rank on the wrong user."""
    test = split / "tiny" / "tiny.test.inter"
    header, first, *others = test.read_text().splitlines()
    user, item, rating, timestamp = first.split("\t")
    add_lines(split, "test", ["\t".join([user, item, rating, str(float(timestamp) + 1)])])
    with pytest.raises(DataError, match=re.escape(f"{test}, line {len(others) + 3}: user {user!r} has a second line in "
                                                  f"this evaluation part (the first is line 2; 1 such user(s))")):
        checked(split, benchmark_filename=PARTS)


def test_a_pre_split_line_without_history_is_counted_and_a_part_without_samples_refused(split, caplog):
    """A test user with no training or validation line was dropped without a word."""
    add_lines(split, "test", ["u999\ti5\t3\t5000000"])
    checked(split, benchmark_filename=PARTS)
    test = split / "tiny" / "tiny.test.inter"
    assert f"1 line(s) of {test} are the first interaction of their user (none in tiny.train.inter, " \
           f"tiny.valid.inter), so they have no history and sequential models drop them (e.g. line 32, user 'u999')" \
        in caplog.text
    with pytest.raises(DataError, match=r"u999'\)\. Add the users' earlier interactions .* without --strict_data"):
        checked(split, benchmark_filename=PARTS, strict_data=True)
    header, *lines = test.read_text().splitlines()
    test.write_text("\n".join([header, *(line.replace("\tu", "\tv").replace("u", "new", 1) for line in lines)]) + "\n")
    with pytest.raises(DataError, match=re.escape(f"{test} gives no test sample: each of its 31 line(s) is the first "
                                                  f"interaction of its user (none in tiny.train.inter, "
                                                  f"tiny.valid.inter)")):
        checked(split, benchmark_filename=PARTS)


def test_the_samples_of_a_valid_pre_split_dataset_are_kept(split):
    config = Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(split), "benchmark_filename": PARTS})
    dataset = load_dataset(config)
    assert len(dataset.inter_feat) == sum(len((split / "tiny" / f"tiny.{part}.inter").read_text().splitlines()) - 1
                                          for part in PARTS)


@pytest.mark.parametrize("key, value", [("user_inter_num_interval", "[5,inf)"), ("rm_dup_inter", "first"),
                                        ("val_interval", {"rating": "[3,inf)"})])
def test_a_filter_recbole_skips_for_pre_split_files_is_refused(split, key, value):
    """RecBole filters only a dataset it splits itself (Dataset._data_processing): on pre-split files the key would be
    recorded in the result and change nothing."""
    with pytest.raises(ConfigurationError, match=f"{key} would not be applied: RecBole filters only a dataset it splits"):
        Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(split), "benchmark_filename": PARTS,
                                              key: value})


class KeysRead:
    """A config that records which of its keys are read."""

    def __init__(self, config):
        self.config, self.read = config, set()

    def __getitem__(self, key):
        self.read.add(key)
        return self.config[key]


@pytest.mark.parametrize("dataset, keys", [("data", {}), ("split", {"benchmark_filename": PARTS})])
def test_the_file_checks_read_only_the_keys_a_planner_checks_them_once_by(dataset, keys, request):
    """A planner checks each way of reading the files once (``AtomicFileChecks``), keyed by ``ATOMIC_FILE_KEYS``:
    a key the checks read beyond them would let two different checks pass as one."""
    root = request.getfixturevalue(dataset)
    config = KeysRead(Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(root),
                                                             **keys}))
    check_atomic_files(config)
    assert config.read and config.read <= set(ATOMIC_FILE_KEYS), config.read - set(ATOMIC_FILE_KEYS)


def test_a_planner_checks_each_way_of_reading_the_files_once_and_repeats_its_error(data):
    checks = AtomicFileChecks()
    good = Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(data)})
    checks.check(good)
    checks.check(Config("GRU4Rec", "tiny", config_dict={**TINY_RUN, "data_path": str(data)}))
    assert len(checks.errors) == 1
    bad = Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(data),
                                                 "load_col": {"inter": ["user_id", "item_id"]}})
    for _ in range(2):
        with pytest.raises(DataError, match="load_col's inter list \\['user_id', 'item_id'\\] does not load timestamp"):
            checks.check(bad)
    assert len(checks.errors) == 2


def test_a_feature_file_without_the_id_column_its_key_names_is_named(data):
    """Swapped id keys (items as users) ended in a KeyError: RecBole joins a loaded .item file by ITEM_ID_FIELD."""
    swapped = {"USER_ID_FIELD": "item_id", "ITEM_ID_FIELD": "user_id"}
    with pytest.raises(DataError, match=re.escape(f"{data / 'tiny' / 'tiny.item'} has no user_id column "
                                                  f"(ITEM_ID_FIELD), by which RecBole joins it to the interactions")):
        checked(data, **swapped)
    with pytest.raises(DataError, match=re.escape("load_col's item list ['movie_title'] does not load item_id "
                                                  "(ITEM_ID_FIELD), by which RecBole joins")):
        checked(data, load_col={**TINY_RUN["load_col"], "item": ["movie_title"]})
    checked(data, **swapped, load_col={"inter": TINY_RUN["load_col"]["inter"]})  # items as users, without titles


@pytest.mark.parametrize("title, problem", [
    ('"Heat" (1995)', "has text after its closing quote, which RecBole's reader refuses"),
    ('"Heat" ', "has text after its closing quote, which RecBole's reader refuses"),
    ('"Heat (1995)', "opens a double quote it does not close")])
def test_a_value_that_recbole_reader_cannot_read_as_quoted_is_named_with_its_fix(data, title, problem):
    """A value opening with a double quote is a quoted one to RecBole's reader: text after the closing quote stopped
    it with "'\\t' expected after '\"'", naming no file or line."""
    item = data / "tiny" / "tiny.item"
    edit(item, lambda text: text.replace("\tMovie number 5\n", f"\t{title}\n"))
    with pytest.raises(DataError, match=re.escape(f"{item}, line 6: the value {title!r} {problem}")):
        checked(data)
    quoted = '"' + title.replace('"', '""') + '"'
    edit(item, lambda text: text.replace(f"\t{title}\n", f"\t{quoted}\n"))
    checked(data)  # the fix the message gives


def edited_line(path, pattern, replacement):
    """Replace ``pattern`` (a regex, per line) in ``path``; return the number of the first line it changed."""
    before = path.read_text().splitlines()
    after = [re.sub(pattern, replacement, line) for line in before]
    path.write_text("\n".join(after) + "\n")
    return next(number for number, (old, new) in enumerate(zip(before, after), 1) if old != new)


MISSING = "is read by RecBole's reader as a missing value"
# file, line pattern, replacement, the message's start after "FILE, line N: "
MISSING_VALUES = [
    ("inter", r"^u3\t", "NA\t", f"user_id 'NA' {MISSING}"),
    ("inter", r"^u4\t", "null\t", f"user_id 'null' {MISSING}"),
    ("inter", r"\ti7\t", "\tNone\t", f"item_id 'None' {MISSING}"),
    ("inter", r"\ti8\t", '\t"NaN"\t', f"item_id '\"NaN\"' {MISSING}"),
    ("inter", r"\ti8\t", '\t""\t', f"item_id '\"\"' {MISSING}"),
    ("item", r"^i7\t", "N/A\t", f"item_id 'N/A' {MISSING}"),
    ("item", r"^i8\t", "\t", "empty item_id"),
    ("item", r"^(i7\t).*", r"\1None", f"movie_title 'None' {MISSING}"),
    ("item", r"^(i8\t).*", r"\1#N/A", f"movie_title '#N/A' {MISSING}"),
]


@pytest.mark.parametrize("suffix, pattern, replacement, message", MISSING_VALUES)
def test_an_id_or_title_read_as_missing_is_named(data, suffix, pattern, replacement, message):
    """pandas reads NA, null, None, NaN, N/A, ... as missing values: RecBole dropped the lines of such ids without a
    word, and a title 'None' ended in "'float' object has no attribute 'split'"."""
    path = data / "tiny" / f"tiny.{suffix}"
    line = edited_line(path, pattern, replacement)
    with pytest.raises(DataError, match=re.escape(f"{path}, line {line}: {message}")):
        checked(data, item_text_field="movie_title")


def test_an_id_read_as_missing_is_named_in_a_user_file(data):
    (data / "tiny" / "tiny.user").write_text("user_id:token\tage:float\nu1\t25\nnan\t30\n")
    with pytest.raises(DataError, match=re.escape(f"tiny.user, line 3: user_id 'nan' {MISSING}")):
        checked(data, load_col={**TINY_RUN["load_col"], "user": ["user_id", "age"]})


def test_other_values_pandas_reads_as_text_are_ids(data):
    for pattern, replacement in ((r"^u3\t", "na\t"), (r"^u4\t", "NONE\t"), (r"\ti7\t", "\tnil\t")):
        edited_line(data / "tiny" / "tiny.inter", pattern, replacement)
    checked(data)


def test_an_empty_float_value_of_a_loaded_column_is_refused(data):
    """RecBole fills an empty :float value with the column's mean, without a word."""
    inter = data / "tiny" / "tiny.inter"
    line = edited_line(inter, r"^(u1\ti\d+\t)\d(\t1001005)$", r"\1\2")
    with pytest.raises(DataError, match=re.escape(f"{inter}, line {line}: empty rating (a :float column; 1 such "
                                                  f"line(s)") + ".*" + re.escape("would fill it with the column's mean")):
        checked(data)
    checked(data, load_col={**TINY_RUN["load_col"], "inter": ["user_id", "item_id", "timestamp"]})


def test_a_number_column_recbole_does_not_load_is_not_read(data):
    """RecBole reads only load_col's columns: text in another :float column changes nothing (and a file of many
    unused columns is not read once per column)."""
    inter = data / "tiny" / "tiny.inter"
    lines = inter.read_text().splitlines()
    inter.write_text("\n".join([lines[0] + "\tscore:float", lines[1] + "\tgood",
                                 *(line + "\t1.5" for line in lines[2:])]) + "\n")
    checked(data)  # TINY_RUN's load_col leaves score out
    with pytest.raises(DataError, match=re.escape(f"{inter}, line 2: score 'good' is not a finite number")):
        checked(data, load_col={**TINY_RUN["load_col"], "inter": [*TINY_RUN["load_col"]["inter"], "score"]})


def test_interactions_of_items_absent_from_the_item_file_are_counted_with_what_recbole_does(data, caplog):
    inter, item = data / "tiny" / "tiny.inter", data / "tiny" / "tiny.item"
    edited_line(inter, r"^u1\ti\d+(\t\d\t1001000)$", r"u1\ti99\1")
    checked(data)
    assert f"1 of 428 interactions in {inter} name items absent from {item} (e.g. 'i99'): RecBole drops them" \
        in caplog.text
    checked(data, filter_inter_by_user_or_item=False)
    assert "filter_inter_by_user_or_item is False, so RecBole keeps them as items without features" in caplog.text


def test_pre_split_lines_of_items_absent_from_the_item_file_are_said_to_be_kept(split, caplog):
    """The warning said "RecBole drops them" of pre-split test lines that RecBole kept and tested: it filters only a
    dataset it splits itself."""
    test = split / "tiny" / "tiny.test.inter"
    edited_line(test, r"^(u\d+\t)i\d+\t", r"\1i99\t")
    keys = {"data_path": str(split), "benchmark_filename": PARTS}
    checked(split, **keys)
    assert f"30 of 30 interactions in {test} name items absent from {split / 'tiny' / 'tiny.item'} (e.g. 'i99'): " \
           f"pre-split files are not filtered, so RecBole keeps them as items without features" in caplog.text
    dataset = load_dataset(Config("SASRec", "tiny", config_dict={**TINY_RUN, **keys}))
    assert dataset.file_size_list[-1] == 30  # every test line kept
