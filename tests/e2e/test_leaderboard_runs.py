"""The leaderboard with real runs: its planned result file is where run_recbole writes, and a crashing run process
is reported with its log."""

import json
import signal
import subprocess
import sys
import time

from recbole_ilora.cli import main as cli_main
from recbole_ilora.leaderboard import runs
from recbole_ilora.leaderboard.command import main


def test_planned_result_file_is_where_run_recbole_writes_it(tiny_cli_args):
    """The planner's config hash is the run's: ``run_recbole`` with the job's own arguments (in this process, to
    keep the test fast) writes its JSON exactly at the planned path, and the leaderboard then skips the job."""
    (job,) = runs.plan(["SASRec"], ["tiny"], [2020], "candidates20", "res", overrides=tiny_cli_args)
    assert not job.done()
    cli_main(job.command()[3:])  # the arguments after ``python -m recbole_ilora``
    assert job.done() and json.loads(job.result_file.read_text())["model"] == "SASRec"

    def must_not_run(job, log_file):
        raise AssertionError(f"{job.name} has a result and must be skipped")

    assert main(["--models=SASRec", "--datasets=tiny", "--seeds=2020", "--out=res", "--report=LB.md", "--figures=fig",
                 "--tables=fig", *tiny_cli_args], runner=must_not_run) == 0


def test_a_crashing_run_process_is_reported_with_its_log(tiny_cli_args, tmp_path):
    """A real ``python -m recbole_ilora`` process that exits 2 (unknown model) is a failure with its log kept."""
    broken = runs.Job("NoSuchModel", "tiny", 2020, "candidates20", ["--seed=2020", *tiny_cli_args])
    outcome = runs.execute([broken], tmp_path / "logs", echo=lambda line: None)
    [failure] = outcome.failed
    assert failure.reason.startswith("exit status 2: ") and not outcome.finished
    assert "error: Unknown model 'NoSuchModel'" in failure.reason  # the run's own error line, from its log
    log = outcome.failed[0].log_file.read_text()
    assert log.startswith("$ ") and "Unknown model 'NoSuchModel'" in log


def start_leaderboard_with_a_long_run(tiny_cli_args, tmp_path):
    """A leaderboard whose one SASRec run trains long, once that run has written its first checkpoint."""
    saved = tmp_path / "saved"
    command = [sys.executable, "-c", "import sys; from recbole_ilora.leaderboard import main; sys.exit(main())",
               "--models=SASRec", "--datasets=tiny", "--seeds=2020", f"--out={tmp_path / 'res'}",
               *[arg for arg in tiny_cli_args if not arg.startswith("--epochs=")], "--epochs=500", "--stopping_step=1000",
               f"--checkpoint_dir={saved}"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(saved.glob("SASRec-*.pth")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    return process


def test_sigterm_to_the_leaderboard_stops_its_run_and_says_how_to_resume(tiny_cli_args, tmp_path):
    """A scheduler's SIGTERM reaches the leaderboard's process only: its running job must stop with it (saving its
    checkpoint), not go on unseen beside the next command, and the leaderboard says in one line how to resume."""
    process = start_leaderboard_with_a_long_run(tiny_cli_args, tmp_path)
    process.send_signal(signal.SIGTERM)
    err = process.communicate(timeout=120)[1].strip()
    assert process.returncode == 143 and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("leaderboard: interrupted: SASRec on tiny, seed 2020 was stopped (exit "
                                           "status 143"), err
    assert "run the same command again" in err
    [log] = (tmp_path / "res" / "leaderboard-logs").glob("*.log")
    assert "run_recbole: interrupted: the last checkpoint is " in log.read_text()  # the run stopped, and said so


def test_a_leaderboard_killed_outright_takes_its_run_with_it(tiny_cli_args, tmp_path):
    """SIGKILL (or a closed terminal's SIGHUP) gives the leaderboard no chance to stop its run: the run is told by
    the kernel (Linux) and stops with its checkpoint line instead of training on unseen."""
    process = start_leaderboard_with_a_long_run(tiny_cli_args, tmp_path)
    process.kill()
    process.communicate(timeout=60)
    [log] = (tmp_path / "res" / "leaderboard-logs").glob("*.log")
    deadline = time.monotonic() + 60
    while "run_recbole: interrupted" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "run_recbole: interrupted: the last checkpoint is " in log.read_text()
