"""The learning curve: points are found by their recipe's keys, and the table and figure render them."""

import json

from recbole_ilora.studies import learning_curve


def write_point(folder, curve, recipe, budget, ranks, name, **changed):
    config = {**curve.RECIPES[recipe][1], "train_samples_per_epoch": budget, **changed}
    result = {"seed": curve.SEED, "config": config, "test": {"hit@1": sum(r == 1 for r in ranks) / len(ranks)},
              "per_user_test": {"user": [str(u) for u in range(len(ranks))], "rank": ranks, "max_rank": 20},
              "time_s": {"train": 60.0}}
    path = folder / curve.DATASET / curve.PROTOCOL / f"iLoRA-{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))


def test_points_are_matched_by_recipe_keys_and_rendered(tmp_path):
    curve = learning_curve
    write_point(tmp_path, curve, "c", 256, [1, 2, 1, 5], "c256")
    write_point(tmp_path, curve, "a", 1024, [3, 1, 4, 2], "a1024")
    write_point(tmp_path, curve, "c", 1024, [1, 1, 2, 1], "other", learning_rate=1e-4)  # no recipe's run

    points = curve.finished_points(tmp_path, ["a", "b", "c", "d"])

    assert sorted(points) == [("a", 1024), ("c", 256)]
    table = curve.table(points, {})
    assert "0.5000 [" in table and "0.2500 [" in table
    curve.figure(points, {}, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 0


def test_comparisons_pair_recipes_at_a_budget_and_budgets_of_a_recipe(tmp_path):
    curve = learning_curve
    worse, better = [3, 2, 4, 1, 5, 2, 6, 3] * 4, [1, 1, 2, 1, 1, 1, 3, 1] * 4
    write_point(tmp_path, curve, "b", 1024, worse, "b1024")
    write_point(tmp_path, curve, "c", 1024, better, "c1024")
    write_point(tmp_path, curve, "c", 256, worse, "c256")
    points = curve.finished_points(tmp_path, ["b", "c"])

    lines = curve.comparisons(points, ["b", "c"])

    assert [line.split(",")[0] for line in lines] == ["- (c) vs (b) at 1024 prompts",
                                                       "- (c) at 1024 vs 256 prompts"]
    assert all("difference +" in line and "n=32" in line for line in lines)
