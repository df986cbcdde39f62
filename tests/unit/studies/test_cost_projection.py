"""The projection of a run's cost to a larger dataset: each stage scaled by the count that drives it, the totals,
and the README block it rewrites."""

import json

import pytest

from recbole_ilora.experiment import config_hash
from recbole_ilora.studies.cost_projection import PROJECTION_BEGIN, PROJECTION_END, Counts, main, stage_rows

MEASURED, TARGET = Counts(users=1000, interactions=100_000), Counts(users=3000, interactions=400_000)


def result(model, data=10.0, prerequisites=0.0, train=100.0, test=20.0):
    return {"schema_version": 1, "model": model, "dataset": "part", "protocol": "candidates20", "seed": 2020,
            "test": {"hit@1": 0.5}, "config": {}, "config_hash": config_hash({}), "per_user_test": {"user": []},
            "finished_at": "2026-12-04",
            "time_s": {"data": data, "prerequisites": prerequisites, "train": train, "test": test,
                       "total": data + prerequisites + train + test},
            "peak_memory_mb": {"rss": 2048.0}, "parameters": {"trainable": 10, "total": 100}, "epochs_trained": 1,
            "world_size": 1, "threads": 1, "machine": ["CPU: Test CPU"]}


def test_classic_stages_scale_with_interactions_and_users():
    rows, total = stage_rows(result("SASRec"), MEASURED, TARGET)
    assert [(stage, projected) for stage, _, _, projected in rows] == [
        ("data", 40.0), ("prerequisites", 0.0), ("train", 400.0), ("test", 60.0)]
    assert total == 500.0 and "x 400,000 / 100,000 interactions = x 4.00" in rows[2][2]


def test_an_llm_runs_training_is_its_fixed_prompt_budget_and_its_encoder_scales_with_interactions():
    rows, total = stage_rows(result("iLoRA", prerequisites=50.0), MEASURED, TARGET)
    assert {stage: projected for stage, _, _, projected in rows} == {
        "data": 40.0, "prerequisites": 200.0, "train": 100.0, "test": 60.0}
    assert rows[2][2] == "x 1 (fixed prompt budget)" and total == 400.0


def test_the_command_writes_the_page_and_the_readme_block(tmp_path):
    (tmp_path / "data" / "part").mkdir(parents=True)
    (tmp_path / "data" / "part" / "conversion.json").write_text(json.dumps(
        {"stats": {"users": 1000, "interactions": 100000}}))
    folder = tmp_path / "results" / "part" / "candidates20"
    folder.mkdir(parents=True)
    (folder / f"iLoRA-seed2020-{config_hash({})}.json").write_text(json.dumps(result("iLoRA", prerequisites=50.0)))
    (folder / f"Pop-seed2020-{config_hash({})}.json").write_text(json.dumps(result("Pop", train=0.0)))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{PROJECTION_BEGIN}\nold\n{PROJECTION_END}\nrest\n")
    page = tmp_path / "page.md"
    assert main(["--measured=part", "--target=big", "--target_users=3000", "--target_interactions=400000",
                 f"--results={tmp_path / 'results'}", f"--data_path={tmp_path / 'data'}", f"--out={page}",
                 f"--readme={readme}"]) == 0
    text = page.read_text()
    assert "# Cost on big, projected from part" in text and "**projected**" in text
    last = [cell.strip() for cell in text.strip().splitlines()[-1].split("|")[1:-1]]
    assert last == ["all models, one seed", "3.5 min", "8.3 min"]  # measured 180 s + 30 s; projected 400 s + 100 s
    block = readme.read_text()
    assert block.startswith("intro\n") and block.endswith("\nrest\n") and "old" not in block
    assert "`run_recbole --model=iLoRA --dataset=big` at the CPU default, projected from the runs on part: " \
           "**6.7 min**" in block


@pytest.mark.parametrize("argv, message", [
    (["--target=unknown-set"], "the counts of unknown-set are not known: give --target_users"),
    (["--data_path=/nonexistent"], "/nonexistent/ml-1m-partial/conversion.json gives no users and interactions"),
])
def test_missing_counts_are_one_clear_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_a_readme_without_the_block_is_refused_by_name(tmp_path, capsys):
    test_the_command_writes_the_page_and_the_readme_block(tmp_path)
    (tmp_path / "README.md").write_text("no block here\n")
    with pytest.raises(SystemExit):
        main(["--measured=part", "--target=big", "--target_users=3000", "--target_interactions=400000",
              f"--results={tmp_path / 'results'}", f"--data_path={tmp_path / 'data'}", f"--out={tmp_path / 'p.md'}",
              f"--readme={tmp_path / 'README.md'}"])
    assert f"--readme {tmp_path / 'README.md'} has no block between" in capsys.readouterr().err
