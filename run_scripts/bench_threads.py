"""Benchmark: how many CPU threads should one training process use?

Runs the same workloads under several thread settings, each in a fresh subprocess (OpenMP reads
OMP_WAIT_POLICY only when torch loads), interleaving the settings round by round so that a noisy
neighbour hurts all of them alike. Prints median / worst step time per setting and workload.

Workloads: a RecBole SASRec training step on real ml-100k (batch 2048, history 10), and a training
step and greedy decoding on a Llama with SmolLM2-135M's shape (randomly initialised: speed does not
depend on the weights, so no download is needed).

    python run_scripts/bench_threads.py --rounds 3
    python run_scripts/bench_threads.py --rounds 3 --background_load   # a busy neighbour on one core
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = {
    "1 thread": {"OMP_NUM_THREADS": "1"},
    "2 threads": {"OMP_NUM_THREADS": "2"},
    "2 threads, OMP_WAIT_POLICY=PASSIVE": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
}

# SmolLM2-135M's architecture (its GGUF header); randomly initialised here.
SMOLLM2_SHAPE = dict(
    vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
    num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048, tie_word_embeddings=True,
)


def _sasrec_steps(steps):
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec

    config = Config(model="SASRec", dataset="ml-100k", config_dict={
        "train_neg_sample_args": None, "MAX_ITEM_LIST_LENGTH": 10, "show_progress": False,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full"}, "state": "ERROR",
    })
    train_data, _, _ = data_preparation(config, create_dataset(config))
    model = SASRec(config, train_data._dataset)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = next(iter(train_data))
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad()
        model.calculate_loss(batch).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times[1:]  # the first step warms up allocators and kernels


def _llama(dtype):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(**SMOLLM2_SHAPE)).to(dtype)


def _llm_train_steps(steps, batch, seq_len, dtype):
    import torch

    model = _llama(dtype)
    model.requires_grad_(False)
    head = model.model.layers[-1].mlp.down_proj  # a trainable slice keeps the backward pass honest
    head.weight.requires_grad_(True)
    ids = torch.randint(0, SMOLLM2_SHAPE["vocab_size"], (batch, seq_len))
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        times.append(time.perf_counter() - start)
    return times[1:]


def _llm_generate(steps, new_tokens, dtype):
    import torch

    model = _llama(dtype).eval()
    ids = torch.randint(0, SMOLLM2_SHAPE["vocab_size"], (1, 120))
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        with torch.no_grad():
            model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        times.append((time.perf_counter() - start) / new_tokens)
    return times[1:]


def worker(args):
    """One setting, one subprocess: print per-step seconds of every workload as JSON."""
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    dtype = getattr(torch, args.dtype)
    out = {
        "SASRec train step (s)": _sasrec_steps(args.steps),
        f"LLM train step {args.batch}x{args.seq_len} {args.dtype} (s)": _llm_train_steps(
            args.steps, args.batch, args.seq_len, dtype),
        f"LLM greedy decode {args.dtype} (s/token)": _llm_generate(args.steps, args.new_tokens, dtype),
    }
    print("RESULT " + json.dumps(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over all settings")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per workload per round")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq_len", type=int, default=128)
    parser.add_argument("--new_tokens", type=int, default=16)
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--background_load", action="store_true",
                        help="keep one core busy with another process meanwhile (a noisy neighbour)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.background_load:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])

    samples = {name: {} for name in SETTINGS}
    for round_idx in range(args.rounds):
        for name, env in SETTINGS.items():
            print(f"round {round_idx + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", *[a for a in sys.argv[1:] if a != "--background_load"]],
                env={**os.environ, **env}, capture_output=True, text=True, check=True,
            )
            line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
            for workload, times in json.loads(line[len("RESULT "):]).items():
                samples[name].setdefault(workload, []).extend(times)

    if args.background_load:
        spinner.kill()

    from tabulate import tabulate

    workloads = list(next(iter(samples.values())))
    rows = []
    for name in SETTINGS:
        row = [name]
        for workload in workloads:
            times = samples[name][workload]
            row.append(f"{statistics.median(times):.3f} / {max(times):.3f}")
        rows.append(row)
    print(tabulate(rows, headers=["setting (median / worst)"] + workloads, tablefmt="github"))


if __name__ == "__main__":
    main()
