"""One run's report, as the README's main-job section shows it: the time of each stage, its peak memory and
parameters, and its test metrics next to Pop, SASRec and random ranking on the same candidates (95% intervals over
the users, Wilcoxon signed-rank tests paired over them), every number read from JSON results.

    python run_scripts/run_report.py docs/main_job/ml-100k/candidates20/iLoRA-seed2020-<hash>.json
    python run_scripts/run_report.py RESULT --also docs/leaderboard/results/ml-100k/candidates20/iLoRA-...json

``--also`` adds rows (and tests against them) for other runs, e.g. another execution of the same experiment.
"""

import argparse
import json
import sys
from pathlib import Path

from tabulate import tabulate

from recbole_ilora.leaderboard.board import sampled_candidates
from recbole_ilora.leaderboard.collect import Run, candidate_files, encoder_result
from recbole_ilora.leaderboard.stats import (format_interval, mean_interval, per_user_values, random_ranking_metric,
                                              significance)

METRICS = ("hit@1", "hit@3", "hit@5", "ndcg@3", "ndcg@5")
TESTED = ("hit@1", "ndcg@5")
BASELINES = ("Pop", "SASRec")


def _minutes(seconds):
    return f"{seconds / 60:.1f} min"


def cpu(result):
    """The CPU the run recorded (its model name)."""
    return next((line[len("CPU: "):].split(",")[0] for line in result["machine"] if line.startswith("CPU: ")),
                "unknown CPU")


def execution(result):
    """How the run executed, in words: processes and threads."""
    processes, threads = result["world_size"], result["threads"]
    return f"{processes} process{'es' if processes > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}"


def _label(result, main):
    where = "" if cpu(result) == cpu(main) else f", {cpu(result)}"
    return f"{result['model']} ({execution(result)}{where})"


def stage_rows(result, encoder=None):
    """``[stage, time]`` rows: checks and building, the encoder's run, training, test, the whole command, memory."""
    times, config = result["time_s"], result["config"]
    users, candidates = len(result["per_user_test"]["user"]), sampled_candidates([result])
    build = times["total"] - times["prerequisites"] - times["train"] - times["test"]
    rows = [["0. checks, data, backbone and model build", _minutes(build)]]
    if "prerequisites" in config:
        epochs = f", {encoder['epochs_trained']} epochs" if encoder else ""
        what = "its own run" if times["prerequisites"] > 1 else "reused"
        rows.append([f"1. SASRec encoder{epochs} ({what})", _minutes(times["prerequisites"])])
    prompts = (config.get("train_samples_per_epoch") or 0) * result["epochs_trained"]
    per_prompt = f" ({times['train'] / prompts:.2f} s / prompt of wall time)" if prompts else ""
    rows.append([f"2. training: {prompts or 'all'} prompts{per_prompt}", _minutes(times["train"])])
    rows.append([f"3. test: {users} users x {candidates} candidates ({times['test'] / users:.2f} s / user)",
                 _minutes(times["test"])])
    rows.append([f"whole command (started {result['started_at'][11:16]}, finished {result['finished_at'][11:16]} UTC)",
                 _minutes(times["total"])])
    rows.append(["peak memory (RSS" + (", per process)" if result["world_size"] > 1 else ")"),
                 f"{result['peak_memory_mb']['rss'] / 1024:.1f} GiB"])
    rows.append(["trainable / total parameters",
                 f"{result['parameters']['trainable']:,} / {result['parameters']['total']:,}"])
    return rows


def _cell(result, metric):
    values = per_user_values(result, metric)
    return format_interval(*mean_interval(list(values.values()))) if values else f"{result['test'][metric]:.4f}"


def metric_rows(rows, candidates):
    """``[label, metric cells...]`` per ``(label, result)`` and, over sampled candidates, the expected values of a
    random ranking."""
    table = [[label, *(_cell(result, metric) for metric in METRICS)] for label, result in rows]
    if candidates:
        table.append(["random ranking (expected)",
                      *(f"{random_ranking_metric(metric, candidates):.4f}" for metric in METRICS)])
    return table


def test_lines(reference_label, reference, others):
    lines = []
    for label, other in others:
        for metric in TESTED:
            test = significance([reference], [other], metric, reference_label, label)
            if test.p_value is not None:
                lines.append(f"- {reference_label} vs {label}, {metric}: difference {test.difference:+.4f}, "
                             f"{test.label}, p = {test.p_value:.2g}")
    return lines


def candidate_line(rows):
    digests = {(result.get("candidates_sha256") or {}).get("test") for _, result in rows}
    if len(digests) == 1 and None not in digests:
        return f"Every row ranks the same test candidates (SHA-256 {digests.pop()[:12]}...)."
    return "**The rows do not share their candidates** (their SHA-256 differ): the comparison does not hold."


def _load(path):
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"run_report: cannot read the JSON result {path}: {error}") from None


def report(path, baselines_dir, also=()):
    result = _load(path)
    encoder = encoder_result(Run(Path(path), result))
    label = _label(result, result)
    baselines = []
    for model in BASELINES:
        files = candidate_files(baselines_dir, model, result["dataset"], result["seed"], result["protocol"])
        if files:
            baselines.append((model, _load(files[-1])))
    extra = [(_label(other, result), other) for other in map(_load, also)]
    rows = [(label, result), *extra, *baselines]
    users = len(result["per_user_test"]["user"])
    text = [f"`{path}`: {result['model']} on {result['dataset']} ({result['protocol']}, seed {result['seed']}, "
            f"config hash {result['config_hash']}), {execution(result)} on {cpu(result)}.", "",
            tabulate(stage_rows(result, encoder), headers=["stage", "time"], tablefmt="github"), "",
            f"Test metrics over its {users} users, 95% intervals over the users:", "",
            tabulate(metric_rows(rows, sampled_candidates([result])),
                     headers=["model", *(m.replace("hit", "Hit").replace("ndcg", "NDCG") for m in METRICS)],
                     tablefmt="github"), "",
            candidate_line(rows), "", *test_lines(label, result, extra + baselines)]
    return "\n".join(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("result", help="a run's JSON result")
    parser.add_argument("--baselines", default="docs/leaderboard/results",
                        help="results folder holding Pop and SASRec of the same seed (default: %(default)s)")
    parser.add_argument("--also", action="append", default=[], help="another run's JSON result to show and test")
    args = parser.parse_args(argv)
    print(report(args.result, args.baselines, args.also))
    return 0


if __name__ == "__main__":
    sys.exit(main())
