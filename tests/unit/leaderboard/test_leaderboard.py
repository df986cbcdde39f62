"""The leaderboard: planning and resuming runs, surviving a failed run, statistics, and rendering.

Rendering and statistics are tested on fake JSON results written here in the real schema (they test the tables,
not the models). Planning uses real configs of a tiny dataset; resuming and failures use an injected runner that
writes fake results; one real run checks that the planned result path is where ``run_recbole`` writes, and one
real ``python -m recbole_ilora`` process checks that a crash is contained and logged.
"""

import csv
import io
import json
import math
import re
import statistics
from pathlib import Path

import pytest
from conftest import REPO_ROOT, check_result_schema, ranks_match_metrics
from scipy import stats as scipy_stats

from recbole_ilora import experiment
from recbole_ilora.leaderboard import board as board_module
from recbole_ilora.leaderboard import runs, stats, tables
from recbole_ilora.leaderboard.collect import (IncomparableResultsError, ResultFileError, check_seed_only_differences,
                                              collect, read_result_file)
from recbole_ilora.leaderboard.command import main

USERS = [str(u) for u in range(1, 11)]


def ranks_with(hits_at_1, other_rank=4, n=10):
    """Ranks of ``n`` users: ``hits_at_1`` of them rank the target first, the others at ``other_rank``."""
    return [1] * hits_at_1 + [other_rank] * (n - hits_at_1)


def fake_result(model, dataset, seed, ranks, *, protocol="candidates20", candidates="c" * 64, per_user=True,
                gate=None, generation=None, trainable=None, total=1000, train_s=12.0, test_s=3.0, rss=512.0,
                settings=None):
    """A run result in the schema ``quick_start.run`` writes, with test metrics computed from ``ranks`` and the
    config hash of its config (with ``settings``)."""
    test = {}
    for k in (1, 3, 5, 10):
        test[f"hit@{k}"] = round(sum(r is not None and r <= k for r in ranks) / len(ranks), 4)
        test[f"ndcg@{k}"] = round(sum(1 / math.log2(r + 1) for r in ranks if r is not None and r <= k) / len(ranks), 4)
    test.update(generation or {})
    llm = model in ("iLoRA", "LoRARec", "TALLRec")
    config = {"seed": seed, "model": model, "dataset": dataset, "epochs": 1, "MAX_ITEM_LIST_LENGTH": 10,
              "learning_rate": 0.001,
              "test_neg_sample_args": ({"distribution": "uniform", "sample_num": 19} if protocol == "candidates20"
                                       else {"distribution": "none", "sample_num": "none"})}
    if llm:
        config.update({"llm_path": None, "dtype": "bfloat16", "lora_r": 16, "num_experts": 4 if model == "iLoRA" else 1,
                       "history_length": 10, "train_samples_per_epoch": 256, "generation_eval": bool(generation),
                       "encoder_config": {"epochs": 10}})  # a dict-valued setting, as in real runs
    config.update(settings or {})
    config_hash = experiment.config_hash(config)
    result = {
        "schema_version": 1, "model": model, "dataset": dataset, "protocol": protocol, "seed": seed,
        "config_hash": config_hash, "valid_metric": "ndcg@10", "best_valid_score": test["ndcg@10"],
        "valid": dict(test), "test": test, "epochs_trained": 1,
        "time_s": {"total": train_s + test_s + 1, "prerequisites": 0.0, "data": 1.0, "train": train_s,
                   "test": test_s, "train_per_epoch": [train_s - 1], "valid_per_epoch": [1.0]},
        "world_size": 1, "threads": 1, "peak_memory_mb": {"rss": rss, "cuda": None},
        "parameters": {"trainable": total if trainable is None else trainable, "total": total},
        "candidates_sha256": {"valid": "v" * 64, "test": candidates},
        "per_user_test": {"user": USERS[:len(ranks)], "rank": list(ranks) if per_user else None, "max_rank": 10},
        "versions": {"python": "3.11.7", "recbole-ilora": "0.1.0", "recbole": "1.2.1", "torch": "2.13.0+cpu",
                     "transformers": "5.23.0", "peft": "0.21.2", "numpy": "1.26.4", "pandas": "2.3.3"},
        "machine": ["platform: Linux-test", "CPU: Test CPU, 2 logical CPUs (2 usable)",
                    "CPU kernels: AVX2, bf16 native: no", "memory: 23.5 GiB"],
        "started_at": "2026-11-23T08:00:00+00:00", "finished_at": f"2026-11-23T09:00:{seed % 60:02d}+00:00",
        "command": ["run_recbole", f"--model={model}", f"--dataset={dataset}", f"--seed={seed}"],
        "log_file": f"log/{model}.log", "checkpoint": f"saved/{model}.pth", "config": config,
    }
    if gate is not None:
        result["gate_weights"] = {"user": USERS[:len(gate)], "weights": gate}
    return result


def planned_result(job, ranks, **kwargs):
    """A fake result of a planned ``job``: its config is the planned experiment, as a real run's is."""
    result = fake_result(job.model, job.dataset, job.seed, ranks, **kwargs)
    result.update(config=job.experiment, config_hash=experiment.config_hash(job.experiment))
    return result


def write_result(root, result):
    path = root / result["dataset"] / result["protocol"] / \
        f"{result['model']}-seed{result['seed']}-{result['config_hash']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result["result_file"] = str(path)
    path.write_text(json.dumps(result))
    return path


GATE = [[0.7, 0.1, 0.1, 0.1]] * 5 + [[0.1, 0.1, 0.1, 0.7]] * 5


@pytest.fixture
def fake_board_results(tmp_path):
    """ml-100k: SASRec best on Hit@1 (0.6, 0.8), iLoRA second (0.5, 0.5), GRU4Rec last with one seed (0.2)."""
    root = tmp_path / "results"
    for seed, sasrec, ilora in ((2020, 6, 5), (2021, 8, 5)):
        write_result(root, fake_result("SASRec", "ml-100k", seed, ranks_with(sasrec)))
        write_result(root, fake_result("iLoRA", "ml-100k", seed, ranks_with(ilora, other_rank=2), gate=GATE,
                                       trainable=50, total=1000, generation={"generation_valid_ratio": 0.9,
                                                                             "generation_hr@1": 0.4}))
    write_result(root, fake_result("GRU4Rec", "ml-100k", 2020, ranks_with(2, other_rank=9)))
    return root


def collected(root, models=("iLoRA", "SASRec", "GRU4Rec"), seeds=(2020, 2021), warn=lambda message: None,
              allow_different_candidates=False):
    return collect(root, list(models), ["ml-100k"], list(seeds), {"ml-100k": "candidates20"}, warn=warn,
                   allow_different_candidates=allow_different_candidates)


def test_fake_results_follow_the_schema_of_real_runs():
    result = fake_result("SASRec", "ml-100k", 2020, [1, 2, None, 7, 3, 1, 11, 4, 5, 10])
    result["result_file"] = "x.json"
    check_result_schema(result)
    ranks_match_metrics(result)


# --- statistics ------------------------------------------------------------------------------------------------


def test_per_user_metrics_match_recbole_definitions():
    assert stats.per_user_metric([1, 3, None, 6], "hit@5") == [1.0, 1.0, 0.0, 0.0]
    assert stats.per_user_metric([1, 3, None, 6], "ndcg@5") == pytest.approx([1.0, 0.5, 0.0, 0.0])


def test_wilcoxon_paired_over_users_on_known_ranks():
    """Differences 1-1/log2(r+1) for r = 2..5 and 1 (target missed): five distinct positive differences, so the
    exact two-sided p-value is 2 / 2**5."""
    mine = fake_result("iLoRA", "d", 2020, [1, 1, 1, 1, 1])
    theirs = fake_result("SASRec", "d", 2020, [2, 3, 4, 5, None])
    test = stats.significance([mine], [theirs], "ndcg@5", "iLoRA", "SASRec")
    assert test.method == "wilcoxon" and test.paired_over == "users" and test.n == 5
    assert test.p_value == pytest.approx(2 / 2**5)
    assert test.difference > 0 and "paired over users" in test.label


