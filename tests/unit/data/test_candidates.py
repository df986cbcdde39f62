"""The candidates20 protocol: 20 candidates per user, the positive among them, identical for every model."""

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_RUN, write_atomic_dataset
from recbole_ilora.data import create_dataset
from recbole.utils import init_seed

from recbole_ilora.config import Config
from recbole_ilora.data import candidates_fingerprint, data_preparation, load_dataset
from recbole_ilora.data.candidates import FixedCandidateSampler


def prepare(model, data_root, **overrides):
    config = Config(model, "tiny", config_dict={**TINY_RUN, "data_path": str(data_root), **overrides})
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    return dataset, data_preparation(config, dataset)


def candidates_by_user(loader):
    """One pass over an evaluation loader: {raw user id: [raw item ids of its rows, in order]}."""
    dataset = loader._dataset
    rows = defaultdict(list)
    for interaction, _, _, _ in loader:
        users = dataset.id2token(dataset.uid_field, interaction[dataset.uid_field].numpy())
        items = dataset.id2token(dataset.iid_field, interaction[dataset.iid_field].numpy())
        for user, item in zip(users, items):
            rows[user].append(item)
    return dict(rows)


def interacted_items(inter_file):
    """{raw user id: every raw item id it interacted with}, read from the atomic file itself (RecBole's
    augmented dataset keeps each user's first item only inside histories)."""
    items = defaultdict(set)
    for line in inter_file.read_text().splitlines()[1:]:
        user, item = line.split("\t")[:2]
        items[user].add(item)
    return items


@pytest.mark.parametrize("dense", [False, True], ids=["sparse", "dense"])
def test_twenty_distinct_unseen_candidates_with_the_positive_first(tmp_path, dense):
    # dense: 30 items, 8-10 per user, so a draw that forgot any interacted item (say the user's first one,
    # which is never a training target) would almost surely pick it among the 19 negatives
    shape = {"n_items": 30, "min_len": 8, "max_len": 10} if dense else {}
    root = write_atomic_dataset(tmp_path / "data", **shape)
    _, (_, _, test_data) = prepare("SASRec", root)
    test = test_data._dataset
    positives = dict(zip(test.id2token(test.uid_field, test.inter_feat[test.uid_field].numpy()),
                         test.id2token(test.iid_field, test.inter_feat[test.iid_field].numpy())))
    seen = interacted_items(root / "tiny" / "tiny.inter")
    candidates = candidates_by_user(test_data)
    assert set(candidates) == set(positives) and len(candidates) == 30
    for user, items in candidates.items():
        assert len(items) == 20 and len(set(items)) == 20
        assert items[0] == positives[user]  # RecBole's layout: the positive leads each user's block
        assert not set(items[1:]) & seen[user]


def test_same_candidates_for_two_models_whatever_consumed_the_rng(tiny_data_root):
    _, (_, valid_a, test_a) = prepare("SASRec", tiny_data_root)
    first_pass = candidates_by_user(test_a)
    np.random.rand(12345)  # another model's training would consume the global RNG differently
    _, (_, valid_b, test_b) = prepare("GRU4Rec", tiny_data_root)
    np.random.rand(777)
    assert candidates_by_user(test_b) == first_pass
    assert candidates_by_user(test_a) == first_pass  # a second pass of the same loader is unchanged too
    assert candidates_by_user(valid_b) == candidates_by_user(valid_a)
    assert candidates_fingerprint(test_a) == candidates_fingerprint(test_b)
    print("negatives of the first test user, both models:", next(iter(first_pass.items())))


def test_seed_and_phase_change_the_candidates(tiny_data_root):
    _, (_, valid_a, test_a) = prepare("SASRec", tiny_data_root, seed=1)
    _, (_, _, test_b) = prepare("SASRec", tiny_data_root, seed=2)
    assert candidates_by_user(test_a) != candidates_by_user(test_b)
    assert candidates_fingerprint(test_a) != candidates_fingerprint(test_b)
    assert candidates_fingerprint(valid_a) != candidates_fingerprint(test_a)


def test_sampler_follows_recbole_layout_for_several_rows(tiny_data_root):
    dataset, _ = prepare("SASRec", tiny_data_root)
    sampler = FixedCandidateSampler(dataset, "test", seed=3)
    users, positives = np.array([1, 2, 3]), np.array([5, 6, 7])
    flat = sampler.sample_by_user_ids(users, positives, 4).numpy()
    for row, (user, positive) in enumerate(zip(users, positives)):
        assert flat[row::3].tolist() == sampler.negatives(user, positive, 4).tolist()


