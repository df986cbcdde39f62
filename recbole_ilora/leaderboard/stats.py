"""The numbers behind the tables: mean and spread over seeds, iLoRA's relative improvement, its significance tests
against another model (over users, within each seed and pooled, and across seeds), and a summary of the gate's
expert weights.

Every function takes run results as the JSON dicts that ``quick_start.run`` writes.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats


@dataclass(frozen=True)
class Summary:
    """One metric of one model on one dataset over its seeds; ``std`` is the sample std (None with one seed)."""

    mean: float
    std: float | None
    n: int


def mean_of(summary):
    """The mean of a ``Summary``, None for a missing one."""
    return None if summary is None else summary.mean


def summarize(values):
    """``Summary`` of the values that exist (None is a run that lacks the metric); None when there are none."""
    values = [float(value) for value in values if value is not None]
    if not values:
        return None
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return Summary(float(np.mean(values)), std, len(values))


def mean_interval(values, confidence=0.95):
    """``(mean, low, high)``: the mean of per-user values and its t-interval (a run's uncertainty over its users)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = float(scipy_stats.t.ppf((1 + confidence) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def averaged_over_runs(per_run, users):
    """Each of ``users``' value averaged over the runs (``per_run``: one ``{user: value}`` per seed), as an array: the
    unit the tests and intervals over users pair and count."""
    return np.array([np.mean([values[user] for values in per_run]) for user in users])


def pooled_interval(results, metric, confidence=0.95):
    """``(mean, low, high)`` over the users every run evaluated, each user's ``metric`` averaged over the runs
    (seeds) first: the t-interval of a model's value on this test set, within the metric's range [0, 1]. None where a
    run saved no per-user ranks."""
    per_run = [per_user_values(result, metric) for result in results]
    if not per_run or any(values is None for values in per_run):
        return None
    users = sorted(set.intersection(*(set(values) for values in per_run)))
    if not users:
        return None
    mean, low, high = mean_interval(averaged_over_runs(per_run, users), confidence)
    return mean, max(low, 0.0), min(high, 1.0)


def format_interval(mean, low, high):
    """``'0.2503 [0.223, 0.278]'``: a mean and its interval as every table of the package prints them."""
    return f"{mean:.4f} [{low:.3f}, {high:.3f}]"


def relative_improvement(reference, other):
    """``(reference - other) / other`` in percent: positive when the reference model (iLoRA) is better.

    None when ``other`` is zero or missing, where a ratio says nothing.
    """
    if reference is None or other is None or other == 0:
        return None
    return 100.0 * (reference - other) / other


def parse_metric(metric):
    """``'ndcg@5'`` -> ``('ndcg', 5)``."""
    name, _, k = metric.lower().partition("@")
    if name not in ("hit", "ndcg") or not k.isdigit():
        raise ValueError(f"No per-user form of metric {metric!r}: only hit@k and ndcg@k are derived from ranks.")
    return name, int(k)


def has_per_user_form(metric):
    """Whether ``metric`` is a ranking metric (``hit@k`` / ``ndcg@k``) that ranks and random rankings determine."""
    try:
        parse_metric(metric)
    except ValueError:
        return False
    return True


def random_ranking_metric(metric, candidates):
    """Expected ``hit@k`` / ``ndcg@k`` of a uniformly random ranking of ``candidates`` items, one of them the
    target (its rank is uniform over 1..candidates)."""
    name, k = parse_metric(metric)
    k = min(k, candidates)
    if name == "hit":
        return k / candidates
    return sum(1.0 / math.log2(rank + 1) for rank in range(1, k + 1)) / candidates


def per_user_metric(ranks, metric):
    """Per-user ``hit@k`` / ``ndcg@k`` from the 1-based rank of each user's single target (None: ranked below the
    saved cut-off), exactly as RecBole computes them with one positive per user."""
    name, k = parse_metric(metric)
    if name == "hit":
        return [1.0 if rank is not None and rank <= k else 0.0 for rank in ranks]
    return [1.0 / math.log2(rank + 1) if rank is not None and rank <= k else 0.0 for rank in ranks]


def per_user_values(result, metric):
    """``{user: value}`` of ``metric`` from a run's saved per-user ranks; None where the run saved none, or only a
    cut-off below ``k`` (a rank beyond ``max_rank`` is unknown, so ``hit@k`` with ``k > max_rank`` is too)."""
    saved = result.get("per_user_test") or {}
    users, ranks = saved.get("user"), saved.get("rank")
    if not users or ranks is None or len(users) != len(ranks) or parse_metric(metric)[1] > saved.get("max_rank", 0):
        return None
    return dict(zip(users, per_user_metric(ranks, metric)))


@dataclass(frozen=True)
class Significance:
    """A two-sided test of the reference model against another one on one metric."""

    metric: str
    reference: str
    other: str
    method: str | None  # "wilcoxon" (paired over users), "t-test" (paired over seeds) or None (not testable)
    n: int  # paired units: users or seeds
    seeds: int
    difference: float | None  # mean of reference - other over the paired units
    statistic: float | None
    p_value: float | None
    note: str = ""

    @property
    def paired_over(self):
        return {"wilcoxon": "users", "t-test": "seeds"}.get(self.method)

    @property
    def label(self):
        """What was tested, in words a reader of the table needs: the test and what it pairs."""
        if self.method == "wilcoxon":
            over = f", each user's value averaged over {self.seeds} seeds" if self.seeds > 1 else ""
            return f"Wilcoxon signed-rank, paired over users (n={self.n}{over})"
        if self.method == "t-test":
            return f"paired t-test over seeds (n={self.n}; {self.note or 'per-user ranks missing'})"
        return f"not testable: {self.note}"


def _by_seed(results):
    return {result["seed"]: result for result in results}


def significance(reference_results, other_results, metric, reference="iLoRA", other="other"):
    """Test ``reference`` against ``other`` on ``metric`` (a test-set key such as ``ndcg@5``).

    Paired over users where every seed both models ran has per-user ranks: each user's metric is averaged over
    those seeds, then a Wilcoxon signed-rank test (zero differences dropped, scipy's default) compares the two
    models user by user. Otherwise a paired t-test over the seeds both ran, which needs at least two of them.
    """
    reference_by_seed, other_by_seed = _by_seed(reference_results), _by_seed(other_results)
    seeds = sorted(set(reference_by_seed) & set(other_by_seed))
    if not seeds:
        return Significance(metric, reference, other, None, 0, 0, None, None, None, "no seed run by both models")

    fallback = "per-user ranks missing"
    try:
        per_user = [(per_user_values(reference_by_seed[s], metric), per_user_values(other_by_seed[s], metric))
                    for s in seeds]
    except ValueError:  # a metric without a per-user form (generation metrics)
        per_user, fallback = [(None, None)], "no per-user values of this metric are saved"
    if all(a is not None and b is not None for a, b in per_user):
        users = sorted(set.intersection(*(set(a) & set(b) for a, b in per_user)))
        if users:
            mine = averaged_over_runs([a for a, _ in per_user], users)
            theirs = averaged_over_runs([b for _, b in per_user], users)
            return _wilcoxon(metric, reference, other, mine, theirs, len(seeds))

    mine = [reference_by_seed[s]["test"].get(metric) for s in seeds]
    theirs = [other_by_seed[s]["test"].get(metric) for s in seeds]
    if any(value is None for value in mine + theirs):
        return Significance(metric, reference, other, None, 0, len(seeds), None, None, None,
                            f"{metric} missing from some runs")
    if len(seeds) < 2:
        return Significance(metric, reference, other, None, 1, 1, mine[0] - theirs[0], None, None,
                            "one seed and no per-user ranks")
    return _t_test(metric, reference, other, np.array(mine), np.array(theirs), fallback)


def seed_test(reference_results, other_results, metric, reference="iLoRA", other="other"):
    """A paired t-test over the seeds both models ran, of each seed's test ``metric`` (the test across seeds, beside
    the per-user Wilcoxon); not testable below two seeds."""
    reference_by_seed, other_by_seed = _by_seed(reference_results), _by_seed(other_results)
    seeds = sorted(set(reference_by_seed) & set(other_by_seed))
    mine = [reference_by_seed[s]["test"].get(metric) for s in seeds]
    theirs = [other_by_seed[s]["test"].get(metric) for s in seeds]
    if len(seeds) < 2 or any(value is None for value in mine + theirs):
        return Significance(metric, reference, other, None, len(seeds), len(seeds), None, None, None,
                            "needs two seeds with the metric")
    return _t_test(metric, reference, other, np.array(mine), np.array(theirs), "the test across seeds")


@dataclass(frozen=True)
class PairwiseTests:
    """The reference against one other model on one metric, three ways: the per-user Wilcoxon test within each seed
    both ran, the same test on each user's value averaged over those seeds (``pooled``), and the paired t-test of the
    seeds' metrics (``across_seeds``: whether the difference holds from run to run, which no test over users says)."""

    metric: str
    other: str
    per_seed: dict  # seed -> Significance
    pooled: Significance
    across_seeds: Significance

    def seeds_significant(self, alpha):
        """``(better, worse)``: how many seeds' per-user tests found the reference significantly better / worse."""
        found = [t for t in self.per_seed.values() if t.p_value is not None and t.p_value < alpha]
        return sum(t.difference > 0 for t in found), sum(t.difference < 0 for t in found)


def pairwise_tests(reference_results, other_results, metric, reference="iLoRA", other="other"):
    """``PairwiseTests`` of ``reference`` against ``other`` on ``metric`` over the seeds both ran."""
    reference_by_seed, other_by_seed = _by_seed(reference_results), _by_seed(other_results)
    seeds = sorted(set(reference_by_seed) & set(other_by_seed))
    per_seed = {seed: significance([reference_by_seed[seed]], [other_by_seed[seed]], metric, reference, other)
                for seed in seeds}
    return PairwiseTests(metric, other, per_seed,
                         significance(reference_results, other_results, metric, reference, other),
                         seed_test(reference_results, other_results, metric, reference, other))


def _wilcoxon(metric, reference, other, mine, theirs, seeds):
    difference = float(np.mean(mine - theirs))
    if np.all(mine == theirs):
        return Significance(metric, reference, other, "wilcoxon", len(mine), seeds, 0.0, 0.0, 1.0,
                            "identical per-user values")
    test = scipy_stats.wilcoxon(mine, theirs, zero_method="wilcox", alternative="two-sided")
    return Significance(metric, reference, other, "wilcoxon", len(mine), seeds, difference,
                        float(test.statistic), float(test.pvalue))


def _t_test(metric, reference, other, mine, theirs, why):
    """``why``: why the test is not paired over users (shown in the label)."""
    differences = mine - theirs
    if np.all(differences == differences[0]):  # zero variance: t is undefined
        p_value = 1.0 if differences[0] == 0 else None
        return Significance(metric, reference, other, "t-test", len(mine), len(mine), float(differences[0]), None,
                            p_value, f"{why}; the same difference on every seed")
    test = scipy_stats.ttest_rel(mine, theirs)
    return Significance(metric, reference, other, "t-test", len(mine), len(mine), float(np.mean(differences)),
                        float(test.statistic), float(test.pvalue), why)


@dataclass(frozen=True)
class GateSummary:
    """How one iLoRA run's gate spread users over its experts.

    ``mean`` / ``std``: per expert, the mean weight and its standard deviation across users. ``entropy``: the mean
    over users of the gate's entropy divided by log K (1 = uniform, every user gets the same plain LoRA; 0 = each
    user routed to one expert). ``top_share``: the fraction of users whose largest weight is on each expert.
    """

    seed: int
    users: int
    mean: tuple
    std: tuple
    entropy: float
    top_share: tuple


def gate_summary(result):
    """``GateSummary`` of a run's ``gate_weights`` (None for runs without a gate)."""
    gate = result.get("gate_weights") or {}
    weights = np.asarray(gate.get("weights") or [], dtype=float)
    if weights.ndim != 2 or weights.shape[0] == 0 or weights.shape[1] < 2:
        return None
    experts = weights.shape[1]
    clipped = np.clip(weights, 1e-12, 1.0)
    entropy = float(np.mean(-(weights * np.log(clipped)).sum(axis=1)) / math.log(experts))
    top = np.bincount(weights.argmax(axis=1), minlength=experts) / weights.shape[0]
    return GateSummary(result["seed"], weights.shape[0], tuple(weights.mean(axis=0)), tuple(weights.std(axis=0)),
                       entropy, tuple(float(share) for share in top))