def test_t_test_over_seeds_when_per_user_ranks_are_missing():
    """Seed differences 0.1, 0.2, 0.3: t = 0.2 / (0.1 / sqrt 3), and with 2 degrees of freedom the two-sided
    p-value is 1 - t / sqrt(t**2 + 2)."""
    mine = [fake_result("iLoRA", "d", s, ranks_with(h), per_user=False) for s, h in ((1, 3), (2, 4), (3, 5))]
    theirs = [fake_result("SASRec", "d", s, ranks_with(2), per_user=False) for s in (1, 2, 3)]
    test = stats.significance(mine, theirs, "hit@1", "iLoRA", "SASRec")
    t = 0.2 / (0.1 / math.sqrt(3))
    assert test.method == "t-test" and test.n == 3 and "over seeds" in test.label
    assert test.statistic == pytest.approx(t)
    assert test.p_value == pytest.approx(1 - t / math.sqrt(t**2 + 2))
    assert test.p_value == pytest.approx(scipy_stats.ttest_rel([0.3, 0.4, 0.5], [0.2, 0.2, 0.2]).pvalue)


def test_one_seed_without_per_user_ranks_is_not_testable():
    test = stats.significance([fake_result("iLoRA", "d", 1, ranks_with(3), per_user=False)],
                              [fake_result("SASRec", "d", 1, ranks_with(2))], "hit@1")
    assert test.method is None and test.p_value is None and test.label.startswith("not testable")


def test_relative_improvement_sign_and_zero():
    assert stats.relative_improvement(0.5, 0.4) == pytest.approx(25.0)
    assert stats.relative_improvement(0.3, 0.4) == pytest.approx(-25.0)
    assert stats.relative_improvement(0.3, 0.0) is None


def test_gate_summary_of_two_groups_of_users():
    gate = stats.gate_summary(fake_result("iLoRA", "d", 2020, ranks_with(3), gate=GATE))
    assert gate.users == 10 and gate.mean == pytest.approx((0.4, 0.1, 0.1, 0.4))
    assert gate.std == pytest.approx((0.3, 0.0, 0.0, 0.3)) and gate.top_share == (0.5, 0.0, 0.0, 0.5)
    entropy = -(0.7 * math.log(0.7) + 3 * 0.1 * math.log(0.1)) / math.log(4)
    assert gate.entropy == pytest.approx(entropy)


# --- collecting and rendering ----------------------------------------------------------------------------------


def test_markdown_table_marks_best_and_second_with_mean_and_std(fake_board_results):
    board = board_module.build_board(collected(fake_board_results), "ml-100k")
    text = tables.markdown_table(board, "metrics")
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in text.splitlines()[2:]}
    header = [c.strip() for c in text.splitlines()[0].split("|")[2:-1]]
    hit1 = header.index("Hit@1")
    sasrec_mean, sasrec_std = statistics.mean([0.6, 0.8]), statistics.stdev([0.6, 0.8])
    assert rows["SASRec"][hit1] == f"**{sasrec_mean:.4f} ± {sasrec_std:.4f}**"
    assert rows["iLoRA"][hit1] == "<u>0.5000 ± 0.0000</u>"
    assert rows["GRU4Rec"][hit1] == "0.2000"  # one seed: no std, and third: no mark
    assert rows["GRU4Rec"][0] == "1" and rows["SASRec"][0] == "2"
    # generation metrics appear as columns because iLoRA logged them; only one model has them: no marks
    assert "ValidRatio" in header and rows["iLoRA"][header.index("ValidRatio")] == "0.9000 ± 0.0000"
    assert rows["SASRec"][header.index("ValidRatio")] == "–"
    # the floor: a random ranking of the 20 candidates, unmarked, with no value for generation metrics
    assert rows["Random (expected)"][hit1] == "0.0500" and rows["Random (expected)"][header.index("NDCG@5")] == "0.1474"
    assert rows["Random (expected)"][header.index("ValidRatio")] == "–"


def test_random_row_is_the_mean_over_every_rank_and_absent_for_full_ranking(tmp_path):
    for metric in ("hit@1", "hit@5", "ndcg@3", "ndcg@10"):
        every_rank = stats.per_user_metric(list(range(1, 21)), metric)
        assert stats.random_ranking_metric(metric, 20) == pytest.approx(sum(every_rank) / 20)
    write_result(tmp_path, fake_result("SASRec", "ml-100k", 2020, ranks_with(5), protocol="full"))
    full = board_module.build_board(collect(tmp_path, ["SASRec"], ["ml-100k"], [2020], {"ml-100k": "full"}), "ml-100k")
    assert full.random is None and "Random" not in tables.markdown_table(full, "metrics")


def test_improvement_and_significance_tables(fake_board_results):
    board = board_module.build_board(collected(fake_board_results), "ml-100k")
    improvement = tables.markdown_table(board, "improvement")
    sasrec = next(line for line in improvement.splitlines() if line.startswith("| SASRec"))
    gru = next(line for line in improvement.splitlines() if line.startswith("| GRU4Rec"))
    assert "-28.6%" in sasrec and "+150.0%" in gru  # (0.5 - 0.7) / 0.7 and (0.5 - 0.2) / 0.2 on Hit@1

    significance = tables.markdown_table(board, "significance")
    hit1 = next(line for line in significance.splitlines() if line.startswith("| Hit@1"))
    assert "SASRec" in hit1 and "Wilcoxon signed-rank, paired over users (n=10" in hit1 and "yes, worse" not in hit1
    assert "| ValidRatio" not in significance  # no other model decodes: nothing to test against


def test_significance_falls_back_to_seeds_without_per_user_ranks(tmp_path):
    root = tmp_path / "results"
    for seed, (mine, theirs) in zip((2020, 2021, 2022), ((3, 5), (4, 7), (2, 6))):
        write_result(root, fake_result("iLoRA", "ml-100k", seed, ranks_with(mine), per_user=False))
        write_result(root, fake_result("SASRec", "ml-100k", seed, ranks_with(theirs), per_user=False))
    board = board_module.build_board(collected(root, ("iLoRA", "SASRec"), (2020, 2021, 2022)), "ml-100k")
    hit1 = next(t for t in board.significance if t.metric == "hit@1")
    assert hit1.label == "paired t-test over seeds (n=3; per-user ranks missing)"
    assert "paired t-test over seeds" in tables.markdown_table(board, "significance")


