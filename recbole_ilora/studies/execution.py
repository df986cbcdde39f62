"""How much a run's numbers move with the way it executes: the same experiment (iLoRA's main job on ml-100k, seed
2020) at one intra-op thread, at two, and as two data-parallel processes of one thread each (torchrun, the same
global batch: ``gradient_accumulation_steps`` halved). Threads and processes are runtime settings, left out of the
config hash; this study measures what that costs in reproducibility, and what each way costs in time.

    python run_scripts/execution_sensitivity.py                 # the three runs (resumable), then the table
    python run_scripts/execution_sensitivity.py --report_only

Each way writes to its own results folder under ``--out`` (the three share a hash); the first to run trains the
SASRec encoder and the others use its checkpoint, so all three rank with the same encoder and candidates.
Writes ``OUT/execution.md``: test Hit@1 and NDCG@5 with 95% intervals, the share of users whose target rank differs
from the one-thread run, the Wilcoxon test paired over users against it, and the wall time of each stage.
"""

import argparse
import json
import sys
from pathlib import Path

from tabulate import tabulate

from recbole_ilora.files import write_text_atomic
from recbole_ilora.leaderboard import runs
from recbole_ilora.leaderboard.collect import candidate_files
from recbole_ilora.leaderboard.stats import (format_interval, mean_interval, per_user_values, random_ranking_metric,
                                              significance)

DATASET, SEED, PROTOCOL, CANDIDATES = "ml-100k", 2020, "candidates20", 20
METRICS = ("hit@1", "ndcg@5")
# name -> (folder, processes, extra --key=value)
WAYS = {
    "1 thread": ("threads1", 1, ["--cpu_threads=1"]),
    "2 threads": ("threads2", 1, ["--cpu_threads=2"]),
    "2 processes x 1 thread": ("processes2", 2, ["--cpu_threads=1", "--gradient_accumulation_steps=1"]),
}
REFERENCE = "1 thread"
# The backbone dtype, pinned: ``dtype: auto`` resolves to bfloat16 on a CPU that multiplies it natively and to float32
# elsewhere, which would make the ways different experiments on different machines (float32: the first way ran on
# a CPU without native bf16).
COMMON_KEYS = ["--dtype=float32"]


def torchrun_runner(processes):
    """A ``runs.execute`` runner that starts the job under ``torchrun`` with ``processes`` processes."""
    def run(job, log_file):
        python, *arguments = job.command()
        command = [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *arguments]
        return runs.run_logged(job, command, log_file)
    return run


def encoder_files(out, folder):
    """The JSON results of the SASRec encoder that the way in ``folder`` trained (none if it used an earlier one's)."""
    return sorted((Path(out) / folder / "encoders" / DATASET / PROTOCOL).glob("SASRec-*.json"))


def encoder_checkpoint(out):
    """The SASRec checkpoint that an earlier way trained as its encoder stage, while that file is still on this
    machine (a fresh clone has the committed JSONs but not the checkpoints: the next way then trains the encoder
    again, with the same seed, data and encoder config)."""
    found = sorted(path for folder, _, _ in WAYS.values() for path in encoder_files(out, folder))
    checkpoints = [json.loads(path.read_text())["checkpoint"] for path in found]
    present = [checkpoint for checkpoint in checkpoints if Path(checkpoint).is_file()]
    return present[0] if present else None


def plan(way, out, extra, encoder):
    folder, processes, keys = WAYS[way]
    given = [f"--sasrec_checkpoint={encoder}"] if encoder else []
    [job] = runs.plan(["iLoRA"], [DATASET], [SEED], PROTOCOL, str(Path(out) / folder),
                      overrides=[*COMMON_KEYS, *keys, *given, *extra], processes=processes)
    return job


def finished(out):
    """``{way: result}`` of the finished runs."""
    results = {}
    for way, (folder, _, _) in WAYS.items():
        found = sorted((Path(out) / folder / DATASET / PROTOCOL).glob("iLoRA-*.json"), key=lambda p: p.stat().st_mtime)
        if found:
            results[way] = json.loads(found[-1].read_text())
    return results


def encoder_lines(out):
    """Whether the ways' SASRec encoders (each way trains its own where no checkpoint is on the machine) rank every
    test user's target where the first way's encoder does: the same encoder in effect, whatever its machine."""
    ranks = {}
    for way, (folder, _, _) in WAYS.items():
        found = encoder_files(out, folder)
        if found:
            test = json.loads(found[0].read_text())["per_user_test"]
            ranks[way] = dict(zip(test["user"], test["rank"]))
    if len(ranks) < 2:
        return []
    (first, reference), *others = ranks.items()
    lines = []
    for way, mine in others:
        differing = sum(mine.get(user) != rank for user, rank in reference.items())
        lines.append(f"- encoder of {way} vs encoder of {first}: {differing} of {len(reference)} test users rank "
                     f"their target elsewhere")
    return lines


def _interval(values):
    return format_interval(*mean_interval(values))


