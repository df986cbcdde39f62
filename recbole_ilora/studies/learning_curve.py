"""Learning curve of iLoRA on ml-100k: test Hit@1 and NDCG@5 after N training prompts, per training recipe, next
to Pop, SASRec and random ranking on the same candidates.

    python run_scripts/learning_curve.py --cpu_threads=1              # every recipe and budget, resumable
    python run_scripts/learning_curve.py --recipes c,d --budgets 256,1024,4096 --cpu_threads=1
    python run_scripts/learning_curve.py --report_only                # table and figure from the results present

Each point is one ``python -m recbole_ilora --model=iLoRA --dataset=ml-100k`` run (seed 2020, candidates20) with the
recipe's keys and ``train_samples_per_epoch=N``, so its warmup and cosine span its own N prompts. Points run as
subprocesses, like leaderboard runs, smallest budgets first, and a point whose JSON result exists (same config hash)
is skipped: a killed sweep resumes. The table and figure show every finished point of the chosen recipes,
whatever ``--budgets`` ran it (``--recipes c --budgets 2048`` adds one point on every user). Points below a
recipe's largest budget are scored on ``--subset_users`` test users drawn by seed (``eval_users``), its largest
budget on every user; each value carries a 95% interval over its users. Pop and SASRec come from their JSON
results (``--baselines``), restricted to the same users through their per-user ranks. Any other ``--key=value``
goes to every run (and into its config hash), e.g. ``--cpu_threads=1``.

Writes OUT/learning_curve.md (the table) and FIGURE (Hit@1 against training prompts).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from tabulate import tabulate

from recbole_ilora.leaderboard import runs
from recbole_ilora.leaderboard.collect import candidate_files
from recbole_ilora.leaderboard.stats import (format_interval, mean_interval, per_user_values, random_ranking_metric,
                                              significance)
from recbole_ilora.files import write_text_atomic

DATASET, SEED, PROTOCOL, CANDIDATES = "ml-100k", 2020, "candidates20", 20
METRICS = ("hit@1", "ndcg@5")

# Each recipe names every key it depends on, so that it keeps its meaning when the defaults move.
_FIXES = {"score_reduction": "sum", "lora_alpha": 64, "lora_dropout": 0.0, "min_lr_ratio": 0.01, "curriculum": False}
RECIPES = {
    "a": ("the recipe of 2026-11-23: lm loss, mean scoring, alpha/r_e 4, warmup from 0, lr 5e-4, dropout 0.05",
          {"loss_type": "lm", "score_reduction": "mean", "lora_alpha": 16, "lora_dropout": 0.05,
           "min_lr_ratio": 0.0, "learning_rate": 5e-4, "curriculum": False}),
    "b": ("(a) + sum scoring + alpha/r_e 16 + warmup from lr/100, no dropout",
          {"loss_type": "lm", **_FIXES, "learning_rate": 5e-4}),
    "c": ("(b) + softmax loss over the 20 candidates, lr 2e-3",
          {"loss_type": "softmax", **_FIXES, "learning_rate": 2e-3}),
    "d": ("(c) + the reference's text-only curriculum",
          {"loss_type": "softmax", **_FIXES, "learning_rate": 2e-3, "curriculum": True}),
}


def point_overrides(recipe, budget, users):
    keys = {**RECIPES[recipe][1], "train_samples_per_epoch": budget}
    if users:
        keys["eval_users"] = users
    return [f"--{key}={value}" for key, value in keys.items()]


def plan_points(recipes, budgets, subset_users, out, extra):
    """``{(recipe, budget): Job}``, smallest budgets first: the largest budget on every test user, the others on the
    subset."""
    points = {}
    for budget in budgets:
        for recipe in recipes:
            users = None if budget == max(budgets) else subset_users
            [job] = runs.plan(["iLoRA"], [DATASET], [SEED], PROTOCOL, out,
                              overrides=[*point_overrides(recipe, budget, users), *extra])
            points[recipe, budget] = job
    return points


def finished_points(out, recipes):
    """``{(recipe, budget): result}`` of every finished run under ``out`` whose config holds the recipe's keys (the
    latest of several), at any budget: a curve can be rendered from runs made by an earlier version of the package,
    and from runs of other ``--budgets``."""
    points = {}
    for path in sorted((Path(out) / DATASET / PROTOCOL).glob("iLoRA-*.json"), key=lambda p: p.stat().st_mtime):
        result = json.loads(path.read_text())
        config = result["config"]
        for recipe in recipes:
            keys = RECIPES[recipe][1]
            if result["seed"] == SEED and all(config.get(key) == value for key, value in keys.items()):
                points[recipe, config["train_samples_per_epoch"]] = result
    return points


def baseline(results_dir, model):
    """The latest JSON result of ``model`` (seed 2020, candidates20) under ``results_dir``, or None."""
    files = candidate_files(results_dir, model, DATASET, SEED, PROTOCOL)
    return json.loads(files[-1].read_text()) if files else None


def on_users(result, users, metric):
    """``metric`` of a run over ``users`` (its per-user ranks), with a 95% interval: ``(mean, low, high)``."""
    values = per_user_values(result, metric)
    if values is None or not set(users) <= set(values):
        return None
    return mean_interval([values[user] for user in users])


def _interval(value):
    return "-" if value is None else format_interval(*value)


def table(points, references):
    rows = []
    for (recipe, budget), result in sorted(points.items()):
        users = result["per_user_test"]["user"]
        row = [recipe, budget, len(users)]
        row += [_interval(on_users(result, users, metric)) for metric in METRICS]
        for model in ("Pop", "SASRec"):
            row.append(_interval(on_users(references[model], users, "hit@1")) if references.get(model) else "-")
        row.append(f"{result['time_s']['train'] / 60:.1f}")
        rows.append(row)
    headers = ["recipe", "training prompts", "test users", "Hit@1 [95%]", "NDCG@5 [95%]", "Pop Hit@1, same users",
               "SASRec Hit@1, same users", "train min"]
    return tabulate(rows, headers=headers, tablefmt="github")


def _comparison(points, better, worse, what):
    test = significance([points[better]], [points[worse]], "hit@1", str(better), str(worse))
    if test.p_value is None:
        return []
    return [f"- {what}, Hit@1: difference {test.difference:+.4f}, {test.label}, p = {test.p_value:.2g}"]


def comparisons(points, recipes):
    """Wilcoxon tests, paired over the users two points share: consecutive recipes at each budget, and each
    recipe's consecutive budgets."""
    budgets, lines = sorted({budget for _, budget in points}), []
    for budget in budgets:
        for first, second in zip(recipes, recipes[1:]):
            if (first, budget) in points and (second, budget) in points:
                lines += _comparison(points, (second, budget), (first, budget),
                                     f"({second}) vs ({first}) at {budget} prompts")
    for recipe in recipes:
        present = [budget for budget in budgets if (recipe, budget) in points]
        for smaller, larger in zip(present, present[1:]):
            lines += _comparison(points, (recipe, larger), (recipe, smaller),
                                 f"({recipe}) at {larger} vs {smaller} prompts")
    return lines