def test_the_reference_is_tested_against_every_model_within_each_seed_pooled_and_across_seeds(tmp_path):
    """SASRec ranks every target first in three seeds, iLoRA 2, 3 and 1 of 10 (the others at 5): within each seed 8,
    7 and 9 users differ, all one way, so the exact per-user test gives 2 / 2**n; across seeds the t-test pairs the
    seeds' Hit@1 (0.2, 0.3, 0.1 against 1.0)."""
    root = tmp_path / "results"
    hits = {2020: 2, 2021: 3, 2022: 1}
    for seed, mine in hits.items():
        write_result(root, fake_result("iLoRA", "ml-100k", seed, ranks_with(mine, other_rank=5)))
        write_result(root, fake_result("SASRec", "ml-100k", seed, ranks_with(10)))
    write_result(root, fake_result("GRU4Rec", "ml-100k", 2020, ranks_with(2, other_rank=9)))
    boards = board_module.build_boards(collected(root, seeds=tuple(hits)))
    [board] = boards
    sasrec = next(t for t in board.pairwise if t.other == "SASRec" and t.metric == "hit@1")
    assert {seed: t.p_value for seed, t in sasrec.per_seed.items()} == pytest.approx(
        {seed: 2 / 2 ** (10 - mine) for seed, mine in hits.items()})
    assert sasrec.seeds_significant(0.05) == (0, 3)
    assert sasrec.pooled == stats.significance(board_results(root, "iLoRA", hits), board_results(root, "SASRec", hits),
                                               "hit@1", "iLoRA", "SASRec")
    assert sasrec.across_seeds.method == "t-test" and sasrec.across_seeds.n == 3
    assert sasrec.across_seeds.p_value == pytest.approx(scipy_stats.ttest_rel([0.2, 0.3, 0.1], [1.0] * 3).pvalue)
    gru = next(t for t in board.pairwise if t.other == "GRU4Rec" and t.metric == "ndcg@5")
    assert list(gru.per_seed) == [2020] and gru.across_seeds.p_value is None  # one shared seed: no test across seeds
    assert {(t.other, t.metric) for t in board.pairwise} == {(m, k) for m in ("SASRec", "GRU4Rec")
                                                              for k in board_module.PAIRWISE_METRICS}

    table = tables.markdown_table(board, "pairwise")
    row = next(line for line in table.splitlines() if line.startswith("| SASRec") and "| Hit@1" in line)
    assert "0 / 3 of 3" in row and "2021: -0.7000 (0.0156)" in row and "(n=3)" in row and "(n=10)" in row
    assert "needs two seeds" in next(line for line in table.splitlines() if line.startswith("| GRU4Rec"))
    rows = list(csv.DictReader(io.StringIO(tables.pairwise_csv(boards))))
    assert len(rows) == 2 * (3 + 2) + 2 * (1 + 2)  # SASRec: 3 seeds, pooled, across; GRU4Rec: 1 seed, pooled, across
    across = next(r for r in rows if r["other"] == "SASRec" and r["metric"] == "hit@1" and r["test"] == "across seeds")
    assert across["paired_over"] == "seeds" and float(across["p_value"]) == pytest.approx(sasrec.across_seeds.p_value)


def board_results(root, model, seeds):
    return [json.loads(path.read_text()) for seed in seeds
            for path in (root / "ml-100k" / "candidates20").glob(f"{model}-seed{seed}-*.json")]


def test_different_candidates_are_refused_unless_allowed_and_then_marked_everywhere(tmp_path):
    root = tmp_path / "results"
    write_result(root, fake_result("iLoRA", "ml-100k", 2020, ranks_with(3), candidates="a" * 64))
    write_result(root, fake_result("SASRec", "ml-100k", 2020, ranks_with(3), candidates="b" * 64))
    with pytest.raises(IncomparableResultsError, match="CANDIDATES DIFFER on ml-100k, seed 2020.*"
                                                       "--allow_different_candidates"):
        collected(root, ("iLoRA", "SASRec"), (2020,))
    warnings = []
    collection = collected(root, ("iLoRA", "SASRec"), (2020,), warn=warnings.append, allow_different_candidates=True)
    assert len(warnings) == 1 and warnings[0].startswith("CANDIDATES DIFFER on ml-100k, seed 2020")
    assert collection.warnings == warnings
    boards = board_module.build_boards(collection)
    assert "% WARNING: on ml-100k the models ranked DIFFERENT candidates" in tables.latex_document(boards)
    for text in (tables.metrics_csv(boards), tables.significance_csv(boards)):
        assert {row["same_candidates"] for row in csv.DictReader(io.StringIO(text))} == {"False"}


@pytest.mark.parametrize("edit, message", [
    (lambda result: result["test"].update({"hit@1": float("nan")}), "test metric hit@1 is nan"),
    (lambda result: result["per_user_test"]["rank"].pop(), "per_user_test holds 9 ranks for 10 users"),
    (lambda result: result.pop("config"), "keys config are missing"),
    (lambda result: result.update(time_s={}), "time_s.train is missing"),
    (lambda result: result.update(config="iLoRA"), "its config is a str, not an object"),
    (lambda result: result.update(candidates_sha256=["a", "b"]), "candidates_sha256 is not an object of digests"),
    (lambda result: result.update(gate_weights={"user": ["1", "2"], "weights": [[0.5, 0.5], [1.0]]}),
     "gate_weights is not one row of numbers per user, all of one length"),
])
def test_a_malformed_result_file_is_one_error_naming_it(tmp_path, edit, message):
    root = tmp_path / "results"
    result = fake_result("SASRec", "ml-100k", 2020, ranks_with(3))
    edit(result)
    path = write_result(root, result)
    with pytest.raises(ResultFileError, match=f"result file {path} is not a run result: {message}"):
        collected(root, ("SASRec",), (2020,))
    path.write_text("{truncated")
    with pytest.raises(ResultFileError, match=f"result file {path} cannot be read as JSON"):
        collected(root, ("SASRec",), (2020,))


@pytest.mark.parametrize("text", [
    b'{"seed": ' + b"9" * 5000 + b"}",  # an integer beyond Python's 4300-digit limit
    b"[" * 100000 + b"]" * 100000,  # nested deeper than the parser's recursion limit
    b"\xff\xfe{}",  # not UTF-8
])
def test_a_result_file_that_cannot_be_parsed_for_any_reason_is_one_error_naming_it(tmp_path, text):
    path = write_result(tmp_path, fake_result("SASRec", "ml-100k", 2020, ranks_with(3)))
    path.write_bytes(text)
    with pytest.raises(ResultFileError, match=f"result file {path} cannot be read as JSON"):
        collected(tmp_path, ("SASRec",), (2020,))


@pytest.mark.parametrize("edit, message", [
    (lambda result: result["test"].update({"hit@5": 10 ** 400}), "test metric hit@5 is 1000"),
    (lambda result: result["time_s"].update(train=10 ** 400), "time_s.train is 1000"),
    (lambda result: result["config"].update(prerequisites=["x"]), "its config's prerequisites are not an object"),
    (lambda result: result.update(finished_at=5), "finished_at is 5, not a time stamp"),
])
def test_values_that_would_break_the_tables_are_one_error_naming_the_file(tmp_path, edit, message):
    result = fake_result("SASRec", "ml-100k", 2020, ranks_with(3))
    edit(result)
    path = write_result(tmp_path, result)
    with pytest.raises(ResultFileError, match=f"result file {path} is not a run result: {message}"):
        collected(tmp_path, ("SASRec",), (2020,))


def set_users(result, users):
    result["per_user_test"]["user"] = users


@pytest.mark.parametrize("edit, message", [
    (lambda result: result.update(peak_memory_mb="lots"), "peak_memory_mb is 'lots', not an object"),
    (lambda result: result["time_s"].update(train=-5), "time_s.train is -5, not a number of seconds >= 0"),
    (lambda result: result.update(epochs_trained=-3), "epochs_trained is -3, not an integer >= 0"),
    (lambda result: result["peak_memory_mb"].update(rss=-1), "peak_memory_mb.rss is -1, not a number of MiB >= 0"),
    (lambda result: result["parameters"].update(trainable=-5), "parameters.trainable is -5, not an integer >= 0"),
    (lambda result: result.update(parameters="many"), "parameters is 'many', not an object"),
    (lambda result: result["parameters"].update(trainable=10 ** 6), "parameters.trainable 1000000 is above "
                                                                     "parameters.total 1000"),
    (lambda result: result.update(machine="a laptop"), "machine is 'a laptop', not a list of lines of text"),
    (lambda result: result.update(versions=["1.0"]), "versions is ['1.0'], not an object of package versions"),
    (lambda result: set_users(result, USERS[:9] + ["1"]), "per_user_test names user '1' 2 times; each test user "
                                                          "appears once"),
    (lambda result: set_users(result, list(range(1, 11))), "per_user_test user 1 is a int, not a user id"),
], ids=["memory a string", "negative time", "negative epochs", "negative memory", "negative parameters",
        "parameters a string", "more trainable than total", "machine a string", "versions a list", "a repeated user",
        "users as integers"])
