"""One machine-readable JSON file per run: what the leaderboard reads and what makes a run reproducible."""

import hashlib
import json
import os
import platform
import resource
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

from recbole_ilora.files import write_json_atomic

SCHEMA_VERSION = 1

# Keys that say where or how a run executes, not what it computes: left out of the config hash, so that the
# same experiment on another machine, folder or thread count is recognised as the same.
RUNTIME_KEYS = frozenset({
    "data_path", "checkpoint_dir", "results_dir", "dataset_save_path", "dataloaders_save_path", "save_dataset",
    "save_dataloaders", "device", "gpu_id", "use_gpu", "local_rank", "single_spec", "world_size", "nproc", "ip",
    "port", "offset", "worker", "cpu_threads", "state", "show_progress", "log_wandb", "wandb_project",
    "resume_checkpoint", "allow_download", "llm_cache_dir", "strict_data", "ddp_timeout",
    # a path; which encoder a run uses is fixed by its data, split, seed and encoder_config, all hashed
    "sasrec_checkpoint",
})

# Keys added after results were published: left out of the hash while unset, so that the results of runs that did
# not use them keep their hash (and are still found and reused).
OPTIONAL_KEYS = frozenset({"eval_users"})

VERSIONED_PACKAGES = ("recbole-ilora", "recbole", "torch", "transformers", "peft", "numpy", "pandas")


def json_safe(values):
    """``values`` as JSON would hold them (anything else as its string)."""
    return json.loads(json.dumps(values, sort_keys=True, default=str))


def experiment_config(config):
    """The config keys that determine a run's results, as JSON-safe values."""
    return json_safe({key: value for key, value in config.final_config_dict.items()
                      if key not in RUNTIME_KEYS and not (key in OPTIONAL_KEYS and value is None)})


def config_hash(config):
    """Short, stable hash of ``experiment_config``: equal hashes mean the same experiment."""
    blob = json.dumps(experiment_config(config), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def result_path(config):
    """``<results_dir>/<dataset>/<protocol>/<model>-seed<seed>-<config hash>.json``."""
    name = f"{config['model']}-seed{config['seed']}-{config_hash(config)}.json"
    return Path(config["results_dir"]) / config["dataset"] / config["protocol"] / name


def finished_checkpoint(result_file):
    """The checkpoint of a finished run: the one its JSON result names, if that file is a checkpoint of the same
    experiment (a path read from a JSON file is never followed unchecked)."""
    from recbole_ilora import checkpoint as checkpoints

    if not Path(result_file).is_file():
        return None
    result = json.loads(Path(result_file).read_text())
    path = result.get("checkpoint")
    return path if path and checkpoints.is_checkpoint_of(path, result.get("config_hash")) else None


def package_versions():
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def machine_description():
    """Where the run executes, as lines (platform; CPU model and count; memory; GPU): timings mean little without it."""
    cpu = next((line.split(":", 1)[1].strip() for line in _read_lines("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = next((int(line.split()[1]) / 2**20 for line in _read_lines("/proc/meminfo")
                   if line.startswith("MemTotal:")), None)
    lines = [f"platform: {platform.platform()}", f"CPU: {cpu}, {os.cpu_count()} logical CPUs ({usable} usable)"]
    if memory:
        lines.append(f"memory: {memory:.1f} GiB")
    if torch.cuda.is_available():
        lines.append(f"GPU: {torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}")
    return lines


def _read_lines(path):
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def peak_memory_mb():
    """Peak resident memory of this process and, on GPU, peak allocated CUDA memory (MiB)."""
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    cuda = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {"rss": round(rss_kib / 1024, 1), "cuda": None if cuda is None else round(cuda, 1)}


def parameter_counts(model):
    return {
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total": sum(p.numel() for p in model.parameters()),
    }


def to_floats(metrics):
    return None if metrics is None else {key: float(value) for key, value in metrics.items()}


def command_line():
    return [Path(sys.argv[0]).name] + sys.argv[1:]


class StageClock:
    """Wall time per stage of a run (a stage may be entered more than once)."""

    def __init__(self):
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.start = time.perf_counter()
        self.seconds = {}

    def add(self, name, seconds):
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextmanager
    def stage(self, name):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)


def build_result(config, clock, trainer, model, valid_data, test_data, best_valid_score, best_valid_result,
                 test_result, log_file, checkpoint, extras):
    """The run's JSON result (schema ``SCHEMA_VERSION``), written atomically to ``result_path(config)`` by the main
    process (rank 0 under torchrun)."""
    from recbole_ilora import distributed
    from recbole_ilora.data import candidates_fingerprint, evaluated_user_tokens

    validated = best_valid_result is not None
    result = {
        "schema_version": SCHEMA_VERSION,
        "model": config["model"],
        "dataset": config["dataset"],
        "protocol": config["protocol"],
        "seed": config["seed"],
        "config_hash": config_hash(config),
        "valid_metric": config["valid_metric"].lower(),
        "best_valid_score": float(best_valid_score) if validated else None,
        "valid": to_floats(best_valid_result),
        "test": to_floats(test_result),
        "epochs_trained": len(trainer.train_epoch_seconds),
        "time_s": {
            "total": round(time.perf_counter() - clock.start, 3),
            **{name: round(seconds, 3) for name, seconds in clock.seconds.items()},
            "train_per_epoch": [round(s, 3) for s in trainer.train_epoch_seconds],
            "valid_per_epoch": [round(s, 3) for s in trainer.valid_epoch_seconds],
        },
        "world_size": distributed.world_size() if trainer.parallel else 1,
        "peak_memory_mb": peak_memory_mb(),
        "parameters": parameter_counts(model),
        "candidates_sha256": {"valid": candidates_fingerprint(valid_data), "test": candidates_fingerprint(test_data)},
        "per_user_test": {
            "user": evaluated_user_tokens(test_data),
            "rank": trainer.last_eval_ranks(),
            "max_rank": max(config["topk"]),
        },
        "versions": package_versions(),
        "machine": machine_description(),
        "started_at": clock.started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
        "log_file": log_file,
        "checkpoint": checkpoint,
        "config": experiment_config(config),
        **extras,
    }
    path = result_path(config)
    result["result_file"] = str(path)
    if not trainer.parallel or distributed.is_main():
        write_json_atomic(result, path)
    return result
