"""One machine-readable JSON file per run: what the leaderboard reads and what makes a run reproducible."""

import hashlib
import json
import os
import platform
import resource
import sys
from importlib import metadata
from pathlib import Path

import torch

SCHEMA_VERSION = 1

# Keys that say where or how a run executes, not what it computes: left out of the config hash, so that the
# same experiment on another machine, folder or thread count is recognised as the same.
RUNTIME_KEYS = frozenset({
    "data_path", "checkpoint_dir", "results_dir", "dataset_save_path", "dataloaders_save_path", "save_dataset",
    "save_dataloaders", "device", "gpu_id", "use_gpu", "local_rank", "single_spec", "world_size", "nproc", "ip",
    "port", "offset", "worker", "cpu_threads", "state", "show_progress", "log_wandb", "wandb_project",
    "resume_checkpoint", "allow_download", "llm_cache_dir",
    # a path; which encoder a run uses is fixed by its data, split, seed and encoder_config, all hashed
    "sasrec_checkpoint",
})

# Keys added after results were published: left out of the hash while unset, so that the results of runs that did
# not use them keep their hash (and are still found and reused).
OPTIONAL_KEYS = frozenset({"eval_users"})

VERSIONED_PACKAGES = ("recbole-ilora", "recbole", "torch", "transformers", "peft", "numpy", "pandas")


def experiment_config(config):
    """The config keys that determine a run's results, as JSON-safe values."""
    relevant = {key: value for key, value in config.final_config_dict.items()
                if key not in RUNTIME_KEYS and not (key in OPTIONAL_KEYS and value is None)}
    return json.loads(json.dumps(relevant, sort_keys=True, default=str))


def config_hash(config):
    """Short, stable hash of ``experiment_config``: equal hashes mean the same experiment."""
    blob = json.dumps(experiment_config(config), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def result_path(config):
    """``<results_dir>/<dataset>/<protocol>/<model>-seed<seed>-<config hash>.json``."""
    name = f"{config['model']}-seed{config['seed']}-{config_hash(config)}.json"
    return Path(config["results_dir"]) / config["dataset"] / config["protocol"] / name


def finished_checkpoint(result_file):
    """The checkpoint of a finished run, if its JSON result and checkpoint file both exist."""
    if not Path(result_file).is_file():
        return None
    checkpoint = json.loads(Path(result_file).read_text()).get("checkpoint")
    return checkpoint if checkpoint and Path(checkpoint).is_file() else None


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


def evaluated_user_tokens(loader):
    """Raw user ids of an evaluation loader's rows, in the order RecBole's collector stores them."""
    dataset = loader._dataset
    return dataset.id2token(dataset.uid_field, dataset.inter_feat[dataset.uid_field].numpy()).tolist()


def to_floats(metrics):
    return None if metrics is None else {key: float(value) for key, value in metrics.items()}


def write_text_atomic(text, path):
    """Write ``text`` to ``path`` so that a reader never sees a half-written file; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)
    return path


def write_json_atomic(payload, path):
    """Write JSON so that a reader never sees a half-written file."""
    write_text_atomic(json.dumps(payload, indent=2) + "\n", path)


def command_line():
    return [Path(sys.argv[0]).name] + sys.argv[1:]
