"""The training loss: cross-entropy on the answer (target title + EOS) only.

The LM head is a third of the backbone's parameters (49k-token vocabulary) but only the answer's few positions need
its logits; with left-padded rows ending in the answer, the LM computes logits for those positions alone
(``logits_to_keep``), instead of for every prompt token as ``labels=`` would.
"""

import torch.nn.functional as F

from recbole_ilora.model.prompt import IGNORE_INDEX
from recbole_ilora.model.scoring import position_ids_from_mask


def answer_loss(lm, inputs_embeds, attention_mask, labels):
    """Mean token cross-entropy of ``labels`` (``(B, A)``, the last ``A`` positions, as
    ``PromptBuilder.training_batch`` makes them) given left-padded ``inputs_embeds``."""
    answer_width = labels.shape[1]
    logits = lm(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                position_ids=position_ids_from_mask(attention_mask), logits_to_keep=answer_width + 1).logits
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX)
