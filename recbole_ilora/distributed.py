"""Data parallelism of the LLM models across processes launched by ``torchrun`` (torch.distributed).

``torchrun --nproc_per_node=N -m recbole_ilora --model=iLoRA ...`` starts N processes with ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE`` and a rendezvous address in their environment; ``init`` joins them into one process group (NCCL
on CUDA, gloo on CPU). One process is one rank; rank 0 is the main one, which alone writes logs, checkpoints,
adapters and the JSON result. Without torchrun (or with one process) every function here is a no-op and the run
is an ordinary single-process run. RecBole's own models keep RecBole's DDP (``nproc``); see README, Multi-GPU.
"""

import os
from datetime import timedelta

import torch
import torch.distributed as dist

from recbole_ilora.errors import ConfigurationError


def launched_world_size():
    """How many processes ``torchrun`` started for this job (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def launched_by_torchrun():
    """Whether this process is one of several started by ``torchrun``."""
    return launched_world_size() > 1


def active():
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank():
    return dist.get_rank() if active() else 0


def world_size():
    return dist.get_world_size() if active() else 1


def is_main():
    return rank() == 0


def init(config):
    """Join the process group and place this rank on its device: ``cuda:LOCAL_RANK`` when CUDA is used, else the
    CPU. ``ddp_timeout`` bounds how long a rank waits for the others in a collective (rank 0's prerequisite runs
    included); a rank that dies makes torchrun stop the others at once."""
    if not launched_by_torchrun() or dist.is_initialized():
        return
    local_rank = int(os.environ["LOCAL_RANK"])
    use_cuda = config["device"].type == "cuda"
    if use_cuda:
        if torch.cuda.device_count() <= local_rank:
            raise ConfigurationError(f"torchrun started rank {local_rank} but only {torch.cuda.device_count()} CUDA "
                                     f"device(s) are visible (gpu_id={config['gpu_id']!r}): lower --nproc_per_node "
                                     f"or list more devices in gpu_id.")
        torch.cuda.set_device(local_rank)
        config["device"] = torch.device("cuda", local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo",
                            timeout=timedelta(seconds=config["ddp_timeout"]))


def barrier():
    if active():
        dist.barrier()


def main_first(work):
    """``work()`` on rank 0, then on the other ranks once rank 0 is done (they find what it produced)."""
    if is_main():
        result = work()
        barrier()
        return result
    barrier()
    return work()


def broadcast(value):
    """Rank 0's ``value`` (any picklable object), on every rank."""
    if not active():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def broadcast_tensors(tensors):
    """Overwrite ``tensors`` in place with rank 0's values."""
    if active():
        for tensor in tensors:
            dist.broadcast(tensor.data, src=0)


def gather(value):
    """Every rank's ``value``, in rank order, on every rank."""
    if not active():
        return [value]
    values = [None] * world_size()
    dist.all_gather_object(values, value)
    return values


def shutdown():
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
