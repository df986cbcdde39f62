"""How ``run_recbole`` spreads an LLM model's run over a CPU machine's cores: as data-parallel processes.

Measured on a 2-core box (README, Speed): two processes of one thread each trained iLoRA 1.69x and scored 1.85x
faster than one process of one thread, two intra-op threads in one process only 1.31x and 1.40x (small matmuls and
elementwise work parallelise poorly inside one process). So, unless the user sets ``cpu_threads`` or
``cpu_processes: 1``, ``run_recbole`` relaunches an LLM run on a CPU under ``torchrun`` with P processes: the
largest P that divides ``gradient_accumulation_steps`` and fits the usable CPUs, each process accumulating
``gradient_accumulation_steps / P`` micro-batches with ``CPUs / P`` threads. An optimizer step then averages the
same micro-batches as one process would (the global batch, which the experiment's identity holds), so the result
is the same experiment, and its JSON records the processes and threads that ran it.
"""

import json
import os
import signal
import subprocess
import sys

from recbole_ilora import distributed
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.model.llm_recommender import LLMRecommender
from recbole_ilora.run_info import COMMAND_VARIABLE

ADDED_KEYS = ("cpu_threads", "gradient_accumulation_steps", "cpu_processes")


def _refuse_unless_default(wanted, why):
    if wanted not in ("auto", 1):
        raise ConfigurationError(f"cpu_processes={wanted!r} is not used here: {why}.")


def processes_for(config):
    """How many data-parallel processes ``run_recbole`` starts for ``config`` (1: run in this process). A value of
    ``cpu_processes`` that would be ignored is refused, not dropped."""
    wanted = config["cpu_processes"]
    if wanted != "auto" and (not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 1):
        raise ConfigurationError(f"cpu_processes must be auto or a positive number of processes, got {wanted!r}.")
    if distributed.launched_by_torchrun():
        _refuse_unless_default(wanted, "under torchrun the processes are torchrun's --nproc_per_node")
        return 1
    if not issubclass(config.model_class, LLMRecommender) or config["device"].type != "cpu":
        _refuse_unless_default(wanted, f"{config['model']} on {config['device'].type} runs in one process "
                                       f"(cpu_processes serves the LLM models on a CPU)")
        return 1
    if config["cpu_threads"] is not None:
        _refuse_unless_default(wanted, "cpu_threads is set too, which runs one process with that many threads; "
                                       "set one of the two")
        return 1
    accumulation, usable = config["gradient_accumulation_steps"], len(os.sched_getaffinity(0))
    if config["train_samples_per_epoch"]:  # every process needs a micro-batch of the epoch
        usable = min(usable, -(-config["train_samples_per_epoch"] // config["train_batch_size"]))
    if wanted == "auto":
        return max(p for p in range(1, min(accumulation, usable) + 1) if accumulation % p == 0)
    if accumulation % wanted or wanted > usable:
        raise ConfigurationError(
            f"cpu_processes must be auto, or a number of processes that divides gradient_accumulation_steps="
            f"{accumulation} and is at most the {usable} usable CPU(s), got {wanted!r}.")
    return wanted


def torchrun_command(argv, processes, config):
    """The ``torchrun`` command line that runs ``argv`` (run_recbole's arguments) as ``processes`` processes."""
    kept = [arg for arg in argv if not arg.startswith(tuple(f"--{key}=" for key in ADDED_KEYS))]
    threads = max(1, len(os.sched_getaffinity(0)) // processes)
    added = [f"--cpu_threads={threads}", f"--gradient_accumulation_steps="
             f"{config['gradient_accumulation_steps'] // processes}", "--cpu_processes=1"]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
            "-m", "recbole_ilora", *kept, *added]


def launch(argv, processes, config):
    """Run ``argv`` under torchrun as ``processes`` processes and return its exit status (an interrupt is passed on
    to them, so that rank 0 saves nothing half-written and prints how to resume)."""
    print(f"run_recbole: {config['model']} on {processes} data-parallel processes (torchrun, gloo), "
          f"{config['gradient_accumulation_steps'] // processes} micro-batch(es) each per step; cpu_processes=1 "
          f"runs one process", flush=True)
    command = [os.path.basename(sys.argv[0]) or "run_recbole", *argv]
    environment = {**os.environ, COMMAND_VARIABLE: json.dumps(command)}
    process = subprocess.Popen(torchrun_command(argv, processes, config), env=environment)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        return process.wait()
