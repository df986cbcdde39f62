"""The analysis every study shares: each arm's test metrics on its users with 95% intervals (mean and std over
seeds when there are several), the baselines and random ranking on the same users, each arm against the reference
arm (Wilcoxon paired over users; with two seeds or more also a paired t-test over seeds), and the paper's claims
checked one by one: a claim holds only when the difference is in its direction and significant (p < 0.05), is
contradicted when it is significant the other way, and is otherwise "not separable here".
"""

import csv
import io
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from tabulate import tabulate

from recbole_ilora.leaderboard.collect import read_result_file
from recbole_ilora.leaderboard.stats import (format_interval, mean_interval, per_user_values, random_ranking_metric,
                                              seed_test, significance)

ALPHA = 0.05


@dataclass(frozen=True)
class Cell:
    """One metric of one arm on one dataset: over its seeds' test users."""

    mean: float
    low: float
    high: float
    std_over_seeds: float | None
    seeds: int
    users: int

    def text(self):
        spread = f" ± {self.std_over_seeds:.3f} ({self.seeds} seeds)" if self.std_over_seeds is not None else ""
        return format_interval(self.mean, self.low, self.high) + spread


def read_result(job):
    return read_result_file(job.result_file) if job.done() else None


def test_users(results):
    """The users every run of ``results`` was tested on (per seed they are the same for every arm: eval_users is
    drawn by seed)."""
    return sorted(set.intersection(*(set(r["per_user_test"]["user"]) for r in results)))


def cell(results, metric, users_by_seed):
    """``Cell`` of ``metric`` over ``results`` (one per seed), each restricted to its seed's users; None when a
    run lacks those users' ranks."""
    per_seed, pooled = [], []
    for result in results:
        values = per_user_values(result, metric)
        users = users_by_seed[result["seed"]]
        if values is None or not set(users) <= set(values):
            return None
        per_seed.append(float(np.mean([values[user] for user in users])))
        pooled += [values[user] for user in users]
    mean, low, high = mean_interval(pooled)
    std = float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else None
    return Cell(float(np.mean(per_seed)), low, high, std, len(per_seed), len(pooled))


@dataclass(frozen=True)
class Verdict:
    claim: object  # spec.Claim
    difference: float | None
    p_value: float | None
    label: str
    outcome: str  # "holds" | "contradicted" | "not separable here" | "not run"

    def text(self):
        if self.p_value is None:
            return f"{self.claim.better} > {self.claim.worse} on {self.claim.metric}: {self.outcome}"
        return (f"{self.claim.better} > {self.claim.worse} on {self.claim.metric}: difference {self.difference:+.4f}, "
                f"{self.label}, p = {self.p_value:.2g}: **{self.outcome}**")


def verdict(claim, results):
    """Check one claim on ``results`` (``{arm: [result per seed]}``)."""
    better, worse = results.get(claim.better), results.get(claim.worse)
    if not better or not worse:
        return Verdict(claim, None, None, "", "not run")
    test = significance(better, worse, claim.metric, claim.better, claim.worse)
    if test.p_value is None:
        return Verdict(claim, test.difference, None, test.label, f"not testable ({test.note})")
    if test.p_value < ALPHA:
        outcome = "holds" if test.difference > 0 else "contradicted"
    else:
        outcome = "not separable here"
    return Verdict(claim, test.difference, test.p_value, test.label, outcome)


def overall(verdicts):
    """The study's verdict on the paper's claim from its claims' outcomes (a claim about an arm that does not run on
    a dataset is "not run" there, and says nothing)."""
    outcomes = {v.outcome for v in verdicts} - {"not run"}
    if not outcomes:
        return "not run yet"
    if "contradicted" in outcomes:
        return "does not hold here"
    if outcomes == {"holds"}:
        return "holds here"
    return "not separable here"


@dataclass
class DatasetAnalysis:
    dataset: str
    rows: list  # [name, protocol, test users, Cell per metric..., vs reference]
    verdicts: list
    backbone_budget: str


def _versus(results, arm, reference, metric):
    if arm == reference or not results.get(arm) or not results.get(reference):
        return "-"
    test = significance(results[arm], results[reference], metric, arm, reference)
    text = f"{test.difference:+.4f}, p = {test.p_value:.2g}" if test.p_value is not None else "-"
    if len(results[arm]) > 1:
        across = seed_test(results[arm], results[reference], metric)
        if across.p_value is not None:
            text += f"; over seeds p = {across.p_value:.2g}"
    return text


def _budget(results):
    llm = [r for runs_ in results.values() for r in runs_ if "train_samples_per_epoch" in r["config"]]
    if not llm:
        return ""
    config = llm[0]["config"]
    backbone = llm[0].get("llm_path") or "SmolLM2-135M-Instruct"
    return (f"backbone {backbone}, {config['train_samples_per_epoch']} training prompts x {config['epochs']} "
            f"epoch(s), dtype {config.get('dtype')}")


