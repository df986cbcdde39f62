"""The leaderboard with real runs: its planned result file is where run_recbole writes, and a crashing run process
is reported with its log."""

import json

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
