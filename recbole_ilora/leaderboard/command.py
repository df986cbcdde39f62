"""The ``leaderboard`` command: run models x datasets x seeds through ``run_recbole``, then write the tables, plots
and LEADERBOARD.md. See ``build_parser`` for the options."""

import argparse
import os
import shlex
import sys
from pathlib import Path

from recbole_ilora.leaderboard import board as boards_module
from recbole_ilora.leaderboard import plots, report, runs, tables
from recbole_ilora.leaderboard.collect import collect
from recbole_ilora.errors import (OutputFolderError, add_debug_flag, exit_on_user_error, refuse_empty,
                                  sigterm_as_interrupt)
from recbole_ilora.files import MarkedBlockError, check_writable, marked_text, replace_marked_block, write_text_atomic
from recbole_ilora.paths import read_user_text
from recbole_ilora.registry import OWN_MODELS

DEFAULT_MODELS = "iLoRA,LoRARec,TALLRec,SASRec,GRU4Rec,Caser,Pop"
DEFAULT_REFERENCE = "iLoRA"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="leaderboard",
        allow_abbrev=False,  # "--model=x" must stay a pass-through config key, not become --models
        description="Run every model x dataset x seed through run_recbole (one subprocess each; finished runs, "
                    "found by their config hash, are skipped; a failed run is reported and the others go on, but a "
                    "combination the input makes impossible, such as an unknown model, stops it before any run), "
                    "then write Markdown / LaTeX / CSV tables, PNG plots and LEADERBOARD.md.",
        epilog="Any other --key=value is passed to every run and is part of its config hash, e.g. --epochs=5 "
               "--cpu_threads=1; the keys the leaderboard sets (seed, model, dataset, protocol, results_dir, "
               "config_files) are refused there and in --config_files. Exit status: 0, or 1 when a run failed or no "
               "result was found, 2 on bad arguments.",
    )
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated (default: %(default)s)")
    parser.add_argument("--datasets", default="ml-100k,lastfm",
                        help="comma-separated, each NAME or NAME:PROTOCOL (a dataset with its own protocol, e.g. "
                             "llara-lastfm:llara; the others take --protocol) (default: %(default)s)")
    parser.add_argument("--seeds", default="2020,2021,2022", help="comma-separated integers (default: %(default)s)")
    parser.add_argument("--protocol", default="candidates20",
                        help="evaluation protocol of the datasets that name none (default: %(default)s)")
    parser.add_argument("--config_files", default=None, help="space-separated YAML files for every run")
    parser.add_argument("--out", default="results", help="results folder, run_recbole's results_dir (default: "
                                                          "%(default)s); run logs go to OUT/leaderboard-logs/")
    parser.add_argument("--report", default="LEADERBOARD.md",
                        help="Markdown report to write; an existing file is replaced only if it is a report of this "
                             "script (default: %(default)s)")
    parser.add_argument("--figures", default="docs/leaderboard", help="folder for the PNG plots (default: %(default)s)")
    parser.add_argument("--tables", default="docs/leaderboard",
                        help="folder for the LaTeX and CSV tables (default: %(default)s)")
    parser.add_argument("--reference", default=None,
                        help="model of --models compared with the others: relative improvement, significance, gate "
                             f"plot (default: {DEFAULT_REFERENCE}; no comparison when it is not among --models)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default: %(default)s)")
    parser.add_argument("--readme", help="also rewrite the headline block of this file (README.md) between its "
                                         "markers, from the same results")
    parser.add_argument("--notes", default=None, help="Markdown file with the analysis, copied into the report")
    parser.add_argument("--allow_different_candidates", action="store_true",
                        help="report models of one dataset and seed that ranked different candidates or were "
                             "tested on different users (refused otherwise), marked in every table")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--report_only", action="store_true",
                      help="run nothing; render from the results in OUT (with overrides or --config_files: exactly "
                           "the runs with their config hash; without: the latest result of each combination)")
    mode.add_argument("--dry_run", action="store_true", help="list what would run and what would be skipped")
    add_debug_flag(parser)
    return parser


def _split(text):
    return [item.strip() for item in text.split(",") if item.strip()]


