"""Read the JSON results of a leaderboard and check that they are well formed and comparable.

Well formed: the schema's keys, finite metrics in [0, 1], one per-user rank (or None) per evaluated user, each user
id a distinct string, and every other field the tables read of its type and range (times, memory, parameters,
epochs: numbers >= 0; ``FIELDS``).
Consistent: what one run wrote together still agrees (ranks within the candidates, test metrics recomputed from the
ranks, the config hash of the config and of the file name), so that a hand-edited or corrupt file is not published.
A file that is neither is one error naming it. Comparable: within one dataset and seed, every model ranked the same
candidates (``candidates_sha256``) for the same test users, and the runs of one model differ only in their seed.
Results over different candidates or users are refused unless explicitly allowed, and are then marked in every
table, because a table over unequal candidates looks just as convincing as a fair one; mixed settings are a warning
at the report's top.
"""

import json
import math
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from recbole_ilora import results
from recbole_ilora.data.candidates import candidates_per_user
from recbole_ilora.errors import UserError
from recbole_ilora.experiment import config_hash


class ResultFileError(UserError, ValueError):
    """A JSON result that cannot be read as one: the message names the file and what is wrong."""


class IncomparableResultsError(UserError, ValueError):
    """Models of one dataset and seed ranked different candidates, or were tested on different users."""


@dataclass(frozen=True)
class Run:
    """One run's JSON result and the file it came from."""

    path: Path
    result: dict

    @property
    def model(self):
        return self.result["model"]

    @property
    def dataset(self):
        return self.result["dataset"]

    @property
    def seed(self):
        return self.result["seed"]


@dataclass
class Collection:
    """The runs found, in the order of the requested models / datasets / seeds, and what is wrong with them."""

    models: list
    datasets: list
    seeds: list
    protocols: dict  # dataset -> the protocol its runs were evaluated under
    runs: dict = field(default_factory=dict)  # (dataset, model) -> [Run], by seed
    missing: list = field(default_factory=list)  # (model, dataset, seed) without a result
    warnings: list = field(default_factory=list)
    ignored: list = field(default_factory=list)  # why each result file found was not used (also among warnings)
    incomparable: set = field(default_factory=set)  # datasets whose models ranked different candidates or users
    # (allowed)

    def of(self, dataset, model):
        return self.runs.get((dataset, model), [])

    def results(self, dataset, model):
        return [run.result for run in self.of(dataset, model)]

    def all_runs(self):
        return [run for runs in self.runs.values() for run in runs]

    def __bool__(self):
        return bool(self.runs)


def candidate_files(results_dir, model, dataset, seed, protocol):
    """Every result file of one combination, whatever its config hash (see ``experiment.result_path``)."""
    return sorted((Path(results_dir) / dataset / protocol).glob(f"{model}-seed{seed}-*.json"))


ENCODER_KEY = "sasrec_checkpoint"  # the prerequisite of iLoRA's kind: its frozen SASRec


def encoder_hash(run):
    """The config hash of the SASRec encoder ``run`` used (an LLM run records it among its prerequisites), or None
    (a classic model)."""
    return (run.result["config"].get("prerequisites") or {}).get(ENCODER_KEY)


def encoder_result(run):
    """The JSON result of the SASRec encoder ``run`` used, or None (a classic model; an encoder given as a checkpoint
    whose run wrote elsewhere): a run under ``RESULTS_DIR/DATASET/PROTOCOL/`` trained or reused the one under
    ``RESULTS_DIR/encoders/DATASET/PROTOCOL/``, or, with no ``encoder_config`` overrides, the SASRec baseline beside
    it."""
    config_hash = encoder_hash(run)
    if not config_hash:
        return None
    results_dir, name = run.path.parents[2], f"SASRec-seed{run.seed}-{config_hash}.json"
    for folder in (results_dir / "encoders" / run.dataset / run.result["protocol"], run.path.parent):
        if (folder / name).is_file():
            return read_result_file(folder / name)
    return None


def read_result_file(path):
    """A JSON run result, or one ResultFileError naming the file (not JSON, not a result, edited or corrupt)."""
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError) as error:  # also: not UTF-8, an integer too long, nested too deep
        raise ResultFileError(f"result file {path} cannot be read as JSON ({error}); move it away or re-run it.") \
            from None
    problem = _structure_problem(result)
    if problem:
        raise ResultFileError(f"result file {path} is not a run result: {problem}; move it away or re-run it.")
    problem = _disagreement(result, Path(path).name)
    if problem:
        raise ResultFileError(f"result file {path} was edited or is corrupt: {problem}; rerun the run or restore the "
                              f"file.")
    return result