def candidate_count(results):
    """Candidates per test user of the runs ``results`` (RecBole's test mode ``uniN``: the target and N negatives);
    None for full ranking or no runs."""
    modes = {str(r["config"]["eval_args"]["mode"]["test"]) for r in results}
    if len(modes) != 1 or not next(iter(modes)).startswith("uni"):
        return None
    return int(next(iter(modes))[3:]) + 1


def analyse(spec, dataset, arm_results, baseline_results):
    """``DatasetAnalysis`` of one dataset: ``arm_results`` ``{arm: [result per seed]}``, ``baseline_results``
    ``{(model, protocol): [result per seed]}``."""
    finished = {arm: results for arm, results in arm_results.items() if results}
    reference = spec.reference
    rows = []
    if finished:
        seeds = sorted({r["seed"] for results in finished.values() for r in results})
        users_by_seed = {seed: test_users([r for results in finished.values() for r in results if r["seed"] == seed])
                         for seed in seeds}
        for name, arm in spec.arms.items():
            if name in finished:
                cells = [cell(finished[name], metric, users_by_seed) for metric in spec.metrics]
                rows.append([arm.label, arm.protocol, cells, _versus(finished, name, reference, spec.metrics[0])])
        for (model, protocol), results in baseline_results.items():
            results = [r for r in results if r["seed"] in users_by_seed]
            if results:
                rows.append([f"{model} (leaderboard run)", protocol,
                             [cell(results, metric, users_by_seed) for metric in spec.metrics], "-"])
        for protocol in sorted({arm.protocol for arm in spec.arms.values()}):
            count = candidate_count([r for results in finished.values() for r in results if r["protocol"] == protocol])
            if count:
                rows.append([f"random ranking ({count} candidates)", protocol,
                             [random_ranking_metric(metric, count) for metric in spec.metrics], "-"])
    verdicts = [verdict(claim, finished) for claim in spec.claims]
    return DatasetAnalysis(dataset, rows, verdicts, _budget(finished))


def _value_text(value):
    if value is None:
        return "-"
    return value.text() if isinstance(value, Cell) else f"{value:.4f}"


def markdown_table(spec, analysis):
    headers = ["arm", "protocol", *[f"{m} [95%]" for m in spec.metrics],
               f"{spec.metrics[0]} vs {spec.arms[spec.reference].label} (Wilcoxon over users)"]
    rows = [[name, protocol, *[_value_text(v) for v in values], versus]
            for name, protocol, values, versus in analysis.rows]
    return tabulate(rows, headers=headers, tablefmt="github")


def csv_text(spec, analyses):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dataset", "arm", "protocol", "metric", "mean", "low95", "high95", "std_over_seeds", "seeds",
                     "user_values"])
    for analysis in analyses:
        for name, protocol, values, _ in analysis.rows:
            for metric, value in zip(spec.metrics, values):
                if isinstance(value, Cell):
                    writer.writerow([analysis.dataset, name, protocol, metric, f"{value.mean:.6f}", f"{value.low:.6f}",
                                     f"{value.high:.6f}", "" if value.std_over_seeds is None else
                                     f"{value.std_over_seeds:.6f}", value.seeds, value.users])
                elif value is not None:
                    writer.writerow([analysis.dataset, name, protocol, metric, f"{value:.6f}", "", "", "", "", ""])
    return out.getvalue()


def figure(spec, analyses, path):
    """One panel per dataset: the first metric per arm with its 95% interval; baselines and random as lines."""
    fig = Figure(figsize=(max(6.0, 1.2 * len(spec.arms) + 3), 3.6 * len(analyses)), layout="constrained")
    axes = fig.subplots(len(analyses), 1, squeeze=False)[:, 0]
    metric = spec.metrics[0]
    for ax, analysis in zip(axes, analyses):
        arms = [(name, values[0]) for name, _, values, _ in analysis.rows if isinstance(values[0], Cell)
                and "(leaderboard run)" not in name]
        x = np.arange(len(arms))
        ax.bar(x, [c.mean for _, c in arms], yerr=[[c.mean - c.low for _, c in arms], [c.high - c.mean for _, c in arms]],
               capsize=3, color="tab:blue")
        ax.set_xticks(x, [name for name, _ in arms], rotation=20, ha="right")
        styles = iter(["--", "-.", ":", (0, (1, 3))])
        for name, _, values, _ in analysis.rows:
            value = values[0]
            if "(leaderboard run)" in name and isinstance(value, Cell):
                ax.axhline(value.mean, color="black", linestyle=next(styles, "--"), label=f"{name}, same users")
            elif name.startswith("random") and value is not None:
                ax.axhline(value, color="grey", linestyle=":", label=name)
        ax.set_ylabel(f"test {metric}")
        ax.set_title(f"{spec.title}: {analysis.dataset}")
        ax.grid(axis="y", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="x-small")
    fig.savefig(path, dpi=120)
