"""Read the JSON results of a leaderboard and check that they are comparable.

Comparable means: within one dataset and seed, every model ranked the same candidates (``candidates_sha256``),
and the runs of one model differ only in their seed. A violation does not stop the report, it is written at its
top and printed to stderr, because a table over unequal candidates looks just as convincing as a fair one.
"""

import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from recbole_ilora import results


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
    protocol: str
    runs: dict = field(default_factory=dict)  # (dataset, model) -> [Run], by seed
    missing: list = field(default_factory=list)  # (model, dataset, seed) without a result
    warnings: list = field(default_factory=list)

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


def _read(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"unreadable result file {path}: {error}") from None


def collect(results_dir, models, datasets, seeds, protocol, files=None, warn=None):
    """The runs of ``models x datasets x seeds`` under ``results_dir`` for ``protocol``.

    ``files`` maps ``(model, dataset, seed)`` to the exact result file to read (what the leaderboard just planned:
    the config hash is known). Without it, every file of the combination is a candidate and the most recently
    finished one is taken, with a warning naming the others (``--report_only`` over a folder of older runs).
    ``warn`` receives each warning (default: stderr).
    """
    warn = warn or (lambda message: print(f"WARNING: {message}", file=sys.stderr, flush=True))
    collection = Collection(list(models), list(datasets), list(seeds), protocol)

    def note(message):
        collection.warnings.append(message)
        warn(message)

    for dataset in datasets:
        for model in models:
            found = []
            for seed in seeds:
                key = (model, dataset, seed)
                if files is not None:
                    paths = [Path(files[key])] if key in files and Path(files[key]).is_file() else []
                else:
                    paths = candidate_files(results_dir, model, dataset, seed, protocol)
                run = _pick(paths, key, protocol, note)
                if run is None:
                    collection.missing.append(key)
                else:
                    found.append(run)
            if found:
                collection.runs[(dataset, model)] = found
    for message in check_candidates(collection) + check_seed_only_differences(collection):
        note(message)
    return collection


def _pick(paths, key, protocol, note):
    model, dataset, seed = key
    runs = []
    for path in paths:
        try:
            result = _read(path)
        except ValueError as error:
            note(str(error))
            continue
        expected = (results.SCHEMA_VERSION, model, dataset, seed, protocol)
        actual = tuple(result.get(k) for k in ("schema_version", "model", "dataset", "seed", "protocol"))
        if actual != expected:
            note(f"{path} holds (schema, model, dataset, seed, protocol) = {actual}, expected {expected}: ignored.")
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
    """Warnings for each dataset and seed whose runs did not rank the same test candidates."""
    messages = []
    for dataset in collection.datasets:
        for seed in collection.seeds:
            runs = [run for model in collection.models for run in collection.of(dataset, model) if run.seed == seed]
            fingerprints = defaultdict(list)
            for run in runs:
                fingerprints[(run.result.get("candidates_sha256") or {}).get("test")].append(run.model)
            if len(fingerprints) > 1:
                groups = "; ".join(f"{', '.join(models)}: {str(sha)[:12]}" for sha, models in fingerprints.items())
                messages.append(
                    f"CANDIDATES DIFFER on {dataset}, seed {seed} (test candidates sha256 {groups}). These models "
                    f"did not rank the same candidates, so their numbers are not comparable."
                )
    return messages


def check_seed_only_differences(collection):
    """Warnings for models whose runs on one dataset differ in more than the seed (mixed budgets or settings)."""
    messages = []
    for (dataset, model), runs in collection.runs.items():
        configs = [{k: v for k, v in run.result.get("config", {}).items() if k != "seed"} for run in runs]
        differing = sorted({k for config in configs[1:] for k in set(config) | set(configs[0])
                            if config.get(k) != configs[0].get(k)})
        if differing:
            messages.append(f"{model} on {dataset}: its seeds' runs also differ in {', '.join(differing[:8])}"
                            f"{' ...' if len(differing) > 8 else ''}; mean and std mix different settings.")
    return messages
