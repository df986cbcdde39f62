"""What a config may contain: the known keys, their types and ranges, checked before any work.

The YAML files are the schema. A key is known when some layer defines it: RecBole's own property files (any model,
dataset or quick-start file) or this package's ``properties/``. Its type is the one its defining line's comment
declares, in the convention both projects follow (``epochs: 300  # (int) The number of training epochs.``).
A key known only to other models is accepted with a warning (a leaderboard passes one set of keys to every model);
an unknown key is an error with the closest known names. Ranges are the table below.
"""

import difflib
import importlib.util
import math
import os
import re
from functools import lru_cache
from logging import getLogger
from pathlib import Path

import recbole
import yaml
from recbole.evaluator.base_metric import TopkMetric
from recbole.utils import InputType, ModelType
from recbole.evaluator.register import metric_types, metrics_dict

from recbole_ilora.errors import ConfigurationError
from recbole_ilora.run_info import physical_memory

RECBOLE_PROPERTIES = Path(recbole.__file__).resolve().parent / "properties"

# Keys RecBole reads that no property file of it defines.
RECBOLE_UNDECLARED = {"model", "dataset", "encoding", "nproc", "world_size", "local_rank", "ip", "port", "offset"}
# Declared types RecBole's own code is wider than: it writes gpu_id with str(), so 0 and '0' both work; it makes a
# list of one topk.
WIDER_TYPES = {"gpu_id": (str, int), "topk": (list, tuple, int)}
# Keys whose declared default is a value but for which RecBole's code reads None as a setting of its own.
NONE_MEANS = {"load_col": "load every column of every atomic file"}

