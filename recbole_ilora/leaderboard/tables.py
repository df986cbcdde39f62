"""Render ``Board`` objects as tables: Markdown and LaTeX with tabulate, CSV with plain numbers.

In the metric tables each cell is ``mean ± std`` over seeds (the mean alone with one seed); per column the best
mean is bold and the second best underlined, compared at the printed precision so that printed ties share the
mark. Where candidates are sampled, a last row gives a random ranking's expected value, the floor every model must
clear. CSV cells are unformatted numbers with separate mean and std columns.
"""

import csv
import io

from tabulate import tabulate

from recbole_ilora.leaderboard.board import COSTS, GENERATED, RANKING_COLUMNS
from recbole_ilora.leaderboard.published import PUBLISHED
from recbole_ilora.leaderboard.stats import mean_of
from recbole_ilora.registry import OWN_MODELS

DIGITS = 4  # metric precision in Markdown and LaTeX
RANDOM_ROW = "Random (expected)"  # the analytic reference row of sampled-candidate protocols


class Style:
    """How one output format marks best / second and writes ±, percent signs and model names."""

    def __init__(self, tablefmt, bold, underline, plus_minus, percent, escape=lambda text: text):
        self.tablefmt, self.bold, self.underline = tablefmt, bold, underline
        self.plus_minus, self.percent, self.escape = plus_minus, percent, escape


def _latex_escape(text):
    for char in ("\\", "&", "%", "$", "#", "_", "{", "}"):
        text = text.replace(char, "\\" + char if char != "\\" else r"\textbackslash{}")
    return text


MARKDOWN = Style("github", "**{}**".format, "<u>{}</u>".format, " ± ", "%")
LATEX = Style("latex_raw", r"\textbf{{{}}}".format, r"\underline{{{}}}".format, r" $\pm$ ", r"\%", _latex_escape)


def format_summary(summary, style, digits=DIGITS):
    if summary is None:
        return "–"
    if summary.std is None:
        return f"{summary.mean:.{digits}f}"
    return f"{summary.mean:.{digits}f}{style.plus_minus}{summary.std:.{digits}f}"


def ranks_in_column(values, digits=DIGITS):
    """``{model: 1 or 2}`` for the best and second-best means of one column (printed ties share a rank); no
    marks when fewer than two models have a value."""
    rounded = {model: round(value, digits) for model, value in values.items() if value is not None}
    if len(rounded) < 2:
        return {}
    levels = sorted(set(rounded.values()), reverse=True)[:2]
    return {model: levels.index(value) + 1 for model, value in rounded.items() if value in levels}


def format_percent(value, style):
    return "–" if value is None else f"{value:+.1f}{style.percent}"


def format_p_value(p_value):
    if p_value is None:
        return "–"
    return "< 1e-4" if p_value < 1e-4 else f"{p_value:.4f}"


def p_value_text(p_value):
    """``'p = 0.0123'`` or ``'p < 1e-4'``, for sentences."""
    value = format_p_value(p_value)
    return f"p {value}" if value.startswith("<") else f"p = {value}"


def format_value(value, digits=DIGITS):
    return "–" if value is None else f"{value:.{digits}f}"


def metric_rows(board, style):
    """Header and rows of the main table: one row per model, ``mean ± std`` per metric, best / second marked."""
    marks = {key: ranks_in_column({m: mean_of(board.summary[m][key]) for m in board.models}) for key, _ in board.columns}
    headers = ["Model", "Seeds"] + [header for _, header in board.columns]
    rows = []
    for model in board.models:
        row = [style.escape(model), str(board.seeds[model])]
        for key, _ in board.columns:
            cell = format_summary(board.summary[model][key], style)
            rank = marks[key].get(model)
            row.append(style.bold(cell) if rank == 1 else style.underline(cell) if rank == 2 else cell)
        rows.append(row)
    if board.random:
        rows.append([RANDOM_ROW, "–"] + [format_value(board.random[key]) for key, _ in board.columns])
    return headers, rows