def test_full_protocol_has_no_fixed_candidates(tiny_data_root):
    _, (_, _, test_data) = prepare("SASRec", tiny_data_root, protocol="full")
    assert candidates_fingerprint(test_data) is None


def test_too_few_unseen_items_is_a_clear_error(tmp_path):
    root = write_atomic_dataset(tmp_path / "small", n_items=25, min_len=10, max_len=12)
    _, (_, _, test_data) = prepare("SASRec", root)
    with pytest.raises(ValueError, match=r"fewer than the 19 negatives the protocol needs"):
        candidates_by_user(test_data)


def write_presplit_dataset(root, name="tinysplit", n_items=40, seed=0):
    """A pre-split dataset as ``prepare_dataset llara-ref`` writes one: a pseudo user per sample with its
    history (``item_id_list``) and next item, in NAME.train/valid/test.inter; return ``root``."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / name
    folder.mkdir(parents=True)
    for part, samples in (("train", 40), ("valid", 10), ("test", 10)):
        lines = ["user_id:token\titem_id_list:token_seq\titem_id:token"]
        for sample in range(samples):
            items = rng.choice(np.arange(1, n_items + 1), size=rng.integers(4, 9), replace=False)
            lines.append(f"{part}-{sample}\t{' '.join(f'i{i}' for i in items[:-1])}\ti{items[-1]}")
        (folder / f"{name}.{part}.inter").write_text("\n".join(lines) + "\n")
    return Path(root)


def test_general_and_sequential_models_rank_the_same_unseen_candidates_on_a_presplit_dataset(tmp_path):
    # Pop's (general) dataset has the histories too, without the attribute RecBole gives sequential datasets:
    # both must exclude them, and so draw the same negatives
    root = write_presplit_dataset(tmp_path / "data")
    keys = {"protocol": "llara", "alias_of_item_id": ["item_id_list"],
            "load_col": {"inter": ["user_id", "item_id_list", "item_id"]}}
    config = {**TINY_RUN, "data_path": str(root), **keys}
    loaders = {}
    for model in ("Pop", "SASRec"):
        run_config = Config(model, "tinysplit", config_dict=config)
        init_seed(run_config["seed"], run_config["reproducibility"])
        loaders[model] = data_preparation(run_config, create_dataset(run_config))[2]
    assert candidates_fingerprint(loaders["Pop"]) == candidates_fingerprint(loaders["SASRec"])
    histories = {}
    for line in (root / "tinysplit" / "tinysplit.test.inter").read_text().splitlines()[1:]:
        user, history, _ = line.split("\t")
        histories[user] = set(history.split())
    for user, items in candidates_by_user(loaders["Pop"]).items():
        assert len(set(items)) == 20 and not set(items[1:]) & histories[user]


def test_users_below_three_interactions_split_the_model_families_apart_until_filtered(tmp_path, caplog):
    """Leave-one-out gives a sequential model a user's items but the first as targets, a general model (Pop) all of
    them: a user with 2 interactions is tested by one family only. The run says so, and the filter aligns them."""
    root = write_atomic_dataset(tmp_path, min_len=2, max_len=12, seed=3)
    counts = defaultdict(int)
    for line in (root / "tiny" / "tiny.inter").read_text().splitlines()[1:]:
        counts[line.split("\t")[0]] += 1
    assert any(count < 3 for count in counts.values())
    with caplog.at_level("WARNING"):
        load_dataset(Config("Pop", "tiny", config_dict={**TINY_RUN, "data_path": str(root)}))  # what a run checks
    _, (_, _, general) = prepare("Pop", root)
    assert "have fewer than 3 interactions" in caplog.text and 'user_inter_num_interval: "[3,inf)"' in caplog.text
    _, (_, _, sequential) = prepare("SASRec", root)
    assert set(candidates_by_user(general)) != set(candidates_by_user(sequential))
    _, (_, _, general) = prepare("Pop", root, user_inter_num_interval="[3,inf)")
    _, (_, _, sequential) = prepare("SASRec", root, user_inter_num_interval="[3,inf)")
    assert candidates_by_user(general) == candidates_by_user(sequential)
    assert candidates_fingerprint(general) == candidates_fingerprint(sequential)
