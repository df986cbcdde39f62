"""Every committed JSON result of the embedded ml-100k is found again: planning its combination with today's code gives
its file name (its config hash), so a leaderboard or learning curve reuses it instead of running it again. (Results
of the datasets prepared from ../shared/datasets: tests/e2e/test_committed_results.py.)"""

import json
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from recbole_ilora.config import MACHINE_DEPENDENT_KEYS, Config
from recbole_ilora.leaderboard import runs
from recbole_ilora.model.parts.sasrec_encoder import ENCODER_RESULTS_FOLDER, encoder_run_config

RESULT_ROOTS = [REPO_ROOT / "docs" / "leaderboard" / "results", REPO_ROOT / "docs" / "learning_curve"]
PLANNED_BY_THE_LEADERBOARD = ("--model=", "--dataset=", "--seed=", "--protocol=", "--results_dir=")
# Paths of the machine that ran it: a checkpoint, never committed (the identity holds the hash of the run behind it,
# so the same command without it, the encoder found by that hash, must plan the same file), and the data's folder
# (a prerequisite's command names it; the data's content is in the identity).
LOCAL_CHECKPOINTS = ("--sasrec_checkpoint=", "--transfer_checkpoint=", "--data_path=")


def committed(root, datasets=("ml-100k",)):
    return sorted(path for path in root.rglob("*.json") if ENCODER_RESULTS_FOLDER not in path.relative_to(root).parts
                  and path.relative_to(root).parts[0] in datasets)


def rerun_args(result):
    """The command-line overrides that rerun ``result``'s experiment from a clean clone: its command without what the
    planner sets or a machine held, plus the defaults resolved per machine, pinned to what it recorded (on another
    kind of machine the same command is another experiment)."""
    return ([arg for arg in result["command"][1:] if not arg.startswith(PLANNED_BY_THE_LEADERBOARD + LOCAL_CHECKPOINTS)]
            + [f"--{key}={result['config'][key]}" for key in MACHINE_DEPENDENT_KEYS if key in result["config"]])


def replanned(root, result, data_root=None):
    """The result file the leaderboard's planner names for the run that ``result`` records (reading the dataset from
    ``data_root`` when given)."""
    overrides = rerun_args(result) + ([f"--data_path={data_root}"] if data_root else [])
    [job] = runs.plan([result["model"]], [result["dataset"]], [result["seed"]], result["protocol"], root,
                      overrides=overrides)
    assert job.error is None, job.error
    return job.result_file


def check_found(root, paths, data_root=None):
    assert paths, f"no committed results under {root}"
    for path in paths:
        result = json.loads(path.read_text())
        assert replanned(root, result, data_root) == path, f"{path.relative_to(REPO_ROOT)} would be run again"
        assert result["config_hash"] in path.name


@pytest.mark.parametrize("root", RESULT_ROOTS, ids=lambda root: root.name)
def test_the_planner_finds_every_committed_result(root):
    check_found(root, committed(root))


@pytest.mark.parametrize("root", RESULT_ROOTS, ids=lambda root: root.name)
def test_every_llm_runs_encoder_is_found_by_its_hash(root):
    for path in committed(root):
        result = json.loads(path.read_text())
        if result["model"] in ("iLoRA", "LoRARec"):
            llm = Config(result["model"], result["dataset"], cmd_args=rerun_args(result), config_dict={
                "results_dir": str(root), "seed": result["seed"], "protocol": result["protocol"]})
            encoder = Config("SASRec", result["dataset"], config_dict=encoder_run_config(llm))
            found = list(Path(encoder["results_dir"]).rglob(f"SASRec-seed{result['seed']}-{encoder.experiment_hash}.json"))
            assert found, f"the encoder of {path.relative_to(REPO_ROOT)} ({encoder.experiment_hash}) is not committed"
