"""RecBole's Config, layered with this package's properties/ and resolving models through its registry.

Layers, later wins:
    RecBole's internal defaults (its overall, model, dataset and quick-start files)
    -> properties/overall.yaml -> properties/model/<model>.yaml (after those of its base classes)
    -> properties/dataset/<dataset>.yaml -> properties/model/<model>/<dataset>.yaml (after those of its base classes)
    -> properties/protocol/<protocol>.yaml -> user config files -> config_dict -> command-line overrides.

Unlike RecBole's: values given as text (command line, string values of config_dict) are read as Python literals,
never evaluated; YAML is read with a safe loader; a missing or malformed config file is one error naming it; the
result is checked against ``config_schema`` before any work; and once checked the config is final: the values that
follow from others are derived, the experiment's identity (``recbole_ilora.experiment``) is taken, and its keys are
read-only from then on, so nothing a run does later can make its hash lie.
"""

import ast
import os
import re
from logging import getLogger
from pathlib import Path

import yaml
from recbole.config import Config as RecBoleConfig

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora import config_schema, distributed, experiment
from recbole_ilora.compat import fresh_parameter_categories
from recbole_ilora.data.candidates import PHASES, candidates_per_user
from recbole_ilora.data.fingerprint import backbone_fingerprint, dataset_fingerprint
from recbole_ilora.data.location import resolve_data_path
from recbole_ilora.devices import AUTO_DTYPES, auto_dtype
from recbole_ilora.errors import ConfigurationError, UserError
from recbole_ilora.model.llm_recommender import LLMRecommender
from recbole_ilora.model.parts.backbone import resolve_llm_path
from recbole_ilora.paths import PROPERTIES_DIR, check_plain_name
from recbole_ilora.registry import get_model


class PropertyLoader(yaml.SafeLoader):
    """YAML's safe loader with RecBole's float rule (``1e-3`` is a float, not a string), refusing what config files
    never need and what hides mistakes: a key given twice in one mapping (YAML keeps the last silently), and aliases
    (``*name``: a few lines of them expand exponentially, exhausting memory)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, f"YAML aliases (*{event.anchor}) are not allowed in config files", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # "<<:", read by no loader of config files in one way
                raise yaml.constructor.ConstructorError(
                    None, None, "YAML merge keys (<<) are not allowed in config files: write the keys out",
                    key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):  # YAML's complex keys ("? [a, b]"), which no config key is
                raise yaml.constructor.ConstructorError(None, None, f"a key must be a name, got {key!r}",
                                                        key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice in one mapping",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


    def construct_yaml_int(self, node):
        """YAML 1.1's integers, except the forms that read as another number than the digits say (``017`` is 15 in
        octal, ``1:20`` is 80 in base 60): refused, as written numbers are meant in decimal."""
        text = self.construct_scalar(node).replace("_", "")
        if re.fullmatch(r"[-+]?0[0-7]+", text) or ":" in text:
            raise yaml.constructor.ConstructorError(
                None, None, f"{text!r} is read by YAML 1.1 as {super().construct_yaml_int(node)} (octal or base 60): "
                f"write the number in plain decimal, or quote it to keep it as text", node.start_mark)
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # Python's limit on the digits of an integer read from text (4,300)
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(text):,} digits is not a value of any config key: write the number "
                f"the key needs", node.start_mark) from None


PropertyLoader.add_constructor("tag:yaml.org,2002:int", PropertyLoader.construct_yaml_int)
PropertyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+][0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def parse_value(text, key="value"):
    """A command-line value as a Python literal (``3``, ``1e-4``, ``[1, 2]``, ``{'a': 1}``, ``None``), ``True`` /
    ``False`` in any case, or else the text itself. Never evaluated: ``__import__('os')`` stays a string. A dict
    that names a key twice is refused (a literal keeps the last silently, as YAML would, where it is refused too)."""
    if not isinstance(text, str):
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return {"true": True, "false": False}.get(text.lower(), text)
    if isinstance(value, (dict, list, tuple)):
        twice = _key_given_twice(ast.parse(text, mode="eval"))
        if twice is not None:
            raise ConfigurationError(f"--{key}: the dict gives the key {twice!r} twice; give each key once.")
    return value


def _key_given_twice(tree):
    """The first key that a dict display in ``tree`` (a parsed literal) names twice, else None."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [ast.literal_eval(key) for key in node.keys if key is not None]
            repeated = [key for index, key in enumerate(keys) if key in keys[:index]]
            if repeated:
                return repeated[0]
    return None


