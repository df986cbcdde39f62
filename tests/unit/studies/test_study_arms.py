"""The shared study analysis: cells with intervals on the arms' users, baselines restricted to those users, and
claims that hold, are contradicted, or cannot be separated."""

import numpy as np

from recbole_ilora.studies import arms
from recbole_ilora.studies.spec import parse_spec

SPEC = parse_spec("s", {"title": "t", "claim": "a beats b", "reference": "a",
                        "arms": {"a": {"model": "iLoRA"}, "b": {"model": "LoRARec"}, "c": {"model": "TALLRec"}},
                        "claims": [{"better": "a", "worse": "b"}, {"better": "a", "worse": "c"}]}, "s.yaml")


def result(ranks, seed=2020, users=None):
    users = users or [str(u) for u in range(len(ranks))]
    return {"seed": seed, "protocol": "candidates20", "test": {"hit@1": float(np.mean(np.array(ranks) == 1))},
            "config": {"eval_args": {"mode": {"test": "uni19", "valid": "uni19"}}, "train_samples_per_epoch": 256,
                       "epochs": 1, "dtype": "float32"},
            "per_user_test": {"user": users, "rank": ranks, "max_rank": 10}}


def test_claims_hold_only_when_significant_and_are_contradicted_the_other_way():
    rng = np.random.default_rng(0)
    strong = [1 if rng.random() < 0.6 else 5 for _ in range(200)]
    weak = [1 if rng.random() < 0.2 else 5 for _ in range(200)]
    holds = arms.analyse(SPEC, "d", {"a": [result(strong)], "b": [result(weak)], "c": [result(strong)]}, {})
    assert [v.outcome for v in holds.verdicts] == ["holds", "not separable here"]
    assert arms.overall(holds.verdicts) == "not separable here"
    reversed_ = arms.analyse(SPEC, "d", {"a": [result(weak)], "b": [result(strong)], "c": [result(weak)]}, {})
    assert reversed_.verdicts[0].outcome == "contradicted" and arms.overall(reversed_.verdicts) == "does not hold here"
    missing = arms.analyse(SPEC, "d", {"a": [result(strong)], "b": [], "c": []}, {})
    assert arms.overall(missing.verdicts) == "not run yet"
    # a claim about an arm that does not run on a dataset says nothing there: the others decide
    partly = arms.analyse(SPEC, "d", {"a": [result(strong)], "b": [result(weak)], "c": []}, {})
    assert [v.outcome for v in partly.verdicts] == ["holds", "not run"] and arms.overall(partly.verdicts) == "holds here"


def test_baselines_are_shown_on_the_arms_users_and_random_from_the_candidate_count():
    arm_users = [str(u) for u in range(0, 40, 2)]  # eval_users: 20 of the baseline's 40 users
    baseline = result([1] * 20 + [3] * 20)  # users 0..19 rank 1, 20..39 rank 3
    analysis = arms.analyse(SPEC, "d", {"a": [result([1] * 20, users=arm_users)], "b": [], "c": []},
                            {("Pop", "candidates20"): [baseline]})
    rows = {row[0]: row for row in analysis.rows}
    assert rows["Pop (leaderboard run)"][2][0].mean == 0.5 and rows["Pop (leaderboard run)"][2][0].users == 20
    assert rows["random ranking (20 candidates)"][2][0] == 0.05
    assert "0.5000 [" in arms.markdown_table(SPEC, analysis)
    assert "Pop (leaderboard run),candidates20,hit@1,0.500000" in arms.csv_text(SPEC, [analysis])


def test_several_seeds_give_a_spread_and_a_test_across_seeds(tmp_path):
    rng = np.random.default_rng(1)
    runs = {name: [result([1 if rng.random() < p else 4 for _ in range(100)], seed=s) for s in (1, 2, 3)]
            for name, p in (("a", 0.5), ("b", 0.2), ("c", 0.2))}
    analysis = arms.analyse(SPEC, "d", runs, {})
    cell = analysis.rows[0][2][0]
    assert cell.seeds == 3 and cell.users == 300 and cell.std_over_seeds is not None
    assert "over seeds p = " in analysis.rows[1][3]
    arms.figure(SPEC, [analysis], tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 0