def figure(points, references, path):
    """Hit@1 against training prompts (log scale) per recipe with 95% intervals; Pop, SASRec and random on all
    users as horizontal lines."""
    fig = Figure(figsize=(7.5, 6.5), layout="constrained")
    ax = fig.subplots()
    for recipe in sorted({recipe for recipe, _ in points}):
        budgets = sorted(budget for r, budget in points if r == recipe)
        values = [on_users(points[recipe, b], points[recipe, b]["per_user_test"]["user"], "hit@1") for b in budgets]
        means = np.array([v[0] for v in values])
        errors = np.array([[v[0] - v[1] for v in values], [v[2] - v[0] for v in values]])
        ax.errorbar(budgets, means, yerr=errors, marker="o", capsize=3, label=f"({recipe}) {RECIPES[recipe][0]}")
    lines = {"SASRec": ("black", "-"), "Pop": ("black", "--")}
    for model, (color, style) in lines.items():
        if references.get(model):
            ax.axhline(references[model]["test"]["hit@1"], color=color, linestyle=style, label=f"{model} (all users)")
    ax.axhline(random_ranking_metric("hit@1", CANDIDATES), color="grey", linestyle=":", label="random")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training prompts (points below the largest budget: a subset of the test users)")
    ax.set_ylabel("test Hit@1 (20 candidates)")
    ax.set_title("iLoRA (SmolLM2-135M) on ml-100k, candidates20, seed 2020")
    ax.set_ylim(0, max(0.6, ax.get_ylim()[1]))
    ax.grid(alpha=0.3)
    fig.legend(fontsize="x-small", loc="outside lower center")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated (default: %(default)s)")
    parser.add_argument("--budgets", default="256,1024", help="training prompts (default: %(default)s)")
    parser.add_argument("--subset_users", type=int, default=200,
                        help="test users of the points below the largest budget (default: %(default)s)")
    parser.add_argument("--out", default="docs/learning_curve", help="results folder (default: %(default)s)")
    parser.add_argument("--baselines", default="docs/leaderboard/results",
                        help="results folder holding Pop and SASRec (default: %(default)s)")
    parser.add_argument("--figure", default="docs/learning_curve.png", help="PNG to write (default: %(default)s)")
    parser.add_argument("--report_only", action="store_true", help="run nothing, render what exists")
    args, extra = parser.parse_known_args(argv)
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    budgets = sorted(int(b) for b in args.budgets.split(","))

    jobs = plan_points(recipes, budgets, args.subset_users, args.out, extra)
    failed = [job for job in jobs.values() if job.error]
    for job in failed:
        print(f"cannot plan {job.name}: {job.error}", file=sys.stderr)
    if not args.report_only:
        for (recipe, budget), job in jobs.items():  # a log folder per point: the leaderboard names logs by seed
            if not job.error:
                outcome = runs.execute([job], Path(args.out) / "logs" / f"{recipe}-{budget}")
                failed += [failure.job for failure in outcome.failed]
    points = finished_points(args.out, recipes)  # every budget run so far, not only this call's
    if not points:
        print("No finished points to report.", file=sys.stderr)
        return 1
    references = {model: baseline(args.baselines, model) for model in ("Pop", "SASRec")}
    text = ["# Learning curve: iLoRA on ml-100k (candidates20, seed 2020)", "",
            "Recipes:", *[f"- ({r}) {RECIPES[r][0]}: `{' '.join(f'--{k}={v}' for k, v in RECIPES[r][1].items())}`"
                          for r in recipes], "",
            table(points, references), "", *comparisons(points, recipes), "",
            f"Random ranking: Hit@1 {random_ranking_metric('hit@1', CANDIDATES):.4f}, NDCG@5 {random_ranking_metric('ndcg@5', CANDIDATES):.4f}."]
    write_text_atomic("\n".join(text) + "\n", Path(args.out) / "learning_curve.md")
    figure(points, references, args.figure)
    print("\n".join(text))
    return 1 if failed else 0
