"""Prerequisite runs: reused when a finished run of the same experiment exists, trained first otherwise."""

import json
from pathlib import Path

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora import run_info
from recbole_ilora.config import Config
from recbole_ilora.experiment import result_path
from recbole_ilora.model.llm_recommender import RequiredRun
from recbole_ilora.prerequisites import ensure_required_runs, finished_checkpoint


def finished_run(tmp_path, config_dict, name):
    """Write the JSON result and checkpoint a finished run of ``config_dict`` would leave; return the checkpoint."""
    config = Config("SASRec", "ml-100k", config_dict=config_dict)
    checkpoint = checkpoints.save(tmp_path / f"{name}.pth", config, weights={})
    path = result_path(config)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"config_hash": config.experiment_hash, "checkpoint": str(checkpoint)}))
    return str(checkpoint), path


def test_a_finished_run_is_reused_and_a_missing_one_trained_first(tmp_path):
    required = {"results_dir": str(tmp_path / "results"), "epochs": 3}
    llm = Config("iLoRA", "ml-100k", config_dict={"sasrec_checkpoint": None})
    trained, commands = [], []

    def run(model, dataset, config_dict):
        trained.append((model, dataset, config_dict))
        commands.append(run_info.command_line())
        return {"checkpoint": "saved/new.pth"}

    done = ensure_required_runs(llm, {"sasrec_checkpoint": RequiredRun("SASRec", required, "encoder_config")}, run)
    assert trained == [("SASRec", "ml-100k", required)] and llm["sasrec_checkpoint"] == "saved/new.pth"
    assert done == {"sasrec_checkpoint": ("saved/new.pth", "trained SASRec first")}
    # the prerequisite's JSON and resume hint give its own command, not the iLoRA command that needed it
    assert commands == [["run_recbole", "--model=SASRec", "--dataset=ml-100k", f"--results_dir={tmp_path / 'results'}",
                         "--epochs=3"]]
    assert run_info.command_line() != commands[0]

    checkpoint, _ = finished_run(tmp_path, required, "encoder")
    trained.clear()
    llm = Config("iLoRA", "ml-100k")
    done = ensure_required_runs(llm, {"sasrec_checkpoint": RequiredRun("SASRec", required, "encoder_config")}, run)
    assert trained == [] and done == {"sasrec_checkpoint": (checkpoint, "reused finished run")}
    assert llm.settings()["sasrec_checkpoint"] == checkpoint  # part of what rebuilds the run's config

    given = Config("iLoRA", "ml-100k", config_dict={"sasrec_checkpoint": checkpoint})
    done = ensure_required_runs(given, {"sasrec_checkpoint": RequiredRun("SASRec", required, "encoder_config")}, run)
    assert trained == [] and done == {"sasrec_checkpoint": (checkpoint, "given by sasrec_checkpoint")}


def test_a_result_naming_another_experiments_checkpoint_is_not_a_finished_run(tmp_path):
    _, path = finished_run(tmp_path, {"results_dir": str(tmp_path / "a")}, "a")
    other, _ = finished_run(tmp_path, {"results_dir": str(tmp_path / "b"), "epochs": 2}, "b")
    assert finished_checkpoint(path) is not None
    edited = json.loads(path.read_text())
    edited["checkpoint"] = other
    path.write_text(json.dumps(edited))
    assert finished_checkpoint(path) is None
    assert finished_checkpoint(tmp_path / "missing.json") is None


def test_a_published_run_without_its_checkpoint_is_retrained_beside_it_and_its_record_kept(tmp_path):
    """A fresh clone holds the JSON results, not the checkpoints: the run is trained again for its checkpoint, its
    result written under checkpoint_dir/retrained/, the published file left as it was, and that copy reused."""
    required = {"results_dir": str(tmp_path / "results"), "epochs": 3}
    checkpoint, published = finished_run(tmp_path, required, "gone")
    Path(checkpoint).unlink()
    before = published.read_text()
    llm = Config("iLoRA", "ml-100k", config_dict={"checkpoint_dir": str(tmp_path / "saved")})
    trained = []

    def run(model, dataset, config_dict):
        trained.append(config_dict["results_dir"])
        again, _ = finished_run(tmp_path, {**required, "results_dir": config_dict["results_dir"]}, "again")
        return {"checkpoint": again, "model": model, "test": {}}

    done = ensure_required_runs(llm, {"sasrec_checkpoint": RequiredRun("SASRec", required, "encoder_config")}, run)
    assert trained == [str(tmp_path / "saved" / "retrained")] and published.read_text() == before
    assert done["sasrec_checkpoint"][1] == "trained SASRec first"
    llm = Config("iLoRA", "ml-100k", config_dict={"checkpoint_dir": str(tmp_path / "saved")})
    done = ensure_required_runs(llm, {"sasrec_checkpoint": RequiredRun("SASRec", required, "encoder_config")}, run)
    assert len(trained) == 1 and done["sasrec_checkpoint"][1].startswith("reused the retrained copy of")
