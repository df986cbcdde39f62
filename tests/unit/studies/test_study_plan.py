"""A study's runs are the leaderboard's kind of runs: the budget goes to the LLM arms only, an arm at the
leaderboard's settings is the leaderboard's own result, and the dry run says what is left and what it costs."""

import pytest

from recbole_ilora.errors import ConfigurationError
from recbole_ilora.studies.plan import describe_plan, plan_study
from recbole_ilora.studies.spec import parse_spec
from recbole_ilora.studies.user_clusters import run_config

SPEC = parse_spec("s", {"title": "t", "claim": "c", "reference": "lm", "keys": {"eval_users": 50},
                        "llm_keys": {"train_samples_per_epoch": 64},
                        "arms": {"lm": {"model": "iLoRA", "keys": {"num_experts": 2}}, "classic": {"model": "Pop"}},
                        "baselines": ["SASRec"]}, "s.yaml")


def test_the_budget_goes_to_the_llm_arms_and_the_baselines_are_leaderboard_runs(tmp_path):
    planned = plan_study(SPEC, ["ml-100k"], [2020, 2021], tmp_path / "study", tmp_path / "board")
    assert [(e.arm, e.job.model, e.job.seed) for e in planned] == [
        ("lm", "iLoRA", 2020), ("classic", "Pop", 2020), ("baseline", "SASRec", 2020),
        ("lm", "iLoRA", 2021), ("classic", "Pop", 2021), ("baseline", "SASRec", 2021)]
    lm, classic, baseline = planned[:3]
    assert {"--eval_users=50", "--train_samples_per_epoch=64", "--num_experts=2"} <= set(lm.job.cmd_args)
    assert "--eval_users=50" in classic.job.cmd_args and "--train_samples_per_epoch=64" not in classic.job.cmd_args
    assert not any(arg.startswith("--eval_users") for arg in baseline.job.cmd_args)
    assert baseline.job.result_file.is_relative_to(tmp_path / "board") and lm.job.error is None


def test_an_arm_finished_in_the_leaderboards_folder_is_reused(tmp_path):
    [first, *_] = plan_study(SPEC, ["ml-100k"], [2020], tmp_path / "study", tmp_path / "board")
    there = tmp_path / "board" / first.job.result_file.relative_to(tmp_path / "study")
    there.parent.mkdir(parents=True)
    there.write_text("{}")
    [again, *_] = plan_study(SPEC, ["ml-100k"], [2020], tmp_path / "study", tmp_path / "board")
    assert again.job.done() and again.job.result_file == there
    # its analysis reads the encoder that run used: the one beside it, in the leaderboard's folder
    assert run_config(again.job)["results_dir"] == str(tmp_path / "board")
    assert run_config(first.job)["results_dir"] == str(tmp_path / "study")  # not finished: the study's own folder
    lines = describe_plan(plan_study(SPEC, ["ml-100k"], [2020], tmp_path / "study", tmp_path / "board"), [])
    assert lines[0].startswith("skip") and lines[1].startswith("run") and "~" in lines[1]
    assert lines[-1].startswith("2 to run (~") and lines[-1].endswith("1 finished.")


def test_config_files_reach_every_run_as_the_leaderboard_passes_them(tmp_path):
    budget = tmp_path / "budget.yaml"
    budget.write_text("eval_users: 30\n")
    planned = plan_study(SPEC, ["ml-100k"], [2020], tmp_path / "study", tmp_path / "board", config_files=[budget])
    assert all(entry.job.error is None and entry.job.config_files == [budget] for entry in planned)
    assert f"--config_files={budget}" in planned[0].job.command()
    plain = plan_study(SPEC, ["ml-100k"], [2020], tmp_path / "study", tmp_path / "board")
    assert planned[2].job.result_file != plain[2].job.result_file  # the baseline's hash holds the file's keys


def test_an_arm_for_some_datasets_runs_only_there_and_a_transfer_costs_no_training(tmp_path):
    spec = parse_spec("x", {"title": "t", "claim": "c", "reference": "own", "llm_keys": {"train_samples_per_epoch": 64},
                            "datasets": ["ml-100k", "lastfm"],
                            "arms": {"own": {"model": "TALLRec"},
                                     "moved": {"model": "TALLRec", "keys": {"transfer_from": {"dataset": "ml-100k"}},
                                               "datasets": ["ml-100k"]}}}, "x.yaml")
    planned = plan_study(spec, ["ml-100k"], [2020], tmp_path / "study", tmp_path / "board")
    assert [entry.arm for entry in planned] == ["own", "moved"]
    moved = planned[1].job
    assert moved.error is None and "--transfer_from={'dataset': 'ml-100k'}" in moved.cmd_args
    own, transferred = (float(line.split("~")[1].split(" min")[0]) for line in describe_plan(planned, [])[:2])
    assert transferred < own  # the same 943 test users, but no training prompts
    assert [entry.arm for entry in plan_study(spec, ["lastfm"], [2020], tmp_path / "s", tmp_path / "b")] == ["own"]


def test_a_budget_the_user_gives_replaces_the_specs(tmp_path):
    """The spec's keys and llm_keys are its CPU budget: a config file (properties/budget/gpu_full.yaml) or a
    --key=value replaces them, where an extra argument would otherwise lose to the spec's own (given later)."""
    budget = tmp_path / "budget.yaml"
    budget.write_text("train_samples_per_epoch: 256\n")
    lm = plan_study(SPEC, ["ml-100k"], [2020], tmp_path / "study", tmp_path / "board", config_files=[budget])[0].job
    assert not any(arg.startswith("--train_samples_per_epoch") for arg in lm.cmd_args)
    assert lm.experiment["train_samples_per_epoch"] == 256 and lm.experiment["eval_users"] == 50
    given = plan_study(SPEC, ["ml-100k"], [2020], tmp_path / "study", tmp_path / "board",
                       extra=["--eval_users=20"])[0].job
    assert given.experiment["eval_users"] == 20 and given.experiment["train_samples_per_epoch"] == 64


def test_two_arms_that_are_one_experiment_are_refused(tmp_path):
    """An arm setting a key to its default is the default's run: testing one against the other tests a run against
    itself."""
    spec = parse_spec("s", {"title": "t", "claim": "c", "reference": "K=4",
                            "arms": {"K=4": {"model": "iLoRA"}, "K=4b": {"model": "iLoRA", "keys": {"num_experts": 4}}},
                            "baselines": []}, "s.yaml")
    with pytest.raises(ConfigurationError, match="arms K=4 and K=4b of study s .* are one experiment"):
        plan_study(spec, ["ml-100k"], [2020], tmp_path / "study", tmp_path / "board")