def test_every_field_the_tables_read_is_checked_and_named(tmp_path, edit, message):
    """Hand-edited fields gave a traceback (memory a string), negative costs in the cost table, a seed silently
    dropped from an average (parameters a string), or Wilcoxon tests on fewer users or none (ids repeated,
    integers) that fell back to a t-test over seeds without a word."""
    result = fake_result("SASRec", "ml-100k", 2020, ranks_with(3))
    edit(result)
    path = write_result(tmp_path, result)
    with pytest.raises(ResultFileError, match=f"^{re.escape(f'result file {path} is not a run result: {message}')}"):
        collected(tmp_path, ("SASRec",), (2020,))


def test_runs_of_one_seed_tested_on_different_users_are_refused_unless_allowed(tmp_path):
    """Runs whose test users differ paired on the common users only, or fell back to a t-test over seeds (no common
    user) without a word."""
    write_result(tmp_path, fake_result("iLoRA", "ml-100k", 2020, ranks_with(5)))
    other = fake_result("SASRec", "ml-100k", 2020, ranks_with(6))
    set_users(other, [f"zz{user}" for user in USERS])
    write_result(tmp_path, other)
    expected = "TEST USERS DIFFER on ml-100k, seed 2020 (iLoRA: 10 users; SASRec: 10 users; 0 in common)"
    with pytest.raises(IncomparableResultsError, match=re.escape(expected)):
        collected(tmp_path, ("iLoRA", "SASRec"), (2020,))
    collection = collected(tmp_path, ("iLoRA", "SASRec"), (2020,), allow_different_candidates=True)
    assert collection.incomparable == {"ml-100k"} and collection.warnings[0].startswith(expected)


EDITED = "was edited or is corrupt: "
BEYOND = "is neither null (below max_rank {}) nor an integer in 1..{} (20 candidates)"


def set_ranks(result, ranks):
    result["per_user_test"]["rank"] = ranks


@pytest.mark.parametrize("edit, problem", [
    (lambda result: result["test"].update({"hit@1": 0.9}), "test hit@1 is 0.9 but its per-user ranks give 0.3000"),
    (lambda result: result["test"].update({"hit@10": 0.2}), "test hit@10 is 0.2 but its per-user ranks give 1.0000"),
    (lambda result: result["test"].update({"mrr@10": 1.0}), "test mrr@10 is 1.0 but its per-user ranks give 0.4750"),
    (lambda result: set_ranks(result, [1] * 10), "test hit@1 is 0.3 but its per-user ranks give 1.0000"),
    (lambda result: set_ranks(result, [None] * 10), "test hit@1 is 0.3 but its per-user ranks give 0.0000"),
    (lambda result: set_ranks(result, [500] + [1] * 9), "per_user_test rank 500 of user 1 " + BEYOND.format(10, 10)),
    (lambda result: (result["per_user_test"].update(max_rank=50), set_ranks(result, [21] * 10)),
     "per_user_test rank 21 of user 1 " + BEYOND.format(50, 20)),
    (lambda result: set_ranks(result, [0] * 10), "per_user_test rank 0 of user 1 is neither null"),
    (lambda result: set_ranks(result, [True] * 10), "per_user_test rank True of user 1 is neither null"),
    (lambda result: result["per_user_test"].update(max_rank=5), "test hit@10 is beyond the per-user ranks' max_rank 5"
     ),
    (lambda result: result.update(config_hash="0" * 16), f"config_hash '{'0' * 16}' is not its config's hash HASH"),
    (lambda result: result["config"].update(epochs=500), "config_hash 'HASH' is not its config's hash HASH"),
], ids=["hit@1 edited", "hit@10 below hit@1", "mrr edited", "ranks all 1", "ranks all null", "rank 500",
        "rank above the candidates", "rank 0", "rank a bool", "max_rank below a metric's k", "config_hash edited",
        "config edited"])
def test_a_result_whose_parts_disagree_is_one_line_naming_the_file_and_the_problem(tmp_path, edit, problem):
    """What an outside probe published after editing one part of a valid result by hand."""
    result = fake_result("SASRec", "ml-100k", 2020, ranks_with(3))
    edit(result)
    path = write_result(tmp_path, result)
    expected = re.escape(f"result file {path} {EDITED}{problem}").replace("HASH", "[0-9a-f]{16}")
    with pytest.raises(ResultFileError, match=f"^{expected}") as raised:
        collected(tmp_path, ("SASRec",), (2020,))
    assert "\n" not in str(raised.value) and str(raised.value).endswith("; rerun the run or restore the file.")


@pytest.mark.parametrize("edit, problem", [
    (lambda result: result["valid"].update({"hit@1": 3.0}), "valid metric hit@1 is 3.0, not a finite number in "),
    (lambda result: result["per_user_test"].pop("max_rank"), "per_user_test has no max_rank (a positive integer)"),
])
def test_a_valid_metric_or_max_rank_out_of_range_is_not_a_run_result(tmp_path, edit, problem):
    result = fake_result("SASRec", "ml-100k", 2020, ranks_with(3))
    edit(result)
    path = write_result(tmp_path, result)
    with pytest.raises(ResultFileError, match=re.escape(f"result file {path} is not a run result: {problem}")):
        collected(tmp_path, ("SASRec",), (2020,))


def test_a_result_renamed_to_another_experiments_hash_is_refused(tmp_path):
    result = fake_result("SASRec", "ml-100k", 2020, ranks_with(3))
    path = write_result(tmp_path, result)
    renamed = path.rename(path.with_name(f"SASRec-seed2020-{'a' * 16}.json"))
    with pytest.raises(ResultFileError, match=re.escape(f"result file {renamed} {EDITED}its file name does not end "
                                                        f"in its config hash, -{result['config_hash']}.json")):
        collected(tmp_path, ("SASRec",), (2020,))


def test_metrics_within_recboles_rounding_of_the_ranks_and_metrics_not_of_ranks_are_accepted(tmp_path):
    result = fake_result("SASRec", "ml-100k", 2020, ranks_with(3), generation={"generation_hr@1": 0.9})
    result["test"].update({"hit@1": 0.30005, "ndcg@10": result["test"]["ndcg@10"] - 5e-5})
    write_result(tmp_path, result)
    collected(tmp_path, ("SASRec",), (2020,))