def available_protocols():
    return sorted(path.stem for path in (PROPERTIES_DIR / "protocol").glob("*.yaml"))


def parse_cmd_args(cmd_args):
    """``['--key=value', ...]`` -> ``{key: value}`` (strings; RecBole converts the types).

    Unlike RecBole, which warns about and then ignores anything else, a malformed argument is an error.
    """
    parsed = {}
    for arg in cmd_args:
        key, sep, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if not key or not sep:
            raise ConfigurationError(f"Command-line argument {arg!r} is not of the form --key=value.")
        if key in parsed and parsed[key] != value:
            raise ConfigurationError(f"Command-line key --{key} is given twice with different values.")
        parsed[key] = value
    return parsed


# A config file above this size is refused before YAML reads it (a 4 MB list took 91 s and 1.8 GB to refuse).
MAX_CONFIG_FILE_BYTES = 1 << 20

# Keys whose values are paths: "~" is expanded in every one, once, so that the checks and the run use one folder.
PATH_KEYS = ("data_path", "checkpoint_dir", "results_dir", "llm_path", "llm_cache_dir", "resume_checkpoint",
             "sasrec_checkpoint", "transfer_checkpoint")


def read_config_file(file, several=False):
    """``{key: value}`` of one of the user's YAML files (``several``: one of a ``--config_files`` list, which is split
    at spaces); a missing file or bad YAML is one error naming it."""
    path = Path(file)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "is not a regular file" if path.exists() else "does not exist"
        split = " (--config_files is split at spaces: a path cannot contain one)" if several else ""
        raise ConfigurationError(f"Config file {file} (--config_files) {what}: give the path of a YAML file{split}.")
    if path.stat().st_size > MAX_CONFIG_FILE_BYTES:
        raise ConfigurationError(f"Config file {file} is {path.stat().st_size:,} bytes: a config file holds key: value "
                                 f"lines (the largest of this package's is 4 KB); at most {MAX_CONFIG_FILE_BYTES:,} "
                                 f"bytes are read.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[:error.start].count(b"\n") + 1
        raise ConfigurationError(f"Config file {file}, line {line}: not UTF-8 text ({error.reason}); save it as "
                                 f"UTF-8.") from None
    if "\xa0" in text:  # YAML reads a non-breaking space as text, so an indented line becomes a new key
        line = text[:text.index("\xa0")].count("\n") + 1
        raise ConfigurationError(f"Config file {file}, line {line}: a non-breaking space (U+00A0), which YAML does "
                                 f"not read as a space: replace it with an ordinary space.")
    try:
        values = yaml.load(text, Loader=PropertyLoader)
    except RecursionError:
        raise ConfigurationError(f"Config file {file}: nested too deeply to read (YAML); a config file holds "
                                 f"key: value lines with small lists and mappings.") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigurationError(f"Config file {file}{where}: {problem} (YAML syntax).") from None
    if values is not None and not isinstance(values, dict):
        raise ConfigurationError(f"Config file {file} must hold key: value lines, not a {type(values).__name__}.")
    keys = [key for key in values or {} if not isinstance(key, str)]
    if keys:
        raise ConfigurationError(f"Config file {file}: key {keys[0]!r} is not a name; config keys are names such as "
                                 f"learning_rate.")
    return values or {}


def refuse_keys_set_elsewhere(cmd_keys, file_list, refused):
    """``ConfigurationError`` for the first command-line key (``cmd_keys``) or key of a YAML file of ``file_list`` that
    ``refused`` holds (``{key: "set by WHO: what to do instead"}``): a command that sets a key for each run would
    override the file's value without a word, or run under a name that the user's value makes untrue."""
    for key in cmd_keys:
        if key in refused:
            raise ConfigurationError(f"--{key} is {refused[key]}.")
    for file in file_list:
        for key in read_config_file(file, several=len(file_list) > 1):
            if key in refused:
                raise ConfigurationError(f"Config file {file} (--config_files) sets {key}, which is {refused[key]}.")


# What a run trains and on what when neither the arguments nor the config files say (run_recbole's defaults).
DEFAULT_MODEL, DEFAULT_DATASET = "iLoRA", "ml-100k"

# Keys whose default Config resolves for the machine it runs on (dtype: auto), with the values it may resolve to: the
# same command is another experiment on another kind of machine, so a result is found again there with its own value
# given explicitly, or by the planner (leaderboard.runs.plan) as the same command run on another kind of machine.
MACHINE_DEPENDENT_KEYS = {"dtype": AUTO_DTYPES}


class FrozenConfigError(TypeError):
    """A key of the experiment's identity was written after the config was final (a programming error)."""


class Config(RecBoleConfig):
    """RecBole's ``Config`` plus this package's property layers, model registry and dataset location.

    Args:
        model: model name or class; ``None`` reads ``model`` from the config files / dict (default iLoRA).
        dataset: dataset name; ``None`` reads ``dataset`` from the config files / dict (default ml-100k).
        config_file_list: YAML files, later ones winning.
        config_dict: overrides above the files.
        cmd_args: ``--key=value`` strings with the highest priority. Unlike RecBole's ``Config``, ``sys.argv`` is
            never read implicitly, so that running several configs in one process cannot leak arguments.

    Attributes (final once built):
        experiment: the experiment config (``experiment.experiment_config``), taken after the derived values, plus
            what else determines the run's numbers (``_identity``).
        experiment_hash: its hash, the run's identity (``experiment.config_hash``).
        machine_resolved: ``{key: value}`` of the keys resolved for this machine (``MACHINE_DEPENDENT_KEYS`` left at
            ``auto``), so that a planner can look for the same command's result from another kind of machine.
    """

    def __init__(self, model=None, dataset=None, config_file_list=None, config_dict=None, cmd_args=()):
        self._cmd_args = list(cmd_args)
        self._prerequisites = {}
        self.machine_resolved = {}  # key -> value of the keys resolved for this machine (dtype: auto)
        self._final = False
        try:
            super().__init__(model, dataset, config_file_list, config_dict)
        except UserError:
            raise
        except KeyError as error:
            if error.args == ("nproc",):  # RecBole's device setup reads any local_rank as its own DDP launch
                raise ConfigurationError(
                    "local_rank is set by RecBole's multi-process launcher, never by hand: any value makes RecBole "
                    "start its NCCL process group (and shifts the model's seed by it); leave it unset (torchrun "
                    "sets this package's ranks).") from None
            if error.args == ("pop from an empty set",):  # RecBole takes the evaluation type from the metrics
                raise ConfigurationError("metrics is empty: name at least one RecBole metric (e.g. ['Hit', "
                                         "'NDCG']).") from None
            raise ConfigurationError(f"RecBole refused the config: {error}") from None
        except (ValueError, TypeError, NotImplementedError, AttributeError, RuntimeError) as error:
            # RecBole's own checks of its keys (topk, metrics, eval_args, ...) raise these with a message of theirs
            raise ConfigurationError(f"RecBole refused the config: {error}") from None
        for values in (self.final_config_dict, self.external_config_dict):  # RecBole documents a list or one name
            if isinstance(values.get("metrics"), str):
                values["metrics"] = [values["metrics"]]
        config_schema.check_config(self, PROPERTIES_DIR)
        self._derive_values()
        self.experiment = {**experiment.experiment_config(self.final_config_dict), **self._identity()}
        self.experiment_hash = experiment.config_hash(self.experiment)
        self._final = True

    def _derive_values(self):
        """Values that follow from others, set before the identity is taken: ``dtype: auto`` as the dtype this
        machine computes fast (``devices.auto_dtype``: the identity holds what ran), values that mean the same run
        in one spelling (metric names, topk's cut-offs, a training share of all users, an integer given for a
        float default, an LLM model's ``canonical_values``), and ``eval_batch_users`` users' rows
        per evaluation batch (their sampled candidates; under full ranking a sequential model's loader counts
        users)."""
        if self.final_config_dict.get("dtype") == "auto":
            self.final_config_dict["dtype"] = auto_dtype(self.final_config_dict["device"])
            self.machine_resolved["dtype"] = self.final_config_dict["dtype"]
        self._one_spelling(self.final_config_dict)
        users = self.final_config_dict.get("eval_batch_users")
        if users:
            rows_per_user = max(candidates_per_user(self, phase) for phase in PHASES) or 1
            self._warn_replaced_batch_size(users, rows_per_user)
            self.final_config_dict["eval_batch_size"] = users * rows_per_user

    def _one_spelling(self, values):
        """Put the final ``values`` that mean the same run into one spelling, in place, so that they hash alike."""
        if isinstance(values.get("metrics"), list):  # RecBole computes each named metric once, in any order
            values["metrics"] = sorted({config_schema.canonical_metric(name) for name in values["metrics"]})
        if values.get("train_user_share") == 1:  # every user's samples, as ~ (the default) keeps them
            values["train_user_share"] = None
        for key, value in self.external_config_dict.items():  # --weight_decay=0 is the default 0.0
            if type(value) is int and key in values and isinstance(self.internal_config_dict.get(key), float):
                values[key] = float(value)
        if isinstance(values.get("topk"), list):  # the same cut-offs, in any order or repeated, are one run
            values["topk"] = sorted(dict.fromkeys(values["topk"]))
        if isinstance(values.get("valid_metric"), str):
            values["valid_metric"] = config_schema.canonical_metric(values["valid_metric"])
        if issubclass(self.model_class, LLMRecommender):
            self.model_class.canonical_values(values)

    def _warn_replaced_batch_size(self, users, rows_per_user):
        """Warn when the user's own ``eval_batch_size`` gives way to ``eval_batch_users``' (the JSON records the
        latter's), so that the value given is not dropped without a word."""
        given = self.external_config_dict.get("eval_batch_size")
        if given is not None and given != users * rows_per_user:
            getLogger().warning(f"eval_batch_size={given} is replaced by {users * rows_per_user} (eval_batch_users "
                                f"{users} x {rows_per_user} rows per user): leave eval_batch_size out, or set "
                                f"eval_batch_users: ~ to keep it.")

    def _identity(self):
        """What besides its keys determines a run's numbers: the content of the dataset's files and, for an LLM
        model, the global batch of an optimizer step (data-parallel processes x ``train_batch_size`` x
        ``gradient_accumulation_steps``: how a step's micro-batches are shared between processes and accumulation
        is how it runs, like threads, not what it computes) and the identity of each run it needs first (its
        encoder) and the content of its backbone's files."""
        identity = {"data_fingerprint": dataset_fingerprint(self["data_path"], self.dataset, self["llm_cache_dir"])}
        if issubclass(self.model_class, LLMRecommender):
            identity["backbone_fingerprint"] = backbone_fingerprint(resolve_llm_path(self["llm_path"]),
                                                                  self["llm_cache_dir"])
            identity["global_train_batch"] = (distributed.launched_world_size() * self["train_batch_size"]
                                              * self["gradient_accumulation_steps"])
            identity["prerequisites"] = {key: self._prerequisite_hash(key, required, identity)
                                         for key, required in self.model_class.required_runs(self).items()}
        return identity

    def _prerequisite_hash(self, key, required, identity):
        """The experiment hash of the run behind ``key`` (a ``RequiredRun``): the checkpoint the user named (refused
        when it is another model's or was trained on other data than the required run's), else the run that
        ``required`` configures."""
        model, dataset = required.model, required.dataset or self.dataset
        if not self[key] or required.dataset is not None:
            try:
                run = Config(model, dataset, config_dict=required.config_dict)
            except UserError as error:  # e.g. no such dataset, or keys the required run cannot take
                raise ConfigurationError(f"The {model} run behind {key} (on dataset '{dataset}', with "
                                         f"{required.settings_key} {self[required.settings_key]}): {error}") from None
            if not self[key]:
                return run.experiment_hash
            expected, data_path = run.experiment["data_fingerprint"], run["data_path"]
        else:
            expected, data_path = identity["data_fingerprint"], self["data_path"]
        checkpoint = checkpoints.load(self[key])
        if checkpoint["model"] != model:
            raise ConfigurationError(f"{key} {self[key]} holds a {checkpoint['model']} model, not {model}.")
        trained_on = checkpoint["config"].get("data_fingerprint")
        if trained_on != expected:
            changed = sorted(set(trained_on or {}) ^ set(expected) | {
                name for name in set(trained_on or {}) & set(expected) if trained_on[name] != expected[name]})
            raise ConfigurationError(
                f"{key} {self[key]} was trained on other data than dataset '{dataset}' in {data_path} "
                f"({', '.join(changed) if trained_on else 'it records no data fingerprint'}): leave {key} empty "
                f"to train a matching {model}, or point it at a checkpoint trained on these files.")
        return checkpoint["config_hash"]

    def __setitem__(self, key, value):
        """Runtime keys (device, paths, prerequisite checkpoints) may still be set once the config is final, and
        new keys (RecBole's transforms name their fields so); a key of the experiment's identity may not."""
        if self._final and key in self.experiment:
            raise FrozenConfigError(f"Config key {key!r} is part of the experiment's identity (hash "
                                    f"{self.experiment_hash}) and cannot change once the config is built.")
        super().__setitem__(key, value)

    def _init_parameters_category(self):
        self.parameters = fresh_parameter_categories()  # RecBole's shared lists grow per process: compat

    def _build_yaml_loader(self):
        return PropertyLoader

    def _convert_config_dict(self, config_dict):
        values = {key: parse_value(value, key) for key, value in config_dict.items()}
        devices = values.get("gpu_id")
        if isinstance(devices, tuple) and devices and all(type(index) is int for index in devices):
            values["gpu_id"] = ",".join(map(str, devices))  # --gpu_id=0,1 reads as a Python tuple
        return values

    def _load_config_files(self, file_list):
        """The user's YAML files merged, later ones winning."""
        merged = {}
        for file in file_list or []:
            merged.update(read_config_file(file, several=len(file_list) > 1))
        return merged

    def set_prerequisite(self, key, checkpoint_file):
        """Point ``key`` (e.g. ``sasrec_checkpoint``) at a prerequisite run's checkpoint; part of ``settings()``."""
        self[key] = self._prerequisites[key] = str(checkpoint_file)

    def given_settings(self):
        """The user's settings as given: config files, config_dict and command line merged."""
        return dict(self.external_config_dict)

    def settings(self):
        """What rebuilds this config with ``Config(model, dataset, config_dict=settings)``: the user's settings, the
        dataset's folder and prerequisite checkpoints."""
        return {**self.given_settings(), "data_path": str(Path(self["data_path"]).parent), **self._prerequisites}

    def _load_cmd_line(self):
        return self._convert_config_dict(parse_cmd_args(self._cmd_args))

    def _load_internal_config_dict(self, model, model_class, dataset):
        super()._load_internal_config_dict(model, model_class, dataset)
        # A model's YAML is layered over those of the classes it derives from (LoRARec.yaml over iLoRA.yaml), and
        # so are its keys for one dataset (model/iLoRA/llara-lastfm.yaml), over the dataset's own.
        classes = [cls.__name__ for cls in reversed(model_class.__mro__)]
        for layer in ("overall.yaml", *(f"model/{name}.yaml" for name in classes), f"dataset/{dataset}.yaml",
                      *(f"model/{name}/{dataset}.yaml" for name in classes)):
            path = PROPERTIES_DIR / layer
            if path.is_file():
                values = self._update_internal_config_dict(path) or {}
                if layer.startswith("dataset/"):
                    self.parameters["Dataset"] += [key for key in values if key not in self.parameters["Dataset"]]
        protocol = self.external_config_dict.get("protocol", self.internal_config_dict.get("protocol"))
        path = PROPERTIES_DIR / "protocol" / f"{protocol}.yaml"
        if protocol not in available_protocols():
            raise ConfigurationError(
                f"Unknown protocol {protocol!r} (--protocol). Available: {', '.join(available_protocols())}."
            )
        self._update_internal_config_dict(path)

    def _get_model_and_dataset(self, model, dataset):
        """The run's model and dataset: the arguments', else the config files' (``~`` there means the default)."""
        model = model if model is not None else self.external_config_dict.get("model") or DEFAULT_MODEL
        dataset = dataset if dataset is not None else self.external_config_dict.get("dataset") or DEFAULT_DATASET
        for key, value in (("model", model), ("dataset", dataset)):
            if not isinstance(value, str) and not (key == "model" and isinstance(value, type)):
                raise ConfigurationError(f"{key} must be a name (e.g. {DEFAULT_MODEL if key == 'model' else DEFAULT_DATASET}"
                                         f"), got {config_schema.shown(value)}: quote it in the config file if it "
                                         f"is a name YAML reads as a number.")
        if isinstance(model, str):
            model = get_model(model)  # this package first, then RecBole
        found = super()._get_model_and_dataset(model, dataset)
        check_plain_name("dataset", found[2])
        return found

    def _get_final_config_dict(self):
        """RecBole's merge (the user's keys over the layers'), except ``eval_args``: a partial one (``{mode: uni39}``)
        sets the sub-keys it names over the protocol's, where RecBole would fill the others from its own defaults
        (a random split in place of the protocol's leave-one-out); and ``~`` expanded in the paths."""
        final = super()._get_final_config_dict()
        layered, given = self.internal_config_dict.get("eval_args"), self.external_config_dict.get("eval_args")
        if isinstance(layered, dict) and isinstance(given, dict):
            final["eval_args"] = {**layered, **given}
        for key in PATH_KEYS:
            if isinstance(final.get(key), str) and final[key].startswith("~"):
                final[key] = os.path.expanduser(final[key])
        return final

    def _set_default_parameters(self):
        problems = config_schema.structure_problems(self.final_config_dict, self.internal_config_dict)
        if problems:  # RecBole's own parsing below would fail with a bare Python error, or not at all
            raise ConfigurationError("; ".join(problems) + ".")
        data_root = self.final_config_dict["data_path"]
        parts = self.final_config_dict.get("benchmark_filename")
        if parts and (not isinstance(parts, list) or len(parts) != 3):
            raise ConfigurationError(f"benchmark_filename names the pre-split parts, three in the order training, "
                                     f"validation, test (e.g. ['train', 'valid', 'test']), got {parts!r}.")
        for part in parts or []:
            check_plain_name("benchmark_filename", part)
        super()._set_default_parameters()
        given = "benchmark_filename" in self.external_config_dict
        self.final_config_dict["data_path"] = resolve_data_path(
            self.dataset, data_root, self.final_config_dict.get("allow_download", False),
            self.final_config_dict.get("benchmark_filename"), None if given else self.final_config_dict["protocol"],
        )
