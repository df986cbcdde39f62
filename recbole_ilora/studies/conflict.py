"""Gradient conflict between groups of users (the iLoRA paper's Figure 1, its motivation): under one LoRA, the
gradients of users far apart in the collaborative space point different ways; iLoRA's per-user mixture of experts
is meant to reduce that.

The test users are clustered by K-means over the frozen SASRec's representations (``user_clusters``). Each
cluster gets a fixed, seeded sample of training samples of its users; the gradient of the LoRA weights (the
adapters only, not the projector or gate) of the run's own loss, averaged over that sample, is taken at
initialisation (the run's seeded initial weights) and at the end of training (the run's checkpoint). The cosine
between every two clusters' gradients gives an 8 x 8 matrix per model and time; its mean off-diagonal value, the
share of negative pairs, and their Spearman correlation with the distance of the clusters' centres summarise it.
"""

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from recbole.utils import init_seed
from scipy import stats as scipy_stats
from tabulate import tabulate

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora.data import data_preparation, load_dataset
from recbole_ilora.registry import get_model
from recbole_ilora.studies.user_clusters import clusters, encoder_checkpoint, points_of_test_users, run_config

ADAPTER_MARKER = "lora_"  # the MoE-LoRA weights' names (peft's lora_A / lora_B)


@dataclass(frozen=True)
class ConflictAnalysis:
    cosines: np.ndarray  # (clusters, clusters)
    mean_off_diagonal: float
    negative_share: float
    distance_rho: float | None  # Spearman correlation of a pair's cosine with its centres' distance
    distance_p: float | None

    def off_diagonal(self):
        upper = np.triu_indices(len(self.cosines), k=1)
        return self.cosines[upper]


def analyse_conflict(gradients, centres):
    """``ConflictAnalysis`` of per-cluster gradient vectors (clusters x parameters) against cluster centres
    (clusters x encoder dim)."""
    gradients = np.asarray(gradients, dtype=float)
    norms = np.linalg.norm(gradients, axis=1, keepdims=True)
    unit = gradients / np.where(norms > 0, norms, 1.0)
    cosines = unit @ unit.T
    upper = np.triu_indices(len(cosines), k=1)
    pairs = cosines[upper]
    distances = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=-1)[upper]
    rho, p_value = (None, None)
    if len(pairs) > 2 and np.ptp(pairs) > 0:
        test = scipy_stats.spearmanr(pairs, distances)
        rho, p_value = float(test.statistic), float(test.pvalue)
    return ConflictAnalysis(cosines, float(pairs.mean()), float(np.mean(pairs < 0)), rho, p_value)


def training_sample(train_dataset, users, per_cluster, seed, cluster):
    """Row indices of ``per_cluster`` training samples of ``users`` (internal ids), drawn by ``seed`` and
    ``cluster``; fewer when the users have fewer."""
    user_ids = train_dataset.inter_feat[train_dataset.uid_field].numpy()
    rows = np.flatnonzero(np.isin(user_ids, users))
    rng = np.random.default_rng([seed, 7, cluster])
    return np.sort(rng.choice(rows, size=min(per_cluster, len(rows)), replace=False))


def adapter_gradient(model, interaction, batch_size):
    """The gradient of the LoRA weights of ``model``'s loss, averaged over the rows of ``interaction`` (in
    micro-batches of ``batch_size``), as one flat vector."""
    params = [param for name, param in model.named_parameters() if param.requires_grad and ADAPTER_MARKER in name]
    model.zero_grad(set_to_none=True)
    rows = len(interaction)
    for start in range(0, rows, batch_size):
        part = interaction[torch.arange(start, min(rows, start + batch_size))]
        (model.calculate_loss(part) * len(part) / rows).backward()
    return torch.cat([param.grad.detach().flatten().float() if param.grad is not None
                      else torch.zeros(param.numel()) for param in params]).numpy()


def cluster_gradients(config, result, labels, user_ids, per_cluster):
    """``{"initialisation": (clusters x parameters), "end of training": ...}`` for the LLM run of ``config``
    (whose JSON ``result`` names its checkpoint): ``labels`` cluster the internal ``user_ids``."""
    dataset = load_dataset(config)
    train, _, _ = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])  # the run's own initial weights
    model = get_model(config["model"])(config, train._dataset)
    model.train()
    samples = [train._dataset.inter_feat[torch.from_numpy(training_sample(
        train._dataset, user_ids[labels == cluster], per_cluster, config["seed"], cluster))]
        for cluster in range(labels.max() + 1)]
    gradients = {"initialisation": np.stack([adapter_gradient(model, s, config["train_batch_size"]) for s in samples])}
    trained = checkpoints.load(result["checkpoint"])
    checkpoints.check_same_experiment(trained, config, result["checkpoint"], "analysed")
    model.load_trainable_state_dict(trained["weights"])
    gradients["end of training"] = np.stack([adapter_gradient(model, s, config["train_batch_size"]) for s in samples])
    return gradients