_DECLARATION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):[^#]*#\s*\(([^)]*)\)")
_TYPE_WORDS = {"int": (int,), "float": (int, float), "str": (str,), "string": (str,), "bool": (bool,),
               "list": (list, tuple), "dict": (dict,), "none": (type(None),)}


def _positive(value):
    return value > 0


def _non_negative(value):
    return value >= 0


def _fraction(value):
    return 0 <= value < 1


def _unit_interval(value):
    return 0 <= value <= 1


# RecBole's keys that load or write pickles (a pickle can run code when loaded): refused when set. Rebuilding a
# dataset and its loaders from the atomic files takes seconds.
PICKLE_KEYS = {"dataset_save_path": "makes RecBole unpickle a saved dataset",
               "dataloaders_save_path": "makes RecBole unpickle saved data loaders",
               "save_dataset": "pickles the dataset for a later run to unpickle",
               "save_dataloaders": "pickles the data loaders for a later run to unpickle"}

# key -> (test, what the value must be); checked on the final value when it is set (not None).
RANGES = {key: (_positive, "a positive number") for key in (
    "epochs", "train_batch_size", "eval_batch_size", "learning_rate", "projector_learning_rate", "gate_learning_rate",
    "history_length", "num_experts", "lora_r", "lora_alpha", "train_negatives", "gradient_accumulation_steps",
    "train_samples_per_epoch", "max_title_tokens", "rerank_top_n", "generation_max_new_tokens", "stopping_step",
    "MAX_ITEM_LIST_LENGTH", "cpu_threads", "eval_users", "gate_temperature", "ddp_timeout",
    "eval_batch_users")}
RANGES.update({key: (_non_negative, "zero or more") for key in ("checkpoint_steps", "weight_decay", "eval_step",
                                                                 "worker", "loss_decimal_place")})
RANGES.update({key: (_fraction, "in [0, 1)") for key in ("lora_dropout", "warmup_ratio")})
RANGES["min_lr_ratio"] = (_unit_interval, "in [0, 1]")
RANGES["train_user_share"] = (lambda value: 0 < value <= 1, "in (0, 1]")
RANGES["gate_temperature"] = (lambda value: value >= 1e-3, "at least 0.001 (below, the gate's logits overflow to NaN)")
RANGES["metric_decimal_place"] = (lambda value: isinstance(value, int) and 4 <= value <= 16, "an integer from 4 to 16 "
                                  "(the JSON's metrics are rounded to it and checked against the per-user ranks)")
RANGES["seed"] = (lambda value: isinstance(value, int) and 0 <= value < 2**32, "an integer in [0, 2**32)")
RANGES["layer_norm_eps"] = (_positive, "a positive number (LayerNorm divides by the root of variance + eps)")
RANGES["initializer_range"] = (_non_negative, "zero or more (the standard deviation of the initial weights)")

# The largest float32: torch keeps a float hyper-parameter (a weight decay, a learning rate) in float32 tensors,
# and a larger value overflows there at the first step.
FLOAT32_MAX = 3.4028234663852886e38

# RecBole's optimizers (its Trainer falls back to Adam, with only a log line, for any other name), but sparse_adam,
# which takes sparse gradients only: no model here has them (torch raises at the first step).
LEARNERS = ("adam", "adamw", "sgd", "adagrad", "rmsprop")
# RecBole's filters, which it skips for pre-split files (Dataset._data_processing: only without benchmark_filename).
PRE_SPLIT_UNFILTERED = ("rm_dup_inter", "val_interval", "user_inter_num_interval", "item_inter_num_interval",
                        "filter_inter_by_user_or_item")
# rm_dup_inter: which of a repeated (user, item) interaction RecBole keeps; None keeps all.
DUPLICATE_RULES = (None, "first", "last")
# RecBole's log levels (its logger falls back to INFO, silently, for any other name).
STATES = ("info", "debug", "warning", "error", "critical")
# An eval_args mode that samples N negatives per evaluated user: uniN (uniform) or popN (by popularity).
SAMPLED_MODE = re.compile(r"^(uni|pop)(-?\d+)$")


# eval_args modes RecBole knows besides SAMPLED_MODE: every item, or the labelled pairs of a value-metric dataset.
UNSAMPLED_MODES = ("full", "labeled")
EVAL_SPLITS = {"LS": ("valid_and_test", "test_only")}  # leave-one-out; RS takes three ratios
# RecBole's batch transforms (data/transform.py); any other name fails when the first batch is built.
TRANSFORMS = ("mask_itemseq", "inverse_itemseq", "crop_itemseq", "reorder_itemseq", "user_defined")
# The ratio each transform reads (a share of the sequence), which no property file of RecBole's sets for most models:
# unset, the transform fails on the first batch with a bare TypeError.
TRANSFORM_RATIOS = {"mask_itemseq": "mask_ratio", "crop_itemseq": "eta", "reorder_itemseq": "beta"}
# RecBole's interval filters, e.g. "[5,inf)" or "[0,10];(100,200]": it skips a malformed one with a log line only.
INTERVAL = re.compile(r"^\s*[\[(]\s*-?(inf|\d+(\.\d*)?)\s*,\s*-?(inf|\d+(\.\d*)?)\s*[\])]\s*$")
INTERVAL_KEYS = ("user_inter_num_interval", "item_inter_num_interval")
# RecBole's keys that a model reads as one of a few names, checked for the models whose own default is one of them:
# another name fails only when the model is built, after the data is loaded, with a bare KeyError (hidden_act:
# layers.FeedForward.get_hidden_act looks it up in a dict), an exception of its own (CDAE, DiffRec), or not at all.
MODEL_CHOICES = {"loss_type": ("CE", "BPR"),  # RecBole's sequential models' losses
                 "hidden_act": ("gelu", "relu", "swish", "tanh", "sigmoid"),
                 "hid_activation": ("sigmoid", "relu", "tanh"), "out_activation": ("sigmoid", "relu"),  # CDAE
                 "mean_type": ("x0", "eps"), "noise_schedule": ("linear", "linear-var", "cosine", "binomial")}
# gpu_id: the CUDA_VISIBLE_DEVICES RecBole sets, a device index or a comma-separated list of them.
GPU_IDS = re.compile(r"^\d+(,\d+)*$")


def shown(value, limit=200):
    """``repr(value)`` for a message, cut at ``limit`` characters: a message names a bad value, it does not echo a
    two-million-element list."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]} ... ({len(text):,} characters)"


def _topk_values(topk):
    """The cut-offs of ``topk`` (one or a list of positive integers), or None if it is not that."""
    ks = [topk] if isinstance(topk, int) else topk
    if not isinstance(ks, (list, tuple)) or not ks or not all(
            isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in ks):
        return None
    return list(ks)


def canonical_metric(name):
    """RecBole's own spelling of a metric (``ndcg@10`` -> ``NDCG@10``): RecBole reads any case, so every spelling is
    one experiment and gets one hash."""
    base, at, k = name.partition("@")
    found = metrics_dict.get(base.lower())
    return f"{found.__name__ if found else base}{at}{k}"


def structure_problems(values, defaults):
    """Problems of the structured keys RecBole parses while it builds its config (topk, metrics, eval_args), which it
    reports as bare Python errors, or never (a malformed interval filter, an unknown transform or loss); ``values``
    are the merged settings, ``defaults`` the model's and dataset's own values."""
    problems = []
    if values.get("topk") is not None and _topk_values(values["topk"]) is None:
        problems.append(f"topk must be a positive integer or a non-empty list of them, got {shown(values['topk'])}")
    metrics = values.get("metrics")
    names = [metrics] if isinstance(metrics, str) else metrics if isinstance(metrics, (list, tuple)) else None
    if metrics is not None and (names is None or not all(isinstance(m, str) for m in names)):
        problems.append(f"metrics must be a list of RecBole metric names (e.g. ['Hit', 'NDCG']), got {shown(metrics)}")
    elif names:
        unknown = [m for m in names if m.lower() not in metric_types]
        other = [m for m in names if m.lower() in metrics_dict and not issubclass(metrics_dict[m.lower()], TopkMetric)]
        if unknown:
            problems.append(f"metrics {unknown} are not RecBole metrics; known: {', '.join(sorted(metric_types))}")
        elif other:
            problems.append(f"metrics {other} are not top-k ranking metrics: this package's runs rank each user's "
                            f"candidates and record the target's rank, from which Hit, NDCG, MRR, Recall, Precision "
                            f"and MAP come; RecBole 1.2.1's evaluator fails after training on the item-level metrics "
                            f"(ItemCoverage, AveragePopularity, GiniIndex, ShannonEntropy, TailPercentage), and GAUC "
                            f"and the value metrics (AUC, LogLoss, MAE, RMSE) need labelled pairs: use top-k metrics")
    eval_args = values.get("eval_args")
    if eval_args is not None and not isinstance(eval_args, dict):
        problems.append(f"eval_args must be a dict (split, order, group_by, mode), got {shown(eval_args)}")
    elif eval_args:
        problems += _eval_args_problems(eval_args)
    transform = values.get("transform")
    if transform is not None and transform not in TRANSFORMS:
        problems.append(f"transform must be ~ or one of {', '.join(TRANSFORMS)} (RecBole's batch transforms), got "
                        f"{transform!r}")
    ratio_key = TRANSFORM_RATIOS.get(transform)
    ratio = values.get(ratio_key) if ratio_key else None
    if ratio_key and (not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not 0 < ratio <= 1):
        problems.append(f"transform {transform} reads {ratio_key}, the share of each sequence it changes: set "
                        f"{ratio_key} to a number in (0, 1], got {shown(ratio)}")
    for key in INTERVAL_KEYS:
        interval = values.get(key)
        if interval is not None and not _are_intervals(interval):
            problems.append(f"{key} must be intervals such as '[5,inf)' or '[0,10];(100,200]' (RecBole skips a "
                            f"malformed one and filters nothing), got {shown(interval)}")
    val_interval = values.get("val_interval")  # {field: intervals}: RecBole keeps the lines whose value is inside
    for field, interval in (val_interval.items() if isinstance(val_interval, dict) else ()):
        if not _are_intervals(interval):
            problems.append(f"val_interval's {field!r} must be intervals such as '[4,inf)' or '[1,2];[4,5]' (RecBole "
                            f"skips a malformed one and filters nothing), got {shown(interval)}")
    for key, choices in MODEL_CHOICES.items():
        if defaults.get(key) in choices and values.get(key) not in choices:
            problems.append(f"{key} must be one of {', '.join(choices)} for this model, got {shown(values.get(key))}")
    gpu_id = values.get("gpu_id")  # checked before RecBole writes it to CUDA_VISIBLE_DEVICES
    if isinstance(gpu_id, (str, int)) and gpu_id != "" and not GPU_IDS.match(str(gpu_id)):
        problems.append(f"gpu_id must be a GPU index or a comma-separated list of them (e.g. 0 or '0,1'), got "
                        f"{shown(gpu_id)}")
    return problems


EVAL_ARGS_KEYS = ("split", "order", "group_by", "mode")


def _eval_args_problems(eval_args):
    problems = []
    for key in sorted(set(eval_args) - set(EVAL_ARGS_KEYS), key=str):
        close = difflib.get_close_matches(str(key), EVAL_ARGS_KEYS, n=1)
        problems.append(f"eval_args has no key {key!r}" + (f": did you mean {close[0]}?" if close else "")
                        + f" (its keys: {', '.join(EVAL_ARGS_KEYS)})")
    split = eval_args.get("split")
    if split is not None:
        (kind, how), = split.items() if isinstance(split, dict) and len(split) == 1 else ((None, None),)
        ratios_ok = kind == "RS" and isinstance(how, (list, tuple)) and len(how) == 3 and all(
            isinstance(r, (int, float)) and not isinstance(r, bool) and r >= 0 for r in how) and sum(how) > 0
        if not (ratios_ok or how in EVAL_SPLITS.get(kind, ())):
            problems.append(f"eval_args split must be {{LS: valid_and_test}} or {{LS: test_only}} (leave-one-out) or "
                            f"{{RS: [train, valid, test]}} (ratios), got {shown(split)}")
        elif ratios_ok and not all(how):
            problems.append(f"eval_args split {shown(split)} leaves no {'train' if not how[0] else 'valid' if not how[1] else 'test'} "
                            f"data: every ratio of RS [train, valid, test] must be above 0 (validation picks the "
                            f"best epoch, test is what the result reports)")
        group_by = eval_args.get("group_by", "user")
        if kind == "LS" and group_by != "user":
            problems.append(f"eval_args group_by {shown(group_by)} with split LS: leave-one-out holds out each user's "
                            f"last interactions, so it groups by user whatever group_by says; write group_by: user "
                            f"(or leave it out)")
    modes = eval_args.get("mode")
    for mode in dict.fromkeys(modes.values() if isinstance(modes, dict) else [modes]) if modes is not None else []:
        sampled = SAMPLED_MODE.match(mode) if isinstance(mode, str) else None
        if mode == "labeled":
            problems.append("eval_args mode labeled scores labelled pairs with value metrics (context-aware models); "
                            "this package's protocols rank each user's candidates: use full, uniN or popN (e.g. "
                            "uni19)")
        elif not sampled and mode not in UNSAMPLED_MODES:
            problems.append(f"eval_args mode {shown(mode)} is not one of RecBole's: full, labeled, uniN or popN (N sampled "
                            f"negatives per user, e.g. uni19)")
        elif sampled and int(sampled.group(2)) < 1:
            problems.append(f"eval_args mode {mode!r} samples {sampled.group(2)} negatives per user: use "
                            f"{sampled.group(1)}N with N >= 1 (e.g. uni19: 20 candidates), or full")
    return problems


def _one_spelling(eval_args):
    """``eval_args`` with its mode for both phases, as RecBole reads one mode (``uni19`` is ``{valid: uni19, test:
    uni19}``)."""
    mode = eval_args.get("mode")
    return dict(eval_args) if isinstance(mode, dict) or "mode" not in eval_args else \
        {**eval_args, "mode": {"valid": mode, "test": mode}}


def _protocol_files(properties_dir):
    return sorted((Path(properties_dir) / "protocol").glob("*.yaml"))


def protocols_of(values, properties_dir):
    """The protocols (``properties_dir/protocol/*.yaml``) whose every setting ``values`` holds (eval_args in one
    spelling): those a run of ``values`` could be filed under."""
    found = []
    for path in _protocol_files(properties_dir):
        settings = yaml.safe_load(path.read_text()) or {}
        if all((_one_spelling(value) if key == "eval_args" else value) == values.get(key)
               for key, value in settings.items()):
            found.append(path.stem)
    return found


def protocol_problems(given, protocol_args, values, properties_dir):
    """The sub-keys of the user's ``eval_args`` (``given``) that contradict the protocol's (``protocol_args``): the
    result would be filed and compared under the protocol's name (full ranking as candidates20). Equal values and the
    sub-keys the protocol leaves open are the user's to set."""
    if not isinstance(given, dict) or not isinstance(protocol_args, dict):
        return []
    mine, theirs = _one_spelling(given), _one_spelling(protocol_args)
    contradicting = [key for key in mine if key in theirs and mine[key] != theirs[key]]
    if not contradicting:
        return []
    matching = [name for name in protocols_of(values, properties_dir) if name != values.get("protocol")]
    fix = f"run it with {' or '.join(f'--protocol={name}' for name in matching)}" if matching else (
        f"no protocol defines these eval_args: add properties/protocol/NAME.yaml with them and run --protocol=NAME "
        f"(protocols: {', '.join(path.stem for path in _protocol_files(properties_dir))})")
    return [f"eval_args {' and '.join(f'{key} {shown(given[key])}' for key in contradicting)} "
            f"{'contradicts' if len(contradicting) == 1 else 'contradict'} protocol {values.get('protocol')} "
            f"({', '.join(f'{key} {shown(protocol_args[key])}' for key in contradicting)}), under whose name the "
            f"result would be filed: {fix}, or leave eval_args out"]


def _value_problems(values):
    """Problems of RecBole's structured keys that types and ranges do not cover, found before any work (RecBole
    itself finds them after an epoch, or never)."""
    problems = []
    learner = values.get("learner")
    if isinstance(learner, str) and learner.lower() not in LEARNERS:
        sparse = " (sparse_adam takes sparse gradients only, which no model here has)" \
            if learner.lower() == "sparse_adam" else ""
        problems.append(f"learner must be one of {', '.join(LEARNERS)}, got {shown(learner)}{sparse}")
    if values.get("rm_dup_inter") not in DUPLICATE_RULES:
        problems.append(f"rm_dup_inter must be ~ (keep repeated interactions), first or last (which one RecBole "
                        f"keeps), got {shown(values.get('rm_dup_inter'))}")
    ks = _topk_values(values.get("topk")) or []  # checked with the structured keys, before RecBole read it
    state = values.get("state")
    if state is not None and str(state).lower() not in STATES:
        problems.append(f"state must be one of {', '.join(STATES)} (the log level), got {shown(state)}")
    eval_args = values.get("eval_args") if isinstance(values.get("eval_args"), dict) else {}
    metrics = [str(m).lower() for m in (values.get("metrics") or [])]
    valid_metric = values.get("valid_metric")
    if isinstance(valid_metric, str):
        name, _, k = valid_metric.lower().partition("@")
        needs_k = name in metrics_dict and issubclass(metrics_dict[name], TopkMetric)  # results hold hit@K, not hit
        if name not in metrics or (k and (not k.isdigit() or int(k) not in ks)) or (needs_k and not k):
            problems.append(f"valid_metric {valid_metric!r} is not among the evaluated metrics (metrics {metrics} at "
                            f"topk {list(ks)}): early stopping would fail after the first epoch")
    order = eval_args.get("order")
    if order not in (None, "RO", "TO"):
        problems.append(f"eval_args order must be RO (random) or TO (time), got {shown(order)}")
    elif order == "RO" and values.get("MODEL_TYPE") == ModelType.SEQUENTIAL:
        problems.append("eval_args order RO shuffles each history; a sequential model needs TO (time order)")
    clip = values.get("clip_grad_norm")
    if clip is not None:
        max_norm = clip.get("max_norm") if isinstance(clip, dict) else None
        norm_type = clip.get("norm_type", 2) if isinstance(clip, dict) else None
        if not (isinstance(max_norm, (int, float)) and not isinstance(max_norm, bool) and math.isfinite(max_norm)
                and max_norm > 0 and set(clip) <= {"max_norm", "norm_type"}
                and (norm_type == "inf" or (isinstance(norm_type, (int, float)) and norm_type > 0))):
            problems.append(f"clip_grad_norm must be ~ or {{max_norm: a positive number[, norm_type: a positive "
                            f"number]}}, got {shown(clip)} (a negative max_norm flips every gradient)")
    problems += _model_kind_problems(values) + _negative_sampling_problems(values)
    if values.get("log_wandb") and importlib.util.find_spec("wandb") is None:
        problems.append("log_wandb=True logs to Weights & Biases, whose wandb package is not installed: pip install "
                        "wandb, or leave log_wandb False")
    problems += _cpu_problems(values)
    memory_problem = _batch_memory_problem(values)
    return problems + ([memory_problem] if memory_problem else [])


# Keys that start one thread or process per unit, and what the user gives to leave it to the run.
CPU_KEYS = {"cpu_threads": ("threads", "~ for all"), "worker": ("data-loading processes", "0 to load in the run's "
                                                                 "own process")}


def _cpu_problems(values):
    """Threads or processes above the CPUs this process may use: they run many times slower (worker=1000 on 2 CPUs
    took 186 s for an 8 s run), without a word."""
    usable = len(os.sched_getaffinity(0))
    return [f"{key}={values[key]} is more than the {usable} CPU(s) this process may use (oversubscribed {what} run "
            f"many times slower); use at most {usable}, or {default}"
            for key, (what, default) in CPU_KEYS.items()
            if isinstance(values.get(key), int) and not isinstance(values[key], bool) and values[key] > usable]


FLOAT_BYTES = 4  # RecBole's models compute in float32


def _batch_memory_problem(values):
    """A sequential model one of whose training batch's tensors alone exceeds the machine's memory (RecBole would
    fail allocating it only after loading the data: MAX_ITEM_LIST_LENGTH=100000 asked for 10 GB in get_flops): the
    attention scores of a self-attention model, the embedded histories of any."""
    if values.get("MODEL_TYPE") != ModelType.SEQUENTIAL:
        return None
    width_key = next((key for key in ("hidden_size", "embedding_size") if _is_size(values.get(key))), None)
    shapes = {"attention scores": ("train_batch_size", "n_heads", "MAX_ITEM_LIST_LENGTH", "MAX_ITEM_LIST_LENGTH"),
              "embedded histories": ("train_batch_size", "MAX_ITEM_LIST_LENGTH", width_key)}
    memory = physical_memory()
    for what, keys in shapes.items():
        needed = math.prod(values[key] for key in keys) * FLOAT_BYTES if all(
            _is_size(values.get(key)) for key in keys) else 0
        if memory and needed > memory:
            return (f"{values.get('model')} needs about {needed / 2**30:,.0f} GiB for one training batch's {what} "
                    f"({' x '.join(f'{key} {values[key]}' for key in keys)} x {FLOAT_BYTES} bytes), more than this "
                    f"machine's {memory / 2**30:.0f} GiB: lower {', '.join(dict.fromkeys(keys))}")
    return None


def _is_size(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# RecBole model kinds this package's protocols (a user's next item ranked among candidates) cannot evaluate.
UNSUPPORTED_MODEL_TYPES = {ModelType.CONTEXT: "context-aware (it predicts a label from features)",
                           ModelType.KNOWLEDGE: "knowledge-aware (it needs a knowledge graph's files)",
                           ModelType.DECISIONTREE: "a decision-tree model (it predicts a label from features)"}


def _are_intervals(text):
    """Whether ``text`` is RecBole's ";"-separated intervals, each of which it would parse."""
    return all(INTERVAL.match(part) for part in str(text).split(";"))


def _model_kind_problems(values):
    """A RecBole model whose kind the protocols cannot run, or that trains on pairs without sampled negatives."""
    model, kind = values.get("model"), values.get("MODEL_TYPE")
    if kind in UNSUPPORTED_MODEL_TYPES:
        return [f"{model} is {UNSUPPORTED_MODEL_TYPES[kind]}: this package's protocols rank each user's next item, "
                f"for general and sequential recommenders; run {model} with RecBole's own recbole.quick_start, which "
                f"works beside this package"]
    pairs = values.get("MODEL_INPUT_TYPE") == InputType.PAIRWISE or values.get("loss_type") == "BPR"
    if pairs and (values.get("train_neg_sample_args") or {}).get("distribution") in (None, "none"):
        why = "loss_type BPR" if values.get("loss_type") == "BPR" else "its pairwise loss"
        return [f"{model} with {why} trains on (positive, negative) pairs and needs sampled training negatives: set "
                f"train_neg_sample_args (e.g. {{'distribution': 'uniform', 'sample_num': 1}})"
                + (" or loss_type CE" if why == "loss_type BPR" else "")]
    return []


# RecBole 1.2.1's train_neg_sample_args sub-keys (it reads these and ignores any other name).
NEGATIVE_SAMPLING_KEYS = ("distribution", "sample_num", "alpha", "dynamic", "candidate_num")


def _negative_sampling_problems(values):
    """train_neg_sample_args' sub-keys are RecBole's (a misspelt one was kept in the hash and ignored), and sampled
    training negatives number at least one (RecBole divides the batch size by their count), as do a dynamic
    sampler's candidates."""
    sampling = values.get("train_neg_sample_args")
    if not isinstance(sampling, dict):
        return []
    unknown = [key for key in sampling if key not in NEGATIVE_SAMPLING_KEYS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), NEGATIVE_SAMPLING_KEYS, n=1)
        return [f"train_neg_sample_args has no sub-key {unknown[0]!r}" + (f" (did you mean {close[0]}?)" if close
                else "") + f": RecBole reads {', '.join(NEGATIVE_SAMPLING_KEYS)} and ignores any other"]
    if sampling.get("distribution") in (None, "none"):
        return []
    problems = []
    for key, default, needed in (("sample_num", 1, True), ("candidate_num", 1, bool(sampling.get("dynamic")))):
        count = sampling.get(key, default)
        if needed and not (isinstance(count, int) and not isinstance(count, bool) and count >= 1):
            problems.append(f"train_neg_sample_args {key} must be a positive integer, got {shown(count)}: set it to "
                            f"1 or more" + (", or distribution None to sample none" if key == "sample_num" else
                                            " (the candidates a dynamic sampler scores), or dynamic False"))
    return problems


def _model_size_problem(key, value, types, default, properties_dir):
    """A model's size hyper-parameter (an integer whose default is positive: layers, heads, dimensions) set to zero
    or less, which RecBole builds into an empty or broken network."""
    if key in RANGES or key not in model_keys(Path(properties_dir)) or types != (int,) or isinstance(value, bool) \
            or not isinstance(value, int) or isinstance(default, bool) or not isinstance(default, int):
        return None
    return f"{key} must be a positive number (a size of the model), got {value}" if default > 0 >= value else None


def _declared_types(text):
    """Python types of a declaration such as ``int``, ``list of int``, ``str or None``; None if not a type."""
    types = ()
    for word in re.split(r"\s+or\s+|,", text.lower()):
        word = word.strip().split(" ")[0]
        if word == "optional":
            word = "none"
        if word not in _TYPE_WORDS:
            return None
        types += _TYPE_WORDS[word]
    return types or None


def _declarations(path):
    """``{key: (types or None, default)}`` of a YAML property file's top-level keys."""
    text = path.read_text(encoding="utf-8")
    values = yaml.safe_load(text) or {}
    found = {}
    for line in text.splitlines():
        match = _DECLARATION.match(line)
        if match and match.group(1) in values:
            found[match.group(1)] = (_declared_types(match.group(2)), values[match.group(1)])
    for key, value in values.items():
        found.setdefault(key, (None, value))
    return found


@lru_cache(maxsize=4)
def model_keys(properties_dir):
    """Keys that only model property files define (RecBole's and this package's, a model's keys for one dataset
    among them, and the budget files that set them): a model's hyper-parameters."""
    files = list(Path(properties_dir).glob("model/**/*.yaml")) + list(RECBOLE_PROPERTIES.glob("model/*.yaml"))
    budgets = list(Path(properties_dir).glob("budget/*.yaml"))  # they set models' hyper-parameters, as model files do
    other = [path for path in list(Path(properties_dir).rglob("*.yaml")) + list(RECBOLE_PROPERTIES.rglob("*.yaml"))
             if path not in files and path not in budgets]
    defined = set().union(*(_declarations(path) for path in files))
    return defined - set().union(*(_declarations(path) for path in other))


def hyper_parameters(model, properties_dir):
    """The keys of ``model``'s own property file (this package's, else RecBole's), in the file's order."""
    for path in (Path(properties_dir) / "model" / f"{model}.yaml", RECBOLE_PROPERTIES / "model" / f"{model}.yaml"):
        if path.is_file():
            return list(yaml.safe_load(path.read_text()) or {})
    return []


@lru_cache(maxsize=4)
def known_keys(properties_dir):
    """``{key: (types or None, default)}`` over RecBole's and this package's property files (first declaration
    with a type wins, this package's first)."""
    schema = {}
    files = sorted(Path(properties_dir).rglob("*.yaml")) + sorted(RECBOLE_PROPERTIES.rglob("*.yaml"))
    for path in files:
        for key, (types, default) in _declarations(path).items():
            if key not in schema or (schema[key][0] is None and types is not None):
                schema[key] = (types, default)
    for key in RECBOLE_UNDECLARED:
        schema.setdefault(key, (None, None))
    for key, types in WIDER_TYPES.items():
        schema[key] = (types, schema.get(key, (None, None))[1])
    return schema


def _type_names(types):
    names = {int: "an integer", float: "a number", str: "a string", bool: "True or False", list: "a list",
             tuple: "a list", dict: "a dict", type(None): "~ (None)"}
    return " or ".join(dict.fromkeys(names[t] for t in types))


# A command line's or YAML's spelling of a number that is not finite (``nan``, ``-inf``, YAML's ``.inf``), which
# reaches the checks as text.
NON_FINITE_TEXT = re.compile(r"[+-]?\.?(inf|infinity|nan)", re.IGNORECASE)


def _type_problem(key, value, types, defaults):
    if types is None or (value is None and (None in defaults or key in NONE_MEANS)):
        return None
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok and float in types and isinstance(value, str) and NON_FINITE_TEXT.fullmatch(value.strip()):
        return f"{key} must be a finite number, got {shown(value)}"
    return None if ok else f"{key} must be {_type_names(types)}, got {shown(value)}"


def _size_problem(key, value):
    """A number the float32 tensors it reaches cannot hold: not finite, or beyond float32's range."""
    if not math.isfinite(value):
        return f"{key} must be a finite number, got {shown(value)}"
    if abs(value) > FLOAT32_MAX:
        return f"{key} must be at most {FLOAT32_MAX:.3g} in size (a float32), got {shown(value)}"
    return None


def _magnitude_problem(key, value):
    """A float of an unranged key that the tensors it reaches cannot hold (ranged keys: ``_range_problem``)."""
    return _size_problem(key, value) if isinstance(value, float) and key not in RANGES else None


def _range_problem(key, value):
    if key not in RANGES or value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if key != "seed" or not math.isfinite(value):  # a seed is an integer, named by its own range
        problem = _size_problem(key, value)
        if problem:
            return problem
    test, wanted = RANGES[key]
    return None if test(value) else f"{key} must be {wanted}, got {shown(value)}"


def check_config(config, properties_dir):
    """Raise ``ConfigurationError`` listing every problem of the keys the user set (config files, config_dict,
    command line) and of the ranged keys' final values; warn about keys this model does not use."""
    schema = known_keys(Path(properties_dir))
    problems, ignored = [], []
    for key, value in config.external_config_dict.items():
        if key not in schema:
            close = difflib.get_close_matches(key, schema, n=3, cutoff=0.75)
            hint = f"did you mean {' or '.join(close)}?" if close else "no layer defines it (properties/, RecBole)"
            problems.append(f"unknown config key {key!r}: {hint}")
            continue
        if key in model_keys(Path(properties_dir)) and key not in config.internal_config_dict:
            getLogger().warning(f"Config key {key!r} is a hyper-parameter of other models, not of {config['model']}: "
                                f"ignored.")
            ignored.append(key)
        if key in PICKLE_KEYS and value:
            problems.append(f"{key} {PICKLE_KEYS[key]}, and a pickle can run code: this package never reads or "
                            f"writes them (it rebuilds datasets from their atomic files); remove {key}")
            continue
        if value == "":  # an unset shell variable; RecBole would take its default
            problems.append(f"{key} is empty: give it a value, or leave it out for its default")
            continue
        types, default = schema[key]
        problem = _type_problem(key, value, types, (default, config.internal_config_dict.get(key))) or \
            _model_size_problem(key, value, types, default, properties_dir) or _magnitude_problem(key, value)
        if problem:
            problems.append(problem)
    for key in RANGES:
        if key in config.final_config_dict and not any(p.startswith(f"{key} ") for p in problems):
            problem = _range_problem(key, config.final_config_dict[key])
            if problem:
                problems.append(problem)
    if config.final_config_dict.get("benchmark_filename"):
        unapplied = [key for key in PRE_SPLIT_UNFILTERED if config.external_config_dict.get(key) is not None
                     and config.external_config_dict[key] != config.internal_config_dict.get(key)]
        if unapplied:
            problems.append(f"{', '.join(unapplied)} would not be applied: RecBole filters only a dataset it splits "
                            f"itself, never pre-split files (benchmark_filename "
                            f"{config.final_config_dict['benchmark_filename']}); filter the files before splitting "
                            f"them (prepare_dataset's --min_user_inter, --min_item_inter, --min_rating), or leave "
                            f"{'them' if len(unapplied) > 1 else 'it'} out")
    given_bigger = config.external_config_dict.get("valid_metric_bigger")
    if given_bigger is not None and given_bigger != config.final_config_dict.get("valid_metric_bigger"):
        problems.append(f"valid_metric_bigger={given_bigger!r} is not used: RecBole derives it from valid_metric "
                        f"({config.final_config_dict.get('valid_metric')!r}: "
                        f"{'bigger' if config.final_config_dict.get('valid_metric_bigger') else 'smaller'} is better); "
                        f"leave valid_metric_bigger out")
    for key in ignored:  # out of the run's values, so out of its identity: the same run whatever other models get
        config.final_config_dict.pop(key, None)
    if not problems:
        problems = _value_problems(config.final_config_dict) or protocol_problems(
            config.external_config_dict.get("eval_args"), config.internal_config_dict.get("eval_args"),
            config.final_config_dict, properties_dir)
    if problems:
        message = "; ".join(problems)
        raise ConfigurationError(message if message.endswith(("?", ".")) else message + ".")
