"""Bad input, as a new user gives it, through the real command lines: each case must end with exit status 2 and one
clear message (``PROG: error: ...``) naming what to fix, before any long work (no prerequisite run, no checkpoint),
and must not lose or change data it was not asked to change."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import TINY_CORPUS, TINY_RUN, build_tiny_llama, write_atomic_dataset

from recbole_ilora.cli import main as run_recbole
from recbole_ilora.converters.cli import main as prepare_dataset
from recbole_ilora.leaderboard.command import main as leaderboard
from recbole_ilora.model.parts.backbone import default_gguf_path, gguf_cache_folder

PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3
TINY_ARGS = [f"--{key}={value}" for key, value in TINY_RUN.items()]
LLM_ARGS = ["--item_domain=movie", "--item_text_field=movie_title"]


def with_extra(extra):
    """The tiny run's arguments with ``extra`` ones replacing those of the same key."""
    latest = {arg.split("=", 1)[0]: arg for arg in [*TINY_ARGS, *extra]}
    return list(latest.values())


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("llm"), TINY_CORPUS)


def edited_dataset(root, name, inter=None, item=None, **shape):
    """A tiny dataset ``name`` whose .inter / .item text is passed through the given editing functions."""
    write_atomic_dataset(root, name, **shape)
    for suffix, edit in (("inter", inter), ("item", item)):
        if edit is not None:
            path = root / name / f"{name}.{suffix}"
            path.write_text(edit(path.read_text()))
    return root


def lines_where(test, change):
    return lambda text: "\n".join(change(line) if test(line) else line for line in text.split("\n"))


