"""One run end to end: the CLI on a tiny dataset, the JSON result, checkpoint reload and resume."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY_RUN, check_result_schema, ranks_match_metrics

from recbole_ilora.cli import main as cli_main
from recbole_ilora.config import Config
from recbole_ilora.errors import CheckpointError, ConfigurationError, OutputFolderError, ResultWriteError
from recbole_ilora.experiment import result_path
from recbole_ilora.quick_start import configure_cpu_threads, load_data_and_model, run



def tiny_args(data_root, epochs=1):
    return [f"--data_path={data_root}", "--show_progress=False", f"--epochs={epochs}", "--train_batch_size=64",
            "--hidden_size=16", "--inner_size=32", "--n_layers=1", "--n_heads=1",
            f"--load_col={TINY_RUN['load_col']}"]


def test_cli_trains_one_epoch_and_writes_json(tiny_data_root, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "recbole_ilora", "--model=SASRec", "--dataset=tiny", *tiny_args(tiny_data_root)],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    files = list((tmp_path / "results" / "tiny" / "candidates20").glob("SASRec-seed2020-*.json"))
    assert len(files) == 1 and f"result file: {files[0].relative_to(tmp_path)}" in completed.stdout
    result = json.loads(files[0].read_text())
    assert (result["model"], result["dataset"], result["protocol"], result["seed"]) == \
        ("SASRec", "tiny", "candidates20", 2020)
    check_result_schema(result)
    assert result["candidates_sha256"]["test"] and result["candidates_sha256"]["valid"]
    assert len(result["per_user_test"]["user"]) == len(result["per_user_test"]["rank"]) == 30
    ranks_match_metrics(result)
    assert result["command"][1:3] == ["--model=SASRec", "--dataset=tiny"]


def test_the_evaluation_batch_changes_neither_the_candidates_nor_the_ranks(tiny_data_root, tmp_path):
    """Why ``eval_batch_size`` is a runtime key: batches of 2 users and of 20 rank the same candidates alike."""
    small, large = (run("SASRec", "tiny", cmd_args=[*tiny_args(tiny_data_root), f"--eval_batch_size={rows}",
                                                    f"--results_dir={tmp_path / str(rows)}"]) for rows in (40, 400))
    assert small["config_hash"] == large["config_hash"]
    assert small["candidates_sha256"] == large["candidates_sha256"] and small["test"] == large["test"]
    assert small["per_user_test"] == large["per_user_test"]


def test_full_protocol_run_and_reload_of_best_checkpoint(tiny_data_root):
    result = run("GRU4Rec", "tiny", cmd_args=[*tiny_args(tiny_data_root), "--protocol=full"])
    assert result["protocol"] == "full" and result["candidates_sha256"] == {"valid": None, "test": None}
    check_result_schema(result)
    ranks_match_metrics(result)
    config, model, _, _, _, test_data = load_data_and_model(result["checkpoint"])
    assert config["model"] == "GRU4Rec" and type(model).__name__ == "GRU4Rec"
    saved = torch.load(result["checkpoint"], weights_only=True)["weights"]  # plain data: no unpickling needed
    assert all(torch.equal(model.state_dict()[key], value) for key, value in saved.items())


REEVALUATE = """
import sys
import time
from recbole_ilora.quick_start import load_data_and_model
from recbole_ilora.runners import get_trainer
config, model, _, _, _, test_data = load_data_and_model(sys.argv[1])
result = get_trainer(config["MODEL_TYPE"], config["model"])(config, model).evaluate(test_data, load_best_model=False)
print(round(float(result["ndcg@10"]), 6))
"""


def test_fresh_process_reevaluates_a_saved_checkpoint(tiny_data_root):
    """A process whose only Config comes from a checkpoint still evaluates (RecBole's metrics use np.float)."""
    result = run("SASRec", "tiny", cmd_args=tiny_args(tiny_data_root))
    completed = subprocess.run([sys.executable, "-c", REEVALUATE, result["checkpoint"]],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert float(completed.stdout.split()[-1]) == pytest.approx(result["test"]["ndcg@10"], abs=1e-4)


def killed_at_epoch(epoch, monkeypatch):
    """Make RecBole's training raise, as a kill would, when it reaches ``epoch`` (after earlier checkpoints)."""
    from recbole.trainer import Trainer

    train_epoch = Trainer._train_epoch

    def maybe_killed(self, train_data, epoch_idx, *args, **kwargs):
        if epoch_idx == epoch:
            raise KeyboardInterrupt("killed")
        return train_epoch(self, train_data, epoch_idx, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_train_epoch", maybe_killed)


def test_resume_continues_a_killed_run_into_new_files_and_counts_all_epochs(tiny_data_root, tmp_path, monkeypatch):
    args = [*tiny_args(tiny_data_root, epochs=3), f"--checkpoint_dir={tmp_path / 'saved'}"]
    with monkeypatch.context() as patch:
        killed_at_epoch(2, patch)
        with pytest.raises(KeyboardInterrupt):
            run("SASRec", "tiny", cmd_args=args)
    [interrupted] = (tmp_path / "saved").glob("SASRec-*.pth")
    before = interrupted.read_bytes()
    checkpoint = torch.load(interrupted, weights_only=True)
    resumed = run("SASRec", "tiny", cmd_args=[*args, f"--resume_checkpoint={interrupted}"])
    assert interrupted.read_bytes() == before and resumed["checkpoint"] != str(interrupted)  # never written over
    assert resumed["resumed_from"] == str(interrupted)
    assert resumed["epochs_trained"] == 3 - (checkpoint["epoch"] + 1) + len(checkpoint["timing"]["train_epoch_seconds"])
    assert resumed["time_s"]["train"] >= checkpoint["timing"]["fit_seconds"]


def test_resume_under_another_config_is_refused_naming_the_keys(tiny_data_root):
    first = run("SASRec", "tiny", cmd_args=tiny_args(tiny_data_root))
    with pytest.raises(CheckpointError, match=r"epochs \(1 there, 2 here\)"):
        run("SASRec", "tiny", cmd_args=[*tiny_args(tiny_data_root, epochs=2),
                                        f"--resume_checkpoint={first['checkpoint']}"])


def test_resume_from_missing_checkpoint_names_the_file(tiny_data_root):
    with pytest.raises(CheckpointError, match="nope.pth"):
        run("SASRec", "tiny", cmd_args=[*tiny_args(tiny_data_root), "--resume_checkpoint=nope.pth"])


def test_a_finished_checkpoint_with_weights_of_another_shape_is_refused_by_name(tiny_data_root, tmp_path):
    first = run("SASRec", "tiny", cmd_args=tiny_args(tiny_data_root))
    checkpoint = torch.load(first["checkpoint"], weights_only=True)
    checkpoint["weights"] = {name: torch.zeros(3, 5) for name in checkpoint["weights"]}
    edited = tmp_path / "reshaped.pth"
    torch.save(checkpoint, edited)
    with pytest.raises(CheckpointError, match=r"reshaped.pth cannot be resumed: .*size mismatch"):
        run("SASRec", "tiny", cmd_args=[*tiny_args(tiny_data_root), f"--resume_checkpoint={edited}"])


@pytest.mark.parametrize("removed, message", [("weights", "incomplete recbole-ilora checkpoint (no weights)"),
                                              ("optimizer", "cannot be resumed: its training state is incomplete "
                                                            "or malformed (no 'optimizer')")])
def test_an_edited_checkpoint_is_refused_naming_what_it_lacks(tiny_data_root, tmp_path, removed, message):
    first = run("SASRec", "tiny", cmd_args=tiny_args(tiny_data_root))
    checkpoint = torch.load(first["checkpoint"], weights_only=True)
    del checkpoint[removed]
    edited = tmp_path / "edited.pth"
    torch.save(checkpoint, edited)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        run("SASRec", "tiny", cmd_args=[*tiny_args(tiny_data_root), f"--resume_checkpoint={edited}"])


def test_a_pickled_checkpoint_is_refused_without_unpickling(tiny_data_root, tmp_path):
    from recbole_ilora.checkpoint import load

    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    path = tmp_path / "foreign.pth"
    torch.save({"format": "recbole_ilora.checkpoint/1", "config": Payload()}, path)
    with pytest.raises(CheckpointError, match="not a checkpoint written by this version"):
        load(path)


def test_cli_reports_user_errors_without_traceback(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--model=SASRec", "--dataset=lastfm", f"--data_path={tmp_path}"])
    assert exit_info.value.code == 2
    assert "run_recbole: error: Dataset 'lastfm' not found" in capsys.readouterr().err


@pytest.mark.parametrize("threads", [0, -1, "two", 1.5])
def test_cpu_threads_must_be_a_positive_integer(threads):
    with pytest.raises(ConfigurationError, match="cpu_threads"):
        configure_cpu_threads(threads)


def test_a_recbole_model_killed_mid_run_resumes_exactly(tiny_data_root, tmp_path, monkeypatch):
    """The resumed run continues after the last completed epoch (not from the best one) with the same RNG states,
    so it ends with the uninterrupted run's metrics; a finished run's checkpoint resumes without training."""
    args = [*tiny_args(tiny_data_root, epochs=4), "--eval_step=1", "--stopping_step=10", "--learning_rate=0.01",
            f"--checkpoint_dir={tmp_path / 'saved'}"]
    uninterrupted = run("SASRec", "tiny", cmd_args=[*args, f"--results_dir={tmp_path / 'one'}"])
    with monkeypatch.context() as patch:
        killed_at_epoch(2, patch)
        with pytest.raises(KeyboardInterrupt):
            run("SASRec", "tiny", cmd_args=[*args, f"--results_dir={tmp_path / 'two'}"])
    [interrupted] = [path for path in (tmp_path / "saved").glob("SASRec-*.pth") if str(path) !=
                     uninterrupted["checkpoint"]]
    resumed = run("SASRec", "tiny", cmd_args=[*args, f"--results_dir={tmp_path / 'two'}",
                                              f"--resume_checkpoint={interrupted}"])
    assert resumed["test"] == uninterrupted["test"] and resumed["valid"] == uninterrupted["valid"]
    assert resumed["epochs_trained"] == 4, (resumed["time_s"], torch.load(interrupted, weights_only=True)["epoch"])
    assert resumed["per_user_test"] == uninterrupted["per_user_test"]

    again = run("SASRec", "tiny", cmd_args=[*args, f"--results_dir={tmp_path / 'three'}",
                                            f"--resume_checkpoint={resumed['checkpoint']}"])
    assert again["test"] == uninterrupted["test"] and again["epochs_trained"] == 4  # evaluated, not trained again


def test_an_interrupt_is_one_line_naming_the_checkpoint_and_the_resume_command(tiny_data_root, tmp_path, monkeypatch,
                                                                               capsys):
    args = ["--model=SASRec", "--dataset=tiny", *tiny_args(tiny_data_root, epochs=3), "--state=WARNING",
            f"--checkpoint_dir={tmp_path / 'saved'}"]
    killed_at_epoch(2, monkeypatch)
    monkeypatch.setattr(sys, "argv", ["run_recbole", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli_main(args)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 130 and len(err.splitlines()) == 1 and "Traceback" not in err
    [checkpoint] = (tmp_path / "saved").glob("SASRec-*.pth")
    assert f"the last checkpoint is {checkpoint}; continue with: " in err
    command = shlex.split(err.split("continue with: ")[1])  # pasted into a shell, the words come back as typed
    assert command == ["run_recbole", *args, f"--resume_checkpoint={checkpoint}"]


def test_an_interrupt_after_training_names_the_checkpoint_that_finishes_the_run(tiny_data_root, tmp_path,
                                                                                monkeypatch, capsys):
    """Stopped while the result is written (training done): the line still names the checkpoint to continue from."""
    def interrupted(result):
        raise KeyboardInterrupt

    monkeypatch.setattr("recbole_ilora.quick_start.write_result", interrupted)
    args = ["--model=SASRec", "--dataset=tiny", *tiny_args(tiny_data_root), "--state=WARNING",
            f"--checkpoint_dir={tmp_path / 'saved'}"]
    monkeypatch.setattr(sys, "argv", ["run_recbole", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli_main(args)
    err = capsys.readouterr().err.strip()
    [checkpoint] = (tmp_path / "saved").glob("SASRec-*.pth")
    assert exit_info.value.code == 130 and f"the last checkpoint is {checkpoint}; continue with: " in err, err


def test_sigterm_stops_a_run_as_ctrl_c_does(tiny_data_root, tmp_path):
    """``kill`` or a batch scheduler's stop: one line naming the checkpoint and the resume command."""
    saved = tmp_path / "saved"
    process = subprocess.Popen([sys.executable, "-m", "recbole_ilora", "--model=SASRec", "--dataset=tiny",
                                *tiny_args(tiny_data_root, epochs=500), "--stopping_step=1000",
                                f"--checkpoint_dir={saved}"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(saved.glob("SASRec-*.pth")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    err = process.communicate(timeout=120)[1].strip()
    assert process.returncode == 143 and "Traceback" not in err, err  # 128 + SIGTERM, as a shell reports it
    assert "run_recbole: interrupted: the last checkpoint is " in err.splitlines()[-1]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_results_folder_is_refused_before_any_work(tiny_data_root, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o500)
    with pytest.raises(OutputFolderError, match=f"results_dir {results} cannot be written"):
        run("SASRec", "tiny", cmd_args=[*tiny_args(tiny_data_root), f"--results_dir={results}"])


def test_a_result_that_cannot_be_written_names_the_checkpoint_and_how_to_write_it(tiny_data_root, tmp_path,
                                                                                  monkeypatch):
    """The folder became unwritable during training (or another experiment's file is there): the checkpoint is kept
    and resuming it only evaluates and writes the result."""
    from recbole_ilora import results

    args = [*tiny_args(tiny_data_root), f"--results_dir={tmp_path / 'results'}"]
    with monkeypatch.context() as patch:
        patch.setattr(results, "write_json_atomic", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left")))
        with pytest.raises(ResultWriteError, match=r"cannot be written \(No space left\). The trained model is safe "
                                                   r"in (\S+): fix that, then rerun this command with "
                                                   r"--resume_checkpoint=\1 \(training is done") as error:
            run("SASRec", "tiny", cmd_args=args)
    checkpoint = str(error.value).split("safe in ")[1].split(":")[0]
    written = run("SASRec", "tiny", cmd_args=[*args, f"--resume_checkpoint={checkpoint}"])
    assert written["epochs_trained"] == 1 and Path(written["result_file"]).is_file()


@pytest.mark.parametrize("occupant, message", [
    ("notes", "exists and is not a JSON result (a file of yours?)"),
    ("[]", "exists and is not a JSON result"),
    ('{"config_hash": "0123456789abcdef"}', "holds the result of another experiment (config hash 0123456789abcdef"),
    (None, "is a folder where the run's JSON result goes"),
])
def test_what_sits_at_the_result_path_is_refused_before_any_work_and_kept(tiny_data_root, tmp_path, occupant,
                                                                          message):
    args = [*tiny_args(tiny_data_root), f"--results_dir={tmp_path / 'results'}"]
    path = result_path(Config("SASRec", "tiny", cmd_args=args))
    path.parent.mkdir(parents=True)
    if occupant is None:
        path.mkdir()
    else:
        path.write_text(occupant)
    with pytest.raises(OutputFolderError, match=re.escape(message)):
        run("SASRec", "tiny", cmd_args=args)
    assert path.is_dir() if occupant is None else path.read_text() == occupant
    assert not (tmp_path / "saved").exists() or not list((tmp_path / "saved").iterdir())
