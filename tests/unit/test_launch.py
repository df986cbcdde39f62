"""How run_recbole spreads an LLM run over a CPU machine: processes that divide the accumulation, threads shared."""

import os

import pytest

from recbole_ilora import launch
from recbole_ilora.config import Config
from recbole_ilora.errors import ConfigurationError

USABLE = len(os.sched_getaffinity(0))


@pytest.mark.skipif(USABLE < 2, reason="needs two usable CPUs")
def test_an_llm_run_on_a_cpu_gets_processes_unless_threads_or_one_process_are_asked_for():
    assert launch.processes_for(Config("iLoRA", "ml-100k")) == 2  # divides gradient_accumulation_steps=2
    assert launch.processes_for(Config("iLoRA", "ml-100k", cmd_args=["--gradient_accumulation_steps=3"])) in (1, 3)
    assert launch.processes_for(Config("iLoRA", "ml-100k", cmd_args=["--cpu_threads=1"])) == 1
    assert launch.processes_for(Config("iLoRA", "ml-100k", cmd_args=["--cpu_processes=1"])) == 1
    assert launch.processes_for(Config("SASRec", "ml-100k")) == 1  # RecBole's models keep RecBole's way


def test_a_number_of_processes_that_does_not_divide_the_accumulation_is_refused():
    with pytest.raises(ConfigurationError, match="cpu_processes must be auto, or a number of processes that divides"):
        launch.processes_for(Config("iLoRA", "ml-100k", cmd_args=["--cpu_processes=3"]))


@pytest.mark.parametrize("model, extra, message", [
    ("iLoRA", ["--cpu_processes=0"], "cpu_processes must be auto or a positive number of processes, got 0"),
    ("iLoRA", ["--cpu_processes=many"], "got 'many'"),
    ("iLoRA", ["--cpu_processes=2", "--cpu_threads=1"], "cpu_threads is set too"),
    ("SASRec", ["--cpu_processes=2"], "SASRec on cpu runs in one process"),
])
def test_a_process_count_that_would_be_ignored_is_refused(model, extra, message):
    with pytest.raises(ConfigurationError, match=message):
        launch.processes_for(Config(model, "ml-100k", cmd_args=extra))


def test_the_launched_processes_share_the_cpus_and_the_accumulation():
    config = Config("iLoRA", "ml-100k", cmd_args=["--gradient_accumulation_steps=4"])
    command = launch.torchrun_command(["--model=iLoRA", "--gradient_accumulation_steps=4", "--cpu_processes=2"], 2,
                                      config)
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert command.count("--gradient_accumulation_steps=2") == 1 and "--gradient_accumulation_steps=4" not in command
    assert f"--cpu_threads={max(1, USABLE // 2)}" in command and command[-1] == "--cpu_processes=1"
    assert Config("iLoRA", "ml-100k", cmd_args=["--gradient_accumulation_steps=2"]).experiment_hash != \
        config.experiment_hash  # 4 prompts x 4 micro-batches: another global batch than 4 x 2
