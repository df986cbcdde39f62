"""The experiment's identity: what enters the hash, when it is taken, and where the result goes."""

import pytest

from recbole_ilora import experiment
from recbole_ilora.config import Config, FrozenConfigError


def test_runtime_keys_do_not_change_the_identity(tmp_path):
    one = Config("SASRec", "ml-100k", cmd_args=["--cpu_threads=1", f"--results_dir={tmp_path}", "--state=WARNING"])
    other = Config("SASRec", "ml-100k", cmd_args=["--cpu_threads=2", "--show_progress=False"])
    assert one.experiment_hash == other.experiment_hash
    assert not experiment.RUNTIME_KEYS & set(one.experiment)
    changed = Config("SASRec", "ml-100k", cmd_args=["--hidden_size=32"])
    assert changed.experiment_hash != one.experiment_hash
    assert experiment.differing_keys(one.experiment, changed.experiment) == ["hidden_size"]


def test_an_optional_key_enters_the_identity_only_when_set():
    unset, subset = Config("SASRec", "ml-100k"), Config("SASRec", "ml-100k", cmd_args=["--eval_users=50"])
    assert "eval_users" not in unset.experiment and subset.experiment["eval_users"] == 50
    assert unset.experiment_hash != subset.experiment_hash


def test_result_path_is_named_by_model_seed_and_hash(tmp_path):
    config = Config("Pop", "ml-100k", cmd_args=[f"--results_dir={tmp_path}", "--seed=7"])
    assert experiment.result_path(config) == (
        tmp_path / "ml-100k" / "candidates20" / f"Pop-seed7-{config.experiment_hash}.json")
    assert config.experiment_hash == experiment.config_hash(config.experiment)


@pytest.mark.parametrize("protocol, rows_per_user", [("candidates20", 20), ("full", 1)])
def test_eval_batch_users_is_derived_before_the_identity_is_taken(protocol, rows_per_user):
    """A planner and the run it plans compute the same hash: the batch size is final when the config is built
    (under full ranking a sequential model's evaluation loader counts users, not rows)."""
    config = Config("iLoRA", "ml-100k", cmd_args=[f"--protocol={protocol}", "--eval_batch_users=8"])
    assert config["eval_batch_size"] == config.experiment["eval_batch_size"] == 8 * rows_per_user


def test_the_identity_is_read_only_once_the_config_is_built():
    config = Config("SASRec", "ml-100k")
    with pytest.raises(FrozenConfigError, match="'eval_batch_size' is part of the experiment's identity"):
        config["eval_batch_size"] = 1
    config["sasrec_checkpoint"] = "saved/x.pth"  # runtime keys stay writable (a prerequisite's checkpoint)
    config["MASK_ITEM_SEQ"] = "mask"  # as RecBole's transforms name their fields: a new key, not in the identity
    assert "MASK_ITEM_SEQ" not in config.experiment
