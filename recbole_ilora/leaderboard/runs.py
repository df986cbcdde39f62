"""Plan the leaderboard's combinations and run the unfinished ones, each in its own ``run_recbole`` process.

Planning builds each combination's ``Config`` exactly as ``run_recbole`` would, without training, to learn the
path of its JSON result (``experiment.result_path``: the config hash is in the name). A combination whose result
exists is skipped, and one that left a checkpoint of its hash (a leaderboard killed mid-run) resumes from it, so a
killed leaderboard resumes where it stopped. Each run is a subprocess: a crash or an
out-of-memory kill ends that run only, its peak memory is its own, and its output goes to a log file per run.
"""

import ctypes
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from recbole_ilora.experiment import differing_keys, result_path
from recbole_ilora.errors import Terminated, UserError

# Set by the leaderboard for every run, each from its option; an override or a config file's value of one of them
# would make the plan lie (a config file's value is overridden: a run recorded seed 2020 where the file said 5).
LEADERBOARD_KEYS = {"model": "--models", "dataset": "--datasets", "seed": "--seeds",
                    "protocol": "--protocol (or --datasets NAME:PROTOCOL)", "results_dir": "--out",
                    "config_files": "--config_files"}


@dataclass
class Job:
    """One combination: what to run, where its result will be, or why it cannot run."""

    model: str
    dataset: str
    seed: int
    protocol: str
    cmd_args: list  # the run's --key=value arguments, as run_recbole passes them to Config
    config_files: list = field(default_factory=list)
    result_file: Path | None = None  # None when the config could not be built
    error: str | None = None  # why the config could not be built (unknown model, missing dataset, ...)
    user_error: UserError | None = None  # that reason, when the input is at fault
    experiment: dict | None = None  # the planned experiment config (what a run that writes elsewhere differs in)
    other_machine: str | None = None  # "dtype bfloat16": the result found is the same command's on another machine
    resume_from: Path | None = None  # the checkpoint a stopped earlier try of this run left (it resumes from it)

    @property
    def name(self):
        return f"{self.model} on {self.dataset}, seed {self.seed}"

    def command(self, python=None):
        """The ``python -m recbole_ilora`` command line of this run."""
        files = [f"--config_files={' '.join(map(str, self.config_files))}"] if self.config_files else []
        resume = [f"--resume_checkpoint={self.resume_from}"] if self.resume_from else []
        return [python or sys.executable, "-m", "recbole_ilora", f"--model={self.model}",
                f"--dataset={self.dataset}", *files, *self.cmd_args, *resume]

    def done(self):
        return self.result_file is not None and self.result_file.is_file()

    def finished_note(self):
        """``finished, PATH`` and, for a result of another kind of machine, which value ``auto`` took there."""
        where = f" (the same command on another kind of machine: {self.other_machine})" if self.other_machine else ""
        return f"finished, {self.result_file}{where}"