def heatmaps(analyses, path):
    """One panel per (model, time): the cosine matrix, diverging around 0."""
    fig = Figure(figsize=(4.2 * len(analyses), 4.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(analyses)))
    image = None
    for ax, (title, analysis) in zip(axes, analyses.items()):
        image = ax.imshow(analysis.cosines, cmap="RdBu", vmin=-1, vmax=1)
        ax.set_title(f"{title}\nmean off-diagonal {analysis.mean_off_diagonal:+.2f}, negative "
                     f"{analysis.negative_share:.0%}", fontsize="small")
        ax.set_xlabel("cluster")
        ax.set_ylabel("cluster")
    fig.colorbar(image, ax=list(axes), label="cosine of the clusters' LoRA gradients")
    fig.savefig(path, dpi=120)


CLUSTERS, PER_CLUSTER = 8, 8
TIMES = ("initialisation", "end of training")


def _summary_row(arm, time, analysis):
    rho = "-" if analysis.distance_rho is None else f"{analysis.distance_rho:+.2f} (p = {analysis.distance_p:.2g})"
    return [arm, time, f"{analysis.mean_off_diagonal:+.3f}", f"{analysis.negative_share:.0%}", rho]


def section(spec, finished, folder, run):
    """The page's conflict section for the finished LLM runs (``[(arm, job, result)]``), grouped by dataset and
    seed (one clustering each); the spec's reference arm (the mixture) is compared with every other arm at the end
    of training by a Wilcoxon test over the cluster pairs' cosines. Returns ``(lines, verdicts)``."""
    reference = spec.reference
    lines, verdicts = [], []
    groups = {}
    for arm, job, result in finished:
        if result.get("config", {}).get("train_samples_per_epoch") is not None:  # an LLM run
            groups.setdefault((job.dataset, job.seed), []).append((arm, job, result))
    for (dataset, seed), members in groups.items():
        configs = {arm: run_config(job) for arm, job, _ in members}
        for config in configs.values():
            encoder_checkpoint(config, run)
        first = next(iter(configs.values()))
        points = points_of_test_users(first, first["sasrec_checkpoint"])
        labels, centres = clusters(points.points, CLUSTERS, seed)
        analyses, rows = {}, []
        for arm, job, result in members:
            gradients = cluster_gradients(configs[arm], result, labels, points.internal, PER_CLUSTER)
            for time in TIMES:
                analyses[f"{arm}, {time}"] = analyse_conflict(gradients[time], centres)
                rows.append(_summary_row(arm, time, analyses[f"{arm}, {time}"]))
        image = f"conflict-{dataset}-seed{seed}.png"
        heatmaps(analyses, folder / image)
        lines += ["", f"### {dataset}, seed {seed}: {CLUSTERS} K-means clusters, {PER_CLUSTER} training samples each",
                  "", tabulate(rows, headers=["arm", "weights", "mean off-diagonal cosine", "negative pairs",
                                              "Spearman rho with centre distance"], tablefmt="github"), "",
                  f"![cosines of the clusters' gradients]({image})", ""]
        end = {arm: analyses.get(f"{arm}, end of training") for arm, _, _ in members}
        for arm, analysis in end.items():
            if arm == reference or reference not in end:
                continue
            test = scipy_stats.wilcoxon(end[reference].off_diagonal(), analysis.off_diagonal())
            difference = float(np.mean(end[reference].off_diagonal() - analysis.off_diagonal()))
            reduced = test.pvalue < 0.05 and difference > 0
            lines.append(f"- {reference} vs {arm}, end of training: mean cosine difference {difference:+.3f} over "
                         f"{len(analysis.off_diagonal())} cluster pairs (Wilcoxon signed-rank, paired over pairs, "
                         f"which share clusters: a description more than a test), p = {test.pvalue:.2g}: conflict "
                         f"{'reduced' if reduced else 'not reduced'} by {reference}")
            conflicting = analysis.negative_share > 0 and analysis.distance_rho is not None and \
                analysis.distance_rho < 0 and analysis.distance_p < 0.05
            lines.append(f"- {arm}, end of training: {analysis.negative_share:.0%} of the pairs negative; the cosine "
                         f"{'falls' if conflicting else 'does not fall significantly'} with the clusters' distance")
            numbers = (f" ({dataset}, seed {seed}, end of training: mean cosine {reference} "
                       f"{end[reference].mean_off_diagonal:+.3f} vs {arm} {analysis.mean_off_diagonal:+.3f}, p = "
                       f"{test.pvalue:.2g}; {arm}: {analysis.negative_share:.0%} negative pairs)")
            verdicts.append({(True, True): "holds here",
                             (True, False): f"one LoRA's gradients conflict more with distance, but {reference} does "
                                            f"not reduce it here",
                             (False, True): f"{reference}'s clusters agree more, but one LoRA's conflict does not grow "
                                            f"with distance here",
                             (False, False): "does not hold here"}[conflicting, reduced] + numbers)
    return lines, verdicts