def improvement_rows(board, style):
    """The reference model's relative improvement over each other model, per metric (positive: it is better)."""
    headers = [f"{style.escape(board.reference)} vs"] + [header for _, header in board.columns]
    rows = [[style.escape(model)] + [format_percent(board.improvement[model][key], style) for key, _ in board.columns]
            for model in board.models if model in board.improvement]
    return headers, rows


def significance_rows(board, style, alpha=0.05):
    headers = ["Metric", "Best other", style.escape(board.reference), "Best other value", "Relative",
               "p-value", f"Significant (α={alpha})", "Test"]
    names = dict(board.columns)
    rows = []
    for test in board.significance:
        mine, theirs = board.summary[board.reference][test.metric], board.summary[test.other][test.metric]
        relative = board.improvement[test.other][test.metric]
        verdict = "–" if test.p_value is None else (
            ("yes, better" if test.difference > 0 else "yes, worse") if test.p_value < alpha else "no")
        rows.append([names[test.metric], style.escape(test.other), format_summary(mine, style),
                     format_summary(theirs, style), format_percent(relative, style), format_p_value(test.p_value),
                     verdict, style.escape(test.label)])
    return headers, rows


def _signed(value):
    return "–" if value is None else f"{value:+.{DIGITS}f}"


def _tested(test):
    """``'p = 0.0123 (n=943)'``: a test's p-value and its paired units, or why it could not be run."""
    if test.p_value is None:
        return f"– ({test.note})" if test.note else "–"
    return f"{p_value_text(test.p_value)} (n={test.n})"


def pairwise_rows(board, style, alpha=0.05):
    """The reference against every other model on the headline metrics: within each seed, pooled, across seeds."""
    headers = [f"{style.escape(board.reference)} vs", "Metric", "Difference",
               "Per seed: difference (Wilcoxon over users)", f"Seeds significant at α={alpha}: better / worse",
               "Pooled: Wilcoxon over users, seeds averaged", "Across seeds: paired t-test"]
    names = dict(board.columns)
    rows = []
    for tests in board.pairwise:
        per_seed = "; ".join(f"{seed}: {_signed(t.difference)} ({format_p_value(t.p_value)})"
                             for seed, t in tests.per_seed.items())
        better, worse = tests.seeds_significant(alpha)
        rows.append([style.escape(tests.other), names[tests.metric], _signed(tests.pooled.difference), per_seed,
                     f"{better} / {worse} of {len(tests.per_seed)}", _tested(tests.pooled),
                     _tested(tests.across_seeds)])
    return headers, rows


def _duration(summary):
    if summary is None:
        return "–"
    unit, scale = ("h", 3600) if summary.mean >= 3600 else ("min", 60) if summary.mean >= 120 else ("s", 1)
    digits = 0 if unit == "s" else 1
    spread = f" ± {summary.std / scale:.{digits}f}" if summary.std is not None else ""
    return f"{summary.mean / scale:.{digits}f}{spread} {unit}"


def _memory(summary):
    if summary is None:
        return "–"
    return f"{summary.mean / 1024:.2f} GiB" if summary.mean >= 1024 else f"{summary.mean:.0f} MiB"


def _count(summary):
    return "–" if summary is None else format_count(summary.mean)