DATASETS = {
    "tiny": {},
    "empty": {"inter": lambda text: ""},
    "header_only": {"inter": lambda text: text.split("\n")[0] + "\n"},
    "one_each": {"inter": lambda text: "\n".join(text.split("\n")[:1] + [f"u{u}\ti{u}\t3\t{1000 + u}"
                                                                        for u in range(1, 31)]) + "\n"},
    "no_time": {"inter": lambda text: "\n".join("\t".join(line.split("\t")[:3]) for line in text.split("\n"))},
    "text_time": {"inter": lines_where(lambda line: line.startswith("u3\t"), lambda line: line + "x")},
    "inf_time": {"inter": lines_where(lambda line: line.startswith("u6\t"),
                                      lambda line: "\t".join(line.split("\t")[:3] + ["inf"]))},
    "unknown_items": {"inter": lambda text: text + "u1\ti999\t4\t1000999\n"},
    "placeholder": {"item": lines_where(lambda line: line.startswith("i5\t"), lambda line: line + " [CansEmb]")},
    "untitled": {"item": lines_where(lambda line: line.startswith("i7\t"), lambda line: "i7\t")},
    "few_items": {"n_items": 15, "min_len": 8, "max_len": 12},
    "truncated": {"inter": lambda text: text + "u1\ti7\t4\t\n"},  # a last line cut before its timestamp
    "cut_short": {"inter": lambda text: text + "u1\ti7\n"},
    "text_rating": {"inter": lines_where(lambda line: line.startswith("u4\t"), lambda line: "u4\ti1\tgood\t1004001")},
    "extra_field": {"inter": lambda text: text + "u1\ti7\t4\t1001999\tsurplus\n"},
    "bom": {"inter": lambda text: "\ufeff" + text},
    "datetime": {"inter": lambda text: text.replace("timestamp:float", "timestamp:datetime", 1)},
    "nul": {"inter": lines_where(lambda line: line.startswith("u2\t"), lambda line: line.replace("u2", "u\x002"))},
    "twice_listed": {"item": lambda text: text + "i5\tAnother title\n"},
    "repeated": {"inter": lambda text: text + text.split("\n")[7] + "\n"},  # a line given twice
    "padded_id": {"inter": lines_where(lambda line: line.startswith("u7\t"), lambda line: line.replace("u7", "u7 "))},
    "float_id": {"inter": lambda text: text.replace("user_id:token", "user_id:float", 1)},
    "token_time": {"inter": lambda text: text.replace("timestamp:float", "timestamp:token", 1)},
    "float_title": {"item": lambda text: text.replace("movie_title:token_seq", "movie_title:float", 1)},
    "long_title": {"item": lines_where(lambda line: line.startswith("i3\t"), lambda line: line + "x" * 200_000)},
    "lone_quote": {"item": lines_where(lambda line: line.startswith("i3\t"), lambda line: 'i3\t"Movie number 3')},
    "no_items": {"item": lambda text: text.split("\n")[0] + "\n"},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for name, edits in DATASETS.items():
        shape = {key: edits[key] for key in ("n_items", "min_len", "max_len") if key in edits}
        edited_dataset(root, name, edits.get("inter"), edits.get("item"), **shape)
    (root / "folder" / "folder.inter").mkdir(parents=True)
    (root / "fifo").mkdir()
    os.mkfifo(root / "fifo" / "fifo.inter")
    (edited_dataset(root, "no_users") / "no_users" / "no_users.user").write_text("user_id:token\tage:float\n")
    latin1 = edited_dataset(root, "latin1") / "latin1" / "latin1.inter"
    latin1.write_bytes(latin1.read_bytes().replace(b"u5\t", "ü5\t".encode("latin-1")))
    return root


@pytest.fixture(scope="module")
def broken_backbones(tmp_path_factory, llm):
    """Backbone folders and files that cannot work: no weights, truncated weights, a truncated GGUF, a file where
    the GGUF cache folder should be."""
    root = tmp_path_factory.mktemp("backbones")
    no_weights, truncated = root / "no_weights", root / "truncated"
    shutil.copytree(llm, no_weights, ignore=shutil.ignore_patterns("*.safetensors"))
    shutil.copytree(llm, truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    gguf = root / "cut.gguf"
    gguf.write_bytes(default_gguf_path().read_bytes()[:5_000_000])
    (root / "cache_is_a_file").write_text("not a folder")
    no_tokenizer = root / "no_tokenizer"
    shutil.copytree(llm, no_tokenizer, ignore=shutil.ignore_patterns("tokenizer*"))
    negative = root / "negative_vocabulary"
    shutil.copytree(llm, negative)
    settings = json.loads((negative / "config.json").read_text())
    (negative / "config.json").write_text(json.dumps({**settings, "vocab_size": -1}))
    positions = root / "negative_positions"
    shutil.copytree(llm, positions)
    (positions / "config.json").write_text(json.dumps({**settings, "max_position_embeddings": -5}))
    layerless = root / "no_layers"
    shutil.copytree(llm, layerless)
    (layerless / "config.json").write_text(json.dumps({**settings, "num_hidden_layers": 0}))
    return root


def fails(main, argv, capsys, cwd, message):
    """``main(argv)`` exits with status 2 and prints ``PROG: error:`` with ``message``; nothing was trained."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert "error: " in err and "Traceback" not in err
    assert message in err.split("error: ", 1)[1], err
    assert not (cwd / "saved").exists() or not any((cwd / "saved").iterdir())  # no prerequisite run, no checkpoint
    return err


RUN_CASES = [
    # (dataset, model, extra arguments, expected message)
    ("tiny", "iLoRA", ["--num_expert=2"], "unknown config key 'num_expert': did you mean num_experts?"),
    ("tiny", "iLoRA", ["--num_experts=abc"], "num_experts must be an integer, got 'abc'"),
    ("tiny", "SASRec", ["--epochs=abc"], "epochs must be an integer, got 'abc'"),
    ("tiny", "SASRec", ["--learning_rate=-1"], "learning_rate must be a positive number, got -1"),
    ("tiny", "SASRec", ["--train_batch_size=0"], "train_batch_size must be a positive number, got 0"),
    ("tiny", "iLoRA", ["--history_length=0"], "history_length must be a positive number, got 0"),
    ("tiny", "iLoRA", ["--num_experts=3"], "num_experts=3 must be a positive divisor of lora_r=16"),
    ("tiny", "iLoRA", ["--eval_batch_size=10"], "eval_batch_size=10 is below the 20 candidates of one valid user"),
    ("tiny", "iLoRA", ["--loss_type=ranknet"], "loss_type must be one of lm, softmax, lm+softmax"),
    ("tiny", "iLoRA", ["--lora_dropout=1.5"], "lora_dropout must be in [0, 1), got 1.5"),
    ("tiny", "iLoRA", ["--llm_path=/nowhere/model"], "llm_path '/nowhere/model' does not exist"),
    ("tiny", "iLoRA", ["--item_domain=book"], "No prompt template for item_domain 'book'"),
    ("tiny", "iLoRA", ["--prompt_template=Watched {history}."], "must name {history} and then {candidates}, once each"),
    ("tiny", "iLoRA", ["--load_in_4bit=True"], "need a CUDA GPU"),
    ("tiny", "iLoRA", ["--lora_target_modules=['q_proj', 'qkv']"], "lora_target_modules ['qkv'] are not linear"),
    ("tiny", "iLoRA", ["--gate_temperature=0"], "gate_temperature must be at least 0.001"),
    ("tiny", "iLoRA", ["--learning_rate=1e10"], "learning_rate=10000000000.0 is above 1: an AdamW step"),
    ("empty", "SASRec", [], "empty.inter is empty: an atomic .inter file starts with a header line"),
    ("header_only", "SASRec", [], "header_only.inter has a header but no interactions"),
    ("one_each", "SASRec", [], "no user has the 3 interactions leave-one-out needs"),
    ("no_time", "SASRec", ["--load_col={'inter': ['user_id', 'item_id']}"], "has no timestamp column"),
    ("text_time", "SASRec", [], "is not a finite number"),
    ("inf_time", "SASRec", [], "timestamp 'inf' is not a finite number"),
    ("unknown_items", "SASRec", ["--strict_data=True"], "name items absent from"),
    ("placeholder", "iLoRA", [], "contain the prompt's placeholder [HistoryEmb] or [CansEmb] (item ids i5)"),
    ("untitled", "iLoRA", [], "untitled.item, line 8: empty movie_title" if PANDAS_3 else
     "1 item(s) of dataset 'untitled' have no title in field 'movie_title' (item ids i7)"),
    ("few_items", "SASRec", [], "fewer than the 19 negatives each evaluated user needs"),
    ("nowhere", "SASRec", [], "Dataset 'nowhere' not found"),
    # RecBole's own keys, checked before any work (RecBole: Adam instead, a failure after an epoch, a traceback)
    ("tiny", "SASRec", ["--learner=bogus"], "learner must be one of adam, adamw, sgd"),
    ("tiny", "SASRec", ["--eval_users=1000"], "eval_users=1000 is not below the 30 users dataset 'tiny' tests"),
    ("tiny", "SASRec", ["--eval_args={'splitt': {'LS': 'valid_and_test'}, 'order': 'TO', 'mode': 'uni19'}"],
     "eval_args has no key 'splitt': did you mean split?"),
    ("tiny", "SASRec", ["--valid_metric=MRR@10"], "valid_metric 'MRR@10' is not among the evaluated metrics"),
    ("tiny", "SASRec", ["--valid_metric=NDCG@20"], "valid_metric 'NDCG@20' is not among the evaluated metrics"),
    ("tiny", "SASRec", ["--valid_metric=Hit"], "valid_metric 'Hit' is not among the evaluated metrics"),
    ("tiny", "SASRec", ["--loss_type=BPR"], "SASRec with loss_type BPR trains on (positive, negative) pairs and needs sampled training negatives"),
    ("tiny", "SASRec", ["--eval_args={'split': {'LS': 'valid_and_test'}, 'order': 'XX', 'group_by': 'user', "
                        "'mode': 'uni19'}"], "eval_args order must be RO (random) or TO (time), got 'XX'"),
    ("tiny", "SASRec", ["--eval_args={'split': {'LS': 'valid_and_test'}, 'order': 'RO', 'group_by': 'user', "
                        "'mode': 'uni19'}"], "a sequential model needs TO"),
    ("tiny", "SASRec", ["--user_inter_num_interval=(100,inf)"], "RecBole's filters left no users or items"),
    ("tiny", "SASRec", ["--n_heads=3"], "SASRec cannot be built from its keys: The hidden size (16) is not a multiple"),
    ("tiny", "SASRec", ["--hidden_dropout_prob=1.5"], "SASRec cannot be built from its keys: dropout probability"),
    ("tiny", "SASRec", ["--nproc=2"], "nproc=2 starts RecBole's own multi-process training, which needs CUDA"),
    ("tiny", "SASRec", ["--encoding=bogus-codec"], "encoding 'bogus-codec' is not a text encoding"),
    ("tiny", "iLoRA", ["--prompt_template=Watched {history} [HistoryEmb]: {candidates}"], "contains [HistoryEmb]"),
    ("tiny", "SASRec", ["--topk=[1, 100]", "--valid_metric=NDCG@1"], "asks for the top 100 of the 20 items"),
    ("tiny", "SASRec", ["--topk=[0]"], "topk must be a positive integer"),
    ("tiny", "SASRec", ["--metrics=['Hit', 'Bogus']"], "metrics ['Bogus'] are not RecBole metrics"),
    ("tiny", "SASRec", ["--seed=-1"], "seed must be an integer in [0, 2**32), got -1"),
    ("tiny", "SASRec", ["--seed=99999999999999999999"], "seed must be an integer in [0, 2**32)"),
    ("tiny", "SASRec", ["--clip_grad_norm={'max_norm': -1}"], "a negative max_norm flips every gradient"),
    ("tiny", "SASRec", ["--learning_rate=1e999"], "learning_rate must be a finite number, got inf"),
    ("tiny", "SASRec", ["--learning_rate=.inf"], "learning_rate must be a finite number, got '.inf'"),
    ("tiny", "SASRec", ["--weight_decay=nan"], "weight_decay must be a finite number, got 'nan'"),
    ("tiny", "SASRec", ["--cpu_threads=4096"], "cpu_threads=4096 is more than the"),
    ("tiny", "SASRec", ["--local_rank=1"], "local_rank is set by RecBole's multi-process launcher, never by hand"),
    ("tiny", "SASRec", ["--protocol=../overall"], "invalid choice: '../overall'"),
    ("tiny", "iLoRA", ["--gate_temperature=1e-300"], "gate_temperature must be at least 0.001"),
    ("tiny", "iLoRA", ["--attn_implementation=fast"], "attn_implementation must be one of eager"),
    ("tiny", "iLoRA", ["--lora_target_modules=[]"], "lora_target_modules must list the backbone's linear layers"),
    ("tiny", "iLoRA", ["--history_length=20"], "history_length=20 is above MAX_ITEM_LIST_LENGTH=10"),
    ("tiny", "iLoRA", ["--prompt_template=Watched {history} {user}: {candidates}"], "field {user} is not one of"),
    ("tiny", "iLoRA", ["--prompt_template=Watched {history} {candidates} {"], "has an unmatched brace"),
    # data files: empty required fields, text in a number column, another encoding, a line with extra fields
    ("truncated", "SASRec", [], "truncated.inter, line 430: empty timestamp"),
    ("cut_short", "SASRec", [], "cut_short.inter, line 430: 2 fields where the header has 4"),
    ("text_rating", "SASRec", [], "rating 'good' is not a finite number"),
    ("latin1", "SASRec", [], "not valid utf-8 text"),
    ("extra_field", "SASRec", [], "extra_field.inter, line 430: 5 fields where the header has 4"),
    ("bom", "SASRec", [], "bom.inter starts with a byte-order mark"),
    ("datetime", "SASRec", [], "has type 'datetime'; RecBole's types are token, token_seq, float, float_seq"),
    ("nul", "SASRec", [], ": a NUL byte (a binary or corrupt file)"),
    ("twice_listed", "iLoRA", [], "item 'i5' is listed again"),
    ("folder", "SASRec", [], "folder.inter is a folder"),
    ("fifo", "SASRec", [], "fifo.inter is not a regular file (a named pipe, socket or device)"),  # was 'is empty'
    # RecBole's reader took the following lines into the quoted title: 'unexpected end of data'
    ("lone_quote", "SASRec", [], "lone_quote.item, line 4: the value '\"Movie number 3' opens a double quote it does "
                                 "not close"),
    ("no_items", "SASRec", [], "no_items.item has a header but no items"),  # was 'max() arg is an empty sequence'
    ("repeated", "SASRec", [], "repeated.inter, line 430 repeats line 8 (user_id, item_id, timestamp:"),
    ("padded_id", "SASRec", [], "user_id 'u7 ' has spaces around it"),
    ("float_id", "SASRec", [], "USER_ID_FIELD names column 'user_id:float' as the user id, which must have type "
                               "token"),
    # the split ordered a token timestamp by first appearance: wrong test targets on a shuffled file
    ("token_time", "SASRec", [], "token_time.inter, line 1: TIME_FIELD names column 'timestamp:token' as the "
                                 "timestamp, which must have type float"),
    ("tiny", "SASRec", ["--USER_ID_FIELD=rating"], "USER_ID_FIELD names column 'rating:float' as the user id"),
    ("tiny", "SASRec", ["--field_separator=,"], "the header splits into 1 field(s) with field_separator ','"),
    ("tiny", "SASRec", ["--val_interval={'rating': '[4;5)'}"], "val_interval's 'rating' must be intervals"),
    ("tiny", "SASRec", ["--benchmark_filename=['train', 'test']"],
     "benchmark_filename names the pre-split parts, three in the order"),  # was a ValueError in RecBole
    ("tiny", "SASRec", ["--benchmark_filename=['train', 'valid', 'test']"],
     "but benchmark_filename=['train', 'valid', 'test'] reads a pre-split dataset"),
    # RecBole: "Unable to convert column movie_title:float to type float64", naming no file
    ("float_title", "iLoRA", [], "float_title.item, line 1: column 'movie_title:float' holds the item titles"),
    ("long_title", "iLoRA", [], "long_title.item, line 4: a field longer than 131,072 characters"),
    ("tiny", "SASRec", ["--load_col={'inter': ['user_id', 'item_id', 'nope', 'timestamp']}"],
     "load_col's inter list names ['nope'], which"),
    ("tiny", "SASRec", ["--encoding=utf-16"], "not valid utf-16 text"),
    ("tiny", "SASRec", ["--field_separator="], "field_separator is empty: give it a value"),
    ("tiny", "SASRec", ["--checkpoint_dir="], "checkpoint_dir is empty: give it a value"),
    ("tiny", "SASRec", ["--state=BOGUS"], "state must be one of info, debug, warning, error, critical"),
    ("tiny", "SASRec", ["--worker=-1"], "worker must be zero or more, got -1"),
    ("tiny", "SASRec", ["--metrics=[]"], "metrics is empty: name at least one RecBole metric"),
    ("tiny", "SASRec", ["--eval_args={'split': {'LS': 'valid_and_test'}, 'order': 'TO', 'group_by': 'user', "
                        "'mode': 'uni0'}"], "eval_args mode 'uni0' samples 0 negatives per user"),
    ("tiny", "SASRec", ["--config_files=."], "Config file . (--config_files) is a folder"),
    ("tiny", "SASRec", ["--inner_size=1000000000000"], "parameters: its weights, gradients and optimizer state need"),
    ("tiny", "SASRec", ["--MAX_ITEM_LIST_LENGTH=10000000000"],
     "for one training batch's attention scores (train_batch_size 64"),
    ("tiny", "iLoRA", ["--llm_path="], "llm_path is empty: give it a value"),
    ("tiny", "iLoRA", ["--transfer_checkpoint=x.pth"], "transfer_checkpoint holds the weights of a transfer_from run, "
                                                       "and transfer_from is not set"),  # was ignored, exit 0
    ("tiny", "iLoRA", ["--encoder_config={'model': 'GRU4Rec'}"], "encoder_config may not set model"),
    ("tiny", "iLoRA", ["--encoder_config={'epochs': -1}"],
     "The SASRec run behind sasrec_checkpoint (on dataset 'tiny', with encoder_config {'epochs': -1}): epochs"),
    ("tiny", "TALLRec", ["--use_item_embeddings=True"], "use_item_embeddings=True is not TALLRec: TALLRec is iLoRA"),
    ("tiny", "LoRARec", ["--num_experts=4"], "num_experts=4 is not LoRARec"),
    ("tiny", "LoRARec", ["--use_item_embeddings=False"], "use_item_embeddings=False is not LoRARec"),
    ("tiny", "iLoRA", ["--attn_implementation=flash_attention_2"],
     "attn_implementation=flash_attention_2 is not available here"),
    ("tiny", "SASRec", ["--config_files="], "--config_files is empty (an unset shell variable?)"),
    ("tiny", "SASRec", ["--n_layers=0"], "n_layers must be a positive number (a size of the model), got 0"),
    ("tiny", "SASRec", ["--metrics=['Hit', 'AUC']"], "metrics ['AUC'] are not top-k ranking metrics"),
    ("tiny", "FM", [], "FM is context-aware (it predicts a label from features)"),
    ("tiny", "BPR", [], "BPR with its pairwise loss trains on (positive, negative) pairs"),
    ("tiny", "BPR", ["--train_neg_sample_args={'distribution': 'uniform', 'sample_num': 0}"],
     "train_neg_sample_args sample_num must be a positive integer"),  # was a ZeroDivisionError in RecBole
    ("tiny", "BPR", ["--train_neg_sample_args={'distribution': 'uniform', 'samplenum': 5}"],
     "train_neg_sample_args has no sub-key 'samplenum' (did you mean sample_num?)"),  # trained with 1, recorded 5
    ("tiny", "BPR", ["--train_neg_sample_args={'distribution': 'uniform', 'sample_num': 1, 'dynamic': True, "
                     "'candidate_num': 0}"], "train_neg_sample_args candidate_num must be a positive integer"),
    ("tiny", "SASRec", ["--layer_norm_eps=-1"], "layer_norm_eps must be a positive number"),  # was a NaN loss
    ("tiny", "SASRec", ["--initializer_range=-1"], "initializer_range must be zero or more"),  # a torch traceback
    ("tiny", "SASRec", ["--weight_decay=1e308"], "weight_decay must be at most 3.4e+38 in size"),  # torch overflow
    ("tiny", "SASRec", ["--hidden_dropout_prob=1e300"], "hidden_dropout_prob must be at most 3.4e+38 in size"),
    ("no_users", "SASRec", ["--load_col={'inter': ['user_id', 'item_id', 'rating', 'timestamp'], "
                            "'user': ['user_id', 'age']}"], "no_users.user has a header but no users"),
]


@pytest.mark.parametrize("dataset, model, extra, message", RUN_CASES, ids=[f"{c[0]}-{c[1]}-{c[3][:30]}" for c in RUN_CASES])
def test_run_recbole_refuses_bad_input_before_any_work(dataset, model, extra, message, data, llm, tmp_path,
                                                       capsys):
    llm_args = [f"--llm_path={llm}", *LLM_ARGS] if model in ("iLoRA", "LoRARec", "TALLRec") else []
    fails(run_recbole, [f"--model={model}", f"--dataset={dataset}", f"--data_path={data}",
                        *with_extra([*llm_args, *extra])], capsys, tmp_path, message)


BACKBONE_CASES = [
    ("no_weights", "has no weights (model.safetensors or pytorch_model.bin)"),
    ("truncated", "model.safetensors cannot be read as safetensors"),
    ("cut.gguf", "cut.gguf cannot be read as a GGUF model"),
    ("negative_vocabulary", "no model can be built from its config.json (RuntimeError: Trying to create tensor"),
    ("negative_positions", "its config.json's max_position_embeddings is -5, not a positive number"),
    ("no_layers", "its config.json's num_hidden_layers is 0, not a positive number of decoder layers"),
    ("no_tokenizer", "its tokenizer cannot be loaded"),
]


@pytest.mark.parametrize("backbone, message", BACKBONE_CASES, ids=[case[0] for case in BACKBONE_CASES])
def test_a_backbone_that_cannot_load_is_refused_before_the_encoder_stage(backbone, message, data, broken_backbones,
                                                                         tmp_path, capsys):
    fails(run_recbole, ["--model=iLoRA", "--dataset=tiny", f"--data_path={data}", f"--llm_path={broken_backbones / backbone}",
                        f"--llm_cache_dir={tmp_path / 'cache'}", *with_extra(LLM_ARGS)], capsys, tmp_path, message)


def test_a_file_where_the_backbone_cache_should_be_is_refused(data, broken_backbones, tmp_path, capsys):
    fails(run_recbole, ["--model=iLoRA", "--dataset=tiny", f"--data_path={data}",
                        f"--llm_cache_dir={broken_backbones / 'cache_is_a_file'}", *with_extra(LLM_ARGS)],
          capsys, tmp_path, "cache_is_a_file is a file, not a folder: choose a folder")


def test_another_model_in_the_default_backbones_cache_folder_is_refused(data, llm, tmp_path, capsys):
    """The tiny Llama copied where the default GGUF's dequantised copy goes must not run under SmolLM2's identity."""
    cache = tmp_path / "cache"
    planted = shutil.copytree(llm, gguf_cache_folder(default_gguf_path(), cache))
    fails(run_recbole, ["--model=TALLRec", "--dataset=tiny", f"--data_path={data}", f"--llm_cache_dir={cache}",
                        *with_extra(LLM_ARGS)], capsys, tmp_path,
          f"{planted} is not what {default_gguf_path()} dequantises to (it has no dequantised_from.json")


def test_a_diverging_run_stops_at_once_naming_the_batch_and_the_key(data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_recbole(["--model=SASRec", "--dataset=tiny", f"--data_path={data}",
                     *with_extra(["--learning_rate=1e30", "--clip_grad_norm=None", "--epochs=3"])])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert "Training loss is nan at epoch 0, batch 2: the run diverged. Lower learning_rate (now 1e+30)" in err


def test_weights_that_overflow_in_an_epoch_of_one_batch_stop_the_run(data, tmp_path, capsys):
    """One batch an epoch: the loss was finite, the step left infinite weights, and no later loss would show it
    (the run wrote a result from NaN scores, exit 0)."""
    with pytest.raises(SystemExit) as exit_info:
        run_recbole(["--model=SASRec", "--dataset=tiny", f"--data_path={data}", f"--checkpoint_dir={tmp_path}",
                     *with_extra(["--learning_rate=1e30", "--clip_grad_norm=None", "--train_batch_size=4096"])])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert "the run diverged" in err or "scores candidates as NaN or infinite" in err, err


def test_command_line_values_are_never_evaluated(data, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    fails(run_recbole, ["--model=SASRec", "--dataset=tiny", f"--data_path={data}", *TINY_ARGS,
                        f"--seed=__import__('os').system('touch {marker}')"], capsys, tmp_path, "seed must be an integer")
    assert not marker.exists()


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed here")
def test_log_wandb_without_wandb_is_refused_before_any_work(data, tmp_path, capsys):
    fails(run_recbole, ["--model=SASRec", "--dataset=tiny", f"--data_path={data}", *TINY_ARGS, "--log_wandb=True"],
          capsys, tmp_path, "log_wandb=True logs to Weights & Biases, whose wandb package is not installed")


def test_missing_and_malformed_config_files_are_named_with_line_and_column(data, tmp_path, capsys):
    fails(run_recbole, ["--model=SASRec", "--dataset=tiny", f"--data_path={data}", "--config_files=nope.yaml"],
          capsys, tmp_path, "Config file nope.yaml (--config_files) does not exist")
    (tmp_path / "bad.yaml").write_text("epochs: 3\nlearning_rate: [0.1\n")
    fails(run_recbole, ["--model=SASRec", "--dataset=tiny", f"--data_path={data}", "--config_files=bad.yaml"],
          capsys, tmp_path, "Config file bad.yaml, line 3, column 1")
    for text, message in (("123: abc\n", "key 123 is not a name"),
                          ("? [a, b]\n: 1\n", "line 1, column 3: a key must be a name, got ['a', 'b']"),
                          ("epochs: " + "[" * 50_000 + "]" * 50_000 + "\n", "nested too deeply to read")):
        (tmp_path / "odd.yaml").write_text(text)
        fails(run_recbole, ["--model=SASRec", "--dataset=tiny", f"--data_path={data}", "--config_files=odd.yaml"],
              capsys, tmp_path, message)


def test_the_config_files_dataset_is_the_runs_when_the_command_line_names_none(data, tmp_path, capsys):
    (tmp_path / "run.yaml").write_text("dataset: no_such_set\n")
    fails(run_recbole, ["--model=SASRec", f"--data_path={data}", "--config_files=run.yaml"], capsys, tmp_path,
          "Dataset 'no_such_set' not found")  # not ml-100k, the default when nothing names a dataset
    (tmp_path / "run.yaml").write_text("dataset: ../tiny\n")
    fails(run_recbole, ["--model=SASRec", f"--data_path={data}", "--config_files=run.yaml"], capsys, tmp_path,
          "dataset must be a plain name")


def test_items_without_metadata_are_counted_in_a_warning_without_strict(data, tmp_path):
    """The warning, raised while the data is checked, reaches the run's log file with the config's own warnings."""
    from recbole_ilora.quick_start import run

    result = run("SASRec", "unknown_items", cmd_args=[f"--data_path={data}", *TINY_ARGS])  # TINY_RUN sets embedding_size
    log = Path(result["log_file"]).read_text()
    assert result["test"] and "1 of " in log and "name items absent from" in log
    assert "Config key 'embedding_size' is a hyper-parameter of other models" in log  # logged while building Config


def test_long_titles_are_cut_to_the_token_budget_with_a_counted_warning(data, llm, tmp_path, caplog):
    from recbole_ilora.config import Config
    from recbole_ilora.data import load_dataset
    from recbole_ilora.model.ilora import iLoRA

    root = edited_dataset(tmp_path / "long", "long", item=lines_where(
        lambda line: line.startswith("i4\t"), lambda line: "i4\t" + " ".join(["word"] * 2000)))
    config = Config("iLoRA", "long", config_dict={**TINY_RUN, "data_path": str(root), "llm_path": str(llm),
                                                   "item_domain": "movie", "item_text_field": "movie_title",
                                                   "max_title_tokens": 16})
    iLoRA.checks.check_dataset(config, load_dataset(config))
    assert "1 title(s) of dataset 'long' are longer than max_title_tokens=16 tokens" in caplog.text


def test_a_prompt_beyond_the_backbones_context_is_refused(data, llm, tmp_path, capsys):
    fails(run_recbole, ["--model=iLoRA", "--dataset=tiny", f"--data_path={data}", f"--llm_path={llm}", *LLM_ARGS,
                        *with_extra(["--max_title_tokens=100", "--history_length=50", "--MAX_ITEM_LIST_LENGTH=50", "--rerank_top_n=200"])],
          capsys, tmp_path, "beyond the backbone's 1024 positions")


def test_resuming_another_experiments_checkpoint_is_refused_and_changes_nothing(data, tmp_path, capsys):
    from recbole_ilora.quick_start import run

    first = run("SASRec", "tiny", cmd_args=[f"--data_path={data}", *TINY_ARGS])
    before = Path(first["checkpoint"]).read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        run_recbole(["--model=SASRec", "--dataset=tiny", f"--data_path={data}",
                     *with_extra(["--epochs=2", f"--resume_checkpoint={first['checkpoint']}"])])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "epochs (1 there, 2 here)" in err and "Traceback" not in err
    assert Path(first["checkpoint"]).read_bytes() == before


def test_a_checkpoint_path_in_a_results_json_is_checked_before_use(data, tmp_path):
    """A JSON result naming a checkpoint of another experiment (edited, or copied from elsewhere) is not reused as
    a finished run: the run is trained again."""
    from recbole_ilora.prerequisites import finished_checkpoint
    from recbole_ilora.quick_start import run

    first = run("SASRec", "tiny", cmd_args=[f"--data_path={data}", *TINY_ARGS])
    other = run("SASRec", "tiny", cmd_args=[f"--data_path={data}", *with_extra(["--seed=7"])])
    assert finished_checkpoint(first["result_file"]) == first["checkpoint"]
    edited = json.loads(Path(first["result_file"]).read_text())
    edited["checkpoint"] = other["checkpoint"]
    Path(first["result_file"]).write_text(json.dumps(edited))
    assert finished_checkpoint(first["result_file"]) is None


def test_leaderboard_refuses_a_bad_key_once_before_running_anything(data, tmp_path, capsys):
    fails(leaderboard, ["--models=SASRec,GRU4Rec", "--datasets=tiny", "--seeds=2020", f"--out={tmp_path / 'res'}",
                        f"--data_path={data}", "--num_expert=2"], capsys, tmp_path, "unknown config key 'num_expert'")
    assert not (tmp_path / "res" / "leaderboard-logs").exists()


@pytest.mark.parametrize("option, message", [("--alpha=2", "--alpha is a significance level in (0, 1), got 2.0"),
                                             ("--figures={file}", "is a file; it names a folder")])
def test_leaderboard_refuses_bad_options_by_name(tmp_path, capsys, option, message):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        leaderboard(["--models=Pop", "--datasets=ml-100k", "--seeds=2020", f"--out={tmp_path / 'res'}",
                     option.format(file=tmp_path / "a_file")])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_prepare_dataset_overwrite_keeps_a_folder_with_the_users_own_files(tmp_path, capsys):
    from unit.converters.test_converters import ml1m_raw

    raw = ml1m_raw(tmp_path / "raw")
    assert prepare_dataset(["ml-1m", f"--raw={raw}", f"--out={tmp_path / 'out'}", "--quiet"]) == 0
    own = tmp_path / "out" / "ml-1m" / "my_notes.txt"
    own.write_text("mine")
    shutil.copy(raw / "movies.dat", raw / "movies.bak")
    (raw / "ratings.dat").write_text((raw / "ratings.dat").read_text().replace("::5::", "::4::"))
    fails(prepare_dataset, ["ml-1m", f"--raw={raw}", f"--out={tmp_path / 'out'}", "--quiet", "--overwrite"],
          capsys, tmp_path, "holds files prepare_dataset did not write (my_notes.txt)")
    assert own.read_text() == "mine"


def test_prepare_dataset_names_an_encoding_problem_as_one(tmp_path, capsys):
    from unit.converters.test_converters import ml1m_raw

    raw = ml1m_raw(tmp_path / "raw")
    (raw / "movies.dat").write_bytes((raw / "movies.dat").read_text(encoding="latin-1").encode("utf-16"))
    err = fails(prepare_dataset, ["ml-1m", f"--raw={raw}", f"--out={tmp_path / 'out'}", "--quiet"], capsys,
                tmp_path, "looks UTF-16- or UTF-32-encoded")
    assert "separat" not in err.split("(an encoding problem")[0]


@pytest.mark.parametrize("options, message", [
    (["--out={tmp}/a_file"], "--out {tmp}/a_file: {tmp}/a_file is a file, not a folder"),
    (["--out=/proc/nope"], "--out /proc/nope cannot be written"),
    (["--out={tmp}/out", "--name=../elsewhere"], "--name must be a plain name"),
    (["--out={tmp}/out", "--name=.hidden"], "it must start with a letter or digit"),
    (["--out={tmp}/out", f"--name={'n' * 300}"], "it has 300 characters, above 100"),  # was OSError: name too long
    (["--out={tmp}/out", "--encoding=bogus-codec"], "--encoding 'bogus-codec' is not a text encoding"),
    (["--out={tmp}/out", "--min_rating=nan"], "--min_rating must be a finite number, got nan"),
])
def test_prepare_dataset_refuses_bad_output_options_before_reading(tmp_path, capsys, options, message):
    from unit.converters.test_converters import ml1m_raw

    raw = ml1m_raw(tmp_path / "raw")
    (tmp_path / "a_file").write_text("")
    fails(prepare_dataset, ["ml-1m", f"--raw={raw}", *[o.format(tmp=tmp_path) for o in options], "--quiet"], capsys,
          tmp_path, message.format(tmp=tmp_path))


def test_prepare_dataset_counts_an_impossible_timestamp_as_a_malformed_line(tmp_path, capsys):
    from unit.converters.test_converters import ml1m_raw

    raw = ml1m_raw(tmp_path / "raw")
    ratings = raw / "ratings.dat"
    ratings.write_text(ratings.read_text() + "1::1::5::12345678901234567890123\n")
    assert prepare_dataset(["ml-1m", f"--raw={raw}", f"--out={tmp_path / 'out'}"]) == 0
    assert "timestamp 12345678901234567890123 is out of range" in capsys.readouterr().out


def test_prepare_dataset_counts_a_line_nested_beyond_the_parsers_depth_as_malformed(tmp_path, capsys):
    import gzip

    raw = tmp_path / "raw"
    raw.mkdir()
    deep = "{'user_id': 'u9', 'reviews': " + "[" * 20000 + "]" * 20000 + "}"
    good = "{'user_id': 'u1', 'reviews': [{'item_id': '1', 'posted': 'Posted May 1, 2014.'}]}"
    with gzip.open(raw / "australian_user_reviews.json.gz", "wt") as file:
        file.write("\n".join([good, deep, good.replace("u1", "u2"), good.replace("u1", "u3")]) + "\n")
    with gzip.open(raw / "steam_games.json.gz", "wt") as file:
        file.write("{'id': '1', 'app_name': 'A Game'}\n")
    prepare_dataset(["steam", f"--raw={raw}", f"--out={tmp_path / 'out'}"])
    out = capsys.readouterr()
    assert "australian_user_reviews.json.gz:2" in out.out + out.err and "Traceback" not in out.err


def test_debug_shows_the_traceback_and_the_default_does_not(tmp_path):
    argv = [sys.executable, "-m", "recbole_ilora", "--model=SASRec", "--dataset=nowhere", f"--data_path={tmp_path}"]
    plain = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    debug = subprocess.run([*argv, "--debug"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain.stderr and plain.stderr.count("\n") == 2  # the error and the hint
    assert "Traceback" in debug.stderr and "DatasetNotFoundError" in debug.stderr


def test_checkpoints_load_without_unpickling(data, tmp_path):
    from recbole_ilora.quick_start import run

    checkpoint = run("SASRec", "tiny", cmd_args=[f"--data_path={data}", *TINY_ARGS])["checkpoint"]
    assert torch.serialization.get_unsafe_globals_in_checkpoint(checkpoint) == []
