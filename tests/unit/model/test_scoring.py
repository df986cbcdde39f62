"""How candidates are scored and what the losses built on those scores compute, on an LM whose every next-token
probability the test sets."""

import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from recbole_ilora.compat import CACHE_NAME
from recbole_ilora.model.parts.losses import candidate_losses
from recbole_ilora.model.parts.scoring import score_continuations
from recbole_ilora.tuners.moe_lora import GateRouter

PROMPT_END, EOS = 0, 1
SHORT_TITLE, LONG_TITLE = [2], [3, 4, 5, 6]
VOCABULARY = 8


class BigramLM(nn.Module):
    """A causal LM whose next-token log-probabilities depend on the current token only (``table[token]``); its
    input embeddings are one-hot rows, so prompts given as embeddings are read back as tokens."""

    def __init__(self, table):
        super().__init__()
        self.table = table
        self.embed = nn.Embedding.from_pretrained(torch.eye(len(table)))

    def get_input_embeddings(self):
        return self.embed

    def forward(self, input_ids=None, inputs_embeds=None, logits_to_keep=0, **kwargs):
        tokens = input_ids if input_ids is not None else inputs_embeds.argmax(-1)
        logits = self.table[tokens]
        if torch.is_tensor(logits_to_keep):
            logits = logits[:, logits_to_keep]
        return SimpleNamespace(logits=logits, **{CACHE_NAME: None})


def copying_lm(next_token_probability):
    """After the prompt, either title's first token with probability 1/2; inside a title, its next token (or EOS)
    with ``next_token_probability``: every token of a listed title costs the same, whatever the title's length."""
    table = torch.full((VOCABULARY, VOCABULARY), 1e-3)
    table[PROMPT_END, SHORT_TITLE[0]] = table[PROMPT_END, LONG_TITLE[0]] = 0.5
    for title in (SHORT_TITLE, LONG_TITLE):
        for token, following in zip(title, title[1:] + [EOS]):
            table[token, following] = next_token_probability
    return BigramLM((table / table.sum(1, keepdim=True)).log())


def scores(lm, reduction):
    prompt = lm.get_input_embeddings()(torch.tensor([[PROMPT_END]]))
    continuations = [SHORT_TITLE + [EOS], LONG_TITLE + [EOS]]
    return score_continuations(lm, GateRouter(1, 1), prompt, torch.ones(1, 1, dtype=torch.long), torch.ones(1, 1),
                               continuations, torch.zeros(2, dtype=torch.long), reduction).tolist()


@pytest.mark.parametrize("next_token_probability", [0.5, 0.9, 0.999])
def test_a_longer_title_does_not_outrank_a_shorter_one_by_its_length_alone(next_token_probability):
    lm = copying_lm(next_token_probability)
    short, long = scores(lm, "sum")
    assert long <= short
    short_first, long_first = scores(lm, "first")
    assert short_first == pytest.approx(long_first, abs=1e-3)
    short_mean, long_mean = scores(lm, "mean")  # the bias the default avoids
    assert long_mean > short_mean


def test_summed_score_is_the_log_probability_of_title_and_eos():
    lm = copying_lm(0.9)
    short, long = scores(lm, "sum")
    table = lm.table.tolist()
    assert short == pytest.approx(table[PROMPT_END][2] + table[2][EOS], abs=1e-5)
    assert long == pytest.approx(sum(table[a][b] for a, b in zip([PROMPT_END, 3, 4, 5, 6], [3, 4, 5, 6, EOS])), abs=1e-5)


def test_softmax_loss_is_ln_candidates_at_chance_and_lm_loss_is_the_targets_token_mean():
    logprobs = torch.full((2, 20), -7.0, requires_grad=True)
    softmax, lm = candidate_losses(logprobs, torch.tensor([3, 11]), torch.tensor([4, 3]))
    assert softmax.item() == pytest.approx(math.log(20))
    assert lm.item() == pytest.approx(14 / 7)
    softmax.backward()
    assert logprobs.grad[0, 3] < 0 < logprobs.grad[0, 4]  # raises the target, lowers the others
