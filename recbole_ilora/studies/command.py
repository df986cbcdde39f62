"""``study NAME``: run one of the paper's analyses as ordinary runs, then write its page.

    study experts                                   # ml-100k, seed 2020, the study's CPU budget (resumable)
    study experts --dry_run                         # the runs, which are finished, and the expected time
    study experts --datasets ml-100k,lastfm --seeds 2020,2021,2022
    study experts --config_files=properties/budget/gpu_full.yaml     # the paper's budget
    study experts --report_only                     # the page from the results present

Every arm x dataset x seed is one ``run_recbole`` subprocess (``--results_dir``, default ``docs/studies/results``,
shared by all studies: an arm that another study or an earlier session ran is found by its config hash and
skipped). The baselines are the leaderboard's own runs (``--baselines_dir``), run there if missing. Any other
``--key=value`` goes to every run and into its hash, except a key the study sets itself (its options, the spec's
keys, an arm's keys, the keys that define an arm's model), which is refused there and in --config_files. Writes
``OUT/NAME/NAME.md`` (tables with 95% intervals, Wilcoxon tests, n), ``NAME.csv``, ``NAME.png``, ``summary.json``
and the index ``OUT/README.md``; a file there that no run of the same spec wrote (a hand-written page or README, the
page of another spec of the same name) is refused, not replaced, before any run.
"""

import argparse
import re
import shlex
import sys
from pathlib import Path

from recbole_ilora.config import parse_cmd_args, refuse_keys_set_elsewhere
from recbole_ilora.errors import (ConfigurationError, OutputExistsError, OutputFolderError, add_debug_flag,
                                  exit_on_user_error, refuse_empty, sigterm_as_interrupt)
from recbole_ilora.files import write_json_atomic, write_text_atomic
from recbole_ilora.leaderboard import runs
from recbole_ilora.leaderboard.command import refuse_repeated, refuse_unusable_folders
from recbole_ilora.paths import PROPERTIES_DIR, check_plain_name
from recbole_ilora.quick_start import run
from recbole_ilora.studies import arms, conflict, gates
from recbole_ilora.studies.index import check_index, write_index
from recbole_ilora.studies.plan import describe_plan, keys_the_study_sets, plan_study
from recbole_ilora.studies.spec import available_studies, load_spec


# A spec's ``analysis`` beyond the arms' table: its page section (heading, module with ``section``).
SECTIONS = {"gates": ("Gates", gates), "conflict": ("Gradient conflict", conflict)}


def _list(text):
    return [part.strip() for part in text.split(",") if part.strip()]


