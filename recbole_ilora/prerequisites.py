"""Runs a run needs before its own (iLoRA's frozen SASRec encoder is an ordinary SASRec run): found finished by
their config hash, or trained first as a stage of the command.

A finished run is its JSON result plus a checkpoint that really is that experiment's (a path read from a JSON file
is never followed unchecked); only a missing one is trained.
"""

import json
from logging import getLogger
from pathlib import Path

from recbole.utils import set_color

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora import run_info
from recbole_ilora.config import Config
from recbole_ilora.errors import UserError
from recbole_ilora.experiment import result_path

# Below checkpoint_dir: the results of prerequisite runs retrained because their published checkpoint is missing.
RETRAINED_FOLDER = "retrained"


def finished_checkpoint(result_file):
    """The checkpoint of a finished run: the one its JSON result names, if that file is a checkpoint of the same
    experiment; else None."""
    if not Path(result_file).is_file():
        return None
    result = json.loads(Path(result_file).read_text())
    path = result.get("checkpoint")
    return path if path and checkpoints.is_checkpoint_of(path, result.get("config_hash")) else None


def ensure_required_runs(config, required, run):
    """Make sure the runs ``required`` lists (a model's ``required_runs``: ``{key: RequiredRun}``) exist; store each
    one's checkpoint path in ``config`` under its key (unless the user set it: ``Config`` checked that checkpoint
    already). ``run`` trains a missing one (``quick_start.run``). Returns ``{key: (path, how)}``."""
    done = {}
    for key, needed in required.items():
        if config[key]:
            done[key] = (config[key], f"given by {key}")
            continue
        done[key] = _checkpoint_of(config, key, needed, run)
        config.set_prerequisite(key, done[key][0])
    return done


def _checkpoint_of(config, key, needed, run):
    """``(checkpoint, how)`` of the run ``needed``: its finished run's, else that of a run trained now. A published
    result whose checkpoint is not on this machine (a fresh clone holds the JSON files only) is retrained beside
    it, in ``<checkpoint_dir>/retrained/``, so that the published record is kept as it is."""
    model, dataset = needed.model, needed.dataset or config["dataset"]
    required = Config(model, dataset, config_dict=needed.config_dict)
    published = result_path(required)
    checkpoint = finished_checkpoint(published)
    if checkpoint is not None:
        return checkpoint, "reused finished run"
    config_dict, kept = needed.config_dict, published.is_file()
    if kept:
        config_dict = {**config_dict, "results_dir": str(Path(config["checkpoint_dir"]) / RETRAINED_FOLDER)}
        checkpoint = finished_checkpoint(result_path(Config(model, dataset, config_dict=config_dict)))
        if checkpoint is not None:
            return checkpoint, f"reused the retrained copy of {published}"
    on = f" on {dataset}" if dataset != config["dataset"] else ""
    again = f" again (the checkpoint of {published} is not on this machine; that result is kept)" if kept else ""
    stopped = checkpoints.latest_of(required["checkpoint_dir"], model, required.experiment_hash)
    if stopped is not None:  # an earlier try of this command was stopped in this stage
        config_dict = {**config_dict, "resume_checkpoint": str(stopped)}
        again += f", resuming from {stopped}"
    print(set_color(f"Stage: training {model}{on}{again} for {config['model']}'s {key}", "yellow"), flush=True)
    with run_info.started_inside(model, dataset, config_dict):
        try:
            result = run(model, dataset, config_dict=config_dict)
        except UserError as error:  # named as the required run's, which the user configured through one key
            raise type(error)(f"The {model} run behind {key}{on} (configured by {needed.settings_key}): "
                              f"{error}") from None
    if kept:
        _compare_with_published(result, published)
    return result["checkpoint"], f"trained {model}{on} first"


def _compare_with_published(result, published):
    """Say whether a retrained prerequisite reproduced its published test metrics (CPU thread counts and kernels can
    move them slightly: README, "How much a run's numbers move")."""
    before = json.loads(Path(published).read_text()).get("test") or {}
    moved = {metric: (before[metric], value) for metric, value in (result.get("test") or {}).items()
             if metric in before and before[metric] != value}
    text = ("reproduced its published test metrics" if not moved else
            "moved from its published test metrics: " + ", ".join(f"{metric} {old} -> {new}"
                                                                  for metric, (old, new) in sorted(moved.items())))
    getLogger().warning(f"The retrained {result['model']} run {text} ({published}).")
