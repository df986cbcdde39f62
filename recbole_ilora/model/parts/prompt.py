"""The hybrid prompt: item titles, each followed by a placeholder whose embedding becomes the item's projected
collaborative embedding.

    This user has watched {t1} [HistoryEmb], {t2} [HistoryEmb], ... Given the following 20 movie titles:
    {c1} [CansEmb], ..., recommend one movie for this user to watch next. The movie title you recommend is:

Prompts are assembled from token ids tokenised once (template pieces, every title, the separator) rather than
tokenising each prompt string: faster, and each placeholder's position is known by construction.
"""

import torch

from recbole_ilora.errors import ConfigurationError
from recbole_ilora.model.parts.backbone import CANDIDATE_TOKEN, HISTORY_TOKEN

IGNORE_INDEX = -100  # label of positions the loss skips


def prompt_template(config):
    """``prompt_template`` if set, else the template of the dataset's ``item_domain``."""
    if config["prompt_template"]:
        return config["prompt_template"]
    templates, domain = config["prompt_templates"] or {}, config["item_domain"]
    if domain not in templates:
        raise ConfigurationError(
            f"No prompt template for item_domain {domain!r}: set item_domain to one of {', '.join(templates)} in the "
            f"dataset's YAML, or give prompt_template."
        )
    return templates[domain]


def check_template(template):
    """A prompt template names ``{history}`` then ``{candidates}``, once each."""
    if not isinstance(template, str):
        raise ConfigurationError(f"The prompt template must be a string, got {template!r}.")
    for field in ("{history}", "{candidates}"):
        if template.count(field) != 1:
            raise ConfigurationError(f"The prompt template must contain {field} exactly once: {template!r}")
    if template.index("{history}") > template.index("{candidates}"):
        raise ConfigurationError(f"The prompt template must name {{history}} before {{candidates}}: {template!r}")


class PromptBuilder:
    """Token ids of prompts and target titles for one tokenizer, item title list and template.

    Args:
        tokenizer: the backbone's tokenizer, with the placeholder tokens added.
        titles: ``titles[i]`` is the title of internal item id ``i``.
        template: text with ``{history}``, ``{candidates}`` and optionally ``{count}`` (number of candidates).
        use_item_embeddings: put a placeholder after every title (hybrid prompt); otherwise titles only.
        max_title_tokens: titles are cut to this many tokens (``truncated_titles`` counts them): one very long
            title would otherwise blow up every prompt that lists it.
    """

    def __init__(self, tokenizer, titles, template, use_item_embeddings=True, max_title_tokens=None):
        check_template(template)
        self.tokenizer = tokenizer
        self.use_item_embeddings = use_item_embeddings
        self.history_token_id = tokenizer.convert_tokens_to_ids(HISTORY_TOKEN)
        self.candidate_token_id = tokenizer.convert_tokens_to_ids(CANDIDATE_TOKEN)
        self.eos_token_id = tokenizer.eos_token_id
        self.pad_token_id = tokenizer.pad_token_id
        full_titles = [self._encode(f" {title}") for title in titles]
        self.title_ids = [ids[:max_title_tokens] for ids in full_titles]
        self.truncated_titles = sum(len(ids) > len(cut) for ids, cut in zip(full_titles, self.title_ids))
        self.longest_title = max(map(len, full_titles))
        self.separator_ids = self._encode(",")
        prefix, rest = template.split("{history}")
        middle, suffix = rest.split("{candidates}")
        self.prefix_ids, self.suffix_ids = self._encode(prefix), self._encode(suffix)
        self._middle, self._middle_ids = middle, {}

    def _encode(self, text):
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _items(self, items, placeholder_id):
        ids = []
        for position, item in enumerate(items):
            if position:
                ids += self.separator_ids
            ids += self.title_ids[item]
            if self.use_item_embeddings:
                ids.append(placeholder_id)
        return ids

    def prompt_ids(self, history, candidates):
        """Token ids of one prompt; ``history`` and ``candidates`` are internal item ids in prompt order."""
        count = len(candidates)
        if count not in self._middle_ids:
            self._middle_ids[count] = self._encode(self._middle.replace("{count}", str(count)))
        return (self.prefix_ids + self._items(history, self.history_token_id) + self._middle_ids[count]
                + self._items(candidates, self.candidate_token_id) + self.suffix_ids)

    def longest_prompt(self, history_length, candidates):
        """An upper bound on the tokens of a prompt with ``history_length`` items and ``candidates`` candidates plus
        its answer: every item the longest (cut) title."""
        title = max(map(len, self.title_ids)) + len(self.separator_ids) + int(self.use_item_embeddings)
        template = len(self.prefix_ids) + len(self._encode(self._middle.replace("{count}", str(candidates))))
        return template + len(self.suffix_ids) + (history_length + candidates) * title + title + 1

    def target_ids(self, item):
        """What the model should answer: the item's title, then end of sequence."""
        return self.title_ids[item] + [self.eos_token_id]

    def training_batch(self, histories, candidate_lists, targets):
        """Left-padded ``input_ids`` and ``attention_mask`` of prompt + answer, and ``labels`` of the last ``A``
        positions only (``A`` = longest answer; shorter answers padded with ``IGNORE_INDEX`` on the left). Every
        answer ends in the last column, so the loss needs the LM's logits at the last ``A + 1`` positions only."""
        rows, answers = [], []
        for history, candidates, target in zip(histories, candidate_lists, targets):
            answer = self.target_ids(target)
            rows.append(self.prompt_ids(history, candidates) + answer)
            answers.append(answer)
        input_ids, attention_mask = pad(rows, self.pad_token_id, left=True)
        labels, _ = pad(answers, IGNORE_INDEX, left=True)
        return input_ids, attention_mask, labels


def pad(rows, value, left=False):
    """``(ids, mask)``: rows padded to one length, at the end or, with ``left``, at the start (so that every row
    ends in the last column, as batched prompts must before decoding)."""
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), value, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for index, row in enumerate(rows):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        ids[index, span] = torch.tensor(row, dtype=torch.long)
        mask[index, span] = 1
    return ids, mask