def _folder_name(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("name", help=f"the study: {', '.join(available_studies())}")
    parser.add_argument("--datasets", default=None, help="comma-separated (default: the study's, else ml-100k)")
    parser.add_argument("--seeds", default="2020", help="comma-separated (default: %(default)s)")
    parser.add_argument("--arms", default=None,
                        help="comma-separated arms, or 'all' (default: the spec's default_arms, its CPU default)")
    parser.add_argument("--config_files", default=None, help="space-separated YAML files given to every run")
    parser.add_argument("--results_dir", default="docs/studies/results", help="the runs' JSON results")
    parser.add_argument("--baselines_dir", default="docs/leaderboard/results", help="the baselines' JSON results")
    parser.add_argument("--reuse_dirs", default="",
                        help="comma-separated results folders where an arm's finished run of the same hash is also "
                             "looked for (e.g. docs/execution/processes2: the main job)")
    parser.add_argument("--out", default="docs/studies", help="where the study's page goes (default: %(default)s)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry_run", action="store_true", help="list the runs and their expected time, run nothing")
    mode.add_argument("--report_only", action="store_true", help="run nothing, write the page from what exists")
    add_debug_flag(parser)
    args, extra = parser.parse_known_args(argv)
    bad = [arg for arg in extra if not re.fullmatch(r"--[A-Za-z_][A-Za-z0-9_]*=.*", arg)]
    if bad:
        parser.error(f"unrecognised argument(s) {bad}: options are listed by --help, config keys go as --key=value")
    try:
        args.seeds = [int(seed) for seed in _list(args.seeds)]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    args.datasets = None if args.datasets is None else _list(args.datasets)
    for dataset in args.datasets or []:
        try:
            check_plain_name("--datasets", dataset)
        except ConfigurationError as error:
            parser.error(f"{error} The study takes dataset names only: each arm's protocol is in the study spec "
                         f"(NAME:PROTOCOL is the leaderboard's form).")
    args.arms = None if args.arms is None else _list(args.arms)
    if args.datasets == [] or not args.seeds or args.arms == []:
        parser.error("--datasets, --seeds and --arms each need at least one value (--arms: an arm or 'all')")
    refuse_repeated(parser, {"--datasets": args.datasets or [], "--seeds": args.seeds, "--arms": args.arms or []})
    refuse_empty(parser, {"--config_files": args.config_files})
    args.reuse_dirs = _list(args.reuse_dirs)
    for folder in args.reuse_dirs:
        if not Path(folder).is_dir():
            parser.error(f"--reuse_dirs {folder} {'is a file' if Path(folder).exists() else 'does not exist'}: "
                         f"name results folders of finished runs, e.g. docs/execution/processes2")
    try:
        refuse_unusable_folders({"--out": args.out})
        refuse_unusable_folders({"--results_dir": args.results_dir, "--baselines_dir": args.baselines_dir},
                                written=not args.report_only)
    except OutputFolderError as error:
        parser.error(str(error))
    return parser, args, extra


def chosen_arms(spec, wanted):
    """The arms to plan: the spec's default, every arm (``all``), or the named ones (each checked)."""
    if wanted is None:
        return list(spec.default_arms)
    if wanted == ["all"]:
        return list(spec.arms)
    unknown = [arm for arm in wanted if arm not in spec.arms]
    if unknown:
        raise ConfigurationError(f"--arms: unknown arm(s) {unknown} of study {spec.name!r}; its arms: "
                                 f"{', '.join(spec.arms)}.")
    return wanted


def refuse_overridden_keys(spec, args, extra):
    """``ConfigurationError`` for an extra --key=value or a key of --config_files that the study sets itself
    (``plan.keys_the_study_sets``): refused before any run."""
    refuse_keys_set_elsewhere(parse_cmd_args(extra), args.config_files.split() if args.config_files else [],
                              keys_the_study_sets(spec))


def run_study(spec, args, extra):
    args.chosen = chosen_arms(spec, args.arms)
    planned = plan_study(spec, args.datasets, args.seeds, args.results_dir, args.baselines_dir, extra,
                         arms=args.chosen, reuse_dirs=args.reuse_dirs,
                         config_files=args.config_files.split() if args.config_files else ())
    runs.refuse_unplannable((f"arm {entry.arm}: {entry.job.name}", entry.job) for entry in planned)
    folders = [args.results_dir, args.baselines_dir]
    if args.dry_run:
        print("\n".join(describe_plan(planned, folders)))
        return 0, planned
    failed = [entry for entry in planned if entry.job.error]
    for entry in failed:
        print(f"cannot plan {entry.arm}, {entry.job.name}: {runs.short(entry.job.error)}", file=sys.stderr)
    if not args.report_only:
        for entry in planned:
            if entry.job.error:
                continue
            logs = Path(args.results_dir) / "logs" / spec.name / _folder_name(entry.arm)
            outcome = runs.execute([entry.job], logs)
            failed += [entry for _ in outcome.failed]
    return (1 if failed else 0), planned


def page(spec, args, extra, analyses, missing, sections=()):
    files = [f"--config_files={args.config_files}"] if args.config_files else []
    chosen = [f"--arms={','.join(args.arms)}"] if args.arms else []
    command = shlex.join(["study", spec.name, f"--datasets={','.join(args.datasets)}",
                          f"--seeds={','.join(map(str, args.seeds))}", *chosen, *files, *extra])
    lines = [f"# {spec.title}", "", f"**The paper's claim**: {spec.claim}" + (f" ({spec.source})" if spec.source else ""),
             "", f"Command: `{command}` (spec: `{spec_location(spec)}`).", "", "Arms:", ""]
    for name in args.chosen:
        arm = spec.arms[name]
        keys = {**spec.keys, **arm.keys}
        lines.append(f"- {arm.label}: `{arm.model}`, protocol `{arm.protocol}`"
                     + (f", `{' '.join(f'--{k}={v}' for k, v in keys.items())}`" if keys else "")
                     + (f", on {', '.join(arm.datasets)} only" if arm.datasets else ""))
    if spec.llm_keys:
        lines += ["", f"LLM models' budget: `{' '.join(f'--{k}={v}' for k, v in spec.llm_keys.items())}`."]
    for analysis in analyses:
        lines += ["", f"## {analysis.dataset}", ""]
        if analysis.backbone_budget:
            lines += [f"Runs: {analysis.backbone_budget}.", ""]
        lines += [arms.markdown_table(spec, analysis), "", "Claims:", ""]
        lines += [f"- {v.text()}" for v in analysis.verdicts] or ["- none stated"]
    if sections:
        heading, module = SECTIONS[spec.analysis]
        lines += ["", f"## {heading}", "", module.__doc__.strip().replace("``", "`"), *sections]
    if missing:
        lines += ["", "Not finished (left out of the tables): " + "; ".join(missing) + "."]
    if spec.notes:
        lines += ["", "## Notes", "", spec.notes.strip()]
    return "\n".join(lines) + "\n"


def spec_location(spec):
    """Which spec a page comes from, as the page records it: a built-in study's ``properties/study/NAME.yaml`` (the
    same in every checkout), else the spec file's path from the package's root or, outside it, its absolute path
    (two specs of one name in two folders are two studies)."""
    path, root = Path(spec.path).resolve(), PROPERTIES_DIR.parent
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


# The line of a page that says which spec wrote it (see ``page``): what makes a file this command's to replace.
PAGE_SPEC = re.compile(r"^Command: `study .*` \(spec: `([^`\n]+)`\)\.$", re.MULTILINE)


def output_files(spec, folder):
    """The files a study's report replaces in its folder (besides the section figures its page links)."""
    return [folder / f"{spec.name}.md", folder / f"{spec.name}.csv", folder / f"{spec.name}.png",
            folder / "summary.json"]


def check_outputs(spec, out):
    """Raise ``OutputExistsError`` when the report would replace a file that no run of this spec wrote: a
    hand-written page or README, or the page of another spec of the same name. The folder ``OUT/NAME/`` is the
    spec's whose page ``NAME.md`` names it (its Command line); without that page, none of the report's files may
    be there."""
    folder = Path(out) / spec.name
    page_file, *others = output_files(spec, folder)
    if page_file.exists():
        found = PAGE_SPEC.search(page_file.read_text(errors="replace")) if page_file.is_file() else None
        if found is None:
            raise OutputExistsError(f"--out {out}: {page_file} is not a study page (it has no line 'Command: "
                                    f"`study ...` (spec: ...).'), so it would be lost: give another --out, or move "
                                    f"it away")
        if found[1] != spec_location(spec):
            raise OutputExistsError(f"--out {out}: {page_file} is the page of the study spec {found[1]}, not of "
                                    f"{spec_location(spec)}, so it would be lost: give another --out, rename one of "
                                    f"the spec files, or delete {folder} if that page is not needed")
    else:
        present = [path for path in others if path.exists()]
        if present:
            raise OutputExistsError(f"--out {out}: {present[0]} exists without the study page {page_file} it "
                                    f"belongs to, so it would be lost: give another --out, or move it away")
    check_index(out)


def summary(spec, analyses, section_verdicts=()):
    verdicts = [v for analysis in analyses for v in analysis.verdicts]
    measured = "; ".join(f"{a.dataset}: " + ", ".join(f"{v.claim.better} vs {v.claim.worse} {v.difference:+.3f} "
                                                          f"(p = {v.p_value:.2g})" for v in a.verdicts
                                                          if v.p_value is not None) for a in analyses if a.verdicts)
    # an analysis section tests the study's own claim; the arms' claims are then the runs' quality, for context
    measured_rows = sum(len(a.rows) for a in analyses)
    if section_verdicts or spec.claims:
        verdict = "; ".join(section_verdicts) or arms.overall(verdicts)
    else:  # a spec that only measures: its table is the result
        verdict = "no claim tested: measurements only (the page's table)" if measured_rows else "not run yet"
    budget = next((a.backbone_budget for a in analyses if a.backbone_budget), "")
    return {"name": spec.name, "title": spec.title, "claim": spec.claim, "measured": measured or "-",
            "verdict": verdict, "runs": budget or (f"{measured_rows} arm(s) x dataset(s) finished" if measured_rows
                                                   else "-")}


def report(spec, args, extra, planned):
    by_arm, missing, finished = {}, [], []
    for entry in planned:
        result = arms.read_result(entry.job)
        if result is None:
            missing.append(f"{entry.arm}: {entry.job.name} ({entry.job.protocol})")
        else:
            if entry.arm != "baseline":
                finished.append((entry.arm, entry.job, result))
            key = (entry.job.model, entry.job.protocol) if entry.arm == "baseline" else entry.arm
            by_arm.setdefault(entry.job.dataset, {}).setdefault(key, []).append(result)
    analyses = []
    for dataset in args.datasets:
        found = by_arm.get(dataset, {})
        arm_results = {name: found.get(name, []) for name in spec.arms}
        baselines = {key: value for key, value in found.items() if isinstance(key, tuple)}
        analyses.append(arms.analyse(spec, dataset, arm_results, baselines))
    if not any(analysis.rows for analysis in analyses):
        print(f"study {spec.name}: no finished runs to report yet.", file=sys.stderr)
        return False
    folder = Path(args.out) / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    sections, section_verdicts = SECTIONS[spec.analysis][1].section(spec, finished, folder, run) \
        if spec.analysis in SECTIONS else ([], [])
    text = page(spec, args, extra, analyses, missing, sections)
    page_file, csv_file, figure_file, summary_file = output_files(spec, folder)
    write_text_atomic(text, page_file)
    write_text_atomic(arms.csv_text(spec, analyses), csv_file)
    arms.figure(spec, [a for a in analyses if a.rows], figure_file)
    write_json_atomic(summary(spec, analyses, section_verdicts), summary_file)
    write_index(args.out)
    print(text)
    return True


def main(argv=None):
    parser, args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    with sigterm_as_interrupt(), exit_on_user_error(parser.prog, args.debug):
        spec = load_spec(args.name)
        args.datasets = args.datasets or list(spec.datasets)
        refuse_overridden_keys(spec, args, extra)
        check_outputs(spec, args.out)
        status, planned = run_study(spec, args, extra)
        if args.dry_run:
            return status
        if not report(spec, args, extra, planned):
            return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
