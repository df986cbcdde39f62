"""Data-parallel LLM runs under torchrun, on the CPU with the gloo backend: the same trained weights and metrics as
one process over the same global batch, one prerequisite run, and no hang when a rank dies."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from conftest import TINY_CORPUS, TINY_RUN, build_tiny_llama, write_atomic_dataset

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    write_atomic_dataset(root / "data")
    build_tiny_llama(root / "llm", TINY_CORPUS)
    return root


def llm_args(root, name, **overrides):
    keys = {**TINY_RUN, "data_path": root / "data", "llm_path": root / "llm", "dtype": "float32",
            "item_domain": "movie", "item_text_field": "movie_title", "eval_batch_size": 40,
            "train_samples_per_epoch": 16, "lora_dropout": 0.0, "cpu_threads": 1, "show_progress": False,
            "results_dir": root / "results", "checkpoint_dir": root / f"saved-{name}", **overrides}
    return ["-m", "recbole_ilora", "--model=iLoRA", "--dataset=tiny", *[f"--{k}={v}" for k, v in keys.items()]]


def first_error(stderr):
    """The first traceback of a failed job (a rank's cause, which the other ranks' later errors bury) and the
    end of its output."""
    start = stderr.find("Traceback")
    return (stderr[start:start + 3000] if start >= 0 else "") + "\n...\n" + stderr[-3000:]


def finished(completed):
    assert completed.returncode == 0, first_error(completed.stderr)
    path = next(line.split(": ", 1)[1] for line in completed.stdout.splitlines() if line.startswith("result file: "))
    return json.loads(Path(path).read_text())


def test_two_processes_train_and_score_as_one_over_the_same_global_batch(workspace):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two = subprocess.run([*TORCHRUN, *llm_args(workspace, "two", train_batch_size=2, gradient_accumulation_steps=1)],
                         capture_output=True, text=True, cwd=workspace, env=env, timeout=900)
    two = finished(two)
    one = subprocess.run([sys.executable, *llm_args(workspace, "one", train_batch_size=2,
                                                    gradient_accumulation_steps=2)],
                         capture_output=True, text=True, cwd=workspace, env=env, timeout=900)
    one = finished(one)
    assert (two["world_size"], one["world_size"]) == (2, 1)
    # one SASRec stage, trained by rank 0 of the torchrun job, reused by the single-process run
    assert len(list((workspace / "results").rglob("SASRec-*.json"))) == 1
    assert two["candidates_sha256"] == one["candidates_sha256"]
    assert two["per_user_test"]["user"] == one["per_user_test"]["user"]  # every user exactly once, same order
    for key, value in one["test"].items():
        assert two["test"][key] == pytest.approx(value, abs=1e-4)
    weights_two = torch.load(two["checkpoint"], weights_only=True)["weights"]
    weights_one = torch.load(one["checkpoint"], weights_only=True)["weights"]
    assert weights_two.keys() == weights_one.keys()
    assert any(value.abs().sum() > 0 for key, value in weights_one.items() if "lora_B" in key)  # it trained
    for key in weights_one:
        assert torch.allclose(weights_two[key], weights_one[key], atol=1e-5), key
    assert len(two["gate_weights"]["user"]) == len(two["per_user_test"]["user"])  # every rank's users' gates

    # Resuming under torchrun: every rank loads the checkpoint, rank 0 alone writes the new files.
    args = llm_args(workspace, "two", train_batch_size=2, gradient_accumulation_steps=1)
    resumed = finished(subprocess.run([*TORCHRUN, *args, f"--resume_checkpoint={two['checkpoint']}"],
                                      capture_output=True, text=True, cwd=workspace, env=env, timeout=900))
    assert resumed["resumed_from"] == two["checkpoint"] and resumed["checkpoint"] != two["checkpoint"]
    assert resumed["epochs_trained"] == 1 and resumed["test"] == two["test"]


def test_batches_that_leave_the_projector_idle_train_under_ddp(workspace):
    """The curriculum's text-only batches use no projector weight: DDP must look for unused parameters there (and
    only there: iLoRA's other runs use every trainable weight in every batch)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run([*TORCHRUN, *llm_args(workspace, "curriculum", train_batch_size=2,
                                                     gradient_accumulation_steps=1, curriculum=True)],
                               capture_output=True, text=True, cwd=workspace, env=env, timeout=900)
    assert finished(completed)["world_size"] == 2


def _rank_of(process):
    """LOCAL_RANK of a recbole_ilora process, else None; a short-lived child (a compiler, a shell) can exit between
    the listing and this look at it."""
    try:
        if "recbole_ilora" in " ".join(process.cmdline()):
            return process.environ().get("LOCAL_RANK")
    except psutil.NoSuchProcess:
        pass
    return None


def test_a_rank_that_dies_ends_the_job_with_an_error_instead_of_a_hang(workspace):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen([*TORCHRUN, *llm_args(workspace, "dies", train_batch_size=2, epochs=1000, eval_step=0)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workspace, env=env)
    try:
        victim = None
        deadline = time.monotonic() + 300
        while victim is None and time.monotonic() < deadline:  # wait until both ranks are training
            time.sleep(2)
            ranks = {_rank_of(p): p for p in psutil.Process(job.pid).children(recursive=True)}
            if "0" in ranks and "1" in ranks:
                victim = ranks["1"]
        assert victim is not None, "the two ranks did not start"
        time.sleep(20)  # into training
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        _, err = job.communicate(timeout=120)
        assert job.returncode != 0
        assert time.monotonic() - killed_at < 120
        assert "Signal 9" in err or "SIGKILL" in err or "failed" in err.lower()
    finally:
        if job.poll() is None:
            job.kill()
