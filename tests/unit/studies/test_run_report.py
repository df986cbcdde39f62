"""One run's report from its JSON result: stage times that add up to the whole command, metrics with intervals
next to Pop, SASRec and random on the same candidates, the tests against them, and a warning when the candidates
differ."""

import copy
import json

from conftest import REPO_ROOT

from recbole_ilora.studies.run_report import report, stage_rows

RESULTS = REPO_ROOT / "docs" / "leaderboard" / "results"
ILORA = next((RESULTS / "ml-100k" / "candidates20").glob("iLoRA-seed2020-*.json"))


def _minutes(row):
    return float(row[1].split()[0])


def test_the_stages_add_up_to_the_whole_command_and_name_their_work():
    result = json.loads(ILORA.read_text())
    rows = stage_rows(result)
    stages, whole = [row for row in rows if row[0][0].isdigit()], next(row for row in rows if "whole" in row[0])
    assert [row[0][0] for row in stages] == ["0", "1", "2", "3"]
    assert abs(sum(map(_minutes, stages)) - _minutes(whole)) <= 0.2  # rounding of four tenths
    assert _minutes(whole) == round(result["time_s"]["total"] / 60, 1)
    assert "1024 prompts" in stages[2][0] and "943 users x 20 candidates" in stages[3][0]


def test_the_metrics_stand_next_to_the_baselines_with_their_tests():
    text = report(ILORA, RESULTS)
    result, pop = json.loads(ILORA.read_text()), json.loads(next(ILORA.parent.glob("Pop-seed2020-*.json")).read_text())
    assert f"| {result['test']['hit@1']:.4f} [" in text and f"| {pop['test']['hit@1']:.4f} [" in text
    assert "| random ranking (expected)" in text and "| 0.0500 " in text
    assert "same test candidates" in text
    assert text.count("Wilcoxon signed-rank, paired over users (n=943)") == 4  # Pop and SASRec, two metrics each


def test_rows_over_other_candidates_are_called_incomparable(tmp_path):
    other = copy.deepcopy(json.loads(ILORA.read_text()))
    other["candidates_sha256"]["test"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(other))
    text = report(ILORA, RESULTS, also=[tmp_path / "other.json"])
    assert "do not share their candidates" in text and "same test candidates" not in text
