"""Checks of a dataset's atomic files before RecBole reads them: a column of the wrong type, a value that does not
parse as its column's type and a header split by the wrong separator are named by file, line and the key to
change."""

import re

import pytest
from conftest import TINY_RUN, write_atomic_dataset

from recbole_ilora.config import Config
from recbole_ilora.data.validation import check_atomic_files
from recbole_ilora.errors import DataError


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
