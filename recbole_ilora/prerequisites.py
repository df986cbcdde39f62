"""Runs a run needs before its own (iLoRA's frozen SASRec encoder is an ordinary SASRec run): found finished by
their config hash, or trained first as a stage of the command.

A finished run is its JSON result plus a checkpoint that really is that experiment's (a path read from a JSON file
is never followed unchecked); only a missing one is trained.
"""

import json
from pathlib import Path

from recbole.utils import set_color

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora.config import Config
from recbole_ilora.experiment import result_path


def finished_checkpoint(result_file):
    """The checkpoint of a finished run: the one its JSON result names, if that file is a checkpoint of the same
    experiment; else None."""
    if not Path(result_file).is_file():
        return None
    result = json.loads(Path(result_file).read_text())
    path = result.get("checkpoint")
    return path if path and checkpoints.is_checkpoint_of(path, result.get("config_hash")) else None


def ensure_required_runs(config, required, run):
    """Make sure the runs ``required`` lists (``{config key: (model name, config_dict)}``, a model's
    ``required_runs``: ``{key: RequiredRun}``) exist; store each one's checkpoint path in ``config`` under its key
    (unless the user set it: ``Config`` checked that checkpoint already). ``run`` trains a missing one
    (``quick_start.run``). Returns ``{key: (path, how)}``."""
    done = {}
    for key, needed in required.items():
        if config[key]:
            done[key] = (config[key], f"given by {key}")
            continue
        model, dataset = needed.model, needed.dataset or config["dataset"]
        checkpoint = finished_checkpoint(result_path(Config(model, dataset, config_dict=needed.config_dict)))
        how = "reused finished run"
        if checkpoint is None:
            on = f" on {dataset}" if dataset != config["dataset"] else ""
            print(set_color(f"Stage: training {model}{on} for {config['model']}'s {key}", "yellow"), flush=True)
            checkpoint = run(model, dataset, config_dict=needed.config_dict)["checkpoint"]
            how = f"trained {model}{on} first"
        config.set_prerequisite(key, checkpoint)
        done[key] = (checkpoint, how)
    return done
