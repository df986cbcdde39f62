"""Benchmark: what the LLM recommenders' training steps and scoring cost, and where the time goes.

In one process, on the same batch, with the real backbone (default SmolLM2-135M-Instruct, bf16), measurements
alternating between variants so that machine noise hits all alike:
  1. training steps (forward + backward): the default (softmax loss over 20 candidates, MoE-LoRA K=4 r=16), the
     same with twice the prompts per micro-batch (token-budget batching: larger matmuls), and the lm loss; plain
     peft LoRA on the lm loss (goal: MoE-LoRA / LoRA <= 1.05); and the lm step with each of the changes profiling
     led to undone, one at a time: peft's float32 LoRA inputs, LoRA dropout 0.1, sdpa attention, and an integer
     ``logits_to_keep`` (the LM head over a strided slice);
  2. training FLOP/s of the default and lm steps (torch's FlopCounterMode) against a bf16 matmul measured here;
  3. with ``--profile``: torch.profiler's split of the default step's time by operator kind, LoRA's rank-r
     matrix products apart (what fusing them could save at most);
  4. users/s of KV-cached candidate scoring (prompt once, 20 titles packed over its cache), of the padded layout it
     replaced, and of greedy generation.
Prompts are real ml-100k prompts (titles from the .item file embedded in recbole) with random histories and
candidates.

    python run_scripts/bench_speed.py --threads 1                  # ~5 minutes on this 2-core VM
    python run_scripts/bench_speed.py --threads 2 --profile

``--compare REF`` instead measures two versions of the package side by side (REF: a git ref, checked out into a
worktree, or a folder holding an older checkout): each measurement is one ``run_scripts/bench_probe.py`` process of
one version, the versions alternating, on the same training batches and test users; it prints the ratios of
training time per prompt and scoring time per user at each thread count (medians of ``--repeats``), whether the
numbers agree (every candidate's score, the top-1 of each user, the losses of ``--numbers_steps`` steps, a rerun of
the new version bit-identical to itself), the peak memory, and the new version's FLOP/s against the matmul peak
measured at its step's own shapes.

    python run_scripts/bench_speed.py --compare c5a8f20 --compare_threads 1,2 --repeats 3
    python run_scripts/bench_speed.py --compare c5a8f20 --ref_dtype float32     # the code alone, at one dtype
    python run_scripts/bench_speed.py --compare . --new_compile               # torch.compile against eager
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from collections import defaultdict
from contextlib import contextmanager, nullcontext

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as run_recbole does (README: CPU threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from tabulate import tabulate  # noqa: E402
from torch import nn  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from recbole_ilora.compat import cache_argument  # noqa: E402
from recbole_ilora.model.parts.backbone import load_backbone  # noqa: E402
from recbole_ilora.model.parts.generation import greedy_answers  # noqa: E402
from recbole_ilora.model.parts.losses import answer_loss, candidate_losses  # noqa: E402
from recbole_ilora.model.parts.prompt import IGNORE_INDEX, PromptBuilder, pad  # noqa: E402
from recbole_ilora.model.parts.scoring import continuation_logprobs, position_ids_from_mask, score_continuations  # noqa: E402
from recbole_ilora.paths import EMBEDDED_DATASETS_DIR, PROPERTIES_DIR  # noqa: E402
from recbole_ilora.tuners.moe_lora import MoELoraConfig, MoELoraLinear, inject_moe_lora  # noqa: E402

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
CANDIDATES = 20


def ml100k_titles():
    lines = (EMBEDDED_DATASETS_DIR / "ml-100k" / "ml-100k.item").read_text(encoding="utf-8").splitlines()[1:]
    return [""] + [line.split("\t")[1] for line in lines]


def movie_template():
    import yaml

    return yaml.safe_load((PROPERTIES_DIR / "model" / "iLoRA.yaml").read_text())["prompt_templates"]["movie"]


def backbone(args):
    config = {"llm_path": args.llm_path, "llm_cache_dir": "~/.cache/recbole_ilora", "dtype": args.dtype,
              "load_in_8bit": False, "load_in_4bit": False, "device": torch.device("cpu"),
              "attn_implementation": "eager"}
    return load_backbone(config)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --- the layouts profiling replaced, kept as comparators -------------------------------------------------------

def answer_loss_strided_head(lm, inputs_embeds, attention_mask, labels):
    """``answer_loss`` with an integer ``logits_to_keep``: under autograd, F.linear on the strided slice expands the
    vocabulary-sized head weight once per row."""
    logits = lm(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                position_ids=position_ids_from_mask(attention_mask), logits_to_keep=labels.shape[1] + 1).logits
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX)


@torch.no_grad()
def padded_scores(lm, router, prompt_embeds, prompt_mask, gate, continuations, owners, pad_token_id):
    """One row per candidate, padded to the longest title, over a per-candidate copy of the prompt's cache."""
    with router.route(gate):
        out = lm(inputs_embeds=prompt_embeds, attention_mask=prompt_mask,
                 position_ids=position_ids_from_mask(prompt_mask), use_cache=True,
                 logits_to_keep=torch.tensor([prompt_mask.shape[1] - 1]))
    tokens, mask = pad(continuations, pad_token_id)
    total = out.logits[:, -1].float().log_softmax(-1)[owners].gather(1, tokens[:, :1]).squeeze(1)
    cache = cache_argument(out)
    next(iter(cache.values())).batch_select_indices(owners)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    positions = prompt_mask.sum(-1)[owners, None] + torch.arange(inputs.shape[1])
    with router.route(gate[owners]):
        logits = lm(input_ids=inputs, attention_mask=torch.cat([prompt_mask[owners], mask[:, :-1]], dim=1),
                    position_ids=positions, **cache).logits.float()
    token_logprobs = logits.gather(2, targets.unsqueeze(2)).squeeze(2) - logits.logsumexp(-1)
    return total + (token_logprobs * mask[:, 1:]).sum(1)


