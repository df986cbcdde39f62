"""``study``'s options are checked before any run: each mistake is ``study: error: ...`` and exit status 2."""

import argparse
import json
import re

import pytest

from recbole_ilora.errors import OutputExistsError
from recbole_ilora.leaderboard import runs
from recbole_ilora.studies.command import check_outputs, main, page
from recbole_ilora.studies.index import INDEX_BEGIN, INDEX_END, TITLE, check_index, write_index
from recbole_ilora.studies.spec import load_spec


@pytest.mark.parametrize("options, message", [
    (["--reuse_dirs=docs/execution/processes2,nowhere"], "--reuse_dirs nowhere does not exist"),
    (["--reuse_dirs=a_file"], "--reuse_dirs a_file is a file"),
    (["--report_only"], "argument --report_only: not allowed with argument --dry_run"),
    (["--results_dir=a_file"], "--results_dir a_file is a file; it names a folder"),
    (["--baselines_dir=a_file/board"], "--baselines_dir a_file/board: a_file is a file, not a folder"),
    (["--out=a_file"], "--out a_file is a file; it names a folder"),
    (["--arms="], "--datasets, --seeds and --arms each need at least one value"),
    (["--seeds=,"], "--datasets, --seeds and --arms each need at least one value"),
    (["--seeds=2020,2021,2020"], "--seeds names 2020 more than once"),
    (["--arms=K=1,K=1"], "--arms names K=1 more than once"),
    (["--config_files="], "--config_files is empty (an unset shell variable?)"),
    (["--datasets=ml-100k,ml-100k:full"], "--datasets must be a plain name (letters, digits, '.', '_', '-'; no '/' or "
                                          "'..'), got 'ml-100k:full': ':' is not one of those characters. The study takes dataset names only"),
    # keys the study sets itself: an arm labelled "the default" ran with 8 experts, LoRARec was planned with 8
    (["--num_experts=8"], "--num_experts is set by arm K=1's model LoRARec, arm K=2, arm K=8 in study experts ("),
    (["--use_item_embeddings=False"], "--use_item_embeddings is set by arm K=1's model LoRARec in study experts"),
    (["--config_files=experts.yaml"], "Config file experts.yaml (--config_files) sets num_experts, which is set by "
                                      "arm K=1's model LoRARec, arm K=2, arm K=8 in study experts ("),
    (["--seed=5"], "--seed is set by the study for each run: use --seeds."),
    (["--config_files=seed.yaml"], "Config file seed.yaml (--config_files) sets seed, which is set by the study for "
                                   "each run: use --seeds."),
])
def test_options_that_would_rerun_or_fail_late_are_refused_before_planning(tmp_path, capsys, options, message):
    (tmp_path / "docs" / "execution" / "processes2").mkdir(parents=True)
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "experts.yaml").write_text("num_experts: 8\n")
    (tmp_path / "seed.yaml").write_text("seed: 5\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["experts", "--dry_run", "--results_dir=res", "--baselines_dir=board", "--out=out", *options])
    assert exit_info.value.code == 2 and f"study: error: {message}" in capsys.readouterr().err
    assert {path.name for path in tmp_path.iterdir()} == {"docs", "a_file", "experts.yaml", "seed.yaml"}


def own_spec(tmp_path, arms, name="my", folder="."):
    """A study file of the user's with ``arms`` (YAML flow text) on the tiny dataset."""
    path = tmp_path / folder / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"title: t\nclaim: c\ndatasets: [ml-100k]\nreference: a\narms: {arms}\n")
    return path


def refused(argv, capsys, monkeypatch):
    """``main(argv)``'s error line; it must stop with exit status 2 before any run starts."""
    monkeypatch.setattr(runs, "execute", lambda *args, **kwargs: pytest.fail("a run was started"))
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--results_dir=res", "--baselines_dir=board", "--out=out"])
    assert exit_info.value.code == 2
    return capsys.readouterr().err.splitlines()[0]


def test_an_arm_that_cannot_be_planned_stops_the_study_before_any_run(tmp_path, capsys, monkeypatch):
    """Arm b's typo key was 'cannot plan b', yet arm a ran, the page was written and the exit status was 1."""
    spec = own_spec(tmp_path, "{a: {model: Pop}, b: {model: SASRec, keys: {num_expert: 2}}}")
    assert refused([str(spec)], capsys, monkeypatch).startswith(
        "study: error: arm b: SASRec on ml-100k, seed 2020 cannot be planned, so nothing was run: unknown config key "
        "'num_expert'")


def test_a_config_files_key_that_an_arm_sets_is_refused(tmp_path, capsys, monkeypatch):
    """The arm labelled "hidden 64 (default)" ran with the config file's hidden_size: 8."""
    spec = own_spec(tmp_path, "{a: {model: SASRec, keys: {hidden_size: 16}}, b: {model: SASRec}}")
    (tmp_path / "c.yaml").write_text("hidden_size: 8\n")
    assert refused([str(spec), "--config_files=c.yaml"], capsys, monkeypatch) == (
        f"study: error: Config file c.yaml (--config_files) sets hidden_size, which is set by arm a in study my "
        f"({spec}): edit the study spec (or a copy of it, run as study COPY.yaml), or give the value as an arm's key.")