def _invocation(argv):
    """The command line as a user would retype it (the script's form when called from Python)."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    if script.name == "leaderboard":
        program = ["leaderboard"]
    elif script.name == "leaderboard.py":
        program = ["python", os.path.relpath(script)]
    else:
        program = ["python", "run_scripts/leaderboard.py"]
    return " ".join(program + [_quote(arg) for arg in argv])


def _quote(arg):
    """Shell quoting that keeps Python-literal overrides readable: double quotes where they are safe."""
    quoted = shlex.quote(arg)
    if quoted != arg and not any(char in arg for char in '"$`\\!'):
        return f'"{arg}"'
    return quoted


def _dataset_protocols(parser, text, protocol, known):
    """``{dataset: protocol}`` from ``--datasets`` (``NAME`` or ``NAME:PROTOCOL``), in the given order."""
    protocols = {}
    for item in _split(text):
        dataset, _, own = item.partition(":")
        dataset, own = dataset.strip(), own.strip() or protocol
        if not dataset:
            parser.error(f"--datasets item {item!r} names no dataset; write NAME or NAME:PROTOCOL")
        if own not in known:
            parser.error(f"unknown protocol {own!r} for dataset {dataset} in --datasets; available: {', '.join(known)}")
        if protocols.get(dataset, own) != own:
            parser.error(f"--datasets names {dataset} with two protocols ({protocols[dataset]}, {own}); give it one")
        protocols[dataset] = own
    return protocols


def parse_arguments(argv):
    """``(args, overrides, models, protocols, seeds)``, ``protocols`` mapping each dataset to its protocol; exits
    with status 2 on bad arguments."""
    from recbole_ilora.config import available_protocols, parse_cmd_args, refuse_keys_set_elsewhere
    from recbole_ilora.errors import ConfigurationError

    parser = build_parser()
    args, overrides = parser.parse_known_args(argv)
    refuse_empty(parser, {"--config_files": args.config_files})
    try:
        refuse_keys_set_elsewhere(parse_cmd_args(overrides), args.config_files.split() if args.config_files else [],
                                  {key: f"set by the leaderboard for each run: use {option}"
                                   for key, option in runs.LEADERBOARD_KEYS.items()})
    except ConfigurationError as error:
        parser.error(str(error))
    if args.protocol not in available_protocols():
        parser.error(f"unknown protocol {args.protocol!r}; available: {', '.join(available_protocols())}")
    models = _split(args.models)
    datasets = _dataset_protocols(parser, args.datasets, args.protocol, available_protocols())
    try:
        seeds = [int(seed) for seed in _split(args.seeds)]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if not (models and datasets and seeds):
        parser.error("--models, --datasets and --seeds each need at least one value")
    refuse_repeated(parser, {"--models": models, "--seeds": seeds})
    if args.reference is None:
        args.reference = DEFAULT_REFERENCE
    elif args.reference not in models:
        parser.error(f"--reference {args.reference} is not among --models ({', '.join(models)}): add it to --models "
                     f"or name one of them")
    try:
        args.notes_text = read_user_text("--notes", args.notes) if args.notes else None
        if args.readme:
            marked_text("--readme", args.readme, report.HEADLINE_BEGIN, report.HEADLINE_END)
    except (ConfigurationError, MarkedBlockError) as error:
        parser.error(str(error))
    if not 0 < args.alpha < 1:
        parser.error(f"--alpha is a significance level in (0, 1), got {args.alpha}")
    try:
        refuse_unusable_folders({"--figures": args.figures, "--tables": args.tables,
                                 f"--report {args.report}: its folder": Path(args.report).parent})
        refuse_unusable_folders({"--out": args.out}, written=not args.report_only)
    except OutputFolderError as error:
        parser.error(str(error))
    _refuse_report_path(parser, Path(args.report))
    return args, overrides, models, datasets, seeds


def refuse_repeated(parser, lists):
    """``parser.error`` when one of the options' lists (``{option: values}``) names a value twice."""
    for option, values in lists.items():
        repeated = sorted({str(value) for value in values if values.count(value) > 1})
        if repeated:
            parser.error(f"{option} names {', '.join(repeated)} more than once; give each once")


def refuse_unusable_folders(folders, written=True):
    """Raise ``OutputFolderError`` for a folder option (``{option: folder}``) that names a file or, when ``written``,
    cannot be written (under a file, not writable): checked before any run starts, not after hours."""
    for option, folder in folders.items():
        if Path(folder).exists() and not Path(folder).is_dir():
            raise OutputFolderError(f"{option} {folder} is a file; it names a folder: give a folder's path")
        if written:
            check_writable(folder, option)


def _refuse_report_path(parser, path):
    """``parser.error`` when writing the report to ``path`` would fail (a folder) or lose a file this script did
    not generate (a user's notes, a script)."""
    if path.is_dir():
        parser.error(f"--report {path} is a folder; it names the Markdown file to write, e.g. "
                     f"--report={path / 'LEADERBOARD.md'}")
    if path.exists():
        try:
            with open(path, "rb") as handle:
                head = handle.read(400).decode("utf-8", "replace")
        except OSError:
            head = ""
        if not report.GENERATED_REPORT.match(head):
            parser.error(f"--report {path} exists and is not a report of this script (it does not begin with "
                         f"'# Leaderboard' and 'Generated ... by the leaderboard script'), so it would be lost: give "
                         f"another --report path, or delete {path} if it is not needed")