@contextmanager
def undone(model, change):
    """Undo one of the speed changes on ``model`` for the duration of the block."""
    layers = [m for m in model.modules() if isinstance(m, MoELoraLinear)]
    if change == "float32 LoRA inputs":
        for layer in layers:
            layer.cast_input_dtype_enabled = True
    elif change == "LoRA dropout 0.1":
        for layer in layers:
            layer.lora_dropout["default"] = nn.Dropout(0.1)
    elif change == "sdpa attention":
        model.set_attn_implementation("sdpa")
    try:
        yield
    finally:
        for layer in layers:
            layer.cast_input_dtype_enabled = False
            layer.lora_dropout["default"] = nn.Identity()
        model.set_attn_implementation("eager")


# --- measurements ------------------------------------------------------------------------------------------------

def matmul_flops_per_second(dtype, size=1024, repeats=10):
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    seconds = min(timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size ** 3 / seconds


def step_flops(step):
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


OPERATOR_KINDS = (
    ("matmul: backbone and attention", ("aten::mm", "aten::bmm", "aten::addmm", "aten::matmul", "aten::linear")),
    ("attention softmax / mask", ("aten::_softmax", "aten::_softmax_backward_data", "aten::masked_fill",
                                  "aten::where")),
    ("copies and casts", ("aten::copy_", "aten::_to_copy", "aten::to", "aten::contiguous", "aten::clone",
                          "aten::cat", "aten::index", "aten::index_put_", "aten::gather")),
    ("LM-head log-softmax", ("aten::_log_softmax", "aten::_log_softmax_backward_data", "aten::nll_loss_forward",
                             "aten::nll_loss_backward", "aten::exp", "aten::logsumexp")),
    ("elementwise", ("aten::mul", "aten::add", "aten::add_", "aten::sub", "aten::div", "aten::div_", "aten::pow",
                     "aten::rsqrt", "aten::silu", "aten::silu_backward", "aten::mean", "aten::sum", "aten::neg",
                     "aten::fill_", "aten::zero_", "aten::mul_", "aten::sum_", "aten::bernoulli_")),
)


def profile_split(step, rank):
    """Share of the step's self CPU time per operator kind (matrix products with a side of the LoRA rank apart:
    what fusing LoRA's skinny matmuls could save at most), and the top operators."""
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        step()
    events = prof.key_averages(group_by_input_shape=True)
    total = sum(event.self_cpu_time_total for event in events)
    kinds, top = defaultdict(float), defaultdict(lambda: [0.0, 0])
    for event in events:
        kind = next((name for name, ops in OPERATOR_KINDS if event.key in ops), "other (Python, autograd, views)")
        if kind.startswith("matmul") and any(rank in shape for shape in event.input_shapes if shape):
            kind = f"matmul: LoRA's rank-{rank} products"
        kinds[kind] += event.self_cpu_time_total
        top[event.key][0] += event.self_cpu_time_total
        top[event.key][1] += event.count
    return ([[kind, f"{value / total:.1%}", f"{value / 1e6:.2f} s"] for kind, value in
             sorted(kinds.items(), key=lambda item: -item[1])],
            [[key, f"{value / total:.1%}", count] for key, (value, count) in
             sorted(top.items(), key=lambda item: -item[1][0])[:8]])


# --- two versions side by side ---------------------------------------------------------------------------------

PROBE = Path(__file__).resolve().parent / "bench_probe.py"
NEW_CODE = Path(__file__).resolve().parents[1]


def checkout(ref):
    """A folder holding version ``ref``: the folder itself, or a git worktree of the ref (made once)."""
    if Path(ref).is_dir():
        return Path(ref).resolve()
    folder = Path(tempfile.gettempdir()) / f"recbole-ilora-{ref}"
    if not folder.is_dir():
        subprocess.run(["git", "-C", str(NEW_CODE), "worktree", "add", "--detach", str(folder), ref], check=True,
                       capture_output=True)
    return folder


def encoder_checkpoint(folder):
    """A SASRec of ml-100k (seed 2020, one epoch) that every version can load, trained once by this version."""
    from recbole_ilora.quick_start import run

    marker = folder / "encoder.txt"
    if not marker.is_file():
        result = run("SASRec", "ml-100k", config_dict={"epochs": 1, "show_progress": False, "state": "WARNING",
                                                       "results_dir": str(folder), "checkpoint_dir": str(folder)})
        marker.write_text(result["checkpoint"])
    return marker.read_text()


def probe(code, encoder, out, threads, dtype, steps, users, flops=False, compiled=False):
    """Run one measurement of the package in ``code``; its JSON result."""
    command = [sys.executable, str(PROBE), f"--encoder={encoder}", f"--out={out}", f"--threads={threads}",
               f"--steps={steps}", f"--users={users}"] + ([f"--dtype={dtype}"] if dtype else []) + \
        (["--flops"] if flops else []) + (["--compile"] if compiled else [])
    environment = {**os.environ, "PYTHONPATH": str(code), "PYTHONUNBUFFERED": "1"}
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, cwd=code)
    if completed.returncode:
        raise RuntimeError(f"probe of {code} failed:\n{completed.stderr[-3000:]}")
    return json.loads(Path(out).read_text())


