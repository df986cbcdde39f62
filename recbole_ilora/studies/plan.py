"""A study's runs: every arm x dataset x seed planned as the leaderboard plans its runs (``leaderboard.runs.plan``:
the Config ``run_recbole`` would build, hence the result's path and hash), plus the leaderboard runs of the
baselines, and what each unfinished run is expected to cost.

An LLM arm gets the study's ``keys`` and ``llm_keys`` (its CPU budget), a RecBole model's arm the ``keys`` only
(``llm_keys`` are not RecBole's); a budget key the user sets (``--key=value``, ``--config_files`` such as
properties/budget/gpu_full.yaml) replaces the spec's, so that the study scales to another budget. Baselines are ordinary leaderboard runs (no study keys), reused by hash from the
leaderboard's results folder, and compared on the arms' test users through their per-user ranks.
"""

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from recbole_ilora.config import parse_cmd_args, read_config_file
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.leaderboard import runs
from recbole_ilora.model.llm_recommender import LLMRecommender
from recbole_ilora.registry import get_model
from recbole_ilora.run_info import machine_description
from recbole_ilora.studies.spec import RUN_KEYS

# Fallback costs when no finished run of the model on the dataset says better: iLoRA's main job on this 2-core box
# (float32, two processes; docs/execution), and a classic model's early-stopped run on ml-100k (one thread).
FALLBACK_SECONDS_PER_PROMPT = 2.8
FALLBACK_SECONDS_PER_USER = 1.3
FALLBACK_CLASSIC_SECONDS = 2600.0


@dataclass
class StudyRun:
    arm: str  # the arm's name, or "baseline"
    job: runs.Job


def is_llm(model):
    return issubclass(get_model(model), LLMRecommender)


def keys_the_study_sets(spec):
    """``{key: "set by WHO: what to do instead"}``: what each run of the study gets from the study itself (its options,
    every arm's keys, the keys that define an arm's model). An extra --key=value would override one of them under a
    label it makes untrue (K=4, "the default", run with 8 experts), and a config file's value would be overridden
    without a word: both are refused. The spec's ``keys`` and ``llm_keys`` are its budget, which the user may
    replace (``plan_study``)."""
    setters = {}
    for arm in spec.arms.values():
        for key in arm.keys:
            setters.setdefault(key, []).append(f"arm {arm.name}")
        for key in (get_model(arm.model).defining_keys if is_llm(arm.model) else {}):
            setters.setdefault(key, []).append(f"arm {arm.name}'s model {arm.model}")
    refused = {key: f"set by {', '.join(who)} in study {spec.name} ({spec.path}): edit the study spec (or a copy of "
                    f"it, run as study COPY.yaml), or give the value as an arm's key"
               for key, who in setters.items()}
    return {**refused, **{key: f"set by the study for each run: use {where}" for key, where in RUN_KEYS.items()}}


def _arguments(keys):
    return [f"--{key}={value}" for key, value in keys.items()]


def plan_study(spec, datasets, seeds, results_dir, baselines_dir, extra=(), arms=None, reuse_dirs=(),
               config_files=()):
    """``[StudyRun]``: datasets outermost, then seeds, then the ``arms`` (default: the spec's ``default_arms``) in
    the spec's order, then the baselines. An arm's finished result is looked for in ``results_dir``, then
    ``baselines_dir``, then ``reuse_dirs``."""
    chosen = [spec.arms[name] for name in spec.arms if name in (arms or spec.default_arms)]
    replaced = set(parse_cmd_args(extra)).union(*(read_config_file(file) for file in config_files))
    planned = []
    for dataset in datasets:
        for seed in seeds:
            for arm in (arm for arm in chosen if arm.runs_on(dataset)):
                budget = {**spec.keys, **(spec.llm_keys if is_llm(arm.model) else {})}
                keys = {**{key: value for key, value in budget.items() if key not in replaced}, **arm.keys}
                [job] = runs.plan([arm.model], [dataset], [seed], arm.protocol, results_dir, config_files,
                                  overrides=[*_arguments(keys), *extra])
                planned.append(StudyRun(arm.name, _found_in(job, results_dir, [baselines_dir, *reuse_dirs])))
            _refuse_equal_arms(spec, [run for run in planned if run.job.dataset == dataset and run.job.seed == seed])
            protocols = sorted({arm.protocol for arm in chosen})
            for model in spec.baselines:
                for protocol in protocols:
                    [job] = runs.plan([model], [dataset], [seed], protocol, baselines_dir, config_files,
                                      overrides=list(extra))
                    planned.append(StudyRun("baseline", job))
    return planned


