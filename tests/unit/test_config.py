"""Config layering, command-line parsing, protocols and where datasets are found."""

import shutil

import re

import pytest

from recbole_ilora import config as config_module
from recbole_ilora.config import Config, parse_cmd_args
from recbole_ilora.config_schema import model_keys
from recbole_ilora.errors import ConfigurationError, DatasetNotFoundError
from recbole_ilora.paths import EMBEDDED_DATASETS_DIR, PROPERTIES_DIR

LAYERS = ["overall", "model", "dataset", "model_on_dataset", "protocol", "file", "dict", "cmd"]


@pytest.fixture
def layered_properties(tmp_path, monkeypatch):
    """A properties/ folder where layer i sets keys k_i..k_last to its own name, so that each key's final value
    names the last layer that set it."""
    root = tmp_path / "properties"
    files = {
        "overall": root / "overall.yaml",
        "model": root / "model" / "SASRec.yaml",
        "dataset": root / "dataset" / "tiny.yaml",
        "model_on_dataset": root / "model" / "SASRec" / "tiny.yaml",
        "protocol": root / "protocol" / "layered.yaml",
    }
    for index, (layer, path) in enumerate(files.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = "".join(f"k{i}: {layer}\n" for i in range(index, len(LAYERS)))
        extra = "protocol: layered\ntrain_neg_sample_args: ~\nMAX_ITEM_LIST_LENGTH: 7\n" if layer == "overall" else ""
        eval_args = "eval_args: {split: {LS: valid_and_test}, order: TO, mode: full}\n" if layer == "protocol" else ""
        path.write_text(keys + extra + eval_args)
    monkeypatch.setattr(config_module, "PROPERTIES_DIR", root)
    return tmp_path


def test_layers_apply_in_documented_order(layered_properties, tiny_data_root):
    user_file = layered_properties / "user.yaml"
    user_file.write_text("".join(f"k{i}: file\n" for i in range(5, len(LAYERS))))
    config = Config(
        "SASRec", "tiny", config_file_list=[str(user_file)],
        config_dict={"data_path": str(tiny_data_root), "k6": "dict", "k7": "dict"},
        cmd_args=["--k7=cmd"],
    )
    assert [config[f"k{i}"] for i in range(len(LAYERS))] == LAYERS
    assert config["MAX_ITEM_LIST_LENGTH"] == 7  # this package's overall beats RecBole's own default (50)
    assert config["eval_args"]["mode"] == {"valid": "full", "test": "full"}  # protocol beats RecBole's quick-start


def test_real_properties_default_and_full_protocol():
    default = Config("SASRec", "ml-100k")
    assert default["protocol"] == "candidates20"
    assert default["eval_args"]["mode"] == {"valid": "uni19", "test": "uni19"}
    assert default["eval_args"]["split"] == {"LS": "valid_and_test"} and default["eval_args"]["order"] == "TO"
    assert default["item_text_field"] == "movie_title"  # properties/dataset/ml-100k.yaml
    full = Config("SASRec", "ml-100k", cmd_args=["--protocol=full"])
    assert full["eval_args"]["mode"] == {"valid": "full", "test": "full"}


def test_unknown_protocol_lists_available():
    with pytest.raises(ConfigurationError, match=r"Unknown protocol 'nope'.*candidates20, candidates30, candidates40, full"):
        Config("SASRec", "ml-100k", config_dict={"protocol": "nope"})


def test_cmd_args_are_typed_like_recbole():
    config = Config("SASRec", "ml-100k", cmd_args=["--epochs=3", "--learning_rate=1e-4", "--show_progress=False"])
    assert (config["epochs"], config["learning_rate"], config["show_progress"]) == (3, 1e-4, False)


@pytest.mark.parametrize("args, message", [
    (["--epochs", "3"], "not of the form --key=value"),
    (["epochs=3"], "not of the form --key=value"),
    (["--epochs=3", "--epochs=4"], "given twice"),
])
def test_malformed_cmd_args_are_errors(args, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_cmd_args(args)


def test_a_dict_on_the_command_line_that_gives_a_key_twice_is_refused():
    """A Python literal keeps the last of two equal keys silently; YAML files and --key flags refuse it already."""
    with pytest.raises(ConfigurationError, match="--encoder_config: the dict gives the key 'epochs' twice"):
        Config("iLoRA", "ml-100k", cmd_args=["--encoder_config={'epochs': 1, 'hidden_size': 8, 'epochs': 3}"])
    with pytest.raises(ConfigurationError, match="the dict gives the key 'mode' twice"):
        Config("SASRec", "ml-100k", cmd_args=["--eval_args={'split': {'LS': 'valid_and_test'}, 'mode': 'uni9', "
                                              "'mode': 'uni19'}"])


def test_ml100k_resolves_offline_to_embedded_copy(tmp_path):
    config = Config("SASRec", "ml-100k", config_dict={"data_path": str(tmp_path / "empty")})
    assert config["data_path"] == str(EMBEDDED_DATASETS_DIR / "ml-100k")


def test_users_own_ml100k_wins_over_embedded_copy(tmp_path):
    own = tmp_path / "data" / "ml-100k"
    own.mkdir(parents=True)
    shutil.copy(EMBEDDED_DATASETS_DIR / "ml-100k" / "ml-100k.inter", own)
    config = Config("SASRec", "ml-100k", config_dict={"data_path": str(tmp_path / "data")})
    assert config["data_path"] == str(own)


def test_missing_dataset_fails_at_once_with_instructions(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        Config("SASRec", "lastfm", config_dict={"data_path": str(tmp_path)})
    message = str(error.value)
    assert str(tmp_path / "lastfm" / "lastfm.inter") in message
    assert "`prepare_dataset lastfm" in message and "--allow_download=True" in message


def test_allow_download_leaves_missing_dataset_to_recbole(tmp_path):
    config = Config("SASRec", "lastfm", config_dict={"data_path": str(tmp_path), "allow_download": True})
    assert config["data_path"] == str(tmp_path / "lastfm")


def test_properties_dir_is_the_repository_folder():
    assert (PROPERTIES_DIR / "overall.yaml").is_file()
    assert (PROPERTIES_DIR / "protocol" / "candidates20.yaml").is_file()


def test_keys_only_models_and_budgets_set_are_hyper_parameters_of_those_models():
    """A budget file sets LLM models' keys (gradient_accumulation_steps): they stay other models' hyper-parameters,
    so setting one for SASRec is warned about as ignored, not taken silently."""
    keys = model_keys(PROPERTIES_DIR)
    assert {"gradient_accumulation_steps", "num_experts", "hidden_size"} <= keys
    assert not {"epochs", "seed", "learning_rate"} & keys  # overall keys every model reads


@pytest.mark.parametrize("args, message", [
    (["--topk=['1', '10']"], "topk must be a positive integer or a non-empty list of them, got ['1', '10']"),
    (["--metrics=['Hit', 'AUC']"], "metrics ['AUC'] are not top-k ranking metrics"),
    (["--metrics=['Hit', 'NDCG', 'ItemCoverage', 'GiniIndex']"],
     "metrics ['ItemCoverage', 'GiniIndex'] are not top-k ranking metrics"),
    (["--metric_decimal_place=0"], "metric_decimal_place must be an integer from 4 to 16"),
    (["--valid_metric_bigger=False"], "valid_metric_bigger=False is not used: RecBole derives it from valid_metric"),
    (["--learner=sparse_adam"], "(sparse_adam takes sparse gradients only, which no model here has)"),
    (["--rm_dup_inter=bogus"], "rm_dup_inter must be ~ (keep repeated interactions), first or last"),
    (["--eval_args={'split': {'RS': [1, 0, 0]}, 'order': 'TO', 'mode': 'uni19'}"],
     "eval_args split {'RS': [1, 0, 0]} leaves no valid data"),
    (["--eval_args={'split': {'LS': 'valid_and_test'}, 'group_by': 'none', 'order': 'TO', 'mode': 'uni19'}"],
     "eval_args group_by 'none' with split LS"),
    (["--eval_args={'order': 'TO', 'mode': 'labeled'}"], "eval_args mode labeled scores labelled pairs"),
    ([f"--topk={['1'] * 300}"], "... (1,500 characters)"),  # a long value is cut in the message
    (["--metrics=['Hit', 'Bogus']"], "metrics ['Bogus'] are not RecBole metrics"),
    (["--eval_args={'split': {'LS': 'bogus'}, 'order': 'TO', 'mode': 'full'}"], "eval_args split must be {LS: "),
    (["--eval_args={'split': {'RS': [0.8, 0.2]}, 'order': 'TO', 'mode': 'full'}"], "eval_args split must be"),
    (["--eval_args={'order': 'TO', 'mode': 'popular'}"], "eval_args mode 'popular' is not one of RecBole's"),
    (["--eval_args={'order': 'TO', 'mode': {'valid': 'full', 'test': 'uniX'}}"], "eval_args mode 'uniX'"),
    (["--eval_args=full"], "eval_args must be a dict"),
    (["--transform=bogus"], "transform must be ~ or one of mask_itemseq"),
    (["--transform=mask_itemseq"], "transform mask_itemseq reads mask_ratio, the share of each sequence it changes: "
                                   "set mask_ratio to a number in (0, 1], got None"),
    (["--transform=crop_itemseq", "--eta=2"], "transform crop_itemseq reads eta"),
    (["--user_inter_num_interval=[100,"], "user_inter_num_interval must be intervals such as '[5,inf)'"),
    (["--item_inter_num_interval=[5,inf);[3"], "item_inter_num_interval must be intervals"),
    (["--loss_type=XYZ"], "loss_type must be one of CE, BPR for this model, got 'XYZ'"),
    (["--loss_type=BPR"], "SASRec with loss_type BPR trains on (positive, negative) pairs"),
    (["--loss_decimal_place=-1"], "loss_decimal_place must be zero or more, got -1"),
    (["--hidden_size=0"], "hidden_size must be a positive number (a size of the model), got 0"),
    (["--n_heads=-2"], "n_heads must be a positive number (a size of the model), got -2"),
    (["--eval_args={'mode': 'full'}"], "eval_args mode 'full' contradicts protocol candidates20 (mode 'uni19')"),
    (["--eval_args={'mode': 'full'}"], "run it with --protocol=full"),
    (["--eval_args={'mode': 'uni29'}"], "run it with --protocol=candidates30"),
    (["--eval_args={'split': {'RS': [0.8, 0.1, 0.1]}}"],
     "eval_args split {'RS': [0.8, 0.1, 0.1]} contradicts protocol candidates20 (split {'LS': 'valid_and_test'})"),
    (["--eval_args={'split': {'RS': [0.8, 0.1, 0.1]}}"], "no protocol defines these eval_args: add "
     "properties/protocol/NAME.yaml"),
    (["--hidden_act=foo"], "hidden_act must be one of gelu, relu, swish, tanh, sigmoid for this model, got 'foo'"),
    (["--gpu_id=abc"], "gpu_id must be a GPU index or a comma-separated list of them (e.g. 0 or '0,1'), got 'abc'"),
    (["--worker=100000"], "worker=100000 is more than the"),
    (["--MAX_ITEM_LIST_LENGTH=100000"], "one training batch's attention scores (train_batch_size 2048 x n_heads 2 x "
     "MAX_ITEM_LIST_LENGTH 100000 x MAX_ITEM_LIST_LENGTH 100000 x 4 bytes)"),
])
def test_recboles_structured_keys_are_checked_before_recbole_parses_them(args, message):
    with pytest.raises(ConfigurationError) as error:
        Config("SASRec", "ml-100k", cmd_args=args)
    assert message in str(error.value)


def test_well_formed_structured_keys_pass():
    config = Config("SASRec", "ml-100k", cmd_args=["--user_inter_num_interval=[5,inf);(0,3]", "--topk=[1, 10]",
                                                   "--eval_args={'split': {'LS': 'valid_and_test'}, 'order': 'TO', "
                                                   "'mode': {'valid': 'uni19', 'test': 'uni19'}}"])
    assert config["topk"] == [1, 10] and config["eval_args"]["mode"] == {"valid": "uni19", "test": "uni19"}
    one = Config("SASRec", "ml-100k", cmd_args=["--topk=5", "--valid_metric=NDCG@5"])  # RecBole takes one topk
    assert one["topk"] == [5] and one.experiment_hash == Config(
        "SASRec", "ml-100k", cmd_args=["--topk=[5]", "--valid_metric=NDCG@5"]).experiment_hash
    every_column = Config("SASRec", "ml-100k", cmd_args=["--load_col=None"])  # RecBole: load every column
    assert every_column["load_col"] is None and every_column.experiment_hash != one.experiment_hash


@pytest.mark.parametrize("model, message", [
    ("FM", "FM is context-aware (it predicts a label from features)"),
    ("KGAT", "KGAT is knowledge-aware"),
    ("BPR", "BPR with its pairwise loss trains on (positive, negative) pairs"),
])
def test_models_the_protocols_cannot_run_or_feed_are_refused_by_name(model, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Config(model, "ml-100k")
    if model == "BPR":  # with sampled negatives it is a general recommender like any other
        Config(model, "ml-100k", cmd_args=["--train_neg_sample_args={'distribution': 'uniform', 'sample_num': 1}"])


@pytest.mark.parametrize("text, message", [
    ("seed: 017\n", "'017' is read by YAML 1.1 as 15 (octal or base 60)"),
    ("seed: 1:20\n", "'1:20' is read by YAML 1.1 as 80"),
    ("eval_args:\n\u00a0 mode: full\n", "line 2: a non-breaking space (U+00A0)"),
    ("epochs: " + "1" * 5000 + "\n", "an integer of 5,000 digits is not a value of any config key"),  # Python's limit
])
def test_yaml_that_reads_otherwise_than_it_looks_is_refused_with_its_line(text, message, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        Config("SASRec", "ml-100k", [str(path)])
    assert message in str(error.value) and str(path) in str(error.value)


def test_model_and_dataset_come_from_the_config_files_when_not_given(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model: Pop\n")
    config = Config(None, None, [str(path)])
    assert (config["model"], config["dataset"]) == ("Pop", "ml-100k")


def test_a_missing_file_among_several_says_the_list_is_split_at_spaces(tmp_path):
    with pytest.raises(ConfigurationError, match="split at spaces"):
        Config("SASRec", "ml-100k", [str(tmp_path / "my"), str(tmp_path / "conf.yaml")])


def test_a_partial_eval_args_sets_only_its_own_sub_keys_over_the_protocols(tmp_path):
    """RecBole fills the sub-keys a user's eval_args leaves out from its own defaults (a random 80/10/10 split), not
    from the protocol's leave-one-out: the result would be filed under a protocol it did not run."""
    given = tmp_path / "mode.yaml"
    given.write_text("protocol: candidates40\neval_args: {mode: uni39}\n")
    config = Config("SASRec", "ml-100k", [str(given)])
    assert config["eval_args"]["split"] == {"LS": "valid_and_test"} and config["eval_args"]["order"] == "TO"
    assert config["eval_args"]["mode"] == {"valid": "uni39", "test": "uni39"}


def test_one_spelling_of_topk_and_paths_under_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    plain = Config("SASRec", "ml-100k", cmd_args=["--topk=[1, 3, 5, 10]"])
    shuffled = Config("SASRec", "ml-100k", cmd_args=["--topk=[10, 1, 10, 5, 3]", "--results_dir=~/res",
                                                      "--checkpoint_dir=~/ck"])
    assert shuffled["topk"] == [1, 3, 5, 10] and shuffled.experiment_hash == plain.experiment_hash
    assert shuffled["results_dir"] == str(tmp_path / "res") and shuffled["checkpoint_dir"] == str(tmp_path / "ck")


@pytest.mark.parametrize("text, message", [
    ("base: &b {epochs: 2}\nother:\n  <<: *b\n", "YAML aliases"),
    ("<<: {epochs: 2}\n", "YAML merge keys (<<) are not allowed in config files: write the keys out"),
    ("model: 123\n", "model must be a name (e.g. iLoRA), got 123"),
    ("dataset: [a]\n", "dataset must be a name (e.g. ml-100k), got ['a']"),
])
def test_config_file_structure_is_named(tmp_path, text, message):
    given = tmp_path / "bad.yaml"
    given.write_text(text)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Config(None, None, [str(given)])


def test_a_config_files_model_left_empty_is_the_default(tmp_path):
    given = tmp_path / "empty.yaml"
    given.write_text("model: ~\ndataset: ~\n")
    config = Config(None, None, [str(given)])
    assert (config["model"], config["dataset"]) == ("iLoRA", "ml-100k")


def test_a_huge_config_file_is_refused_before_yaml_reads_it(tmp_path):
    given = tmp_path / "huge.yaml"
    given.write_text("topk: [" + ", ".join(["1"] * 600_000) + "]\n")
    with pytest.raises(ConfigurationError, match="at most 1,048,576 bytes are read"):
        Config("SASRec", "ml-100k", [str(given)])


@pytest.mark.parametrize("args", [["--metrics=['Hit', 'hit', 'NDCG']"], ["--metrics=['ndcg', 'HIT']"],
                                  ["--train_user_share=1.0"], ["--train_user_share=1"], ["--weight_decay=0"]])
def test_spellings_of_the_default_experiment_get_its_hash(args):
    """Repeated or reordered metric names, a training share of all users and an integer for a float default are the
    default experiment: another hash would hide its result from the leaderboard and studies."""
    assert Config("SASRec", "ml-100k", cmd_args=args).experiment_hash == Config("SASRec", "ml-100k").experiment_hash


def test_an_eval_batch_size_that_eval_batch_users_replaces_is_warned_about(tiny_data_root, tiny_llama, caplog):
    config = Config("iLoRA", "tiny", cmd_args=[f"--data_path={tiny_data_root}", f"--llm_path={tiny_llama}",
                                               "--item_text_field=movie_title", "--eval_batch_users=2",
                                               "--eval_batch_size=999"])
    assert config["eval_batch_size"] == 40
    assert "eval_batch_size=999 is replaced by 40 (eval_batch_users 2 x 20 rows per user)" in caplog.text


def test_a_list_of_gpus_on_the_command_line_is_the_list_recbole_reads():
    """--gpu_id=0,1 (the README's form) is a Python tuple literal: it means CUDA_VISIBLE_DEVICES 0,1."""
    assert Config("SASRec", "ml-100k", cmd_args=["--gpu_id=0,1"])["gpu_id"] == "0,1"
