"""A study as data: ``properties/study/NAME.yaml`` names the paper's claim, the arms (each an ordinary
``run_recbole`` run: a model, a protocol, config keys), the keys of the study's CPU budget, the arm every other arm
is tested against, and the claim as pairwise statements that the analysis checks. Loaded and checked here, before
any run, so that a typo in a spec is one error naming the file and key.
"""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from recbole_ilora.config import PropertyLoader, available_protocols
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.leaderboard.runs import LEADERBOARD_KEYS
from recbole_ilora.leaderboard.stats import has_per_user_form
from recbole_ilora.paths import PROPERTIES_DIR, check_plain_name, read_user_text
from recbole_ilora.registry import get_model

STUDY_DIR = PROPERTIES_DIR / "study"
SPEC_KEYS = {"title", "claim", "source", "datasets", "metrics", "keys", "llm_keys", "arms", "default_arms", "reference",
             "claims", "baselines", "notes", "analysis"}
ARM_KEYS = {"model", "protocol", "keys", "label", "datasets"}
ANALYSES = ("arms", "gates", "conflict")  # gates, conflict: also that section (recbole_ilora.studies.gates, .conflict)
# Keys the study sets for each of its runs, as the leaderboard does, and where each one comes from: a spec's keys, an
# extra --key=value or a config file may not set them (the study's value would win, or the two would clash).
RUN_KEYS = {**LEADERBOARD_KEYS, "model": "an arm's model", "protocol": "an arm's protocol",
            "results_dir": "--results_dir (--baselines_dir for the baselines)"}


@dataclass(frozen=True)
class Arm:
    """One setting of the study: a model run with ``keys`` under ``protocol``, on every dataset of the study or only
    on ``datasets``."""

    name: str
    model: str
    protocol: str
    keys: dict
    label: str
    datasets: tuple | None = None

    def runs_on(self, dataset):
        return self.datasets is None or dataset in self.datasets


@dataclass(frozen=True)
class Claim:
    """The paper says arm ``better`` beats arm ``worse`` on ``metric``."""

    better: str
    worse: str
    metric: str


@dataclass(frozen=True)
class StudySpec:
    name: str
    title: str
    claim: str
    source: str
    metrics: tuple
    keys: dict  # every run of the study (e.g. eval_users)
    llm_keys: dict  # the LLM models' runs only (their CPU budget)
    arms: dict  # name -> Arm, in the spec's order
    default_arms: tuple  # the arms a plain ``study NAME`` runs (its CPU default): all, or the spec's choice
    reference: str
    datasets: tuple = ("ml-100k",)  # what a plain ``study NAME`` runs on
    claims: tuple = ()
    baselines: tuple = ()  # models whose leaderboard runs give reference rows on the arms' test users
    notes: str = ""
    analysis: str = "arms"
    path: str = field(default="", compare=False)


def available_studies():
    return sorted(path.stem for path in STUDY_DIR.glob("*.yaml"))


def _fail(path, message):
    raise ConfigurationError(f"{path}: {message}")