def format_count(value):
    """``5254532`` -> ``5.25 M``."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= limit:
            return f"{value / limit:.2f} {suffix}"
    return f"{value:.0f}"


def cost_rows(board, style):
    """Train time, eval time, peak memory and parameters per model (mean ± std over seeds)."""
    columns = [("Train time", "train_s", _duration), ("Eval time", "eval_s", _duration)]
    if any((mean_of(board.cost[m]["prerequisites_s"]) or 0) >= 1 for m in board.models):
        columns.append(("Encoder stage", "prerequisites_s", _duration))
    columns.append(("Peak RSS", "peak_rss_mb", _memory))
    if any(board.cost[m]["peak_cuda_mb"] is not None for m in board.models):
        columns.append(("Peak GPU memory", "peak_cuda_mb", _memory))
    columns += [("Trainable params", "trainable_params", _count), ("Total params", "total_params", _count),
                ("Epochs", "epochs", lambda s: "–" if s is None else f"{s.mean:g}")]
    headers = ["Model", "Seeds"] + [name for name, _, _ in columns]
    rows = [[style.escape(m), str(board.seeds[m])] + [fmt(board.cost[m][key]) for _, key, fmt in columns]
            for m in board.models]
    return headers, rows


def gate_rows(board):
    """One row per iLoRA run: how its gate weighted the experts across users."""
    headers = ["Seed", "Users", "Mean weight per expert", "Std across users", "Top-expert share",
               "Normalised entropy"]
    def join(values):
        return " / ".join(f"{v:.3f}" for v in values)

    rows = [[str(g.seed), str(g.users), join(g.mean), join(g.std), join(g.top_share), f"{g.entropy:.3f}"]
            for g in board.gates]
    return headers, rows


def published_rows(board, style):
    """The papers' figures on ``board``'s dataset, each beside this board's run of the model in its part: its mean
    over seeds, its 95% interval over the test users, where the published figure lies against that interval, and for
    the papers' generated-answer HR@1 the HR@1 of our decoded answers (when generation runs exist)."""
    names = dict(RANKING_COLUMNS)
    rows = []
    for figure in PUBLISHED.get(board.dataset, []):
        summary = board.summary.get(figure.ours, {}).get(figure.metric)
        here = f"{figure.ours}: {format_summary(summary, style)} ({board.seeds[figure.ours]} seed(s))" if summary \
            else f"{figure.ours or 'no counterpart'}: not run"
        interval = board.intervals.get(figure.ours, {}).get(figure.metric)
        rows.append([figure.source, figure.model, figure.backbone, figure.budget, names[figure.metric],
                     format_value(figure.value), "yes" if figure.verified else "no", here,
                     f"[{interval[1]:.3f}, {interval[2]:.3f}]" if interval else "-", _placed(figure.value, interval),
                     _generated(board, figure, style)])
    headers = ["Source", "Model there", "Backbone there", "Budget there", "Metric", "Published",
               "Checked in the source", "Here (mean ± std over seeds)", "Here: 95% interval over users (seeds averaged)",
               "Published vs interval", "Here: HR@1 of the generated answer"]
    return headers, rows


def _placed(value, interval):
    if interval is None:
        return "-"
    _, low, high = interval
    return "above" if value > high else "below" if value < low else "inside"


def _generated(board, figure, style):
    """Our decoded answers' HR@1 for a published LLM HR@1 (the papers' metric), '-' for the other rows."""
    if figure.metric != "hit@1" or figure.ours not in OWN_MODELS:
        return "-"
    summary = board.generation.get(figure.ours, {}).get("generation_hr@1")
    if summary is None:
        return "not computed"
    return f"{format_summary(summary, style)} ({board.generation_seeds[figure.ours]} seed(s))"


def generation_rows(board, style):
    """Each LLM model's generation runs: ValidRatio and HR@1 of the decoded answers beside the scored Hit@1 of the
    same runs."""
    headers = ["Model", "Seeds"] + [header for _, header in GENERATED]
    rows = [[style.escape(model), str(board.generation_seeds[model])]
            + [format_summary(board.generation[model][key], style) for key, _ in GENERATED]
            for model in board.generation]
    return headers, rows


def render(headers, rows, style):
    return tabulate(rows, headers=headers, tablefmt=style.tablefmt, disable_numparse=True)


def markdown_table(board, kind="metrics", alpha=0.05):
    """``kind``: metrics, improvement, significance, pairwise, cost, gates, published or generation; ``alpha``: the significance
    level of the tests' verdicts."""
    builder = {"metrics": metric_rows, "improvement": improvement_rows,
               "significance": lambda b, style: significance_rows(b, style, alpha),
               "pairwise": lambda b, style: pairwise_rows(b, style, alpha),
               "cost": cost_rows, "gates": lambda b, _: gate_rows(b), "published": published_rows,
               "generation": generation_rows}[kind]
    return render(*builder(board, MARKDOWN), MARKDOWN)


