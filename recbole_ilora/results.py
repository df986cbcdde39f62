"""One machine-readable JSON file per run: what the leaderboard reads and what makes a run reproducible.

``build_result`` assembles it from the final config (its identity), the trainer's ``TrainingRecord``, the
evaluation loaders (candidates, users) and ``run_info`` (machine, versions, memory); ``write_result`` writes it
atomically to ``experiment.result_path``.
"""

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from recbole_ilora import run_info
from recbole_ilora.data import candidates_fingerprint, evaluated_user_tokens
from recbole_ilora.errors import ResultWriteError
from recbole_ilora.experiment import result_path
from recbole_ilora.files import write_json_atomic

SCHEMA_VERSION = 1


@dataclass
class TrainingRecord:
    """What a trainer reports about its run (``RunRecordingMixin.training_record``)."""

    train_epoch_seconds: list
    valid_epoch_seconds: list
    test_ranks: list | None  # 1-based rank of each test user's target; None below max(topk)
    world_size: int = 1  # processes that trained together
    extras: dict = field(default_factory=dict)  # the trainer's own entries (adapter folder, resumed_from, ...)


def to_floats(metrics):
    return None if metrics is None else {key: float(value) for key, value in metrics.items()}


def build_result(config, clock, record, model, valid_data, test_data, best_valid_score, best_valid_result,
                 test_result, log_file, checkpoint, extras):
    """The run's JSON result (schema ``SCHEMA_VERSION``) as a dict; ``extras`` are the runner's entries."""
    validated = best_valid_result is not None
    result = {
        "schema_version": SCHEMA_VERSION,
        "model": config["model"],
        "dataset": config["dataset"],
        "protocol": config["protocol"],
        "seed": config["seed"],
        "config_hash": config.experiment_hash,
        "valid_metric": config["valid_metric"].lower(),
        "best_valid_score": float(best_valid_score) if validated else None,
        "valid": to_floats(best_valid_result),
        "test": to_floats(test_result),
        "epochs_trained": len(record.train_epoch_seconds),
        "time_s": {
            "total": round(time.perf_counter() - clock.start, 3),
            **{name: round(seconds, 3) for name, seconds in clock.seconds.items()},
            "train_per_epoch": [round(s, 3) for s in record.train_epoch_seconds],
            "valid_per_epoch": [round(s, 3) for s in record.valid_epoch_seconds],
        },
        "world_size": record.world_size,
        "threads": run_info.threads(),
        "peak_memory_mb": run_info.peak_memory_mb(),
        "parameters": run_info.parameter_counts(model),
        "candidates_sha256": {"valid": candidates_fingerprint(valid_data), "test": candidates_fingerprint(test_data)},
        "per_user_test": {
            "user": evaluated_user_tokens(test_data),
            "rank": record.test_ranks,
            "max_rank": max(config["topk"]),
        },
        "versions": run_info.package_versions(),
        "machine": run_info.machine_description(),
        "started_at": clock.started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": run_info.command_line(),
        "log_file": log_file,
        "checkpoint": checkpoint,
        "config": config.experiment,
        **record.extras,
        **extras,
    }
    result["result_file"] = str(result_path(config))
    return result


def result_path_problem(path, config_hash):
    """Why the JSON result of the experiment ``config_hash`` cannot be written at ``path`` (None: it can): a folder
    there, a file that is not a result (a user's), or another experiment's result. None of them is overwritten."""
    path = Path(path)
    if path.is_dir():
        return f"{path} is a folder where the run's JSON result goes"
    if not path.exists():
        return None
    try:
        existing = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"{path} exists and is not a JSON result (a file of yours?)"
    if not isinstance(existing, dict) or "config_hash" not in existing:
        return f"{path} exists and is not a JSON result (a file of yours?)"
    if existing["config_hash"] != config_hash:
        return (f"{path} holds the result of another experiment (config hash {existing['config_hash']}, this run "
                f"{config_hash})")
    return None


def write_result(result):
    """Write ``result`` atomically to its ``result_file``; return the path. What is at that path and not this
    experiment's result is never overwritten (``result_path_problem``)."""
    path = Path(result["result_file"])
    problem = result_path_problem(path, result["config_hash"])
    if problem:
        raise ResultWriteError(f"{problem} and is not overwritten")
    try:
        return write_json_atomic(result, path)
    except OSError as error:
        raise ResultWriteError(f"{path} cannot be written ({error.strerror or error})") from None