@contextmanager
def _environment_kept():
    """RecBole's ``Config`` sets ``CUDA_VISIBLE_DEVICES`` from ``gpu_id``: planning must not change what the runs
    (which inherit this environment) see."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def plan(models, datasets, seeds, protocol, results_dir, config_files=None, overrides=(), processes=1):
    """Jobs for every combination, datasets outermost, then seeds, then models in the given order (a killed
    leaderboard has finished whole seeds rather than one model's seeds). ``processes``: planned as ``torchrun
    --nproc_per_node=processes`` starts them (an LLM run's process count is part of its identity).

    A combination with no result of this machine's experiment, whose keys left at ``auto`` resolve otherwise on
    another kind of machine (``dtype``: bf16 where native), takes the result of the same command run there: its
    identity (the JSON's config) says which, and ``Job.other_machine`` says so in every listing.

    The atomic files of every unfinished combination are checked now (once per way of reading them), so that a
    data error stops the command before any run, as a config error does.

    An unfinished combination whose earlier try was stopped (its checkpoint, named with its hash, is in its
    ``checkpoint_dir``) resumes from that checkpoint (``Job.resume_from``) unless the overrides name one."""
    from recbole_ilora import checkpoint as checkpoints
    from recbole_ilora.config import MACHINE_DEPENDENT_KEYS, Config  # imports torch and RecBole: only when planning
    from recbole_ilora.data import validation

    jobs, data_checks = [], validation.AtomicFileChecks()
    with _environment_kept():
        if processes > 1:
            os.environ["WORLD_SIZE"] = str(processes)
        for dataset in datasets:
            for seed in seeds:
                for model in models:
                    cmd_args = [f"--seed={seed}", f"--protocol={protocol}", f"--results_dir={results_dir}",
                                *overrides]
                    job = Job(model, dataset, seed, protocol, cmd_args, list(config_files or []))
                    try:
                        config = Config(model, dataset, job.config_files or None, cmd_args=cmd_args)
                        job.result_file, job.experiment = result_path(config), config.experiment
                        if not job.done():
                            _take_other_machines_result(job, Config, {
                                key: [other for other in MACHINE_DEPENDENT_KEYS[key] if other != value]
                                for key, value in config.machine_resolved.items()})
                        if not job.done():
                            data_checks.check(config)
                        if not job.done() and not config["resume_checkpoint"]:
                            job.resume_from = checkpoints.latest_of(config["checkpoint_dir"], model,
                                                                    config.experiment_hash)
                    except UserError as error:
                        job.error, job.user_error = f"{type(error).__name__}: {error}", error
                    except Exception as error:  # noqa: BLE001 (any broken combination is that job's failure)
                        job.error = f"{type(error).__name__}: {error}"
                    jobs.append(job)
    return jobs


def _take_other_machines_result(job, config_class, alternatives):
    """Point ``job`` at the result of its command run where a key it left at ``auto`` took another value
    (``alternatives``: ``{key: [values auto resolves to elsewhere]}``), if one exists."""
    for key, others in alternatives.items():
        for other in others:
            config = config_class(job.model, job.dataset, job.config_files or None,
                                  cmd_args=[*job.cmd_args, f"--{key}={other}"])
            if result_path(config).is_file():
                job.result_file, job.experiment, job.other_machine = result_path(config), config.experiment, \
                    f"{key} {other}"
                return


class PlanningError(UserError, ValueError):
    """A combination the command asks for cannot be planned because of its input (an unknown model, a missing
    dataset, a bad --key=value): the command's mistake, refused before any run, not one run's failure."""


def refuse_unplannable(named_jobs):
    """Raise ``PlanningError`` for the first job whose config the user's input makes impossible (``named_jobs``:
    ``(name, job)`` pairs, the name as the message shows it), before any job runs: the others would run for hours
    while the table the command was for could never be complete."""
    for name, job in named_jobs:
        if job.user_error is not None:
            raise PlanningError(f"{name} cannot be planned, so nothing was run: {job.user_error}")


def log_path(job, log_dir):
    return Path(log_dir) / f"{job.dataset}-{job.protocol}-{job.model}-seed{job.seed}.log"


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies

# How long a run started by a command gets to stop by itself after a Ctrl-C (which reaches it too: it saves its
# checkpoint and exits) before it is sent SIGTERM.
CHILD_STOP_SECONDS = 30


def run_logged(job, command, log_file):
    """Run ``command`` (``job``'s run) with its output into ``log_file``; return its exit status. Interrupted, the
    command stops the run too, so that no run goes on unseen beside the next command, and says how to resume."""
    with open(log_file, "w") as log:
        log.write(f"$ {shlex.join(command)}\n\n")
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=_stop_with_parent if sys.platform.startswith("linux") else None)
        try:
            return process.wait()
        except KeyboardInterrupt as interrupt:
            _stop(process, ctrl_c=not isinstance(interrupt, Terminated))
            what = "finished as the command stopped" if process.returncode == 0 else \
                f"was stopped (exit status {process.returncode})"
            raise KeyboardInterrupt(
                f"{job.name} {what} (log: {log_file}); run the same command again: finished runs are reused and a "
                f"stopped one resumes from its last checkpoint") from None


def _stop_with_parent():
    """In the run's process, before it starts (Linux): SIGTERM when the command that started it dies however it
    dies (SIGHUP of a closed terminal, SIGKILL), so that the run saves its checkpoint and stops rather than go on
    unseen."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(process, ctrl_c):
    """Stop a run once its command was interrupted: after Ctrl-C, give it time to stop by itself."""
    if ctrl_c:
        try:
            process.wait(timeout=CHILD_STOP_SECONDS)
            return
        except subprocess.TimeoutExpired:
            pass
    process.terminate()
    process.wait()


def subprocess_runner(job, log_file):
    """Run ``job`` as ``python -m recbole_ilora``, its output into ``log_file``; return its exit status."""
    return run_logged(job, job.command(), log_file)


@dataclass
class Failure:
    job: Job
    reason: str
    log_file: Path


@dataclass
class Outcome:
    finished: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)  # [Failure]


def first_line(text):
    return text.strip().splitlines()[0] if text.strip() else ""


def short(text, limit=160):
    """First line of a failure reason, cut at ``limit`` characters (the run's log holds the whole message)."""
    line = first_line(text)
    return line if len(line) <= limit else line[:limit].rstrip() + " …"


# The line a command of this package ends with when its input is at fault (errors.exit_on_user_error).
ERROR_LINE = re.compile(r"^\S+: error: .+")


def logged_error(log_file):
    """The last ``PROG: error: ...`` line of a run's log (what the run said was wrong), or None."""
    try:
        lines = Path(log_file).read_text(errors="replace").splitlines()
    except OSError:
        return None
    return next((line.strip() for line in reversed(lines) if ERROR_LINE.match(line.strip())), None)


def _exit_reason(code):
    if code < 0:
        return f"killed by signal {-code}" + (" (out of memory?)" if -code == 9 else "")
    return f"exit status {code}"


def _run_one(job, log_file, runner):
    """Run one job; None when it wrote its result, else why it failed."""
    try:
        code = runner(job, log_file)
    except Exception as error:  # noqa: BLE001 (e.g. the interpreter cannot start: this run's failure, not all)
        return f"could not run: {type(error).__name__}: {error}"
    if code != 0:
        error = logged_error(log_file)
        return _exit_reason(code) + (f": {error}" if error else "")
    if not job.done():
        return (f"exited 0 but wrote no result at {job.result_file}: the run's config hash differs from the planned "
                f"one{_differing(job, log_file)}")
    return None


def _differing(job, log_file):
    """Which experiment keys the run's own result (named in its log) has otherwise than the plan."""
    written = [line.split(": ", 1)[1].strip() for line in Path(log_file).read_text(errors="replace").splitlines()
               if line.startswith("result file: ")]
    if not written or job.experiment is None or not Path(written[-1]).is_file():
        return ""
    ran = json.loads(Path(written[-1]).read_text()).get("config", {})
    keys = differing_keys(job.experiment, ran)
    shown = "; ".join(f"{key}: planned {str(job.experiment.get(key))[:120]}, ran {str(ran.get(key))[:120]}"
                      for key in keys[:4])
    return f" (it wrote {written[-1]}; {shown or 'no experiment key differs'})"


def _echo(line):
    print(line, flush=True)  # progress of a leaderboard that runs for hours, also when stdout is a file


def execute(jobs, log_dir, runner=subprocess_runner, echo=_echo):
    """Run the unfinished jobs one after another; a failure is recorded and the next job starts.

    Whether a job is finished is checked just before it would start, not only when planning: an earlier job may
    have produced its result (iLoRA trains the SASRec of its seed as a first stage).
    """
    outcome = Outcome()
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    for number, job in enumerate(jobs, 1):
        prefix = f"[{number}/{len(jobs)}] {job.name}"
        log_file = log_path(job, log_dir)
        if job.error:
            log_file.write_text(f"Not started: the run's config could not be built.\n{job.error}\n")
            outcome.failed.append(Failure(job, job.error, log_file))
            echo(f"{prefix}: FAILED before starting: {short(job.error)}")
            continue
        if job.done():
            outcome.skipped.append(job)
            echo(f"{prefix}: skipped, {job.finished_note()}")
            continue
        resuming = f", resuming from {job.resume_from}" if job.resume_from else ""
        echo(f"{prefix}: running{resuming} (log: {log_file})")
        start = time.perf_counter()
        reason = _run_one(job, log_file, runner)
        seconds = time.perf_counter() - start
        if reason is None:
            outcome.finished.append(job)
            echo(f"{prefix}: done in {seconds:.0f} s -> {job.result_file}")
            continue
        outcome.failed.append(Failure(job, reason, log_file))
        echo(f"{prefix}: FAILED after {seconds:.0f} s ({reason}); log: {log_file}")
    return outcome


def describe(jobs):
    """What ``execute`` would do, one line per job (``--dry_run``)."""
    lines = []
    for job in jobs:
        if job.error:
            lines.append(f"fail  {job.name}: {short(job.error)}")
        elif job.done():
            lines.append(f"skip  {job.name}: {job.finished_note()}")
        else:
            lines.append(f"run   {job.name}: {shlex.join(job.command(python='python'))}")
    counts = {word: sum(line.startswith(word) for line in lines) for word in ("run", "skip", "fail")}
    lines.append(f"{counts['run']} to run, {counts['skip']} finished (skipped), {counts['fail']} cannot start.")
    return lines