def main(argv=None, runner=runs.subprocess_runner):
    """Run the leaderboard; return the exit status. ``runner`` runs one job (tests inject a fake one)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args, overrides, models, protocols, seeds = parse_arguments(argv)
    with sigterm_as_interrupt(), exit_on_user_error("leaderboard", args.debug):
        return _main(args, overrides, models, protocols, seeds, argv, runner)


def _main(args, overrides, models, protocols, seeds, argv, runner):
    config_files = args.config_files.split() if args.config_files else []

    outcome, files = None, None
    if not args.report_only or overrides or config_files:
        jobs = [job for dataset, protocol in protocols.items()
                for job in runs.plan(models, [dataset], seeds, protocol, args.out, config_files, overrides)]
        runs.refuse_unplannable((f"--models {job.model} on --datasets {job.dataset} (seed {job.seed})", job)
                                for job in jobs)
        files = {(job.model, job.dataset, job.seed): job.result_file for job in jobs if job.result_file}
        if args.dry_run:
            print("\n".join(runs.describe(jobs)))
            return 0
        if not args.report_only:
            outcome = runs.execute(jobs, Path(args.out) / "leaderboard-logs", runner=runner)

    collection = collect(args.out, models, list(protocols), seeds, protocols, files=files,
                         allow_different_candidates=args.allow_different_candidates)
    failures = outcome.failed if outcome else []
    if not collection:
        ignored = f" {len(collection.ignored)} result file(s) were ignored: {' '.join(collection.ignored)}" \
            if collection.ignored else ""
        print(f"No results under {args.out} for {', '.join(models)} on "
              f"{', '.join(f'{d} ({p})' for d, p in protocols.items())}, seeds {', '.join(map(str, seeds))}: "
              f"nothing to report.{ignored}", file=sys.stderr)
        _print_failures(failures)
        return 1

    generation = None if files is None else _generation_runs(args, models, protocols, seeds, overrides, config_files)
    boards = boards_module.build_boards(collection, args.reference, generation)
    figures, tables_dir = Path(args.figures), Path(args.tables)
    metric_figures = {board.dataset: figures / f"leaderboard_metrics_{board.dataset}.png" for board in boards}
    for board in boards:
        plots.metric_plot(board, metric_figures[board.dataset])
    gate_runs = boards_module.gate_runs(collection, args.reference)
    gate_figure = figures / "leaderboard_gates.png" if gate_runs else None
    if gate_runs:
        plots.gate_plot(gate_runs, gate_figure, args.reference)
    table_files = [
        write_text_atomic(tables.latex_document(boards), tables_dir / "leaderboard.tex"),
        write_text_atomic(tables.metrics_csv(boards, args.reference), tables_dir / "leaderboard_metrics.csv"),
        write_text_atomic(tables.cost_csv(boards), tables_dir / "leaderboard_cost.csv"),
        write_text_atomic(tables.significance_csv(boards), tables_dir / "leaderboard_significance.csv"),
        write_text_atomic(tables.pairwise_csv(boards), tables_dir / "leaderboard_pairwise.csv"),
    ]
    text = report.build_report(
        boards, collection, args.report, _invocation(argv), metric_figures, gate_figure, table_files, failures,
        notes=args.notes_text, alpha=args.alpha, reference=args.reference,
    )
    write_text_atomic(text, args.report)
    print(f"Report: {args.report}; figures: {figures}; tables: {tables_dir}")
    if args.readme:
        replace_marked_block("--readme", args.readme, report.HEADLINE_BEGIN, report.HEADLINE_END,
                             report.headline_block(boards, args.alpha))
        print(f"Headline of {args.readme} updated.")
    if outcome:
        print(f"Runs: {len(outcome.finished)} finished, {len(outcome.skipped)} skipped (already done), "
              f"{len(outcome.failed)} failed.")
    _print_failures(failures)
    return 1 if failures else 0


GENERATION_OVERRIDE = "--generation_eval=True"


def _generation_runs(args, models, protocols, seeds, overrides, config_files):
    """The finished generation runs of the LLM models: their planned experiment with ``generation_eval: True`` (a
    run of its own, since decoding is part of a run's identity), found by config hash; None when there are none, or
    when the planned runs are those runs already."""
    llm_models = [model for model in models if model in OWN_MODELS]
    if not llm_models or any(o.startswith("--generation_eval=") for o in overrides):
        return None
    jobs = [job for dataset, protocol in protocols.items()
            for job in runs.plan(llm_models, [dataset], seeds, protocol, args.out, config_files,
                                 [*overrides, GENERATION_OVERRIDE])]
    files = {(job.model, job.dataset, job.seed): job.result_file for job in jobs if job.done()}
    if not files:
        return None
    return collect(args.out, llm_models, list(protocols), seeds, protocols, files=files,
                   allow_different_candidates=args.allow_different_candidates)


def _print_failures(failures):
    if failures:
        print(f"{len(failures)} run(s) FAILED:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure.job.name}: {runs.first_line(failure.reason)}\n    log: {failure.log_file}",
                  file=sys.stderr)
