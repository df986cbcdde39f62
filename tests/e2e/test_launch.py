"""run_recbole spreads an LLM run on a CPU over data-parallel processes by itself: the same experiment (hash) as one
process, its JSON naming the processes, the threads and the command the user typed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY_CORPUS, TINY_RUN, build_tiny_llama, write_atomic_dataset


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two usable CPUs")
def test_run_recbole_launches_processes_for_an_llm_run_and_records_what_the_user_typed(tmp_path):
    write_atomic_dataset(tmp_path / "data")
    build_tiny_llama(tmp_path / "llm", TINY_CORPUS)
    keys = {**TINY_RUN, "data_path": tmp_path / "data", "llm_path": tmp_path / "llm", "item_domain": "movie",
            "item_text_field": "movie_title", "eval_batch_size": 40, "train_samples_per_epoch": 16,
            "train_batch_size": 4}
    argv = ["--model=iLoRA", "--dataset=tiny", *[f"--{key}={value}" for key, value in keys.items()]]

    def run(*extra, results):
        completed = subprocess.run([sys.executable, "-m", "recbole_ilora", *argv, *extra, f"--results_dir={results}"],
                                   capture_output=True, text=True, cwd=tmp_path, timeout=900)
        assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
        path = next(line.split(": ", 1)[1] for line in completed.stdout.splitlines()
                    if line.startswith("result file: "))
        return completed.stdout, json.loads(Path(path).read_text())

    out, launched = run(results=tmp_path / "two")
    assert "run_recbole: iLoRA on 2 data-parallel processes (torchrun, gloo), 1 micro-batch(es) each" in out
    assert launched["world_size"] == 2 and launched["threads"] == max(1, len(os.sched_getaffinity(0)) // 2)
    assert launched["command"] == ["__main__.py", *argv, f"--results_dir={tmp_path / 'two'}"]
    _, alone = run("--cpu_processes=1", results=tmp_path / "one")
    assert alone["world_size"] == 1 and alone["config_hash"] == launched["config_hash"]
    assert launched["config"]["global_train_batch"] == 8