def _structure_problem(result):
    """What makes ``result`` unusable as a run's JSON result, or None."""
    if not isinstance(result, dict):
        return f"it holds a {type(result).__name__}, not an object"
    missing = [key for key in ("schema_version", "model", "dataset", "seed", "protocol", "test", "config",
                               "per_user_test") if key not in result]
    if missing:
        return f"keys {', '.join(missing)} are missing"
    test, valid = result["test"], result.get("valid")
    if not isinstance(test, dict) or not test:
        return "its test metrics are missing"
    if not isinstance(valid, (dict, type(None))):
        return "its valid metrics are not an object"
    for part, metrics in (("test", test), ("valid", valid or {})):
        bad = [key for key, value in metrics.items() if not (_number(value) and 0 <= value <= 1)]
        if bad:
            return f"{part} metric {bad[0]} is {metrics[bad[0]]!r}, not a finite number in [0, 1]"
    per_user = result["per_user_test"]
    if not isinstance(per_user, dict) or not isinstance(per_user.get("user"), list):
        return "per_user_test has no user list"
    problem = _users_problem(per_user["user"])
    if problem:
        return problem
    ranks = per_user.get("rank")
    if ranks is not None and (not isinstance(ranks, list) or len(ranks) != len(per_user["user"]) or not ranks):
        return (f"per_user_test holds {len(ranks) if isinstance(ranks, list) else 'no list of'} ranks for "
                f"{len(per_user['user'])} users")
    if ranks is not None and not (type(per_user.get("max_rank")) is int and per_user["max_rank"] >= 1):
        return "per_user_test has no max_rank (a positive integer)"
    return _metadata_problem(result)


def _users_problem(users):
    """What keeps ``per_user_test.user`` from pairing runs user by user (ids are RecBole's tokens: distinct strings),
    or None: an integer id matches no other run's, a repeated one counts a user twice in the paired tests."""
    odd = next((user for user in users if not isinstance(user, str)), None)
    if odd is not None:
        return f"per_user_test user {_shown(odd)} is a {type(odd).__name__}, not a user id (a string)"
    repeated = [(user, count) for user, count in Counter(users).items() if count > 1]
    if repeated:
        return f"per_user_test names user {repeated[0][0]!r} {repeated[0][1]} times; each test user appears once"
    return None


def _number(value):
    """A finite int or float, not a bool (an integer too large for a float is not one)."""
    try:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:
        return False


def _at_least_zero(value):
    return _number(value) and value >= 0


def _count(value):
    return type(value) is int and value >= 0


def _texts(value):
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# What the tables and the report read of a result besides its metrics and ranks: (path of keys, whether it must be
# there, the test of its value, what it must be). A value that fails is one error, never a traceback, a negative
# time or memory in the cost table, or a seed silently dropped from an average.
FIELDS = (
    (("time_s", "train"), True, _at_least_zero, "a number of seconds >= 0"),
    (("time_s", "test"), True, _at_least_zero, "a number of seconds >= 0"),
    (("time_s", "total"), True, _at_least_zero, "a number of seconds >= 0"),
    (("time_s", "prerequisites"), False, lambda v: v is None or _at_least_zero(v), "null or a number of seconds >= 0"),
    (("peak_memory_mb", "rss"), True, _at_least_zero, "a number of MiB >= 0"),
    (("peak_memory_mb", "cuda"), False, lambda v: v is None or _at_least_zero(v), "null or a number of MiB >= 0"),
    (("parameters", "trainable"), True, _count, "an integer >= 0"),
    (("parameters", "total"), True, _count, "an integer >= 0"),
    (("epochs_trained",), True, _count, "an integer >= 0"),
    (("finished_at",), False, lambda v: v is None or isinstance(v, str), "a time stamp"),
    (("machine",), False, _texts, "a list of lines of text"),
    (("command",), False, _texts, "a list of arguments (text)"),
    (("versions",), False, lambda v: isinstance(v, dict), "an object of package versions"),
)


