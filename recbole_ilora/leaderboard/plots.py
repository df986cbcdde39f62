"""PNG figures of the leaderboard, drawn on matplotlib's ``Figure`` directly (the Agg canvas, no pyplot): no
display needed, and no process-wide backend switch for whoever imports this module."""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def metric_plot(board, path, keys=None):
    """One dataset's figure: each metric's mean per model as grouped bars, the std over seeds as error bars, the
    expected value of a random ranking as a dashed mark per metric (sampled candidates only)."""
    columns = [(k, h) for k, h in board.columns if keys is None or k in keys]
    fig = Figure(figsize=(max(6.0, 3.0 + 1.1 * len(columns)), 3.6), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(len(board.models), 1)
    x = np.arange(len(columns))
    for i, model in enumerate(board.models):
        summaries = [board.summary[model][key] for key, _ in columns]
        means = [s.mean if s else np.nan for s in summaries]
        errors = [s.std if s and s.std is not None else 0.0 for s in summaries]
        ax.bar(x + (i - (len(board.models) - 1) / 2) * width, means, width, yerr=errors, capsize=2,
               label=f"{model} (n={board.seeds[model]})")
    if board.random:
        chance = [board.random.get(key) for key, _ in columns]
        ax.hlines([np.nan if c is None else c for c in chance], x - 0.45, x + 0.45, colors="black",
                  linestyles="dashed", linewidth=1, label="random ranking")
    ax.set_xticks(x, [header for _, header in columns])
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("test value")
    ax.set_title(f"{board.dataset} ({board.protocol}): mean ± std over seeds (n: seeds)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)


def gate_plot(gate_runs, path, model="iLoRA"):
    """One panel per dataset and seed: each expert's gate weight across users (box: quartiles, whiskers: 5-95 %),
    its mean (diamond) and the uniform weight 1/K (dashed). Experts are not matched across seeds (any permutation
    of them is the same model), so seeds are not pooled."""
    datasets = list(gate_runs)
    columns = max(len(runs) for runs in gate_runs.values())
    fig = Figure(figsize=(3.6 * columns, 3.0 * len(datasets)), layout="constrained")
    axes = fig.subplots(len(datasets), columns, squeeze=False)
    for row, dataset in enumerate(datasets):
        for col in range(columns):
            ax = axes[row, col]
            if col >= len(gate_runs[dataset]):
                ax.set_axis_off()
                continue
            result = gate_runs[dataset][col]
            weights = np.asarray(result["gate_weights"]["weights"], dtype=float)
            experts = weights.shape[1]
            positions = np.arange(1, experts + 1)
            ax.boxplot(weights, positions=positions, whis=(5, 95), showfliers=False, widths=0.6)
            ax.scatter(positions, weights.mean(axis=0), marker="D", color="tab:red", zorder=3, label="mean")
            ax.axhline(1 / experts, linestyle="--", color="grey", linewidth=1, label="uniform 1/K")
            ax.set_xticks(positions, [f"E{k}" for k in positions])
            ax.set_ylim(0, 1)
            ax.set_title(f"{dataset}, seed {result['seed']} ({weights.shape[0]} users)", fontsize="medium")
            if col == 0:
                ax.set_ylabel(f"{model} gate weight")
            if row == 0 and col == 0:
                ax.legend(fontsize="small", loc="upper right")
    _save(fig, path)


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
