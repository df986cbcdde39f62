"""Pre-split files of plain interactions (``benchmark_filename`` without a history column) for a sequential model."""

import pytest
from conftest import TINY_RUN, write_atomic_dataset

from recbole_ilora.config import Config
from recbole_ilora.data import data_preparation, load_dataset
from recbole_ilora.errors import DataError


def split_by_user(root, name="tiny"):
    """Write ``name.train/valid/test.inter`` from ``name.inter``: each user's last two lines held out, one each."""
    folder = root / name
    header, *lines = (folder / f"{name}.inter").read_text().splitlines()
    parts = {"train": [], "valid": [], "test": []}
    users = [line.split("\t")[0] for line in lines]
    for index, line in enumerate(lines):
        ahead = users[index:index + 3].count(users[index])  # lines of this user from here on (at most 3)
        parts["test" if ahead == 1 else "valid" if ahead == 2 else "train"].append(line)
    for part, rows in parts.items():
        (folder / f"{name}.{part}.inter").write_text("\n".join([header, *rows]) + "\n")
    (folder / f"{name}.inter").unlink()
    return root


def samples(loader):
    """(user, history, next item) of each row, as raw tokens."""
    dataset = loader._dataset
    columns = (dataset.inter_feat[field].numpy() for field in ("user_id", "item_id_list", "item_length", "item_id"))
    return sorted((dataset.id2token("user_id", user), tuple(dataset.id2token("item_id", history[:length])),
                   dataset.id2token("item_id", item)) for user, history, length, item in zip(*columns))


def loaders(root, **keys):
    config = Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(root), **keys})
    return data_preparation(config, load_dataset(config))


def test_presplit_interactions_give_the_samples_of_leave_one_out(tmp_path):
    whole = loaders(write_atomic_dataset(tmp_path / "whole"))
    presplit = loaders(split_by_user(write_atomic_dataset(tmp_path / "presplit")),
                       benchmark_filename=["train", "valid", "test"])
    for one_file, pre_split in zip(whole, presplit):
        assert samples(pre_split) == samples(one_file)


def test_presplit_interactions_need_a_timestamp(tmp_path):
    root = split_by_user(write_atomic_dataset(tmp_path / "data"))
    with pytest.raises(DataError, match=r"does not load timestamp .* from .*tiny.train.inter"):
        loaders(root, benchmark_filename=["train", "valid", "test"],
                load_col={"inter": ["user_id", "item_id", "rating"]})
