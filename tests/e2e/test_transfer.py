"""Cross-domain runs (``transfer_from``) on a tiny random Llama through quick_start.run: the source run is found or
trained first, its weights are evaluated untouched on the target's data, and bad settings are refused before any
run."""

import pytest
from conftest import write_atomic_dataset

from recbole_ilora.config import Config
from recbole_ilora.errors import CheckpointError, ConfigurationError
from recbole_ilora.quick_start import run


@pytest.fixture(scope="module")
def two_datasets(llm_setup, tmp_path_factory):
    """The shared tiny dataset plus another one (other users, items and titles) under the same root, and the keys
    of a TALLRec run on them."""
    root = llm_setup["base"]["data_path"]
    write_atomic_dataset(root, name="other", n_users=25, n_items=50, seed=7)
    folder = tmp_path_factory.mktemp("transfer")
    keys = {**llm_setup["base"], "llm_path": llm_setup["llm"], "dtype": "float32", "item_domain": "movie",
            "item_text_field": "movie_title", "train_batch_size": 4, "eval_batch_size": 40,
            "train_samples_per_epoch": 8, "results_dir": str(folder / "results"),
            "checkpoint_dir": str(folder / "saved")}
    return keys


@pytest.fixture(scope="module")
def source(two_datasets):
    """The in-domain TALLRec run on the shared tiny dataset: the source of the transfers."""
    return run("TALLRec", "tiny", config_dict=two_datasets)


def test_a_transfer_run_evaluates_the_source_runs_weights_untrained(two_datasets, source):
    same = run("TALLRec", "tiny", config_dict={**two_datasets, "transfer_from": {"dataset": "tiny"}})
    assert same["config_hash"] != source["config_hash"]
    assert same["config"]["prerequisites"] == {"transfer_checkpoint": source["config_hash"]}  # found, not retrained
    assert same["epochs_trained"] == 0 and same["checkpoint"] is None and same["time_s"]["train"] == 0
    assert same["test"] == source["test"] and same["per_user_test"] == source["per_user_test"]

    other = run("TALLRec", "other", config_dict={**two_datasets, "transfer_from": {"dataset": "tiny"}})
    assert other["config"]["prerequisites"] == {"transfer_checkpoint": source["config_hash"]}
    assert len(other["per_user_test"]["user"]) == 25  # the target's own test users
    assert other["config"]["data_fingerprint"] != source["config"]["data_fingerprint"]


def test_the_source_runs_keys_come_from_transfer_from_and_must_fit(two_datasets, source):
    """Another source seed is another source run; a source of other sizes is refused once its weights are there,
    naming the keys to align, before the target is evaluated."""
    config = Config("TALLRec", "other", config_dict={**two_datasets, "transfer_from": {"dataset": "tiny", "seed": 7}})
    plain = Config("TALLRec", "tiny", config_dict={**two_datasets, "seed": 7})
    assert config.experiment["prerequisites"] == {"transfer_checkpoint": plain.experiment_hash}
    with pytest.raises(CheckpointError, match=r"does not fit this TALLRec.*lora_r"):
        run("TALLRec", "other", config_dict={**two_datasets, "transfer_from": {"dataset": "tiny", "lora_r": 4}})


@pytest.mark.parametrize("value, message", [
    ("tiny", "transfer_from must be a dict"),
    ({"seed": 3}, "transfer_from must be a mapping naming the dataset"),
    ({"dataset": "../tiny"}, "transfer_from's dataset"),
    ({"dataset": "tiny", "model": "iLoRA"}, "transfer_from may not set model"),
    ({"dataset": "missing"}, "The TALLRec run behind transfer_checkpoint .on dataset 'missing', with transfer_from"),
])
def test_bad_transfer_from_is_refused_naming_it(two_datasets, value, message):
    with pytest.raises(ConfigurationError, match=message):
        Config("TALLRec", "tiny", config_dict={**two_datasets, "transfer_from": value})


def test_a_transfer_run_cannot_resume_training(two_datasets, tmp_path):
    with pytest.raises(ConfigurationError, match="resume_checkpoint resumes training"):
        run("TALLRec", "tiny", config_dict={**two_datasets, "transfer_from": {"dataset": "tiny"},
                                            "resume_checkpoint": str(tmp_path / "any.pth")})
    assert not (tmp_path / "any.pth").exists()


def test_a_given_transfer_checkpoint_must_be_the_source_datasets(two_datasets, source):
    with pytest.raises(ConfigurationError, match="was trained on other data than dataset 'other'"):
        Config("TALLRec", "other", config_dict={**two_datasets, "transfer_from": {"dataset": "other"},
                                                "transfer_checkpoint": source["checkpoint"]})
