"""The experiment's identity: what enters the hash, when it is taken, and where the result goes."""

import json
import os
import shutil

import pytest
from conftest import write_atomic_dataset

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora import experiment
from recbole_ilora.config import Config, FrozenConfigError
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.model.parts.sasrec_encoder import encoder_run_config
from recbole_ilora.errors import ResultWriteError
from recbole_ilora.results import write_result


def test_runtime_keys_do_not_change_the_identity(tmp_path):
    one = Config("SASRec", "ml-100k", cmd_args=["--cpu_threads=1", f"--results_dir={tmp_path}", "--state=WARNING"])
    other = Config("SASRec", "ml-100k", cmd_args=["--cpu_threads=2", "--show_progress=False"])
    assert one.experiment_hash == other.experiment_hash
    assert not experiment.RUNTIME_KEYS & set(one.experiment)
    changed = Config("SASRec", "ml-100k", cmd_args=["--hidden_size=32"])
    assert changed.experiment_hash != one.experiment_hash
    assert experiment.differing_keys(one.experiment, changed.experiment) == ["hidden_size"]


def test_spellings_of_one_run_hash_alike(tmp_path, tiny_llama):
    """RecBole reads metric names in any case and peft adapts a set of layers: each is one spelling in the
    identity."""
    plain = Config("SASRec", "ml-100k")
    assert Config("SASRec", "ml-100k", config_dict={"metrics": ["hit", "ndcg"], "valid_metric": "ndcg@10"}
                  ).experiment_hash == plain.experiment_hash
    llm = Config("iLoRA", "ml-100k", config_dict={"llm_path": str(tiny_llama)})
    targets = ["down_proj", "q_proj", "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj"]
    same = Config("iLoRA", "ml-100k", config_dict={"llm_path": str(tiny_llama), "lora_target_modules": targets})
    assert same.experiment_hash == llm.experiment_hash and same["lora_target_modules"] == llm["lora_target_modules"]


def test_the_same_backbone_files_anywhere_are_one_experiment(tmp_path, tiny_llama):
    """``llm_path`` says where the backbone lies, its files' content what it is: a copy elsewhere or a link to it
    is the same experiment (committed results are found on a machine that keeps the model in another folder)."""
    llm = Config("iLoRA", "ml-100k", config_dict={"llm_path": str(tiny_llama)})
    (tmp_path / "link").symlink_to(tiny_llama)
    shutil.copytree(tiny_llama, tmp_path / "copy")
    for path in (tmp_path / "link", tmp_path / "copy"):
        assert Config("iLoRA", "ml-100k", config_dict={"llm_path": str(path)}).experiment_hash == llm.experiment_hash
    assert "llm_path" not in llm.experiment


def test_a_key_of_other_models_is_ignored_and_out_of_the_identity():
    """A leaderboard hands one set of keys to every model: a key only other models read (an LLM's ``dtype`` given to
    SASRec) changes nothing of the run, so it is warned about, dropped, and the run keeps its hash."""
    plain, given = Config("SASRec", "ml-100k"), Config("SASRec", "ml-100k", cmd_args=["--dtype=float32",
                                                                                       "--lora_r=8"])
    assert given.experiment_hash == plain.experiment_hash and "dtype" not in given.final_config_dict


def test_how_a_required_run_executes_and_a_key_that_changes_nothing_leave_the_identity(tiny_llama):
    """encoder_config's runtime keys (threads, a checkpoint to resume from) say how the encoder runs, not what it is;
    TALLRec has no item embeddings, so a curriculum (hybrid and text-only prompts) is the run without one."""
    base = {"llm_path": str(tiny_llama), "encoder_config": {"epochs": 10}}
    plain = Config("iLoRA", "ml-100k", config_dict=base)
    executed = Config("iLoRA", "ml-100k", config_dict={**base, "encoder_config": {
        "epochs": 10, "cpu_threads": 1, "resume_checkpoint": "/tmp/sasrec.pth"}})
    assert executed.experiment_hash == plain.experiment_hash
    text_only = Config("TALLRec", "ml-100k", config_dict={"llm_path": str(tiny_llama)})
    assert Config("TALLRec", "ml-100k", config_dict={"llm_path": str(tiny_llama), "curriculum": True}
                  ).experiment_hash == text_only.experiment_hash


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
def test_eval_batch_users_sets_the_batch_size_which_is_how_a_run_executes(protocol, rows_per_user):
    """The batch size is final when the config is built (under full ranking a sequential model's evaluation loader
    counts users, not rows); each user's candidates are fixed whatever the batch, so it is not in the identity: a GPU
    with room for larger batches finds the CPU's results."""
    config = Config("iLoRA", "ml-100k", cmd_args=[f"--protocol={protocol}", "--eval_batch_users=8"])
    assert config["eval_batch_size"] == 8 * rows_per_user
    assert not {"eval_batch_size", "eval_batch_users"} & set(config.experiment)
    assert Config("iLoRA", "ml-100k", cmd_args=[f"--protocol={protocol}", "--eval_batch_users=2"]
                  ).experiment_hash == config.experiment_hash


def test_the_identity_is_read_only_once_the_config_is_built():
    config = Config("SASRec", "ml-100k")
    with pytest.raises(FrozenConfigError, match="'hidden_size' is part of the experiment's identity"):
        config["hidden_size"] = 1
    config["sasrec_checkpoint"] = "saved/x.pth"  # runtime keys stay writable (a prerequisite's checkpoint)
    config["MASK_ITEM_SEQ"] = "mask"  # as RecBole's transforms name their fields: a new key, not in the identity
    assert "MASK_ITEM_SEQ" not in config.experiment