def test_a_page_readme_or_table_the_study_did_not_write_is_never_replaced(tmp_path, capsys, monkeypatch):
    spec = own_spec(tmp_path, "{a: {model: Pop}}")
    (tmp_path / "out" / "my").mkdir(parents=True)
    (tmp_path / "out" / "my" / "my.md").write_text("MY OWN NOTES, not generated\n")
    assert "out/my/my.md is not a study page (it has no line 'Command: `study ...` (spec: ...).'), so it would be " \
           "lost" in refused([str(spec), "--dry_run"], capsys, monkeypatch)
    (tmp_path / "out" / "my" / "my.md").unlink()
    (tmp_path / "out" / "my" / "summary.json").write_text("{}")
    assert "out/my/summary.json exists without the study page out/my/my.md it belongs to" in \
        refused([str(spec), "--dry_run"], capsys, monkeypatch)
    (tmp_path / "out" / "my" / "summary.json").unlink()
    (tmp_path / "out" / "README.md").write_text("# My project readme\n\nhand-written text\n")
    assert "out/README.md is not a study index (it does not begin with '# Studies: the iLoRA paper's analyses, " \
           "re-tested') and has no lines '<!-- study index: begin -->' and '<!-- study index: end -->', so it would " \
           "be lost" in refused([str(spec), "--report_only"], capsys, monkeypatch)
    assert (tmp_path / "out" / "README.md").read_text() == "# My project readme\n\nhand-written text\n"


def test_the_page_of_another_spec_of_the_same_name_is_refused_and_its_own_replaced(tmp_path):
    """Two specs named experts.yaml in two folders wrote one page: the second replaced the first's."""
    first, second = (load_spec(str(own_spec(tmp_path, "{a: {model: Pop}}", "experts", folder)))
                     for folder in ("A", "B"))
    args = argparse.Namespace(config_files=None, arms=None, chosen=["a"], datasets=["ml-100k"], seeds=[2020])
    page_file = tmp_path / "out" / "experts" / "experts.md"
    page_file.parent.mkdir(parents=True)
    page_file.write_text(page(first, args, [], [], []))
    check_outputs(first, tmp_path / "out")  # its own page: replaced
    with pytest.raises(OutputExistsError, match=re.escape(
            f"{page_file} is the page of the study spec {tmp_path / 'A' / 'experts.yaml'}, not of "
            f"{tmp_path / 'B' / 'experts.yaml'}, so it would be lost: give another --out")):
        check_outputs(second, tmp_path / "out")


def test_the_index_goes_between_the_markers_of_a_users_readme(tmp_path):
    (tmp_path / "my").mkdir()
    (tmp_path / "my" / "summary.json").write_text(json.dumps(
        {"name": "my", "title": "t", "claim": "c", "measured": "-", "verdict": "holds here", "runs": ""}))
    readme = tmp_path / "README.md"
    readme.write_text(f"# Mine\n\nbefore\n{INDEX_BEGIN}\nstale index\n{INDEX_END}\nafter\n")
    check_index(tmp_path)
    write_index(tmp_path)
    text = readme.read_text()
    assert text.startswith(f"# Mine\n\nbefore\n{INDEX_BEGIN}\n") and text.endswith(f"\n{INDEX_END}\nafter\n")
    assert "stale index" not in text and "| [my](my/my.md) | c " in text
    readme.unlink()
    write_index(tmp_path)  # no README: the index of its own, replaced on the next run
    assert readme.read_text().startswith(f"{TITLE}\n") and "| [my](my/my.md) | c " in readme.read_text()
    check_index(tmp_path)



def test_an_analysis_sections_verdict_is_the_studys_the_arms_claims_only_context():
    from recbole_ilora.studies.command import summary
    from recbole_ilora.studies.spec import parse_spec

    spec = parse_spec("conflict", {"title": "t", "claim": "c", "reference": "a", "analysis": "conflict",
                                   "arms": {"a": {"model": "iLoRA"}, "b": {"model": "LoRARec"}},
                                   "claims": [{"better": "a", "worse": "b"}]}, "s.yaml")
    assert summary(spec, [], ["does not hold here (numbers)"])["verdict"] == "does not hold here (numbers)"
    assert summary(spec, [], [])["verdict"] == "not run yet"


def test_a_study_without_claims_is_indexed_as_measured_once_its_runs_finished():
    from recbole_ilora.studies.arms import DatasetAnalysis
    from recbole_ilora.studies.command import summary
    from recbole_ilora.studies.spec import parse_spec

    spec = parse_spec("pop", {"title": "t", "claim": "c", "reference": "a", "arms": {"a": {"model": "Pop"}}}, "s.yaml")
    assert summary(spec, [DatasetAnalysis("tiny", [], [], "")], [])["verdict"] == "not run yet"
    finished = summary(spec, [DatasetAnalysis("tiny", [["a", "candidates20", 10]], [], "")], [])
    assert finished["verdict"] == "no claim tested: measurements only (the page's table)"
    assert finished["runs"] == "1 arm(s) x dataset(s) finished"