def _shown(value):
    """``value`` as an error message shows it: its repr, cut short (an edited number may have 400 digits)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _field_problem(result, path, required, valid, what):
    """What is wrong with the field at ``path`` of ``result`` (see ``FIELDS``), or None."""
    value = result
    for depth, key in enumerate(path):
        if not isinstance(value, dict):
            return f"{'.'.join(path[:depth])} is {_shown(value)}, not an object"
        if key not in value:
            return f"{'.'.join(path[:depth + 1])} is missing" if required else None
        value = value[key]
    return None if valid(value) else f"{'.'.join(path)} is {_shown(value)}, not {what}"


def _metadata_problem(result):
    """What the tables read besides the metrics: the config, the stage times, memory, parameters, the candidates'
    digests, the gate."""
    if not isinstance(result["config"], dict):
        return f"its config is a {type(result['config']).__name__}, not an object"
    if not isinstance(result["config"].get("prerequisites") or {}, dict):
        return "its config's prerequisites are not an object"
    problem = next(filter(None, (_field_problem(result, *field) for field in FIELDS)), None)
    if problem:
        return problem
    if result["parameters"]["trainable"] > result["parameters"]["total"]:
        return (f"parameters.trainable {result['parameters']['trainable']} is above parameters.total "
                f"{result['parameters']['total']}")
    digests = result.get("candidates_sha256")
    if digests is not None and not (isinstance(digests, dict) and all(isinstance(v, str) for v in digests.values())):
        return "candidates_sha256 is not an object of digests per phase"
    gate = result.get("gate_weights")
    if gate:
        rows = gate.get("weights") if isinstance(gate, dict) else None
        if not isinstance(rows, list) or not isinstance(gate.get("user"), list) or len(rows) != len(gate["user"]) or \
                len({len(row) if isinstance(row, list) else -1 for row in rows}) > 1 or \
                not all(_number(w) for row in rows if isinstance(row, list) for w in row) or \
                any(not isinstance(row, list) for row in rows):
            return "gate_weights is not one row of numbers per user, all of one length"
    return None


# RecBole rounds each metric to 4 decimals (metric_decimal_place): up to 5e-5 from the ranks' value, plus float error.
METRIC_TOLERANCE = 6e-5
RANKED_METRIC = re.compile(r"(hit|ndcg|mrr)@(\d+)")
GAIN = {"hit": lambda rank: 1.0, "ndcg": lambda rank: 1 / math.log2(rank + 1), "mrr": lambda rank: 1 / rank}


def _disagreement(result, file_name):
    """Where the parts of a well-formed result that one run wrote together disagree (a hand edit, a corrupt file),
    or None. Each target is the one positive of its user, so the ranks give hit@k, ndcg@k and mrr@k exactly."""
    digest = config_hash(result["config"])
    if result.get("config_hash") != digest:
        return f"config_hash {result.get('config_hash')!r} is not its config's hash {digest}"
    if not file_name.endswith(f"-{digest}.json"):
        return f"its file name does not end in its config hash, -{digest}.json"
    per_user = result["per_user_test"]
    ranks, max_rank = per_user.get("rank"), per_user.get("max_rank")
    if ranks is None:  # a run that recorded no ranks: nothing to recompute
        return None
    candidates = candidates_per_user(defaultdict(dict, result["config"]), "test")  # 0: the full ranking
    top = min(max_rank, candidates or max_rank)
    for user, rank in zip(per_user["user"], ranks):
        if not (rank is None or (type(rank) is int and 1 <= rank <= top)):
            return (f"per_user_test rank {rank!r} of user {user} is neither null (below max_rank {max_rank}) nor an "
                    f"integer in 1..{top}{f' ({candidates} candidates)' if candidates else ''}")
    for name, stored in result["test"].items():
        match = RANKED_METRIC.fullmatch(name)
        if not match:
            continue
        gain, k = GAIN[match[1]], int(match[2])
        if k > max_rank:
            return f"test {name} is beyond the per-user ranks' max_rank {max_rank}"
        recomputed = sum(gain(rank) for rank in ranks if rank is not None and rank <= k) / len(ranks)
        if abs(stored - recomputed) > METRIC_TOLERANCE:
            return f"test {name} is {stored} but its per-user ranks give {recomputed:.4f}"
    return None


def collect(results_dir, models, datasets, seeds, protocols, files=None, warn=None, allow_different_candidates=False):
    """The runs of ``models x datasets x seeds`` under ``results_dir``, each dataset's under its protocol
    (``protocols``: dataset -> protocol).

    ``files`` maps ``(model, dataset, seed)`` to the exact result file to read (what the leaderboard just planned:
    the config hash is known). Without it, every file of the combination is a candidate and the most recently
    finished one is taken, with a warning naming the others (``--report_only`` over a folder of older runs).
    ``warn`` receives each warning (default: stderr). Runs of one dataset and seed over different candidates (or
    test users) raise ``IncomparableResultsError`` unless ``allow_different_candidates``; then they are noted and
    marked.
    """
    warn = warn or (lambda message: print(f"WARNING: {message}", file=sys.stderr, flush=True))
    collection = Collection(list(models), list(datasets), list(seeds), {d: protocols[d] for d in datasets})

    def note(message):
        collection.warnings.append(message)
        warn(message)

    def ignore(message):
        collection.ignored.append(message)
        note(message)

    for dataset in datasets:
        protocol = protocols[dataset]
        for model in models:
            found = []
            for seed in seeds:
                key = (model, dataset, seed)
                if files is not None:
                    paths = [Path(files[key])] if key in files and Path(files[key]).is_file() else []
                else:
                    paths = candidate_files(results_dir, model, dataset, seed, protocol)
                run = _pick(paths, key, protocol, note, ignore)
                if run is None:
                    collection.missing.append(key)
                else:
                    found.append(run)
            if found:
                collection.runs[(dataset, model)] = found
    differing = check_candidates(collection)
    if differing and not allow_different_candidates:
        raise IncomparableResultsError(f"{differing[0][1]} Re-run them with the same seed and protocol, or pass "
                                       f"--allow_different_candidates to report them anyway, marked as such.")
    collection.incomparable = {dataset for dataset, _ in differing}
    for message in [message for _, message in differing] + check_seed_only_differences(collection):
        note(message)
    return collection


IDENTITY = ("schema_version", "model", "dataset", "seed", "protocol")  # what a result's file name and folder promise


def _pick(paths, key, protocol, note, ignore):
    """The run of ``key`` among ``paths`` (the latest, noting the others); a file whose content is another
    combination's (or another schema's) is ignored, saying which field differs."""
    model, dataset, seed = key
    runs = []
    for path in paths:
        result = read_result_file(path)
        expected = (results.SCHEMA_VERSION, model, dataset, seed, protocol)
        differing = [f"{name} {result.get(name)!r} where {wanted!r} was expected" for name, wanted in
                     zip(IDENTITY, expected) if result.get(name) != wanted]
        if differing:
            ignore(f"{path} holds {', '.join(differing)}: ignored (a file renamed or moved, or written by another "
                   f"version).")
            continue
        runs.append(Run(Path(path), result))
    if not runs:
        return None
    runs.sort(key=lambda run: run.result.get("finished_at") or "")
    if len(runs) > 1:
        others = ", ".join(run.path.name for run in runs[:-1])
        note(f"{model} on {dataset}, seed {seed}: {len(runs)} results with different config hashes; using the "
             f"latest, {runs[-1].path.name}, ignoring {others}. Pass the runs' overrides or --config_files to pick "
             f"exactly one.")
    return runs[-1]


def check_candidates(collection):
    """``[(dataset, message)]`` for each dataset and seed whose runs did not rank the same test candidates, or not for
    the same test users (their per-user ranks then pair on some users only, or on none)."""
    messages = []
    for dataset in collection.datasets:
        for seed in collection.seeds:
            runs = [run for model in collection.models for run in collection.of(dataset, model) if run.seed == seed]
            fingerprints, users = defaultdict(list), defaultdict(list)
            for run in runs:
                fingerprints[(run.result.get("candidates_sha256") or {}).get("test")].append(run.model)
                users[frozenset(run.result["per_user_test"]["user"])].append(run.model)
            if len(fingerprints) > 1:
                groups = "; ".join(f"{', '.join(models)}: {str(sha)[:12]}" for sha, models in fingerprints.items())
                messages.append((dataset,
                    f"CANDIDATES DIFFER on {dataset}, seed {seed} (test candidates sha256 {groups}). These models "
                    f"did not rank the same candidates, so their numbers are not comparable."
                ))
            elif len(users) > 1:
                groups = "; ".join(f"{', '.join(models)}: {len(group)} users" for group, models in users.items())
                messages.append((dataset,
                    f"TEST USERS DIFFER on {dataset}, seed {seed} ({groups}; "
                    f"{len(frozenset.intersection(*users))} in common). These models were not tested on the same "
                    f"users, so their numbers are not comparable and their per-user tests pair only the common ones."
                ))
    return messages


def _settings_but_seed(run):
    """A run's config without its seed; its encoder (a hash that follows the seed) stands as the encoder run's own
    config without the seed, where that run's result is found."""
    config = {key: value for key, value in run.result.get("config", {}).items() if key != "seed"}
    encoder = encoder_result(run)
    if encoder is not None:
        config["prerequisites"] = {key: value for key, value in encoder["config"].items() if key != "seed"}
    return config


def check_seed_only_differences(collection):
    """Warnings for models whose runs on one dataset differ in more than the seed (mixed budgets or settings)."""
    messages = []
    for (dataset, model), runs in collection.runs.items():
        configs = [_settings_but_seed(run) for run in runs]
        differing = sorted({k for config in configs[1:] for k in set(config) | set(configs[0])
                            if config.get(k) != configs[0].get(k)})
        if differing:
            messages.append(f"{model} on {dataset}: its seeds' runs also differ in {', '.join(differing[:8])}"
                            f"{' ...' if len(differing) > 8 else ''}; mean and std mix different settings.")
    return messages