def test_the_datasets_content_is_part_of_the_identity(tiny_data_root):
    """An edited .inter under the same dataset name is another experiment (it reused the old encoder and overwrote
    the old result before)."""
    before = Config("SASRec", "tiny", config_dict={"data_path": str(tiny_data_root)})
    inter = tiny_data_root / "tiny" / "tiny.inter"
    inter.write_text(inter.read_text().replace("\t5\t", "\t4\t", 1))
    after = Config("SASRec", "tiny", config_dict={"data_path": str(tiny_data_root)})
    assert after.experiment_hash != before.experiment_hash
    assert experiment.differing_keys(before.experiment, after.experiment) == ["data_fingerprint"]
    assert set(after.experiment["data_fingerprint"]) == {"tiny.inter", "tiny.item"}


def test_an_llm_runs_identity_holds_its_encoders_and_its_global_batch(monkeypatch):
    llm = Config("iLoRA", "ml-100k")
    encoder = Config("SASRec", "ml-100k", config_dict=encoder_run_config(llm))
    assert llm.experiment["prerequisites"] == {"sasrec_checkpoint": encoder.experiment_hash}
    assert llm.experiment["global_train_batch"] == 8  # 4 prompts x 2 micro-batches x 1 process
    longer = Config("iLoRA", "ml-100k", cmd_args=["--encoder_config={'epochs': 20}"])
    assert longer.experiment["prerequisites"] != llm.experiment["prerequisites"]
    monkeypatch.setenv("WORLD_SIZE", "2")  # under torchrun the global batch doubles: another experiment
    two = Config("iLoRA", "ml-100k")
    assert two.experiment["global_train_batch"] == 16 and two.experiment_hash != llm.experiment_hash
    shared = Config("iLoRA", "ml-100k", cmd_args=["--gradient_accumulation_steps=1"])  # 2 processes x 1 micro-batch
    assert shared.experiment_hash == llm.experiment_hash  # the same step as 1 process accumulating 2
    assert Config("SASRec", "ml-100k").experiment_hash == Config("SASRec", "ml-100k").experiment_hash  # no processes


def test_an_encoder_trained_on_other_data_is_refused_before_any_work(tiny_data_root, tmp_path):
    other = write_atomic_dataset(tmp_path / "other", seed=1)  # same items and users, other interactions
    encoder = Config("SASRec", "tiny", config_dict={"data_path": str(other)})
    path = checkpoints.save(tmp_path / "encoder.pth", encoder, weights={})
    with pytest.raises(ConfigurationError, match=r"sasrec_checkpoint .* was trained on other data than dataset "
                                                 r"'tiny' .*\(tiny.inter\)"):
        Config("iLoRA", "tiny", config_dict={"data_path": str(tiny_data_root), "sasrec_checkpoint": str(path),
                                             "item_domain": "movie", "item_text_field": "movie_title"})
    same = checkpoints.save(tmp_path / "same.pth", Config("SASRec", "tiny", config_dict={
        "data_path": str(tiny_data_root)}), weights={})
    given = Config("iLoRA", "tiny", config_dict={"data_path": str(tiny_data_root), "sasrec_checkpoint": str(same),
                                                 "item_domain": "movie", "item_text_field": "movie_title"})
    assert given.experiment["prerequisites"] == {"sasrec_checkpoint": checkpoints.load(same)["config_hash"]}


def test_a_result_file_of_another_experiment_is_never_overwritten(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"config_hash": "aaaaaaaaaaaaaaaa"}))
    with pytest.raises(ResultWriteError, match="holds the result of another experiment"):
        write_result({"result_file": str(path), "config_hash": "bbbbbbbbbbbbbbbb", "checkpoint": "saved/x.pth"})
    assert json.loads(path.read_text()) == {"config_hash": "aaaaaaaaaaaaaaaa"}
    write_result({"result_file": str(path), "config_hash": "aaaaaaaaaaaaaaaa", "checkpoint": "saved/x.pth"})


def test_the_backbones_content_is_part_of_an_llm_runs_identity(tiny_llama, tmp_path):
    copy = tmp_path / "llm"
    shutil.copytree(tiny_llama, copy)
    before = Config("iLoRA", "ml-100k", config_dict={"llm_path": str(copy)})
    assert set(before.experiment["backbone_fingerprint"]) >= {"config.json", "model.safetensors"}
    weights = copy / "model.safetensors"
    status = weights.stat()
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight, size and modification time kept (as cp -p or a restore would)
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(status.st_atime_ns, status.st_mtime_ns))
    after = Config("iLoRA", "ml-100k", config_dict={"llm_path": str(copy)})
    assert after.experiment["backbone_fingerprint"]["model.safetensors"] != \
        before.experiment["backbone_fingerprint"]["model.safetensors"]
    assert after.experiment_hash != before.experiment_hash
    assert "backbone_fingerprint" not in Config("SASRec", "ml-100k").experiment


def test_an_llm_runs_identity_does_not_depend_on_the_configs_built_before_it_in_the_process(tiny_data_root):
    """RecBole 1.2.1 grows its shared list of dataset keys with every embedded dataset's YAML it loads (compat):
    the encoder config that an LLM run's hash holds must not depend on what the process built before."""
    keys = {"data_path": str(tiny_data_root), "item_domain": "movie", "item_text_field": "movie_title"}
    first = Config("iLoRA", "tiny", config_dict=keys).experiment_hash
    Config("iLoRA", "ml-100k")  # loads RecBole's ml-100k.yaml
    assert Config("iLoRA", "tiny", config_dict=keys).experiment_hash == first
