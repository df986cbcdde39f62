"""What an experiment is: the config keys that determine a run's numbers, their hash, and where its result lives.

Equal hashes mean the same experiment, whatever the machine, folder or thread count: the leaderboard reuses a
finished run by its hash, a checkpoint is resumed or evaluated only by a run of its hash, and the JSON result is
named by it. ``recbole_ilora.config.Config`` takes the identity once, when it is final (``Config.experiment``,
``Config.experiment_hash``); the functions here work on plain values and import nothing of the package, so every
layer can use them.
"""

import hashlib
import json
from pathlib import Path

# Keys that say where or how a run executes, not what it computes: left out of the config hash, so that the
# same experiment on another machine, folder or thread count is recognised as the same.
RUNTIME_KEYS = frozenset({
    "data_path", "checkpoint_dir", "results_dir", "dataset_save_path", "dataloaders_save_path", "save_dataset",
    "save_dataloaders", "device", "gpu_id", "use_gpu", "local_rank", "single_spec", "world_size", "nproc", "ip",
    "port", "offset", "worker", "cpu_threads", "state", "show_progress", "log_wandb", "wandb_project",
    "resume_checkpoint", "allow_download", "llm_cache_dir", "strict_data", "ddp_timeout", "cpu_processes",
    # paths; which encoder or source run a run uses is fixed by its keys and data, all hashed
    "sasrec_checkpoint", "transfer_checkpoint",
    # how a step's micro-batches are split between accumulation and processes; the global batch is in the identity
    "gradient_accumulation_steps",
    # how often a checkpoint is written inside an epoch; where the backbone's files lie (their content is in the
    # identity: a copy of the same files elsewhere is the same experiment); how many rows an evaluation batch holds
    # (the candidates are fixed per user, whatever the batch). run_scripts/migrate_runtime_keys.py moved the
    # committed results when each became a runtime key.
    "checkpoint_steps", "llm_path", "eval_batch_size", "eval_batch_users",
})

# Keys added after results were published: left out of the hash while unset, so that the results of runs that did
# not use them keep their hash (and are still found and reused).
OPTIONAL_KEYS = frozenset({"eval_users", "train_user_share", "gate_input", "transfer_from"})


def json_safe(values):
    """``values`` as JSON would hold them (anything else as its string)."""
    return json.loads(json.dumps(values, sort_keys=True, default=str))


def is_experiment_key(key, value):
    """Whether ``key`` (set to ``value``) is part of the experiment's identity."""
    return key not in RUNTIME_KEYS and not (key in OPTIONAL_KEYS and value is None)


# Keys whose value is the config of another run (iLoRA's encoder, a transfer's source run): their runtime keys say
# how that run executes, not what it is, and stay out of the identity like the run's own.
NESTED_RUN_KEYS = ("encoder_config", "transfer_from")


def experiment_config(values):
    """The keys of a config's final values (``{key: value}``) that determine a run's results, as JSON-safe values."""
    kept = {key: value for key, value in values.items() if is_experiment_key(key, value)}
    for key in NESTED_RUN_KEYS:
        if isinstance(kept.get(key), dict):
            kept[key] = {inner: value for inner, value in kept[key].items() if is_experiment_key(inner, value)}
    return json_safe(kept)


def config_hash(experiment):
    """Short, stable hash of an ``experiment_config``: equal hashes mean the same experiment."""
    blob = json.dumps(experiment, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def result_path(config):
    """``<results_dir>/<dataset>/<protocol>/<model>-seed<seed>-<config hash>.json`` of a final ``Config``."""
    name = f"{config['model']}-seed{config['seed']}-{config.experiment_hash}.json"
    return Path(config["results_dir"]) / config["dataset"] / config["protocol"] / name


def differing_keys(saved, current):
    """Keys whose values differ between two plain experiment configs, sorted."""
    return sorted(key for key in set(saved) | set(current) if saved.get(key) != current.get(key))