def latex_document(boards):
    """Each dataset's metric, improvement and cost tables as LaTeX tabulars (``\\usepackage{booktabs}``-free)."""
    parts = []
    for board in boards:
        if not board.same_candidates:
            parts.append(f"% WARNING: on {board.dataset} the models ranked DIFFERENT candidates or users: not "
                         f"comparable")
        parts.append(f"% {board.dataset} ({board.protocol}): mean $\\pm$ std over seeds; best bold, second underlined")
        parts.append(render(*metric_rows(board, LATEX), LATEX))
        if board.reference:
            parts.append(f"% {board.dataset}: relative improvement of {board.reference} over each model")
            parts.append(render(*improvement_rows(board, LATEX), LATEX))
        parts.append(f"% {board.dataset}: cost")
        parts.append(render(*cost_rows(board, LATEX), LATEX))
    return "\n\n".join(parts) + "\n"


def _csv(header, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return out.getvalue()


def metrics_csv(boards, reference="iLoRA"):
    """One row per dataset and model: seeds, then ``<metric>_mean``, ``<metric>_std`` and the reference's
    relative improvement over this model in percent (``<reference>_vs_pct_<metric>``)."""
    keys = list(dict.fromkeys(key for board in boards for key, _ in board.columns))
    header = ["dataset", "protocol", "same_candidates", "model", "seeds"]
    header += [f"{key}_{part}" for key in keys for part in ("mean", "std")]
    header += [f"{reference}_vs_pct_{key}" for key in keys]
    rows = []
    for board in boards:
        for model in board.models:
            summaries = board.summary[model]
            row = [board.dataset, board.protocol, board.same_candidates, model, board.seeds[model]]
            for key in keys:
                summary = summaries.get(key)
                row += [None, None] if summary is None else [summary.mean, summary.std]
            row += [board.improvement.get(model, {}).get(key) for key in keys]
            rows.append(row)
        if board.random:
            row = [board.dataset, board.protocol, board.same_candidates, RANDOM_ROW, None]
            for key in keys:
                row += [board.random.get(key), None]
            rows.append(row + [None] * len(keys))
    return _csv(header, rows)


def cost_csv(boards):
    names = list(COSTS)
    header = ["dataset", "protocol", "model", "seeds"] + [f"{n}_{part}" for n in names for part in ("mean", "std")]
    rows = []
    for board in boards:
        for model in board.models:
            row = [board.dataset, board.protocol, model, board.seeds[model]]
            for name in names:
                summary = board.cost[model][name]
                row += [None, None] if summary is None else [summary.mean, summary.std]
            rows.append(row)
    return _csv(header, rows)


def significance_csv(boards):
    header = ["dataset", "protocol", "same_candidates", "metric", "reference", "other", "method", "paired_over", "n",
              "seeds", "difference", "statistic", "p_value", "note"]
    rows = [[b.dataset, b.protocol, b.same_candidates, t.metric, t.reference, t.other, t.method, t.paired_over, t.n,
             t.seeds, t.difference, t.statistic, t.p_value, t.note] for b in boards for t in b.significance]
    return _csv(header, rows)


def pairwise_csv(boards):
    """One row per dataset, other model, metric and test: each seed's Wilcoxon, the pooled one, the seeds' t-test."""
    header = ["dataset", "protocol", "same_candidates", "metric", "reference", "other", "test", "seed", "method",
              "paired_over", "n", "difference", "statistic", "p_value", "note"]
    rows = []
    for board in boards:
        for tests in board.pairwise:
            named = [(f"seed {seed}", seed, t) for seed, t in tests.per_seed.items()]
            named += [("pooled", None, tests.pooled), ("across seeds", None, tests.across_seeds)]
            rows += [[board.dataset, board.protocol, board.same_candidates, t.metric, t.reference, t.other, name, seed,
                      t.method, t.paired_over, t.n, t.difference, t.statistic, t.p_value, t.note]
                     for name, seed, t in named]
    return _csv(header, rows)
