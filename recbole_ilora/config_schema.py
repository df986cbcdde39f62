"""What a config may contain: the known keys, their types and ranges, checked before any work.

The YAML files are the schema. A key is known when some layer defines it: RecBole's own property files (any model,
dataset or quick-start file) or this package's ``properties/``. Its type is the one its defining line's comment
declares, in the convention both projects follow (``epochs: 300  # (int) The number of training epochs.``).
A key known only to other models is accepted with a warning (a leaderboard passes one set of keys to every model);
an unknown key is an error with the closest known names. Ranges are the table below.
"""

import difflib
import re
from functools import lru_cache
from logging import getLogger
from pathlib import Path

import recbole
import yaml

from recbole_ilora.errors import ConfigurationError

RECBOLE_PROPERTIES = Path(recbole.__file__).resolve().parent / "properties"

# Keys RecBole reads that no property file of it defines.
RECBOLE_UNDECLARED = {"model", "dataset", "encoding", "nproc", "world_size", "local_rank", "ip", "port", "offset"}
# Declared types RecBole's own code is wider than: it writes gpu_id with str(), so 0 and '0' both work.
WIDER_TYPES = {"gpu_id": (str, int)}

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


# key -> (test, what the value must be); checked on the final value when it is set (not None).
RANGES = {key: (_positive, "a positive number") for key in (
    "epochs", "train_batch_size", "eval_batch_size", "learning_rate", "projector_learning_rate", "gate_learning_rate",
    "history_length", "num_experts", "lora_r", "lora_alpha", "train_negatives", "gradient_accumulation_steps",
    "train_samples_per_epoch", "max_title_tokens", "rerank_top_n", "generation_max_new_tokens", "stopping_step",
    "MAX_ITEM_LIST_LENGTH", "cpu_threads", "eval_users", "gate_temperature", "ddp_timeout",
    "eval_batch_users")}
RANGES.update({key: (_non_negative, "zero or more") for key in ("checkpoint_steps", "weight_decay", "eval_step")})
RANGES.update({key: (_fraction, "in [0, 1)") for key in ("lora_dropout", "warmup_ratio")})
RANGES["min_lr_ratio"] = (_unit_interval, "in [0, 1]")


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
    """Keys that only model property files define (RecBole's and this package's): a model's hyper-parameters."""
    files = list(Path(properties_dir).glob("model/*.yaml")) + list(RECBOLE_PROPERTIES.glob("model/*.yaml"))
    other = [path for path in list(Path(properties_dir).rglob("*.yaml")) + list(RECBOLE_PROPERTIES.rglob("*.yaml"))
             if path not in files]
    defined = set().union(*(_declarations(path) for path in files))
    return defined - set().union(*(_declarations(path) for path in other))


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


def _type_problem(key, value, types, defaults):
    if types is None or (value is None and None in defaults):
        return None
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    return None if ok else f"{key} must be {_type_names(types)}, got {value!r}"


def _range_problem(key, value):
    if key not in RANGES or value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    test, wanted = RANGES[key]
    return None if test(value) else f"{key} must be {wanted}, got {value!r}"


def check_config(config, properties_dir):
    """Raise ``ConfigurationError`` listing every problem of the keys the user set (config files, config_dict,
    command line) and of the ranged keys' final values; warn about keys this model does not use."""
    schema = known_keys(Path(properties_dir))
    problems = []
    for key, value in config.external_config_dict.items():
        if key not in schema:
            close = difflib.get_close_matches(key, schema, n=3, cutoff=0.75)
            hint = f"did you mean {' or '.join(close)}?" if close else "no layer defines it (properties/, RecBole)"
            problems.append(f"unknown config key {key!r}: {hint}")
            continue
        if key in model_keys(Path(properties_dir)) and key not in config.internal_config_dict:
            getLogger().warning(f"Config key {key!r} is a hyper-parameter of other models, not of {config['model']}: "
                                f"ignored.")
        types, default = schema[key]
        problem = _type_problem(key, value, types, (default, config.internal_config_dict.get(key)))
        if problem:
            problems.append(problem)
    for key in RANGES:
        if key in config.final_config_dict and not any(p.startswith(f"{key} ") for p in problems):
            problem = _range_problem(key, config.final_config_dict[key])
            if problem:
                problems.append(problem)
    if problems:
        message = "; ".join(problems)
        raise ConfigurationError(message if message.endswith(("?", ".")) else message + ".")