def per_prompt(result):
    return statistics.median(result["step_seconds"]) / 8  # two micro-batches of 4 prompts per step


def compare(args):
    old_code, work = checkout(args.compare), Path(tempfile.mkdtemp(prefix="bench-compare-"))
    encoder = encoder_checkpoint(Path(tempfile.gettempdir()) / "bench-compare-encoder")
    versions = {"old": (old_code, args.ref_dtype, False), "new": (NEW_CODE, args.new_dtype, args.new_compile)}
    rows, count = [], 0

    def measure(name, threads, steps, users, flops=False):
        nonlocal count
        count += 1
        code, dtype, compiled = versions[name]
        return probe(code, encoder, work / f"{count}.json", threads, dtype, steps, users, flops, compiled)

    for threads in [int(t) for t in args.compare_threads.split(",")]:
        timings = {"old": [], "new": []}
        for _ in range(args.repeats):
            for name in ("old", "new"):
                timings[name].append(measure(name, threads, args.timing_steps, args.timing_users))
        train = {name: statistics.median(per_prompt(r) for r in runs) for name, runs in timings.items()}
        score = {name: statistics.median(r["score_seconds"] / r["users"] for r in runs) for name, runs in
                 timings.items()}
        dtypes = {name: runs[0]["dtype"] for name, runs in timings.items()}
        rows.append([f"training, {threads} thread(s)", f"{train['old']:.3f} s/prompt ({dtypes['old']})",
                     f"{train['new']:.3f} s/prompt ({dtypes['new']})", f"{train['old'] / train['new']:.2f}x"])
        rows.append([f"scoring, {threads} thread(s)", f"{score['old']:.3f} s/user", f"{score['new']:.3f} s/user",
                     f"{score['old'] / score['new']:.2f}x"])
    print(f"old: {old_code}; new: {NEW_CODE}; medians of {args.repeats} alternating probes of {args.timing_steps} "
          f"steps (8 prompts each) and {args.timing_users} users")
    print(tabulate(rows, headers=["measure", "old", "new", "speed-up"], tablefmt="github"))
    if not args.numbers_steps:
        return
    old = measure("old", 1, args.numbers_steps, args.numbers_users)
    new = measure("new", 1, args.numbers_steps, args.numbers_users, flops=True)
    again = measure("new", 1, args.numbers_steps, args.numbers_users)
    old_scores, new_scores = torch.tensor(old["scores"]), torch.tensor(new["scores"])
    top_old = old_scores.view(-1, CANDIDATES).argmax(1)
    top_new = new_scores.view(-1, CANDIDATES).argmax(1)
    loss_change = max(abs(a - b) / abs(a) for a, b in zip(old["losses"], new["losses"]))
    flops = new["step_flops"] / (statistics.median(new["step_seconds"]) / 2)
    print(tabulate([
        ["largest absolute score difference (nats)", f"{(old_scores - new_scores).abs().max().item():.4f}", "<= 0.05"],
        ["same top-1 candidate", f"{(top_old == top_new).float().mean().item():.1%} of {len(top_new)} users", ">= 98%"],
        [f"largest relative loss difference, {len(new['losses'])} micro-batches", f"{loss_change:.2%}", "<= 1%"],
        ["new rerun bit-identical (scores and losses)",
         str(new["scores"] == again["scores"] and new["losses"] == again["losses"]), "True"],
        ["peak memory (RSS)", f"{old['peak_rss_mb']:.0f} -> {new['peak_rss_mb']:.0f} MiB", "<= +10%"],
        ["new step FLOP/s, 1 thread", f"{flops / 1e9:.1f} GFLOP/s = {flops / new['peak_flops_at_step_shapes']:.0%} "
                                      f"of the matmul peak at the step's shapes "
                                      f"({new['peak_flops_at_step_shapes'] / 1e9:.1f} GFLOP/s)", ">= 35%"],
    ], headers=[f"numbers ({args.numbers_steps} steps, {args.numbers_users} users, 1 thread)", "measured", "goal"],
        tablefmt="github"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm_path", default=None, help="backbone (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--experts", type=int, default=4)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--batch", type=int, default=4, help="training prompts per step")
    parser.add_argument("--users", type=int, default=4, help="users per scoring / generation batch")
    parser.add_argument("--new_tokens", type=int, default=16, help="greedy tokens per answer")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--profile", action="store_true", help="also split the default step's time by operator")
    parser.add_argument("--compare", default=None, help="git ref or folder of another version: compare the two")
    parser.add_argument("--compare_threads", default="1,2", help="--compare: thread counts (default: %(default)s)")
    parser.add_argument("--ref_dtype", default=None, help="--compare: the old version's dtype (default: its own)")
    parser.add_argument("--new_dtype", default=None, help="--compare: this version's dtype (default: its own)")
    parser.add_argument("--new_compile", action="store_true",
                        help="--compare: this version with its decoder layers under torch.compile (with --compare . "
                             "the same code compiled against eager)")
    parser.add_argument("--timing_steps", type=int, default=2, help="--compare: optimizer steps per timing probe")
    parser.add_argument("--timing_users", type=int, default=8, help="--compare: users per timing probe")
    parser.add_argument("--numbers_steps", type=int, default=32,
                        help="--compare: steps (of 8 prompts: 32 micro-batches) of the numbers check; 0: none")
    parser.add_argument("--numbers_users", type=int, default=200, help="--compare: users of the numbers check")
    args = parser.parse_args()
    if args.compare:
        return compare(args)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    base, tokenizer = backbone(args)
    moe, router = inject_moe_lora(base, MoELoraConfig(r=args.rank, lora_alpha=4 * args.rank, lora_dropout=0.0,
                                                      target_modules=TARGETS, num_experts=args.experts))
    plain_base, _ = backbone(args)
    plain = get_peft_model(plain_base, LoraConfig(r=args.rank, lora_alpha=4 * args.rank, lora_dropout=0.0,
                                                  target_modules=TARGETS))
    for model in (moe, plain):  # non-zero B, as after training, so that the LoRA path is really computed
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.data.normal_(0, 0.01)

    titles = ml100k_titles()
    prompts = PromptBuilder(tokenizer, titles, movie_template(), use_item_embeddings=True)

    def random_prompt_items():
        items = rng.choice(np.arange(1, len(titles)), size=10 + CANDIDATES, replace=False).tolist()
        return items[:10], items[10:]

    def training_batch(size):
        """Tensors of ``size`` training prompts: the lm loss's rows and the softmax loss's prompts + titles."""
        samples = [random_prompt_items() for _ in range(size)]
        histories, candidate_lists = [h for h, _ in samples], [c for _, c in samples]
        targets = [c[0] for c in candidate_lists]
        prompt_ids, prompt_mask = pad([prompts.prompt_ids(h, c) for h, c in samples], prompts.pad_token_id,
                                      left=True)
        return {"lm": prompts.training_batch(histories, candidate_lists, targets), "prompt_ids": prompt_ids,
                "prompt_mask": prompt_mask, "continuations": [prompts.target_ids(item) for c in candidate_lists
                                                              for item in c],
                "lengths": torch.tensor([len(prompts.target_ids(t)) for t in targets]),
                "gate": torch.softmax(torch.randn(size, args.experts), dim=-1), "size": size}

    batch, doubled = training_batch(args.batch), training_batch(2 * args.batch)
    ids, mask, labels = batch["lm"]
    prompt_mask, continuations, gate = batch["prompt_mask"], batch["continuations"], batch["gate"]

    def lm_loss(model, loss=answer_loss):
        return loss(model, model.get_input_embeddings()(ids), mask, labels)

    def softmax_loss(model, rows=batch):
        owners = torch.arange(rows["size"]).repeat_interleave(CANDIDATES)
        logprobs = continuation_logprobs(model, router, model.get_input_embeddings()(rows["prompt_ids"]),
                                         rows["prompt_mask"], rows["gate"], rows["continuations"],
                                         owners).view(rows["size"], CANDIDATES)
        return candidate_losses(logprobs, torch.zeros(rows["size"], dtype=torch.long), rows["lengths"])[0]

    def step(model, loss_fn, scope=nullcontext, gated=True, routed=gate):
        def run():
            with scope(), (router.route(routed) if gated else nullcontext()):
                loss = loss_fn(model)
            loss.backward()
            model.zero_grad(set_to_none=True)
        return run

    doubled_name = f"softmax loss, {doubled['size']} prompts per micro-batch"
    variants = {
        "softmax loss (default)": step(moe, softmax_loss),
        doubled_name: step(moe, lambda m: softmax_loss(m, doubled), routed=doubled["gate"]),
        "lm loss": step(moe, lm_loss),
        "lm loss, plain peft LoRA": step(plain, lm_loss, gated=False),
        "lm loss + float32 LoRA inputs": step(moe, lm_loss, lambda: undone(moe, "float32 LoRA inputs")),
        "lm loss + LoRA dropout 0.1": step(moe, lm_loss, lambda: undone(moe, "LoRA dropout 0.1")),
        "lm loss + sdpa attention": step(moe, lm_loss, lambda: undone(moe, "sdpa attention")),
        "lm loss + strided LM-head slice": step(moe, lambda m: lm_loss(m, answer_loss_strided_head)),
    }
    moe.train()
    plain.train()
    times = {name: [] for name in variants}
    for run in variants.values():
        run()  # warm-up
    for _ in range(args.repeats):
        for name, run in variants.items():
            times[name].append(timed(run))
    median = {name: statistics.median(values) for name, values in times.items()}
    peak = matmul_flops_per_second(base.dtype)
    flops = {name: step_flops(variants[name]) for name in ("softmax loss (default)", "lm loss")}
    split = profile_split(variants["softmax loss (default)"], args.rank) if args.profile else None

    # Scoring vs generation, users x 20 candidates, on the MoE-LoRA model.
    moe.eval()
    users = [random_prompt_items() for _ in range(args.users)]
    user_ids, user_mask = pad([prompts.prompt_ids(h, c) for h, c in users], prompts.pad_token_id, left=True)
    embeds = moe.get_input_embeddings()(user_ids)
    user_gate = torch.softmax(torch.randn(args.users, args.experts), dim=-1)
    user_continuations = [prompts.target_ids(item) for _, c in users for item in c]
    user_owners = torch.arange(args.users).repeat_interleave(CANDIDATES)
    scorers = {
        "score": lambda: score_continuations(moe, router, embeds, user_mask, user_gate, user_continuations,
                                             user_owners),
        "padded": lambda: padded_scores(moe, router, embeds, user_mask, user_gate, user_continuations, user_owners,
                                        prompts.pad_token_id),
        "generate": lambda: greedy_answers(moe, router, tokenizer, embeds, user_mask, user_gate, args.new_tokens),
    }
    disagreement = (scorers["score"]() - scorers["padded"]()).abs().max().item()  # also the warm-up
    scorers["generate"]()
    eval_times = {name: [] for name in scorers}
    for _ in range(args.repeats):
        for name, run in scorers.items():
            eval_times[name].append(timed(run))
    score_s, padded_s, generate_s = (statistics.median(eval_times[name]) for name in scorers)

    prompt_tokens = int(prompt_mask.sum())
    print(f"backbone {base.config.name_or_path}, {args.dtype}, {args.threads} thread(s); training batch "
          f"{args.batch} prompts ({prompt_tokens} prompt tokens, {sum(map(len, continuations))} candidate-title "
          f"tokens); medians of {args.repeats} alternating repeats")
    sizes = {**{name: args.batch for name in median}, doubled_name: doubled["size"]}
    rows = [[f"{name} step", f"{seconds:.3f} s", f"{seconds / sizes[name]:.3f} s/prompt",
             f"{seconds / median['lm loss']:.2f}x the lm step"] for name, seconds in median.items()]
    compared = {row[0]: row for row in rows}
    compared["lm loss, plain peft LoRA step"][3] = \
        f"MoE-LoRA / plain LoRA = {median['lm loss'] / median['lm loss, plain peft LoRA']:.3f} (goal <= 1.05)"
    per_prompt_ratio = (median["softmax loss (default)"] / args.batch) / (median[doubled_name] / doubled["size"])
    compared[f"{doubled_name} step"][3] = f"per prompt: {per_prompt_ratio:.2f}x the default's speed"
    for name, count in flops.items():
        rows.append([f"{name}: FLOP/s (FlopCounterMode)", f"{count / median[name] / 1e9:.1f} GFLOP/s",
                     f"{count / median[name] / peak:.1%} of matmul peak", f"{count / 1e9:.0f} GFLOP per step"])
    rows.append([f"matmul peak ({base.dtype}, 1024^3)", f"{peak / 1e9:.1f} GFLOP/s", "", ""])
    rows += [
        [f"KV-cached scoring, {args.users} users x {CANDIDATES} candidates", f"{score_s:.3f} s",
         f"{args.users / score_s:.2f} users/s", ""],
        ["padded-row scoring (the layout it replaced)", f"{padded_s:.3f} s", f"{args.users / padded_s:.2f} users/s",
         f"packed: {padded_s / score_s:.2f}x faster, max absolute score difference {disagreement:.1e}"],
        [f"greedy generation, {args.users} users x {args.new_tokens} tokens", f"{generate_s:.3f} s",
         f"{args.users / generate_s:.2f} users/s", f"scoring: {generate_s / score_s:.1f}x faster"],
    ]
    print(tabulate(rows, headers=["measure", "time", "rate", "compared"], tablefmt="github"))
    if split:
        kinds, top = split
        print("\nWhere the default step's time goes (torch.profiler, self CPU time):")
        print(tabulate(kinds, headers=["operator kind", "share", "time"], tablefmt="github"))
        print(tabulate(top, headers=["top operators", "share", "calls"], tablefmt="github"))


if __name__ == "__main__":
    main()
