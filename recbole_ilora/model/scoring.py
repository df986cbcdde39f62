"""Ranking listed candidates by the LLM: each candidate's score is the length-normalised log-probability of its
title (+ end of sequence) after the prompt. Each prompt is encoded once; all candidates are then scored in one
batch over the prompts' KV cache, so a user's 20 candidates cost one prompt plus 20 short continuations."""

import torch

from recbole_ilora.model.prompt import pad


def position_ids_from_mask(mask):
    """Positions counting only real tokens, so that left padding does not shift them."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


@torch.no_grad()
def score_continuations(lm, router, prompt_embeds, prompt_mask, gate, continuations, owners, pad_token_id):
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
    with router.route(gate):
        prompt_out = lm(inputs_embeds=prompt_embeds, attention_mask=prompt_mask,
                        position_ids=position_ids_from_mask(prompt_mask), use_cache=True, logits_to_keep=1)
    first_logprobs = prompt_out.logits[:, -1].float().log_softmax(-1)[owners]
    tokens, mask = pad(continuations, pad_token_id)
    tokens, mask = tokens.to(gate.device), mask.to(gate.device)
    total = first_logprobs.gather(1, tokens[:, :1]).squeeze(1)
    if tokens.shape[1] > 1:
        cache = prompt_out.past_key_values
        cache.batch_select_indices(owners)  # one copy of the prompt's keys/values per candidate
        inputs, targets, target_mask = tokens[:, :-1], tokens[:, 1:], mask[:, 1:]
        attention = torch.cat([prompt_mask[owners], mask[:, :-1]], dim=1)
        positions = prompt_mask.sum(-1)[owners, None] + torch.arange(inputs.shape[1], device=inputs.device)
        with router.route(gate[owners]):
            logits = lm(input_ids=inputs, attention_mask=attention, position_ids=positions,
                        past_key_values=cache, use_cache=True).logits.float()
        token_logprobs = logits.gather(2, targets.unsqueeze(2)).squeeze(2) - logits.logsumexp(-1)
        total = total + (token_logprobs * target_mask).sum(1)
    return total / mask.sum(1)
