"""``study`` end to end on a tiny dataset and a tiny random Llama: its arms run as real ``run_recbole``
processes, a second call finds them by hash, and the page, CSV, figure and index are written from their results."""

import json

import yaml
from conftest import TINY_CORPUS, build_tiny_llama

from recbole_ilora.studies.command import main as study

SPEC = {
    "title": "Tiny experts", "claim": "two experts beat one", "reference": "K=2",
    "keys": {"eval_users": 20},
    "llm_keys": {"train_samples_per_epoch": 16, "item_domain": "movie", "item_text_field": "movie_title",
                 "dtype": "float32", "encoder_config": {"epochs": 1}},
    "arms": {"K=1": {"model": "LoRARec"}, "K=2": {"model": "iLoRA", "keys": {"num_experts": 2, "lora_r": 4}}},
    "claims": [{"better": "K=2", "worse": "K=1"}],
    "baselines": ["Pop"],
}


def test_a_study_runs_its_arms_once_and_writes_its_page(tiny_cli_args, tmp_path, capsys):
    llm = build_tiny_llama(tmp_path / "llm", TINY_CORPUS)
    spec = tmp_path / "tiny_experts.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    arguments = [str(spec), "--datasets=tiny", "--results_dir=runs", "--baselines_dir=board", "--out=pages", f"--llm_path={llm}",
                 *tiny_cli_args]
    assert study(arguments) == 0
    page = (tmp_path / "pages" / "tiny_experts" / "tiny_experts.md").read_text()
    assert "| K=1 " in page and "| K=2 " in page and "Pop (leaderboard run)" in page
    assert "K=2 > K=1 on hit@1: difference" in page and "random ranking (20 candidates)" in page
    summary = json.loads((tmp_path / "pages" / "tiny_experts" / "summary.json").read_text())
    assert summary["verdict"] in ("holds here", "not separable here", "does not hold here")
    assert "[tiny_experts](tiny_experts/tiny_experts.md)" in (tmp_path / "pages" / "README.md").read_text()
    assert (tmp_path / "pages" / "tiny_experts" / "tiny_experts.png").stat().st_size > 0
    assert len(list((tmp_path / "board").glob("tiny/candidates20/Pop-seed2020-*.json"))) == 1
    capsys.readouterr()
    assert study([*arguments, "--dry_run"]) == 0
    assert "0 to run" in capsys.readouterr().out

    expected = {"gates": "top expert = the cluster's most common one for",
                "conflict": "K=2 vs K=1, end of training: mean cosine difference"}
    for analysis, line in expected.items():  # the same runs, analysed again
        other = tmp_path / f"tiny_{analysis}.yaml"
        other.write_text(yaml.safe_dump({**SPEC, "analysis": analysis}))
        assert study([str(other), *arguments[1:], "--report_only"]) == 0
        page = (tmp_path / "pages" / f"tiny_{analysis}" / f"tiny_{analysis}.md").read_text()
        assert line in page, page
        assert list((tmp_path / "pages" / f"tiny_{analysis}").glob(f"{analysis}-*.png"))
