"""``study``'s options are checked before any run: each mistake is ``study: error: ...`` and exit status 2."""

import pytest

from recbole_ilora.studies.command import main


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
])
def test_options_that_would_rerun_or_fail_late_are_refused_before_planning(tmp_path, capsys, options, message):
    (tmp_path / "docs" / "execution" / "processes2").mkdir(parents=True)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main(["experts", "--dry_run", "--results_dir=res", "--baselines_dir=board", "--out=out", *options])
    assert exit_info.value.code == 2 and f"study: error: {message}" in capsys.readouterr().err
    assert {path.name for path in tmp_path.iterdir()} == {"docs", "a_file"}



def test_an_analysis_sections_verdict_is_the_studys_the_arms_claims_only_context():
    from recbole_ilora.studies.command import summary
    from recbole_ilora.studies.spec import parse_spec

    spec = parse_spec("conflict", {"title": "t", "claim": "c", "reference": "a", "analysis": "conflict",
                                   "arms": {"a": {"model": "iLoRA"}, "b": {"model": "LoRARec"}},
                                   "claims": [{"better": "a", "worse": "b"}]}, "s.yaml")
    assert summary(spec, [], ["does not hold here (numbers)"])["verdict"] == "does not hold here (numbers)"
    assert summary(spec, [], [])["verdict"] == "not run yet"
