"""RecBole 1.2.1 on today's NumPy and pandas: the shims of recbole_ilora.compat, on whichever versions run the tests
(the README names the two configurations the suite passes on)."""

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_RUN

from recbole_ilora.config import Config
from recbole_ilora.data import create_dataset
from recbole_ilora.paths import EMBEDDED_DATASETS_DIR

PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3


def test_recboles_numpy_aliases_exist_on_any_numpy():
    Config("SASRec", "ml-100k")  # its compatibility_settings read np.float_ & co.
    assert np.float is np.float64 or np.float is float  # re-created by RecBole from the aliases compat restored


def test_titles_and_ids_load_whole(tiny_data_root):
    config = Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(tiny_data_root)})
    dataset = create_dataset(config)
    words = dataset.field2id_token["movie_title"]
    titles = {" ".join(words[w] for w in row if w) for row in dataset.item_feat["movie_title"].tolist()}
    assert {f"Movie number {item}" for item in range(1, 61)} <= titles
    assert not dataset.inter_feat.isna().any().any()


@pytest.mark.skipif(PANDAS_3, reason="RecBole's own loader fails on pandas 3, which is what the shim is for")
def test_shimmed_dataset_equals_recboles_own_on_pandas_2():
    from recbole.data import create_dataset as recbole_create_dataset

    config = Config("SASRec", "ml-100k")
    ours, theirs = create_dataset(config), recbole_create_dataset(config)
    assert ours.inter_feat.equals(theirs.inter_feat)
    for field, tokens in theirs.field2id_token.items():
        assert list(ours.field2id_token[field]) == list(tokens)
    assert all((a == b).all() for a, b in zip(ours.item_feat["movie_title"], theirs.item_feat["movie_title"]))


def test_ml100k_titles_are_whole_strings():
    dataset = create_dataset(Config("iLoRA", "ml-100k"))
    item = dataset.token2id(dataset.iid_field, "50")  # Star Wars (1977), as in the .item file
    line = next(l for l in (EMBEDDED_DATASETS_DIR / "ml-100k" / "ml-100k.item").read_text(encoding="utf-8")
                .splitlines() if l.startswith("50\t"))
    words = dataset.field2id_token["movie_title"]
    assert " ".join(words[w] for w in dataset.item_feat["movie_title"][item] if w) == line.split("\t")[1]


@pytest.mark.skipif(not PANDAS_3, reason="pandas < 3 reads empty sequence cells as empty sequences")
def test_an_empty_sequence_cell_is_refused_by_name_on_pandas_3(tmp_path):
    from conftest import write_atomic_dataset

    from recbole_ilora.data import load_dataset
    from recbole_ilora.errors import DataError

    root = write_atomic_dataset(tmp_path / "data")
    item_file = root / "tiny" / "tiny.item"
    item_file.write_text(item_file.read_text().replace("i7\tMovie number 7", "i7\t"))
    with pytest.raises(DataError, match=r"tiny.item, line 8: empty movie_title"):
        load_dataset(Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(root)}))