COMMITTED = sorted((REPO_ROOT / "docs").rglob("*-seed*-*.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda path: str(path.relative_to(REPO_ROOT / "docs")))
def test_every_committed_result_reads(path):
    result = read_result_file(path)
    assert result["per_user_test"]["rank"] is not None  # so its metrics were checked against its ranks


def test_latex_and_csv(fake_board_results):
    boards = board_module.build_boards(collected(fake_board_results))
    latex = tables.latex_document(boards)
    assert r"\textbf{0.7000 $\pm$ 0.1414}" in latex and r"\underline{0.5000 $\pm$ 0.0000}" in latex
    assert r"\begin{tabular}" in latex and r"-28.6\%" in latex
    rows = {row["model"]: row for row in csv.DictReader(io.StringIO(tables.metrics_csv(boards)))}
    assert float(rows["SASRec"]["hit@1_mean"]) == pytest.approx(0.7)
    assert float(rows["SASRec"]["hit@1_std"]) == pytest.approx(statistics.stdev([0.6, 0.8]))
    assert rows["GRU4Rec"]["hit@1_std"] == "" and float(rows["GRU4Rec"]["iLoRA_vs_pct_hit@1"]) == pytest.approx(150)
    assert float(rows["Random (expected)"]["hit@1_mean"]) == pytest.approx(0.05)
    cost = {row["model"]: row for row in csv.DictReader(io.StringIO(tables.cost_csv(boards)))}
    assert float(cost["iLoRA"]["trainable_params_mean"]) == 50 and float(cost["SASRec"]["train_s_mean"]) == 12


def test_report_only_renders_report_tables_and_plots(fake_board_results, tmp_path, capsys):
    notes = tmp_path / "notes.md"
    notes.write_text("iLoRA loses to SASRec here because the budget is tiny.\n")
    code = main(["--report_only", f"--out={fake_board_results}", "--models=iLoRA,SASRec,GRU4Rec,Caser",
                 "--datasets=ml-100k", "--seeds=2020,2021", "--report=out/LEADERBOARD.md", "--figures=out/fig",
                 "--tables=out/tab", f"--notes={notes}"])
    assert code == 0
    report = (tmp_path / "out" / "LEADERBOARD.md").read_text()
    assert "## Differences from the paper's setting" in report and "Llama-2-7B" in report
    assert "**2nd of 3**" in report and "SmolLM2-135M-Instruct" in report
    assert ("Missing results (not in the tables): GRU4Rec on ml-100k seed 2021, Caser on ml-100k seed 2020, Caser "
            "on ml-100k seed 2021") in report
    assert "every model's test candidates have the same sha256" in report
    assert "Machine (where these runs were made, from their JSON results):\n\n- platform: Linux-test\n" in report
    assert "python run_scripts/leaderboard.py --report_only" in report
    assert "![Test metrics on ml-100k](fig/leaderboard_metrics_ml-100k.png)" in report
    assert "![Gate weights per expert](fig/leaderboard_gates.png)" in report
    assert "iLoRA loses to SASRec here" in report and "Wilcoxon signed-rank, paired over users" in report
    assert "iLoRA against every model (two-sided, α = 0.05)" in report
    for name in ("leaderboard_metrics_ml-100k.png", "leaderboard_gates.png"):
        assert (tmp_path / "out" / "fig" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.name for p in (tmp_path / "out" / "tab").iterdir()} == {
        "leaderboard.tex", "leaderboard_metrics.csv", "leaderboard_cost.csv", "leaderboard_significance.csv",
        "leaderboard_pairwise.csv"}


def test_each_dataset_is_reported_under_its_own_protocol(tmp_path):
    root = tmp_path / "results"
    write_result(root, fake_result("SASRec", "ml-100k", 2020, ranks_with(6)))
    write_result(root, fake_result("SASRec", "llara-lastfm", 2020, ranks_with(3), protocol="llara"))
    write_result(root, fake_result("SASRec", "llara-lastfm", 2020, ranks_with(9)))  # candidates20: not this board's
    assert main(["--report_only", f"--out={root}", "--models=SASRec", "--datasets=ml-100k,llara-lastfm:llara",
                 "--seeds=2020", f"--report={tmp_path}/LB.md", f"--figures={tmp_path}/fig",
                 f"--tables={tmp_path}/tab"]) == 0
    report = (tmp_path / "LB.md").read_text()
    assert "Protocols: ml-100k `candidates20`, llara-lastfm `llara`; seeds 2020." in report
    assert "- Protocol `candidates20` (ml-100k) (the paper's)" in report
    assert "- Protocol `llara` (llara-lastfm): properties/protocol/llara.yaml." in report
    rows = {(row["dataset"], row["protocol"]): row for row in csv.DictReader(
        io.StringIO((tmp_path / "tab" / "leaderboard_metrics.csv").read_text())) if row["model"] == "SASRec"}
    assert float(rows["ml-100k", "candidates20"]["hit@1_mean"]) == pytest.approx(0.6)
    assert float(rows["llara-lastfm", "llara"]["hit@1_mean"]) == pytest.approx(0.3)


def test_the_papers_figures_on_their_split_stand_beside_this_boards_runs(tmp_path):
    from recbole_ilora.leaderboard.published import PUBLISHED
    from recbole_ilora.leaderboard.report import published_lines

    write_result(tmp_path, fake_result("SASRec", "llara-lastfm", 2020, ranks_with(3), protocol="llara"))
    board = board_module.build_board(
        collect(tmp_path, ["SASRec", "iLoRA"], ["llara-lastfm"], [2020], {"llara-lastfm": "llara"}), "llara-lastfm")
    rows = {(row[0], row[1], row[4]): row for row in tables.published_rows(board, tables.MARKDOWN)[1]}
    assert len(rows) == len(PUBLISHED["llara-lastfm"])
    sasrec = rows["LLaRA paper (Liao et al., arXiv 2312.02445), Table 2, LastFM", "SASRec", "Hit@1"]
    # 3 of 10 users hit: the t-interval over users, cut to [0, 1]; the published 0.2233 lies inside it
    half = scipy_stats.t.ppf(0.975, 9) * statistics.stdev([1] * 3 + [0] * 7) / math.sqrt(10)
    assert sasrec[5:] == ["0.2233", "no", "SASRec: 0.3000 (1 seed(s))", f"[0.000, {0.3 + half:.3f}]", "inside", "-"]
    assert rows["iLoRA rebuttal (OpenReview, NeurIPS 2024), LastFM", "iLoRA", "NDCG@5"][5:] == [
        "0.7530", "no", "iLoRA: not run", "-", "-", "-"]
    assert rows["LLaRA paper (Liao et al., arXiv 2312.02445), Table 2, LastFM", "TALLRec", "Hit@1"][-1] == \
        "not computed"
    readme = rows["LLaRA README after its 2024-07 fixes (ljy0ustc/LLaRA@9733f73, README.md line 10)",
                  "LLaRA (SASRec)", "Hit@1"]
    assert readme[5:7] == ["0.5246", "yes"]
    assert "could not be read" in "\n".join(published_lines(board))
    ml = board_module.build_board(collect(tmp_path, ["SASRec"], ["ml-100k"], [2020], {"ml-100k": "candidates20"}),
                                  "ml-100k")
    assert published_lines(ml) == []


def test_generation_runs_fill_their_own_table_and_the_papers_generated_hr1(tmp_path):
    """The LLM models' generation runs (a config hash of their own) are reported beside the scored runs, never
    mixed into the scored tables."""
    from recbole_ilora.leaderboard.report import dataset_section

    write_result(tmp_path / "main", fake_result("TALLRec", "llara-lastfm", 2020, ranks_with(3), protocol="llara"))
    for seed, hr1 in ((2020, 0.2), (2021, 0.4)):
        write_result(tmp_path / "gen", fake_result("TALLRec", "llara-lastfm", seed, ranks_with(5), protocol="llara",
                                                   generation={"generation_valid_ratio": 0.9, "generation_hr@1": hr1,
                                                               "generation_hr@1_of_valid": hr1 / 0.9}))
    seeds, protocols = [2020, 2021], {"llara-lastfm": "llara"}
    generation = collect(tmp_path / "gen", ["TALLRec"], ["llara-lastfm"], seeds, protocols)
    board = board_module.build_board(collect(tmp_path / "main", ["TALLRec"], ["llara-lastfm"], seeds, protocols,
                                             warn=lambda message: None), "llara-lastfm", generation_runs=generation)
    assert board.summary["TALLRec"]["hit@1"].mean == pytest.approx(0.3)  # the scored run alone
    assert [key for key, _ in board.columns] == [key for key, _ in board_module.RANKING_COLUMNS]
    headers, rows = tables.generation_rows(board, tables.MARKDOWN)
    assert headers[2:] == ["ValidRatio", "HR@1 (gen.)", "HR@1 of valid answers", "Hit@1 (scored, same run)"]
    assert rows == [["TALLRec", "2", "0.9000 ± 0.0000", "0.3000 ± 0.1414", "0.3333 ± 0.1571", "0.5000 ± 0.0000"]]
    published = {(row[0], row[1]): row for row in tables.published_rows(board, tables.MARKDOWN)[1]}
    assert published["LLaRA paper (Liao et al., arXiv 2312.02445), Table 2, LastFM", "TALLRec"][-1] == \
        "0.3000 ± 0.1414 (2 seed(s))"
    assert "Generation metrics (the paper's)" in "\n".join(dataset_section(board, 0.05))


@pytest.mark.parametrize("datasets, message", [
    ("ml-100k:nonsense", "unknown protocol 'nonsense' for dataset ml-100k in --datasets"),
    ("ml-100k:full,ml-100k:llara", "--datasets names ml-100k with two protocols (full, llara)"),
    (":llara", "--datasets item ':llara' names no dataset"),
])
def test_a_bad_dataset_protocol_is_refused_by_name(datasets, message, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["--report_only", f"--datasets={datasets}"])
    assert raised.value.code == 2 and message in capsys.readouterr().err


def test_report_only_without_results_fails_clearly(tmp_path, capsys):
    assert main(["--report_only", f"--out={tmp_path}/none", "--models=SASRec", "--datasets=ml-100k"]) == 1
    assert "No results under" in capsys.readouterr().err
    assert not (tmp_path / "LEADERBOARD.md").exists()


@pytest.mark.parametrize("edit, reason", [
    ({"model": "Pop"}, "model 'Pop' where 'SASRec' was expected"),
    ({"dataset": "other"}, "dataset 'other' where 'ml-100k' was expected"),
    ({"schema_version": 999}, "schema_version 999 where 1 was expected"),
])
def test_report_only_names_each_result_file_it_ignored(tmp_path, capsys, edit, reason):
    """A file whose name says SASRec but whose content is another combination's ended in 'No results' alone."""
    path = write_result(tmp_path / "out", fake_result("SASRec", "ml-100k", 2020, ranks_with(6)))
    path.write_text(json.dumps({**json.loads(path.read_text()), **edit}))
    assert main(["--report_only", f"--out={tmp_path}/out", "--models=SASRec", "--datasets=ml-100k",
                 "--seeds=2020"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("No results under") and f"1 result file(s) were ignored: {path} holds {reason}" in last


def test_overrides_the_leaderboard_sets_itself_are_rejected(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--dry_run", "--seed=7"])
    assert exit_info.value.code == 2 and "--seed is set by the leaderboard for each run: use --seeds." in \
        capsys.readouterr().err


@pytest.mark.parametrize("option, message", [
    ("--reference=Bogus", "--reference Bogus is not among --models (iLoRA, SASRec): add it to --models"),
    ("--models=iLoRA,SASRec,iLoRA", "--models names iLoRA more than once"),
    ("--seeds=2020,2021,2020", "--seeds names 2020 more than once"),
    ("--report=out", "--report out is a folder; it names the Markdown file to write, e.g. --report=out/LEADERBOARD.md"),
    ("--report=a_file/LB.md", "--report a_file/LB.md: its folder a_file is a file; it names a folder"),
    ("--figures=a_file/fig", "--figures a_file/fig: a_file is a file, not a folder"),
    ("--tables=a_file", "--tables a_file is a file; it names a folder"),
    ("--notes=out", "--notes out is a folder; name a UTF-8 text file"),  # was 'not found'
    ("--notes=binary.md", "--notes binary.md is not UTF-8 text (line 2: invalid start byte at byte 3)"),
    ("--config_files=", "--config_files is empty (an unset shell variable?)"),
])
@pytest.mark.parametrize("mode", ["--report_only", "--dry_run"])
def test_options_that_would_fail_after_the_runs_are_refused_first(fake_board_results, tmp_path, capsys, option,
                                                                  message, mode):
    (tmp_path / "out").mkdir()
    (tmp_path / "a_file").write_text("")
    (tmp_path / "binary.md").write_bytes(b"ok\n\xff")  # a traceback when the report was written
    with pytest.raises(SystemExit) as exit_info:
        main([mode, f"--out={fake_board_results}", "--models=iLoRA,SASRec", "--datasets=ml-100k",
              "--seeds=2020,2021", "--report=LB.md", "--figures=fig", "--tables=tab", option])
    assert exit_info.value.code == 2 and f"leaderboard: error: {message}" in capsys.readouterr().err
    assert not (tmp_path / "fig").exists() and not (tmp_path / "tab").exists()


@pytest.mark.parametrize("name, text", [("notes.md", "my own notes\n"), ("script.py", "print('mine')\n"),
                                        ("old.md", "# Leaderboard\n\nMy own table.\n")])
def test_report_replaces_a_report_it_generated_but_never_another_file(fake_board_results, tmp_path, capsys, name,
                                                                      text):
    arguments = ["--report_only", f"--out={fake_board_results}", "--models=iLoRA,SASRec", "--datasets=ml-100k",
                 "--seeds=2020,2021", "--figures=fig", "--tables=tab"]
    assert main([*arguments, "--report=LB.md"]) == 0
    assert main([*arguments, "--report=LB.md"]) == 0  # its own report: replaced
    (tmp_path / name).write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        main([*arguments, f"--report={name}"])
    assert exit_info.value.code == 2 and (tmp_path / name).read_text() == text
    assert (f"leaderboard: error: --report {name} exists and is not a report of this script" in
            capsys.readouterr().err)


# --- planning, resuming, failures ------------------------------------------------------------------------------


class FakeRunner:
    """Stands in for ``run_recbole``: records each job and writes a result where the plan expects it."""

    def __init__(self, fail=(), crash=()):
        self.launched, self.fail, self.crash = [], set(fail), set(crash)

    def __call__(self, job, log_file):
        self.launched.append((job.model, job.seed))
        log_file.write_text("fake run\n")
        if (job.model, job.seed) in self.crash:
            raise OSError("cannot start the interpreter")
        if (job.model, job.seed) in self.fail:  # as run_recbole ends when its own checks refuse the input
            log_file.write_text("fake run\nrun_recbole: error: key x is wrong: fix it\nrun_recbole: hint: fix the "
                                "input named above and run again (--debug shows where it failed).\n")
            return 2
        result = planned_result(job, ranks_with(3))
        job.result_file.parent.mkdir(parents=True, exist_ok=True)
        job.result_file.write_text(json.dumps(result))
        return 0


def leaderboard_args(models, tiny_cli_args, seeds="2020,2021"):
    return [f"--models={models}", "--datasets=tiny", f"--seeds={seeds}", "--out=res", "--report=LB.md",
            "--figures=fig", "--tables=fig", *tiny_cli_args]


def test_resume_skips_runs_whose_result_exists(tiny_cli_args, capsys):
    jobs = runs.plan(["SASRec", "GRU4Rec"], ["tiny"], [2020, 2021], "candidates20", "res", overrides=tiny_cli_args)
    assert [(j.model, j.seed) for j in jobs] == [("SASRec", 2020), ("GRU4Rec", 2020), ("SASRec", 2021),
                                                 ("GRU4Rec", 2021)]
    assert len({j.result_file for j in jobs}) == 4 and all(j.error is None for j in jobs)
    finished = jobs[1]
    finished.result_file.parent.mkdir(parents=True)
    finished.result_file.write_text(json.dumps(planned_result(finished, ranks_with(3))))

    runner = FakeRunner()
    assert main(leaderboard_args("SASRec,GRU4Rec", tiny_cli_args), runner=runner) == 0
    assert runner.launched == [("SASRec", 2020), ("SASRec", 2021), ("GRU4Rec", 2021)]
    out = capsys.readouterr().out
    assert "GRU4Rec on tiny, seed 2020: skipped" in out and "1 skipped" in out

    again = FakeRunner()
    assert main(leaderboard_args("SASRec,GRU4Rec", tiny_cli_args), runner=again) == 0
    assert again.launched == []  # a second invocation (a resumed leaderboard) has nothing left to do
    capsys.readouterr()

    assert main(["--dry_run", *leaderboard_args("SASRec,GRU4Rec,Caser", tiny_cli_args, "2020")]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listing[:3]] == ["skip", "skip", "run"]
    assert listing[3] == "1 to run, 2 finished (skipped), 0 cannot start."
    assert "python -m recbole_ilora --model=Caser --dataset=tiny" in listing[2]


def test_a_run_stopped_by_an_earlier_leaderboard_resumes_from_its_checkpoint(tiny_cli_args, tmp_path, capsys):
    """A leaderboard killed mid-run (the session ended) left that run's checkpoint, named with its hash: the next
    invocation resumes the run from it instead of starting it again; other runs' checkpoints are not taken."""
    [job] = runs.plan(["SASRec"], ["tiny"], [2020], "candidates20", "res", overrides=tiny_cli_args)
    assert job.resume_from is None
    assert runs.subprocess_runner(job, tmp_path / "first.log") == 0
    job.result_file.unlink()  # as if it had been stopped after writing its checkpoint
    [other_seed] = runs.plan(["SASRec"], ["tiny"], [2021], "candidates20", "res", overrides=tiny_cli_args)
    assert other_seed.resume_from is None

    [again] = runs.plan(["SASRec"], ["tiny"], [2020], "candidates20", "res", overrides=tiny_cli_args)
    [checkpoint] = Path("saved").glob(f"SASRec-*-{experiment.config_hash(again.experiment)[:8]}-*.pth")
    assert again.resume_from == checkpoint and f"--resume_checkpoint={checkpoint}" in again.command()
    outcome = runs.execute([again], tmp_path / "logs")
    assert outcome.finished == [again] and again.done()
    assert f"running, resuming from {checkpoint}" in capsys.readouterr().out
    assert json.loads(again.result_file.read_text())["resumed_from"] == str(checkpoint)

    [given] = runs.plan(["SASRec"], ["tiny"], [2020], "candidates20", "res",
                        overrides=[*tiny_cli_args, f"--resume_checkpoint={checkpoint}"])
    assert given.resume_from is None and given.command().count(f"--resume_checkpoint={checkpoint}") == 1


def test_a_run_of_the_same_command_on_another_kind_of_machine_is_found(tiny_cli_args, tiny_llama, capsys):
    """``dtype: auto`` resolves per machine (bf16 where native): the same leaderboard command's result from a machine
    where it resolved otherwise is that combination's result, said so; an explicit dtype finds only its own."""
    args = [*tiny_cli_args, f"--llm_path={tiny_llama}"]
    [here] = runs.plan(["TALLRec"], ["tiny"], [2020], "candidates20", "res", overrides=args)
    mine = here.experiment["dtype"]
    other = next(value for value in ("bfloat16", "float32") if value != mine)
    [there] = runs.plan(["TALLRec"], ["tiny"], [2020], "candidates20", "res", overrides=[*args, f"--dtype={other}"])
    assert not here.done() and there.result_file != here.result_file
    there.result_file.parent.mkdir(parents=True)
    there.result_file.write_text(json.dumps(planned_result(there, ranks_with(3))))

    [found] = runs.plan(["TALLRec"], ["tiny"], [2020], "candidates20", "res", overrides=args)
    assert found.done() and found.result_file == there.result_file and found.other_machine == f"dtype {other}"
    assert found.experiment["dtype"] == other
    assert f"(the same command on another kind of machine: dtype {other})" in runs.describe([found])[0]
    [strict] = runs.plan(["TALLRec"], ["tiny"], [2020], "candidates20", "res", overrides=[*args, f"--dtype={mine}"])
    assert not strict.done() and strict.other_machine is None


def test_failing_runs_are_reported_and_do_not_stop_the_others(tiny_cli_args, tmp_path, capsys):
    runner = FakeRunner(fail={("GRU4Rec", 2020)}, crash={("GRU4Rec", 2021)})
    code = main(leaderboard_args("GRU4Rec,SASRec", tiny_cli_args), runner=runner)
    assert code == 1
    assert runner.launched == [("GRU4Rec", 2020), ("SASRec", 2020), ("GRU4Rec", 2021), ("SASRec", 2021)]
    out, err = capsys.readouterr()
    assert "2 run(s) FAILED" in err and "could not run: OSError: cannot start the interpreter" in err
    # each failed run's own one-line error beside its log, not only its exit status
    said = "exit status 2: run_recbole: error: key x is wrong: fix it"
    assert f"GRU4Rec on tiny, seed 2020: {said}\n    log: res/leaderboard-logs/tiny-candidates20-GRU4Rec-seed2020.log" \
        in err
    assert f"FAILED after 0 s ({said}); log: res/leaderboard-logs/tiny-candidates20-GRU4Rec-seed2020.log" in out
    report = (tmp_path / "LB.md").read_text()  # the report is still written from the runs that finished
    assert f"Run failed: GRU4Rec on tiny, seed 2020: {said}" in report and "| SASRec" in report


@pytest.mark.parametrize("models, extra, message", [
    ("SASRec,SASrec", [], "--models SASrec on --datasets tiny (seed 2020) cannot be planned, so nothing was run: "
                          "Unknown model 'SASrec' (--model). Did you mean: SASRec"),
    ("FM,SASRec", [], "--models FM on --datasets tiny (seed 2020) cannot be planned, so nothing was run: FM is "
                      "context-aware"),
    ("Pop,SASRec", ["--hidden_act=foo"], "--models SASRec on --datasets tiny (seed 2020) cannot be planned, so "
                                         "nothing was run: hidden_act must be one of gelu, relu"),
])
@pytest.mark.parametrize("mode", [[], ["--dry_run"]])
def test_a_combination_the_input_makes_impossible_stops_the_leaderboard_before_any_run(tiny_cli_args, capsys, models,
                                                                                        extra, message, mode):
    """A misspelt model (or one this package's protocols cannot run, or a key it cannot be built from) was reported
    only at the end, after the others had run for hours, with exit status 1."""
    runner = FakeRunner()
    with pytest.raises(SystemExit) as exit_info:
        main([*mode, *leaderboard_args(models, [*tiny_cli_args, *extra], "2020")], runner=runner)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and runner.launched == []
    assert err.startswith(f"leaderboard: error: {message}") and len(err.splitlines()) == 2  # the message and the hint


@pytest.mark.parametrize("mode", [[], ["--dry_run"]])
def test_a_data_error_stops_the_leaderboard_before_any_run(tiny_cli_args, capsys, mode):
    """Every run started and failed the same way after loading (exit status 1): the files are checked when
    planning, as each run would check them."""
    args = [arg for arg in tiny_cli_args if not arg.startswith("--load_col=")]
    runner = FakeRunner()
    with pytest.raises(SystemExit) as exit_info:
        main([*mode, *leaderboard_args("SASRec,GRU4Rec", [*args, "--load_col={'inter': ['user_id', 'item_id']}"],
                                       "2020")], runner=runner)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and runner.launched == []
    assert err.startswith("leaderboard: error: --models SASRec on --datasets tiny (seed 2020) cannot be planned, so "
                          "nothing was run: load_col's inter list ['user_id', 'item_id'] does not load timestamp"), err


@pytest.mark.parametrize("key, option", list(runs.LEADERBOARD_KEYS.items()))
def test_keys_the_leaderboard_sets_are_refused_in_config_files_too(tmp_path, capsys, key, option):
    """A config file's seed: 5 was overridden by --seeds without a word: the run recorded seed 2020."""
    (tmp_path / "mine.yaml").write_text(f"learning_rate: 0.01\n{key}: 5\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--dry_run", "--models=Pop", "--datasets=ml-100k", "--seeds=2020", "--out=res",
              "--config_files=mine.yaml"])
    assert exit_info.value.code == 2 and not (tmp_path / "res").exists()
    assert (f"leaderboard: error: Config file mine.yaml (--config_files) sets {key}, which is set by the leaderboard "
            f"for each run: use {option}.") in capsys.readouterr().err


def test_verdict_tests_the_reference_against_pop_and_states_random(tmp_path):
    from recbole_ilora.leaderboard.report import verdict_lines

    write_result(tmp_path, fake_result("iLoRA", "ml-100k", 2020, ranks_with(6, other_rank=3), gate=GATE))
    write_result(tmp_path, fake_result("Pop", "ml-100k", 2020, ranks_with(2, other_rank=5)))
    board = board_module.build_board(
        collect(tmp_path, ["iLoRA", "Pop"], ["ml-100k"], [2020], {"ml-100k": "candidates20"}), "ml-100k")
    text = "\n".join(verdict_lines(board))
    assert "- Hit@1 against the floor: iLoRA 0.6000; random ranking 0.0500; Pop 0.2000" in text
    assert "above Pop (p = " in text and "Wilcoxon signed-rank, paired over users (n=10)" in text


def test_each_llm_models_encoder_is_named_with_its_quality_and_tested_against_it(tmp_path):
    from recbole_ilora.leaderboard.report import encoder_lines

    encoder = fake_result("SASRec", "ml-100k", 2020, ranks_with(8), settings={"epochs": 10})
    write_result(tmp_path / "encoders", encoder)
    ilora = fake_result("iLoRA", "ml-100k", 2020, ranks_with(5, other_rank=2),
                        settings={"prerequisites": {"sasrec_checkpoint": encoder["config_hash"]}})
    write_result(tmp_path, ilora)
    lorarec = fake_result("LoRARec", "ml-100k", 2020, ranks_with(4, other_rank=2),
                          settings={"prerequisites": {"sasrec_checkpoint": "f" * 16}})  # an encoder found nowhere
    write_result(tmp_path, lorarec)
    write_result(tmp_path, fake_result("SASRec", "ml-100k", 2020, ranks_with(9)))  # the baseline row: not the encoder
    board = board_module.build_board(collect(tmp_path, ["iLoRA", "LoRARec", "SASRec"], ["ml-100k"], [2020],
                                             {"ml-100k": "candidates20"}), "ml-100k")
    text = "\n".join(encoder_lines(board))
    assert (f"- iLoRA: SASRec encoder `{encoder['config_hash']}`, test Hit@1 0.8000 over 1 run(s); iLoRA is not "
            f"significantly below its own encoder on Hit@1 (difference -0.3000, Wilcoxon signed-rank, paired over "
            f"users (n=10), p = ") in text
    assert f"- LoRARec: SASRec encoder `{'f' * 16}`, its JSON result was not found beside these results." in text
    assert "SASRec:" not in text


def test_seeds_whose_encoders_differ_only_by_their_seed_are_one_setting(tmp_path):
    """Each seed's LLM run names its own seed's encoder (another hash); only an encoder trained otherwise (another
    budget) makes the seeds' runs differ in more than the seed."""
    def seed_run(seed, encoder_epochs):
        encoder = fake_result("SASRec", "ml-100k", seed, ranks_with(8), settings={"epochs": encoder_epochs})
        write_result(tmp_path / "encoders", encoder)
        prerequisites = {"sasrec_checkpoint": encoder["config_hash"]}
        write_result(tmp_path, fake_result("iLoRA", "ml-100k", seed, ranks_with(5, other_rank=2),
                                           settings={"prerequisites": prerequisites}))

    seed_run(2020, 10)
    seed_run(2021, 10)
    assert not check_seed_only_differences(collected(tmp_path, ("iLoRA",)))
    seed_run(2022, 80)
    [warning] = check_seed_only_differences(collected(tmp_path, ("iLoRA",), (2020, 2021, 2022)))
    assert warning.startswith("iLoRA on ml-100k: its seeds' runs also differ in prerequisites")


def test_an_encoder_that_is_the_sasrec_baseline_itself_is_found_beside_the_run(tmp_path):
    """encoder_config {} (llara-lastfm): the encoder's run is the SASRec baseline, in the dataset's own folder."""
    from recbole_ilora.leaderboard.report import encoder_lines

    baseline = fake_result("SASRec", "ml-100k", 2020, ranks_with(7))
    write_result(tmp_path, baseline)
    write_result(tmp_path, fake_result("iLoRA", "ml-100k", 2020, ranks_with(3, other_rank=2),
                                       settings={"prerequisites": {"sasrec_checkpoint": baseline["config_hash"]}}))
    board = board_module.build_board(collect(tmp_path, ["iLoRA", "SASRec"], ["ml-100k"], [2020],
                                             {"ml-100k": "candidates20"}), "ml-100k")
    assert (f"- iLoRA: SASRec encoder `{baseline['config_hash']}`, test Hit@1 0.7000 over 1 run(s)"
            in "\n".join(encoder_lines(board)))


def test_the_leaderboard_finds_each_llm_models_generation_run_by_its_config_hash(tiny_cli_args, tmp_path):
    args = leaderboard_args("TALLRec,SASRec", tiny_cli_args, "2020")
    scored, = runs.plan(["TALLRec"], ["tiny"], [2020], "candidates20", "res", overrides=tiny_cli_args)
    decoded, = runs.plan(["TALLRec"], ["tiny"], [2020], "candidates20", "res",
                         overrides=[*tiny_cli_args, "--generation_eval=True"])
    assert scored.result_file != decoded.result_file
    for job, ranks, generation in ((scored, ranks_with(3), None),
                                   (decoded, ranks_with(3), {"generation_valid_ratio": 0.5, "generation_hr@1": 0.25,
                                                             "generation_hr@1_of_valid": 0.5})):
        job.result_file.parent.mkdir(parents=True, exist_ok=True)
        job.result_file.write_text(json.dumps(planned_result(job, ranks, generation=generation)))
    assert main(["--report_only", *args]) == 0
    report = (tmp_path / "LB.md").read_text()
    assert "Generation metrics (the paper's)" in report and "| TALLRec | 1       | 0.5000" in report
    assert "HR@1 (gen.)" not in report.split("Generation metrics")[0]  # not a column of the scored table


def test_the_readme_headline_is_rendered_from_the_same_results(fake_board_results, tmp_path):
    from recbole_ilora.leaderboard.report import HEADLINE_BEGIN, HEADLINE_END

    readme = tmp_path / "README.md"
    readme.write_text(f"# Package\n\n{HEADLINE_BEGIN}\nold numbers\n{HEADLINE_END}\n\nrest\n")
    args = ["--report_only", f"--out={fake_board_results}", "--models=iLoRA,SASRec,GRU4Rec", "--datasets=ml-100k",
            "--seeds=2020,2021", "--report=out/LB.md", "--figures=out", "--tables=out"]
    assert main([*args, f"--readme={readme}"]) == 0
    text = readme.read_text()
    assert text.startswith(f"# Package\n\n{HEADLINE_BEGIN}\n") and text.endswith(f"{HEADLINE_END}\n\nrest\n")
    assert "old numbers" not in text
    assert ("- **ml-100k** (10 test users, protocol `candidates20`): iLoRA ranks the target first for **50.0% ± 0.0%** "
            "(Hit@1, mean ± std over 2 seeds); SASRec 70.0% ± 14.1%, GRU4Rec 20.0%, random ranking 5.0%.") in text
    assert "iLoRA against SASRec: not significantly below over users (p = " in text


def test_a_readme_without_the_headline_markers_is_refused_before_any_run(fake_board_results, tmp_path, capsys):
    (tmp_path / "README.md").write_text("# Package\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--report_only", f"--out={fake_board_results}", "--models=iLoRA,SASRec", "--datasets=ml-100k",
              "--report=out/LB.md", "--figures=out", "--tables=out", "--readme=README.md"])
    assert exit_info.value.code == 2 and "--readme README.md has no block between" in capsys.readouterr().err