def _mapping(path, where, value):
    """The config keys of ``where`` (the spec's keys, llm_keys, an arm's keys), none of them one the study sets."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(path, f"{where} must be a mapping of config keys to values, got {value!r}.")
    reserved = [key for key in value if key in RUN_KEYS]
    if reserved:
        _fail(path, f"{where} may not set {reserved[0]}: the study sets it ({RUN_KEYS[reserved[0]]}).")
    return dict(value)


def _names(path, where, value):
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
        _fail(path, f"{where} must be a non-empty list of dataset names, got {value!r}.")
    return tuple(value)


def _metrics(path, value):
    """The spec's metrics: ranking metrics whose per-user values the runs' ranks give (the tables and tests are over
    users)."""
    if not isinstance(value, list) or not value or not all(isinstance(m, str) and has_per_user_form(m) for m in value):
        _fail(path, f"metrics must be a non-empty list of hit@K and ndcg@K (what the runs' per-user ranks give), got "
                    f"{value!r}.")
    return tuple(value)


def _arm(path, name, entry, protocols):
    if not isinstance(entry, dict) or "model" not in entry or set(entry) - ARM_KEYS:
        _fail(path, f"arm {name!r} must be a mapping with 'model' and optionally {sorted(ARM_KEYS - {'model'})}, "
                    f"got {entry!r}.")
    protocol = entry.get("protocol", "candidates20")
    if protocol not in protocols:
        _fail(path, f"arm {name!r}: unknown protocol {protocol!r}; known: {', '.join(protocols)}.")
    try:
        get_model(str(entry["model"]))
    except ConfigurationError as error:
        _fail(path, f"arm {name!r}: {error}")
    datasets = _names(path, f"arm {name!r} datasets", entry["datasets"]) if "datasets" in entry else None
    return Arm(str(name), str(entry["model"]), protocol, _mapping(path, f"arm {name!r} keys", entry.get("keys")),
               str(entry.get("label", name)), datasets)


def parse_spec(name, data, path):
    """``StudySpec`` from the YAML mapping ``data`` of the file ``path``; every problem names the file and key."""
    if not isinstance(data, dict):
        _fail(path, "a study file is a mapping (title, claim, arms, reference, ...).")
    unknown = set(data) - SPEC_KEYS
    if unknown:
        _fail(path, f"unknown key(s) {sorted(unknown)}; a study file has {sorted(SPEC_KEYS)}.")
    for key in ("title", "claim", "arms", "reference"):
        if key not in data:
            _fail(path, f"missing key {key!r}.")
    protocols = available_protocols()
    if not isinstance(data["arms"], dict) or not data["arms"]:
        _fail(path, "arms must be a non-empty mapping of arm name -> {model, protocol, keys}.")
    arms = {str(arm): _arm(path, arm, entry, protocols) for arm, entry in data["arms"].items()}
    metrics = _metrics(path, data.get("metrics", ["hit@1", "ndcg@5"]))
    if not isinstance(data["reference"], str) or data["reference"] not in arms:
        _fail(path, f"reference {data['reference']!r} is not one of the arms {list(arms)}.")
    default_arms = tuple(str(arm) for arm in data.get("default_arms") or arms)
    unknown_arms = [arm for arm in default_arms if arm not in arms]
    if unknown_arms or data["reference"] not in default_arms:
        _fail(path, f"default_arms must be arms of the study and hold the reference {data['reference']!r}, got "
                    f"{list(default_arms)}.")
    claims = []
    for entry in data.get("claims") or ():
        if not isinstance(entry, dict) or set(entry) - {"better", "worse", "metric"} or \
                not {"better", "worse"} <= set(entry):
            _fail(path, f"a claim is {{better: ARM, worse: ARM, metric: METRIC}}, got {entry!r}.")
        for side in ("better", "worse"):
            if not isinstance(entry[side], str) or entry[side] not in arms:
                _fail(path, f"claim {entry!r}: {entry[side]!r} is not one of the arms {list(arms)}.")
        if entry.get("metric", metrics[0]) not in metrics:
            _fail(path, f"claim {entry!r}: metric {entry['metric']!r} is not one of the study's metrics "
                        f"{list(metrics)}: add it to metrics, or name one of them.")
        if entry["better"] == entry["worse"]:
            _fail(path, f"a claim compares two arms, got {entry['better']!r} against itself.")
        claims.append(Claim(entry["better"], entry["worse"], entry.get("metric", metrics[0])))
    analysis = data.get("analysis", "arms")
    if analysis not in ANALYSES:
        _fail(path, f"unknown analysis {analysis!r}; known: {', '.join(ANALYSES)}.")
    return StudySpec(name=name, title=str(data["title"]), claim=str(data["claim"]), source=str(data.get("source", "")),
                     metrics=metrics, keys=_mapping(path, "keys", data.get("keys")),
                     llm_keys=_mapping(path, "llm_keys", data.get("llm_keys")), arms=arms,
                     default_arms=default_arms, reference=data["reference"],
                     datasets=_names(path, "datasets", data["datasets"]) if "datasets" in data else ("ml-100k",),
                     claims=tuple(claims), baselines=tuple(data.get("baselines") or ()),
                     notes=str(data.get("notes", "")), analysis=analysis, path=str(path))


def load_spec(name):
    """The study ``name`` (a file of ``properties/study/``), or the study file ``name`` (a path ending in .yaml)."""
    if name.endswith((".yaml", ".yml")):
        path = Path(name)
        text = read_user_text("Study file", path)  # a folder, a missing or non-UTF-8 file: said so
        name = path.stem
        check_plain_name("study file name", name)
    else:
        check_plain_name("study", name)
        path = STUDY_DIR / f"{name}.yaml"
        if not path.is_file():
            raise ConfigurationError(f"Unknown study {name!r}; known: {', '.join(available_studies()) or 'none'} "
                                     f"(files of {STUDY_DIR}).")
        text = read_user_text("Study file", path)
    try:
        data = yaml.load(text, Loader=PropertyLoader)
    except yaml.YAMLError as error:
        raise ConfigurationError(f"{path}: not a readable YAML file: {error}") from None
    return parse_spec(name, data, path)
