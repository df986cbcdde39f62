"""Whether iLoRA's experts specialise: its gate's weights per user (saved in the JSON result of every iLoRA run)
against K-means clusters of the same users in the frozen SASRec's space (``user_clusters``).

Per cluster: the mean weight of each expert (a heatmap), the gate's normalised entropy (1: uniform, every user the
same plain LoRA), and the share of users whose top expert is their cluster's most common top expert. Against a
permutation null (cluster labels shuffled over users), that share says whether the top expert follows the region of
SASRec space, and the normalised mutual information between cluster and top expert says how strongly.
"""

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import normalized_mutual_info_score
from tabulate import tabulate

from recbole_ilora.studies.user_clusters import clusters, encoder_checkpoint, run_config, points_of_test_users

PERMUTATIONS = 2000


@dataclass(frozen=True)
class GateAnalysis:
    users: int
    experts: int
    cluster_sizes: list
    cluster_means: np.ndarray  # (clusters, experts) mean gate weight
    cluster_entropy: list  # mean normalised entropy of the gate, per cluster
    entropy: float  # over all users
    agreement: float  # share of users whose top expert is their cluster's most common one
    null_agreement: float  # its mean under shuffled cluster labels
    p_value: float  # share of shuffles reaching the observed agreement (one-sided)
    nmi: float  # normalised mutual information of cluster and top expert

    @property
    def verdict(self):
        if self.entropy > 0.98:
            return "collapsed to uniform: every user gets nearly the same mixture"
        if self.p_value < 0.05:
            return "specialised: the top expert follows the user's region of SASRec space"
        return "not specialised by region: the top expert does not follow the clusters (p >= 0.05)"


def normalised_entropy(weights):
    weights = np.clip(np.asarray(weights, dtype=float), 1e-12, None)
    return -(weights * np.log(weights)).sum(-1) / np.log(weights.shape[-1])


def _agreement(labels, top, clusters):
    hits = 0
    for cluster in range(clusters):
        members = top[labels == cluster]
        if len(members):
            hits += np.bincount(members).max()
    return hits / len(top)


def analyse_gates(weights, labels, clusters, seed=0):
    """``GateAnalysis`` of gate ``weights`` (users x experts) against cluster ``labels`` (users)."""
    weights, labels = np.asarray(weights, dtype=float), np.asarray(labels)
    top = weights.argmax(1)
    entropy = normalised_entropy(weights)
    means = np.stack([weights[labels == c].mean(0) if np.any(labels == c) else np.full(weights.shape[1], np.nan)
                      for c in range(clusters)])
    observed = _agreement(labels, top, clusters)
    rng = np.random.default_rng(seed)
    null = np.array([_agreement(rng.permutation(labels), top, clusters) for _ in range(PERMUTATIONS)])
    return GateAnalysis(
        users=len(labels), experts=weights.shape[1], cluster_sizes=[int(np.sum(labels == c)) for c in range(clusters)],
        cluster_means=means, cluster_entropy=[float(entropy[labels == c].mean()) if np.any(labels == c) else float("nan")
                                              for c in range(clusters)],
        entropy=float(entropy.mean()), agreement=float(observed), null_agreement=float(null.mean()),
        p_value=float((np.sum(null >= observed) + 1) / (PERMUTATIONS + 1)),
        nmi=float(normalized_mutual_info_score(labels, top)))


def gate_matrix(result, users):
    """The gate weights of ``result`` (an iLoRA JSON result) in the order of ``users``; None without them."""
    saved = result.get("gate_weights") or {}
    by_user = dict(zip(saved.get("user", []), saved.get("weights", [])))
    if not by_user or not set(users) <= set(by_user):
        return None
    return np.array([by_user[user] for user in users], dtype=float)


def table(analysis):
    rows = [[cluster, size, *[f"{w:.3f}" for w in means], f"{entropy:.3f}"]
            for cluster, (size, means, entropy) in enumerate(zip(analysis.cluster_sizes, analysis.cluster_means,
                                                                 analysis.cluster_entropy))]
    headers = ["cluster", "users", *[f"expert {e}" for e in range(analysis.experts)], "gate entropy (normalised)"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def summary_lines(analysis):
    return [f"- users: {analysis.users}; gate entropy, normalised (1 = uniform): {analysis.entropy:.3f}",
            f"- top expert = the cluster's most common one for {analysis.agreement:.1%} of users (shuffled clusters: "
            f"{analysis.null_agreement:.1%}; permutation p = {analysis.p_value:.2g}, {PERMUTATIONS} shuffles); "
            f"normalised mutual information of cluster and top expert {analysis.nmi:.3f}",
            f"- verdict: **{analysis.verdict}**"]


def heatmap(analysis, title, path):
    fig = Figure(figsize=(1.2 * analysis.experts + 2.5, 0.45 * len(analysis.cluster_sizes) + 1.8), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(analysis.cluster_means, cmap="viridis", vmin=0, aspect="auto")
    ax.set_xticks(range(analysis.experts), [f"expert {e}" for e in range(analysis.experts)])
    ax.set_yticks(range(len(analysis.cluster_sizes)),
                  [f"cluster {c} (n={n})" for c, n in enumerate(analysis.cluster_sizes)])
    for (row, column), value in np.ndenumerate(analysis.cluster_means):
        ax.text(column, row, f"{value:.2f}", ha="center", va="center", color="white", fontsize="small")
    ax.set_title(title, fontsize="small")
    fig.colorbar(image, ax=ax, label="mean gate weight")
    fig.savefig(path, dpi=120)


CLUSTERS = 8


def section(spec, finished, folder, run):
    """The page's gate section for every finished run with gate weights (``[(arm, job, result)]``): per run, the
    per-cluster table, the summary lines and a heatmap PNG in ``folder``. ``run`` (``quick_start.run``) trains an
    encoder that is missing here. Returns ``(lines, verdicts)``."""
    lines, verdicts = [], []
    for arm, job, result in finished:
        if not (result.get("gate_weights") or {}).get("weights"):
            continue
        config = run_config(job)
        points = points_of_test_users(config, encoder_checkpoint(config, run))
        weights = gate_matrix(result, points.users)
        if weights is None:
            lines += ["", f"### {arm}, {job.dataset}, seed {job.seed}", "", "The run's gate weights do not cover its "
                      "test users (an older result): not analysed."]
            continue
        labels, _ = clusters(points.points, CLUSTERS, job.seed)
        analysis = analyse_gates(weights, labels, CLUSTERS, job.seed)
        image = f"gates-{job.dataset}-seed{job.seed}-{arm}.png".replace("=", "")
        heatmap(analysis, f"{arm}: mean gate weight per K-means cluster of SASRec space ({job.dataset}, seed "
                          f"{job.seed})", folder / image)
        lines += ["", f"### {arm}, {job.dataset}, seed {job.seed}: {CLUSTERS} K-means clusters of the test users' "
                      f"SASRec representations", "", table(analysis), "", *summary_lines(analysis), "",
                  f"![gate weights per cluster]({image})"]
        verdicts.append(f"{analysis.verdict} ({arm}, {job.dataset}: normalised gate entropy {analysis.entropy:.3f}; "
                        f"top expert = the cluster's for {analysis.agreement:.1%} of users against "
                        f"{analysis.null_agreement:.1%} shuffled, p = {analysis.p_value:.2g})")
    return lines, verdicts
