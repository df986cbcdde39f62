"""Ranking listed candidates by the LLM: each candidate's score is the length-normalised log-probability of its
title (+ end of sequence) after the prompt.

Each prompt is encoded once. Then all of a prompt's candidate titles are packed into one row that runs over the
prompt's KV cache, with a block mask so that each title sees the prompt and its own earlier tokens only (and
positions restart after the prompt for each title). Compared with one padded row per candidate over a copied cache,
this computes no padding (titles vary from 2 to 25 tokens, so padding was two thirds of the work) and copies no
keys/values: a user's 20 candidates cost one prompt plus their titles' tokens.
"""

import torch


def position_ids_from_mask(mask):
    """Positions counting only real tokens, so that left padding does not shift them."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def pack_continuations(continuations, owners, prompt_count):
    """Lay each prompt's continuations end to end in one row.

    Returns ``(inputs, targets, segment, offset, slots)``, each ``(prompt_count, T)`` but ``slots``: the packed
    input and next-token target of every position, the continuation it belongs to (-1 = padding) and its offset
    inside it; ``slots[n]`` lists the (row, column) positions of continuation ``n``'s inputs.
    """
    rows = [[] for _ in range(prompt_count)]
    slots = []
    for index, (tokens, owner) in enumerate(zip(continuations, owners.tolist())):
        start = len(rows[owner])
        rows[owner].extend((index, offset, tokens[offset], tokens[offset + 1]) for offset in range(len(tokens) - 1))
        slots.append((owner, start, len(rows[owner])))
    width = max(1, max(len(row) for row in rows))
    packed = torch.full((4, prompt_count, width), -1, dtype=torch.long)
    for owner, row in enumerate(rows):
        if row:
            packed[:, owner, :len(row)] = torch.tensor(row, dtype=torch.long).T
    segment, offset, inputs, targets = packed
    return inputs.clamp(min=0), targets.clamp(min=0), segment, offset.clamp(min=0), slots


def packed_attention_mask(prompt_mask, segment, offset, dtype):
    """Additive ``(U, 1, T, P + T)`` mask: every query sees its prompt's real tokens, and the earlier tokens of its
    own continuation."""
    same = (segment.unsqueeze(2) == segment.unsqueeze(1)) & (segment.unsqueeze(2) >= 0)
    causal = offset.unsqueeze(2) >= offset.unsqueeze(1)
    visible = torch.cat([prompt_mask.bool().unsqueeze(1).expand(-1, segment.shape[1], -1), same & causal], dim=2)
    mask = torch.zeros(visible.shape, dtype=dtype, device=prompt_mask.device)
    return mask.masked_fill_(~visible, torch.finfo(dtype).min).unsqueeze(1)


@torch.no_grad()
def score_continuations(lm, router, prompt_embeds, prompt_mask, gate, continuations, owners):
    """Mean log-probability of each continuation after its prompt.

    Args:
        lm: the (peft-wrapped) causal LM.
        router: the MoE-LoRA ``GateRouter`` of ``lm``.
        prompt_embeds: ``(U, P, H)`` left-padded prompt input embeddings; ``prompt_mask`` their ``(U, P)`` mask.
        gate: ``(U, K)`` gate of each prompt.
        continuations: ``N`` token-id lists (a title and EOS).
        owners: ``(N,)`` index of each continuation's prompt.
    Returns:
        ``(N,)`` float scores.
    """
    device = prompt_embeds.device
    with router.route(gate):
        prompt_out = lm(inputs_embeds=prompt_embeds, attention_mask=prompt_mask,
                        position_ids=position_ids_from_mask(prompt_mask), use_cache=True, logits_to_keep=1)
    first_logprobs = prompt_out.logits[:, -1].float().log_softmax(-1)
    totals = torch.stack([first_logprobs[owner, tokens[0]] for tokens, owner in zip(continuations, owners.tolist())])
    inputs, targets, segment, offset, slots = (
        part.to(device) if torch.is_tensor(part) else part
        for part in pack_continuations(continuations, owners, len(prompt_mask)))
    if segment.ge(0).any():
        attention = packed_attention_mask(prompt_mask, segment, offset, prompt_embeds.dtype)
        positions = prompt_mask.sum(-1, keepdim=True) + offset
        with router.route(gate):
            logits = lm(input_ids=inputs, attention_mask=attention, position_ids=positions,
                        past_key_values=prompt_out.past_key_values).logits.float()
        token_logprobs = logits.gather(2, targets.unsqueeze(2)).squeeze(2) - logits.logsumexp(-1)
        totals = totals + torch.stack([token_logprobs[row, start:end].sum() for row, start, end in slots])
    lengths = torch.tensor([len(tokens) for tokens in continuations], dtype=totals.dtype, device=device)
    return totals / lengths