def cpu_kernels(result):
    """The CPU kernels a run's floats came from (``run_info.machine_description``), '-' where not recorded."""
    return next((line.split(":", 1)[1].strip() for line in result.get("machine", [])
                 if line.startswith("CPU kernels:")), "-")


def table(results):
    reference = results.get(REFERENCE)
    rows = []
    for way, result in results.items():
        per_user = {metric: per_user_values(result, metric) for metric in METRICS}
        users = result["per_user_test"]["user"]
        row = [way, result["threads"], result["world_size"], result["config"].get("dtype", "-"), cpu_kernels(result),
               len(users)]
        row += [_interval([per_user[metric][user] for user in users]) for metric in METRICS]
        if reference is not None and way != REFERENCE:
            mine = dict(zip(users, result["per_user_test"]["rank"]))
            theirs = dict(zip(reference["per_user_test"]["user"], reference["per_user_test"]["rank"]))
            row.append(f"{sum(mine[user] != theirs[user] for user in users) / len(users):.1%}")
            test = significance([result], [reference], "hit@1", way, REFERENCE)
            row.append(f"{test.difference:+.4f}, p = {test.p_value:.2g}" if test.p_value is not None else "-")
        else:
            row += ["-", "-"]
        times = result["time_s"]
        row += [f"{times['train'] / 60:.1f}", f"{times['test'] / 60:.1f}", f"{times['total'] / 60:.1f}"]
        rows.append(row)
    headers = ["way", "threads", "processes", "dtype", "CPU kernels", "test users", "Hit@1 [95%]", "NDCG@5 [95%]",
               f"users whose rank differs from {REFERENCE}", f"Hit@1 vs {REFERENCE} (Wilcoxon over users)",
               "train min", "test min", "total min"]
    return tabulate(rows, headers=headers, tablefmt="github")


def against_baselines(results, folder):
    """Each way's test Hit@1 against Pop and SASRec on the same users and candidates (their leaderboard runs), with
    the Wilcoxon test paired over users; random ranking for scale."""
    lines = []
    for model in ("Pop", "SASRec"):
        files = candidate_files(folder, model, DATASET, SEED, PROTOCOL)
        if not files:
            continue
        baseline = json.loads(files[-1].read_text())
        users = baseline["per_user_test"]["user"]
        lines.append(f"- {model} (`{files[-1]}`): Hit@1 {_interval([per_user_values(baseline, 'hit@1')[u] for u in users])}")
        for way, result in results.items():
            test = significance([result], [baseline], "hit@1", way, model)
            if test.p_value is not None:
                lines.append(f"  - {way} vs {model}: difference {test.difference:+.4f}, {test.label}, "
                             f"p = {test.p_value:.2g}")
    return lines + [f"- random ranking: Hit@1 {random_ranking_metric('hit@1', CANDIDATES):.4f}"] if lines else []


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--out", default="docs/execution", help="results folder (default: %(default)s)")
    parser.add_argument("--report_only", action="store_true", help="run nothing, render what exists")
    parser.add_argument("--baselines", default="docs/leaderboard/results",
                        help="results folder holding Pop and SASRec of seed 2020 (default: %(default)s)")
    parser.add_argument("--ways", default=",".join(WAYS), help="comma-separated ways to run (default: all: %(default)s)")
    args, extra = parser.parse_known_args(argv)
    ways = [way.strip() for way in args.ways.split(",") if way.strip()]
    unknown = [way for way in ways if way not in WAYS]
    if unknown:
        parser.error(f"unknown way(s) {unknown}; known: {', '.join(WAYS)}")
    failed = []
    if not args.report_only:
        for way in ways:
            processes = WAYS[way][1]
            job = plan(way, args.out, extra, encoder_checkpoint(args.out))
            if job.error:
                print(f"cannot plan {way}: {job.error}", file=sys.stderr)
                failed.append(way)
                continue
            runner = torchrun_runner(processes) if processes > 1 else runs.subprocess_runner
            outcome = runs.execute([job], Path(args.out) / "logs" / WAYS[way][0], runner=runner)
            failed += [way for _ in outcome.failed]
    results = finished(args.out)
    if not results:
        print("No finished runs to report.", file=sys.stderr)
        return 1
    text = ["# iLoRA's main job under three ways of executing it (ml-100k, candidates20, seed 2020)", "",
            "One command's experiment, run at one intra-op thread, at two, and as two data-parallel processes "
            "(torchrun, gloo) of one thread with the same global batch; the same encoder and candidates, the "
            "backbone in float32 (pinned: `dtype: auto` would pick bfloat16 on a CPU that multiplies it natively). "
            "CPU kernels: those torch dispatched to, from each JSON's machine lines ('-': a run made before they "
            "were recorded); ways run on different machines differ by machine as well as by way.", "",
            table(results), "", *encoder_lines(args.out), *against_baselines(results, args.baselines), ""]
    write_text_atomic("\n".join(text), Path(args.out) / "execution.md")
    print("\n".join(text))
    return 1 if failed else 0
