"""Benchmark: what iLoRA costs next to plain LoRA, and what scoring costs next to generation.

In one process, on the same batch, with the real backbone (default SmolLM2-135M-Instruct):
  1. training step (forward + backward) of MoE-LoRA (K experts, rank r) / plain peft LoRA (rank r): goal <= 1.05;
  2. training FLOP/s (FLOPs counted by torch's FlopCounterMode) as a fraction of a matmul's FLOP/s measured here;
  3. users/s of KV-cached candidate scoring (prompt once, 20 candidates packed over its cache) vs greedy generation,
     and vs the padded layout it replaced (one padded row per candidate over a copied cache).
Measurements alternate between the variants, so machine noise hits both alike. Prompts are real ml-100k prompts
(titles from the .item file embedded in recbole), with random histories and candidates.

    python run_scripts/bench_speed.py                      # bf16 on CPU, a few minutes on 2 cores
    python run_scripts/bench_speed.py --dtype float32 --repeats 5
"""

import argparse
import os
import statistics
import time
from contextlib import nullcontext

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as run_recbole does (README: CPU threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from tabulate import tabulate  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from recbole_ilora.model.losses import answer_loss  # noqa: E402
from recbole_ilora.model.backbone import load_backbone  # noqa: E402
from recbole_ilora.model.generation import greedy_answers  # noqa: E402
from recbole_ilora.model.prompt import IGNORE_INDEX, PromptBuilder, pad  # noqa: E402
from recbole_ilora.model.scoring import position_ids_from_mask, score_continuations  # noqa: E402
from recbole_ilora.paths import EMBEDDED_DATASETS_DIR, PROPERTIES_DIR  # noqa: E402
from recbole_ilora.tuners.moe_lora import MoELoraConfig, inject_moe_lora  # noqa: E402

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def ml100k_titles():
    lines = (EMBEDDED_DATASETS_DIR / "ml-100k" / "ml-100k.item").read_text(encoding="utf-8").splitlines()[1:]
    return [""] + [line.split("\t")[1] for line in lines]


def movie_template():
    import yaml

    return yaml.safe_load((PROPERTIES_DIR / "model" / "iLoRA.yaml").read_text())["prompt_templates"]["movie"]


def backbone(args):
    config = {"llm_path": args.llm_path, "llm_cache_dir": "~/.cache/recbole_ilora", "dtype": args.dtype,
              "load_in_8bit": False, "load_in_4bit": False, "device": torch.device("cpu")}
    return load_backbone(config)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def train_step(model, gate_scope, loss_fn):
    with gate_scope():
        loss = loss_fn(model)
    loss.backward()
    model.zero_grad(set_to_none=True)


@torch.no_grad()
def padded_scores(lm, router, prompt_embeds, prompt_mask, gate, continuations, owners, pad_token_id):
    """The layout packed scoring replaced, kept here as its comparator: one row per candidate, padded to the longest
    title, over a per-candidate copy of the prompt's cache."""
    with router.route(gate):
        out = lm(inputs_embeds=prompt_embeds, attention_mask=prompt_mask,
                 position_ids=position_ids_from_mask(prompt_mask), use_cache=True, logits_to_keep=1)
    tokens, mask = pad(continuations, pad_token_id)
    total = out.logits[:, -1].float().log_softmax(-1)[owners].gather(1, tokens[:, :1]).squeeze(1)
    out.past_key_values.batch_select_indices(owners)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    positions = prompt_mask.sum(-1)[owners, None] + torch.arange(inputs.shape[1])
    with router.route(gate[owners]):
        logits = lm(input_ids=inputs, attention_mask=torch.cat([prompt_mask[owners], mask[:, :-1]], dim=1),
                    position_ids=positions, past_key_values=out.past_key_values).logits.float()
    token_logprobs = logits.gather(2, targets.unsqueeze(2)).squeeze(2) - logits.logsumexp(-1)
    return (total + (token_logprobs * mask[:, 1:]).sum(1)) / mask.sum(1)


def matmul_flops_per_second(dtype, size=1024, repeats=10):
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    seconds = min(timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size ** 3 / seconds


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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    base, tokenizer = backbone(args)
    moe, router = inject_moe_lora(base, MoELoraConfig(r=args.rank, lora_alpha=args.rank, lora_dropout=0.0,
                                                      target_modules=TARGETS, num_experts=args.experts))
    plain_base, _ = backbone(args)
    plain = get_peft_model(plain_base, LoraConfig(r=args.rank, lora_alpha=args.rank, lora_dropout=0.0,
                                                  target_modules=TARGETS))
    for model in (moe, plain):  # non-zero B, as after training, so that the LoRA path is really computed
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.data.normal_(0, 0.01)

    titles = ml100k_titles()
    prompts = PromptBuilder(tokenizer, titles, movie_template(), use_item_embeddings=True)

    def random_prompt_items():
        items = rng.choice(np.arange(1, len(titles)), size=30, replace=False).tolist()
        return items[:10], items[10:]

    samples = [random_prompt_items() for _ in range(args.batch)]
    ids, mask, labels = prompts.training_batch([h for h, _ in samples], [c for _, c in samples],
                                               [c[0] for _, c in samples])
    full_labels = torch.full_like(ids, IGNORE_INDEX)
    full_labels[:, -labels.shape[1]:] = labels

    def ours(model):
        return answer_loss(model, model.get_input_embeddings()(ids), mask, labels)

    def all_positions(model):  # the comparator: transformers' own loss, LM head over every position
        return model(input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask),
                     labels=full_labels).loss

    gate = torch.softmax(torch.randn(args.batch, args.experts), dim=-1)
    variants = {"MoE-LoRA": (moe, lambda: router.route(gate), ours),
                "plain LoRA": (plain, nullcontext, ours),
                "MoE-LoRA, labels= loss": (moe, lambda: router.route(gate), all_positions)}
    step_times = {name: [] for name in variants}
    for variant in variants.values():
        train_step(*variant)  # warm-up
    for _ in range(args.repeats):
        for name, variant in variants.items():
            step_times[name].append(timed(lambda: train_step(*variant)))
    with FlopCounterMode(display=False) as counter:
        train_step(*variants["MoE-LoRA"])
    step_flops = counter.get_total_flops()
    peak = matmul_flops_per_second(base.dtype)

    # Scoring vs generation, users x 20 candidates, on the MoE-LoRA model.
    moe.eval()
    users = [random_prompt_items() for _ in range(args.users)]
    prompt_ids, prompt_mask = pad([prompts.prompt_ids(h, c) for h, c in users], prompts.pad_token_id, left=True)
    embeds = moe.get_input_embeddings()(prompt_ids)
    user_gate = torch.softmax(torch.randn(args.users, args.experts), dim=-1)
    continuations = [prompts.target_ids(item) for _, c in users for item in c]
    owners = torch.arange(args.users).repeat_interleave(20)

    def score():
        return score_continuations(moe, router, embeds, prompt_mask, user_gate, continuations, owners)

    def score_padded():
        return padded_scores(moe, router, embeds, prompt_mask, user_gate, continuations, owners, prompts.pad_token_id)

    def generate():
        greedy_answers(moe, router, tokenizer, embeds, prompt_mask, user_gate, args.new_tokens)

    disagreement = (score() - score_padded()).abs().max().item()  # also the warm-up
    generate()
    eval_times = {"score": [], "padded": [], "generate": []}
    for _ in range(args.repeats):
        eval_times["score"].append(timed(score))
        eval_times["padded"].append(timed(score_padded))
        eval_times["generate"].append(timed(generate))

    moe_step, plain_step, full_step = (statistics.median(times) for times in step_times.values())
    score_s, padded_s, generate_s = (statistics.median(eval_times[name]) for name in ("score", "padded", "generate"))
    tokens = int(mask.sum())
    print(f"backbone {base.config.name_or_path}, {args.dtype}, {args.threads} thread(s); training batch "
          f"{args.batch} prompts, {tokens} tokens; medians of {args.repeats} alternating repeats")
    print(tabulate([
        [f"MoE-LoRA K={args.experts} r={args.rank} training step", f"{moe_step:.3f} s", f"{tokens / moe_step:.0f} tokens/s"],
        [f"plain LoRA r={args.rank} training step", f"{plain_step:.3f} s", f"{tokens / plain_step:.0f} tokens/s"],
        ["MoE-LoRA / plain LoRA step time", f"{moe_step / plain_step:.3f}", "goal <= 1.05"],
        ["MoE-LoRA step, LM head over every position", f"{full_step:.3f} s",
         f"answer-only logits {full_step / moe_step:.2f}x faster"],
        ["training FLOP/s (FlopCounterMode)", f"{step_flops / moe_step / 1e9:.1f} GFLOP/s",
         f"{step_flops / moe_step / peak:.1%} of matmul peak"],
        [f"matmul peak ({base.dtype}, 1024^3)", f"{peak / 1e9:.1f} GFLOP/s", ""],
        [f"KV-cached scoring, {args.users} users x 20 candidates", f"{score_s:.3f} s",
         f"{args.users / score_s:.2f} users/s"],
        ["padded-row scoring (the layout it replaced)", f"{padded_s:.3f} s", f"{args.users / padded_s:.2f} users/s"],
        ["packed over padded scoring speed-up", f"{padded_s / score_s:.2f}x",
         f"max |score difference| {disagreement:.1e}"],
        [f"greedy generation, {args.users} users x {args.new_tokens} tokens", f"{generate_s:.3f} s",
         f"{args.users / generate_s:.2f} users/s"],
        ["scoring speed-up over generation", f"{generate_s / score_s:.1f}x", ""],
    ], headers=["measure", "value", ""], tablefmt="github"))


if __name__ == "__main__":
    main()
