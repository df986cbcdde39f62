"""Training losses of the LLM recommenders (``loss_type``).

``lm`` (the iLoRA paper's): cross-entropy on the answer (target title + EOS) after the prompt. The LM head is a
third of the backbone's parameters (49k-token vocabulary) but only the answer's few positions need its logits;
with left-padded rows ending in the answer, the LM computes logits for those positions alone.

``softmax`` (the lesson of S-DPO and its successors: many negatives at once): cross-entropy over the candidates
listed in the prompt, each candidate's logit being log P(its title + EOS | prompt), the very score that ranks it at
evaluation. ``lm+softmax`` adds both; its ``lm`` term comes from the same pass (the target is one of the
candidates), so it costs nothing more than ``softmax``.
"""

import torch
import torch.nn.functional as F

from recbole_ilora.model.parts.prompt import IGNORE_INDEX
from recbole_ilora.model.parts.scoring import position_ids_from_mask

LOSS_TYPES = ("lm", "softmax", "lm+softmax")


def answer_loss(lm, inputs_embeds, attention_mask, labels):
    """Mean token cross-entropy of ``labels`` (``(B, A)``, the last ``A`` positions, as
    ``PromptBuilder.training_batch`` makes them) given left-padded ``inputs_embeds``."""
    width, answer_width = inputs_embeds.shape[1], labels.shape[1]
    # An index tensor, not an int: see scoring.last_position for why.
    keep = torch.arange(width - answer_width - 1, width, device=inputs_embeds.device)
    logits = lm(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                position_ids=position_ids_from_mask(attention_mask), logits_to_keep=keep).logits
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX)


def candidate_losses(logprobs, target_index, target_lengths):
    """``(softmax, lm)`` losses from the candidates' log-probabilities.

    Args:
        logprobs: ``(B, C)`` log P(title + EOS | prompt) of each prompt's C listed candidates.
        target_index: ``(B,)`` column of each prompt's target.
        target_lengths: ``(B,)`` tokens of each target's title + EOS.
    Returns:
        the softmax cross-entropy over the candidates (ln C at chance), and the ``lm`` loss (mean token
        cross-entropy of the targets, as ``answer_loss`` computes it).
    """
    target = logprobs.gather(1, target_index.unsqueeze(1)).squeeze(1)
    return F.cross_entropy(logprobs, target_index), -target.sum() / target_lengths.sum()