def _refuse_equal_arms(spec, planned):
    """Two arms of one dataset and seed that are one experiment (the same hash) would test a run against itself
    under two names."""
    first = {}
    for run in planned:
        if run.job.error is None:
            earlier = first.setdefault(run.job.result_file, run.arm)
            if earlier != run.arm:
                raise ConfigurationError(
                    f"arms {earlier} and {run.arm} of study {spec.name} ({spec.path}) are one experiment "
                    f"({run.job.name}, the same keys: {run.job.result_file.name}): give one of them the keys that "
                    f"make it differ, or drop it.")


def _found_in(job, results_dir, folders):
    """``job``, pointed at the result of the same experiment in one of ``folders`` when it has none in
    ``results_dir`` (an arm at the leaderboard's settings, such as iLoRA's default, is the leaderboard's own run:
    the same hash, the same file name, the same candidates)."""
    if job.result_file is not None and not job.done():
        for folder in folders:
            there = Path(folder) / job.result_file.relative_to(results_dir)
            if there.is_file():
                job.result_file = there
                break
    return job


def _processor(lines):
    return [line for line in lines if line.startswith(("CPU:", "GPU:"))]


def _finished_results(folders, model, dataset):
    """Finished results of ``model`` on ``dataset`` under ``folders``: those that ran on this kind of machine (the
    same CPU or GPU line of ``run_info.machine_description``) when there are any, else all of them."""
    found = []
    for folder in folders:
        for path in Path(folder).glob(f"**/{dataset}/*/{model}-seed*.json"):
            try:
                found.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
    here = _processor(machine_description())
    same = [result for result in found if _processor(result.get("machine", [])) == here]
    return same or found


def estimate_seconds(job, done):
    """Expected wall time of ``job``: from ``done``, the finished runs of its model on its dataset (seconds per
    training prompt and per test user for an LLM model, the whole run for a RecBole model), else the fallbacks
    measured on this project's 2-core machine."""
    keys = dict(arg[2:].split("=", 1) for arg in job.cmd_args if arg.startswith("--") and "=" in arg)
    if not is_llm(job.model):  # a training epoch's time follows the share of training users kept
        share = float(keys["train_user_share"]) if keys.get("train_user_share", "None") != "None" else 1.0
        return share * (statistics.median(r["time_s"]["total"] for r in done) if done else FALLBACK_CLASSIC_SECONDS)
    per_prompt = [r["time_s"]["train"] / (r["config"]["train_samples_per_epoch"] * r["config"]["epochs"])
                  for r in done if r["config"].get("train_samples_per_epoch")]
    per_user = [r["time_s"]["test"] / len(r["per_user_test"]["user"]) for r in done
                if r.get("per_user_test") and r["time_s"].get("test")]
    prompts = int(keys.get("train_samples_per_epoch", 1024)) * int(keys.get("epochs", 1))
    if keys.get("transfer_from", "None") != "None":  # evaluates another run's weights: trains nothing itself
        prompts = 0
    users = int(keys["eval_users"]) if keys.get("eval_users", "None") != "None" else 943
    return (prompts * (statistics.median(per_prompt) if per_prompt else FALLBACK_SECONDS_PER_PROMPT)
            + users * (statistics.median(per_user) if per_user else FALLBACK_SECONDS_PER_USER))


def describe_plan(planned, folders):
    """``--dry_run``: one line per run (what it is, finished or its command and expected time) and the total."""
    lines, total, done = [], 0.0, {}
    for entry in planned:
        job = entry.job
        name = f"{entry.arm:>12}  {job.name} ({job.protocol})"
        if job.error:
            lines.append(f"fail  {name}: {runs.short(job.error)}")
        elif job.done():
            lines.append(f"skip  {name}: {job.finished_note()}")
        else:
            key = (job.model, job.dataset)  # each model's results are read once, not once per run
            if key not in done:
                done[key] = _finished_results(folders, *key)
            seconds = estimate_seconds(job, done[key])
            total += seconds
            lines.append(f"run   {name}: ~{seconds / 60:.0f} min: {' '.join(job.command(python='python')[1:])}")
    to_run = sum(line.startswith("run") for line in lines)
    lines.append(f"{to_run} to run (~{total / 3600:.1f} h on this kind of machine), "
                 f"{sum(line.startswith('skip') for line in lines)} finished.")
    return lines
