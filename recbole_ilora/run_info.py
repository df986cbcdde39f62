"""Where and how a run executed, for its JSON result: package versions, the machine, peak memory, parameter counts,
the command line and the wall time of each stage. Timings mean little without the machine they were taken on."""

import json
import os
import platform
import resource
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

from recbole_ilora.devices import native_bf16

VERSIONED_PACKAGES = ("recbole-ilora", "recbole", "torch", "transformers", "peft", "numpy", "pandas")


def package_versions():
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def machine_description():
    """Where the run executes, as lines (platform; CPU model and count; the CPU kernels torch dispatches to and
    whether bf16 is native; memory; GPU): timings mean little without it, and float results move with the kernels
    (two AMD EPYC of one name may run AVX2 or AVX-512 ones, and ``dtype: auto`` follows native bf16)."""
    cpu = next((line.split(":", 1)[1].strip() for line in _read_lines("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = physical_memory()
    lines = [f"platform: {platform.platform()}", f"CPU: {cpu}, {os.cpu_count()} logical CPUs ({usable} usable)",
             f"CPU kernels: {torch.backends.cpu.get_cpu_capability()}, bf16 native: "
             f"{'yes' if native_bf16(torch.device('cpu')) else 'no'}"]
    if memory:
        lines.append(f"memory: {memory / 2**30:.1f} GiB")
    if torch.cuda.is_available():
        lines.append(f"GPU: {torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}")
    return lines


def physical_memory():
    """Bytes of the machine's memory (MemTotal), or None where the system does not say."""
    return next((int(line.split()[1]) * 1024 for line in _read_lines("/proc/meminfo") if line.startswith("MemTotal:")),
                None)


def _read_lines(path):
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def peak_memory_mb():
    """Peak resident memory of this process and, on GPU, peak allocated CUDA memory (MiB)."""
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    cuda = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {"rss": round(rss_kib / 1024, 1), "cuda": None if cuda is None else round(cuda, 1)}


def threads():
    """torch's intra-op threads of this process (results move with it: bf16 kernels reduce in another order)."""
    return torch.get_num_threads()


def parameter_counts(model):
    return {
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total": sum(p.numel() for p in model.parameters()),
    }


# The command the user typed, handed by ``launch`` to the processes torchrun starts (their own command lines hold
# what the launch added): what their JSON results record and what an interrupt's resume hint repeats.
COMMAND_VARIABLE = "RECBOLE_ILORA_COMMAND"


# Commands of runs started inside another run (its prerequisites), innermost last.
_STARTED_INSIDE = []


def command_line():
    """The command line of this run as the user typed it; for a run started inside another, the command that runs
    it alone (``started_inside``)."""
    if _STARTED_INSIDE:
        return list(_STARTED_INSIDE[-1])
    given = os.environ.get(COMMAND_VARIABLE)
    return json.loads(given) if given else [Path(sys.argv[0]).name] + sys.argv[1:]


@contextmanager
def started_inside(model, dataset, config_dict):
    """Within: ``command_line()`` is the ``run_recbole`` command of ``model`` on ``dataset`` with ``config_dict``, so
    that a prerequisite's JSON result and resume hint give its own command, not that of the run that needed it."""
    _STARTED_INSIDE.append(["run_recbole", f"--model={model}", f"--dataset={dataset}",
                            *(f"--{key}={value}" for key, value in config_dict.items())])
    try:
        yield
    finally:
        _STARTED_INSIDE.pop()


class StageClock:
    """Wall time per stage of a run (a stage may be entered more than once)."""

    def __init__(self):
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.start = time.perf_counter()
        self.seconds = {}

    def add(self, name, seconds):
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextmanager
    def stage(self, name):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)
