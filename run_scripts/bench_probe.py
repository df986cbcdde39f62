"""One measurement of one version of the package, for ``bench_speed.py --compare``: run with ``PYTHONPATH`` set to
the code under test, it builds iLoRA on ml-100k through the package's public pieces (``Config``, ``get_model``,
``load_dataset``, ``data_preparation``, the model's ``optimizer_groups`` / ``calculate_loss`` / ``predict``), which
every version since 0.1 has, and writes a JSON file:

    {"code", "threads", "dtype", "compiled", "step_seconds", "losses", "score_seconds", "users", "scores",
     "peak_rss_mb", "step_flops", "peak_flops_at_step_shapes"}

Training: ``--steps`` optimizer steps of AdamW (lr 2e-3, no schedule) on the first batches of the training loader
(the same batches in every version: same seed, same split). Scoring: ``predict`` on the ``--users`` test users that
``eval_users`` draws by seed. ``--flops`` also counts one step's FLOPs (torch's FlopCounterMode) and times every
matmul shape the step runs on its own, so that the step's FLOP/s is compared with the peak at its own shapes.
"""

import argparse
import json
import os
import resource
import time
from collections import Counter

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as run_recbole does

import torch  # noqa: E402
from recbole.utils import init_seed  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import recbole_ilora  # noqa: E402
from recbole_ilora.config import Config  # noqa: E402
from recbole_ilora.data import data_preparation, load_dataset  # noqa: E402
from recbole_ilora.model.llm_recommender import TrainingStep  # noqa: E402
from recbole_ilora.registry import get_model  # noqa: E402


class MatmulShapes(TorchDispatchMode):
    """Counts the (m, k, n) of every 2-D matrix product a block runs (``mm``, ``addmm``, and ``bmm`` per batch)."""

    def __init__(self):
        super().__init__()
        self.shapes = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in ("mm", "addmm", "bmm"):
            a, b = (args[1], args[2]) if name == "addmm" else (args[0], args[1])
            batch = a.shape[0] if name == "bmm" else 1
            self.shapes[(a.shape[-2], a.shape[-1], b.shape[-1], a.dtype)] += batch
        return func(*args, **(kwargs or {}))


def peak_at(shapes, repeats=3):
    """FLOP/s of the step's matmuls run alone, each shape at its best of ``repeats``, weighted by its count."""
    flops = seconds = 0.0
    for (m, k, n, dtype), count in shapes.items():
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        a @ b
        best = min(_timed(lambda: a @ b) for _ in range(repeats))
        flops += 2 * m * k * n * count
        seconds += best * count
    return flops / seconds


def _timed(work):
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", required=True, help="a SASRec checkpoint of ml-100k (seed 2020)")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", default=None, help="backbone dtype (default: the version's own default)")
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps (2 micro-batches of 4 prompts each)")
    parser.add_argument("--users", type=int, default=8, help="test users to score")
    parser.add_argument("--compile", action="store_true",
                        help="compile each decoder layer with torch.compile(dynamic=True) (inductor's C++ code on a "
                             "CPU), a speed lever measured here and not adopted (README, Speed)")
    parser.add_argument("--flops", action="store_true", help="count one step's FLOPs and the peak at its shapes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keys = {"sasrec_checkpoint": args.encoder, "cpu_threads": args.threads, "eval_users": args.users,
            "train_batch_size": 4, "eval_batch_size": 80, "show_progress": False, "state": "WARNING"}
    if args.dtype:
        keys["dtype"] = args.dtype
    config = Config("iLoRA", "ml-100k", config_dict=keys)
    init_seed(config["seed"], config["reproducibility"])
    train_data, _, test_data = data_preparation(config, load_dataset(config))
    init_seed(config["seed"], config["reproducibility"])
    model = get_model("iLoRA")(config, train_data._dataset)
    if args.compile:
        for layer in model.llm.get_base_model().get_decoder().layers:
            layer.compile(dynamic=True)
    optimizer = torch.optim.AdamW([p for group in model.optimizer_groups().values() for p in group], lr=2e-3)

    batches = []
    for interaction in train_data:
        batches.append(interaction)
        if len(batches) == 2 * args.steps:
            break
    model.train()
    step_seconds, losses = [], []
    for step in range(args.steps):
        start = time.perf_counter()
        for micro in batches[2 * step:2 * step + 2]:
            loss = model.calculate_loss(micro, TrainingStep(0, step, args.steps))
            (loss / 2).backward()
            losses.append(loss.item())
        optimizer.step()
        optimizer.zero_grad()
        step_seconds.append(time.perf_counter() - start)

    step_flops = peak = None
    if args.flops:
        with FlopCounterMode(display=False) as counter, MatmulShapes() as shapes:
            model.calculate_loss(batches[0], TrainingStep(0, 0, 1)).backward()
        optimizer.zero_grad()
        step_flops, peak = counter.get_total_flops(), peak_at(shapes.shapes)

    model.eval()
    scores, users, start = [], 0, time.perf_counter()
    with torch.no_grad():
        for batch in test_data:
            interaction = batch[0]
            scores += model.predict(interaction).float().tolist()
            users += len(torch.unique(interaction[config["USER_ID_FIELD"]]))
    score_seconds = time.perf_counter() - start
    result = {"code": os.path.dirname(os.path.dirname(recbole_ilora.__file__)), "threads": args.threads,
              "dtype": config["dtype"], "step_seconds": step_seconds, "losses": losses, "score_seconds": score_seconds,
              "users": users, "scores": scores, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "step_flops": step_flops, "compiled": args.compile, "peak_flops_at_step_shapes": peak}
    with open(args.out, "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main()
