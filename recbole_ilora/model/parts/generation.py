"""The paper's generation metrics: greedy decoding, then which listed candidates the answer names.

ValidRatio = answers naming exactly one candidate / all answers; HR@1 = answers naming exactly the target / all
answers (``generation_hr@1``), also reported over valid answers only (``generation_hr@1_of_valid``).
"""

import torch


@torch.no_grad()
def greedy_answers(lm, router, tokenizer, prompt_embeds, prompt_mask, gate, max_new_tokens):
    """Greedy continuation of each left-padded prompt, decoded to text (generate() derives positions from the
    attention mask, so left padding does not shift them)."""
    with router.route(gate):
        generated = lm.generate(
            inputs_embeds=prompt_embeds, attention_mask=prompt_mask, max_new_tokens=max_new_tokens, do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    return tokenizer.batch_decode(generated, skip_special_tokens=True)


def named_candidates(answer, candidate_titles):
    """Indices of the candidates whose title occurs in the answer (case-insensitive)."""
    text = answer.lower()
    return [index for index, title in enumerate(candidate_titles) if title.strip().lower() in text]


class GenerationTally:
    """Counts answers, valid answers and correct answers over an evaluation."""

    def __init__(self):
        self.answers = self.valid = self.correct = 0

    def add(self, answer, candidate_titles, target_index):
        named = named_candidates(answer, candidate_titles)
        self.answers += 1
        if len(named) == 1:
            self.valid += 1
            self.correct += named[0] == target_index

    @classmethod
    def merged(cls, tallies):
        """One tally of several (each process's, under torchrun)."""
        total = cls()
        for tally in tallies:
            total.answers, total.valid, total.correct = (total.answers + tally.answers, total.valid + tally.valid,
                                                         total.correct + tally.correct)
        return total

    def metrics(self):
        return {
            "generation_valid_ratio": self.valid / max(self.answers, 1),
            "generation_hr@1": self.correct / max(self.answers, 1),
            "generation_hr@1_of_valid": self.correct / max(self.valid, 1),
        }
