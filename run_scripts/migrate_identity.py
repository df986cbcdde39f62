"""Migrate committed JSON results to the experiment identity of 2026-12-02 (recbole-ilora 0.2): the hash now covers
the content of the dataset's atomic files, and for LLM runs the content of the backbone's files, the global batch
of a step (processes x train_batch_size x gradient_accumulation_steps, which itself became a runtime key) and the
identity of the encoder run. Each result gets its new hash, file name, ``config`` and a ``threads`` entry.

    python run_scripts/migrate_identity.py docs/leaderboard/results docs/learning_curve [--dry_run]

A result is migrated only when today's Config, rebuilt from the command it records (as the leaderboard plans it),
has exactly the experiment keys the result stored: the new identity then adds only what the run used, the files
present here (the embedded ml-100k, or the dataset/ folder the run read). Keys resolved per machine (dtype: auto)
are given the value the result recorded. An encoder's result records its LLM run's command and is rebuilt through
that run's encoder config. Anything else is reported and left as it is.
"""

import argparse
from contextlib import contextmanager
import json
import os
import sys
from pathlib import Path

from recbole_ilora.config import MACHINE_DEPENDENT_KEYS, Config
from recbole_ilora.experiment import is_experiment_key, result_path
from recbole_ilora.files import write_json_atomic
from recbole_ilora.model.parts.sasrec_encoder import ENCODER_RESULTS_FOLDER, encoder_run_config

IDENTITY_KEYS = ("data_fingerprint", "backbone_fingerprint", "global_train_batch", "prerequisites")
PLANNED = ("--model=", "--dataset=", "--seed=", "--protocol=", "--results_dir=")


@contextmanager
def world_size(processes):
    """Plan as the run's torchrun job did: its process count is part of the global batch."""
    saved = os.environ.get("WORLD_SIZE")
    os.environ["WORLD_SIZE"] = str(processes)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["WORLD_SIZE"]
        else:
            os.environ["WORLD_SIZE"] = saved


def replanned(result, root, encoder):
    """Today's Config of the run ``result`` records, as the leaderboard plans it under ``root`` (an encoder's run:
    through the LLM run whose command it records), with the run's process count."""
    with world_size(result.get("world_size") or 1):
        return _replanned(result, root, encoder)


def _replanned(result, root, encoder):
    arguments = dict(arg[2:].split("=", 1) for arg in result["command"][1:] if arg.startswith("--") and "=" in arg)
    overrides = [arg for arg in result["command"][1:] if not arg.startswith(PLANNED)]
    overrides += [f"--{key}={result['config'][key]}" for key in MACHINE_DEPENDENT_KEYS if key in result["config"]]
    planned = [f"--seed={result['seed']}", f"--protocol={result['protocol']}", f"--results_dir={root}", *overrides]
    if not encoder:
        return Config(result["model"], result["dataset"], cmd_args=planned)
    parent = Config(arguments["model"], result["dataset"], cmd_args=planned)
    return Config("SASRec", result["dataset"], config_dict=encoder_run_config(parent))


def threads_of(command):
    given = [arg.split("=", 1)[1] for arg in command if arg.startswith("--cpu_threads=")]
    return int(given[-1]) if given else None


def migrate(path, root, dry_run):
    result = json.loads(path.read_text())
    config = replanned(result, root, encoder=ENCODER_RESULTS_FOLDER in path.relative_to(root).parts)
    if result["config_hash"] == config.experiment_hash and result["config"] == config.experiment:
        return "already migrated"
    kept = {key: value for key, value in config.experiment.items() if key not in IDENTITY_KEYS}
    stored = {key: value for key, value in result["config"].items()
              if is_experiment_key(key, value) and key not in IDENTITY_KEYS}
    if kept != stored:
        differing = sorted(k for k in set(kept) | set(stored) if kept.get(k) != stored.get(k))
        return f"left as it is: today's config differs in {', '.join(differing)}"
    new_path, old_hash = result_path(config), result["config_hash"]
    result.update(config_hash=config.experiment_hash, config=config.experiment, result_file=str(new_path))
    result.setdefault("threads", threads_of(result["command"]))
    if not dry_run:
        write_json_atomic(result, new_path)
        if new_path.resolve() != path.resolve():
            path.unlink()
    return f"{old_hash} -> {config.experiment_hash} ({new_path})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("roots", nargs="+", help="results folders (each a run_recbole results_dir)")
    parser.add_argument("--dry_run", action="store_true", help="say what would change, change nothing")
    args = parser.parse_args(argv)
    left = 0
    for root in map(Path, args.roots):
        for path in sorted(root.rglob("*.json")):
            if "leaderboard-logs" in path.parts:
                continue
            outcome = migrate(path, root, args.dry_run)
            left += outcome.startswith("left")
            print(f"{os.path.relpath(path)}: {outcome}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
