"""The hybrid prompt: item titles, each followed by a placeholder whose embedding becomes the item's projected
collaborative embedding.

    This user has watched {t1} [HistoryEmb], {t2} [HistoryEmb], ... Given the following 20 movie titles:
    {c1} [CansEmb], ..., recommend one movie for this user to watch next. The movie title you recommend is:

Prompts are assembled from token ids tokenised once (template pieces, every title, the separator) rather than
tokenising each prompt string: faster, and each placeholder's position is known by construction.
"""

import string

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


TEMPLATE_FIELDS = ("history", "candidates", "count")


def template_segments(template):
    """A prompt template checked and cut at ``{history}`` and ``{candidates}``: three ``str.format`` templates (the
    text before, between and after them) in which ``{count}`` is the only field, as in the template (``{{`` and
    ``}}`` write literal braces). ``{history}`` and ``{candidates}`` appear once each, in that order."""
    if not isinstance(template, str):
        raise ConfigurationError(f"The prompt template must be a string, got {template!r}.")
    if HISTORY_TOKEN in template or CANDIDATE_TOKEN in template:
        raise ConfigurationError(f"The prompt template contains {HISTORY_TOKEN} or {CANDIDATE_TOKEN}, the tokens "
                                 f"the prompt puts after each title for its item embedding: remove them "
                                 f"({{history}} and {{candidates}} place the titles).")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ConfigurationError(f"The prompt template has an unmatched brace ({error}): write {{{{ or }}}} for a "
                                 f"literal brace. Template: {template!r}") from None
    segments, current, order = [], [], []
    for literal, field, spec, conversion in parsed:
        current.append(literal.replace("{", "{{").replace("}", "}}"))
        if field is None:
            continue
        if field not in TEMPLATE_FIELDS or spec or conversion:
            raise ConfigurationError(f"The prompt template's field {{{field}{'!' + conversion if conversion else ''}"
                                     f"{':' + spec if spec else ''}}} is not one of {{history}}, {{candidates}}, "
                                     f"{{count}} (write {{{{ for a literal brace): {template!r}")
        if field == "count":
            current.append("{count}")
        else:
            order.append(field)
            segments.append("".join(current))
            current = []
    segments.append("".join(current))
    if order != ["history", "candidates"]:
        raise ConfigurationError(f"The prompt template must name {{history}} and then {{candidates}}, once each: "
                                 f"{template!r}")
    return segments


def check_template(template):
    template_segments(template)


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
        self._segments = template_segments(template)  # before {history}, between, after {candidates}
        self._segment_ids = {}  # count -> token ids of the three segments
        self.tokenizer = tokenizer
        self.use_item_embeddings = use_item_embeddings
        self.history_token_id = tokenizer.convert_tokens_to_ids(HISTORY_TOKEN)
        self.candidate_token_id = tokenizer.convert_tokens_to_ids(CANDIDATE_TOKEN)
        self.eos_token_id = tokenizer.eos_token_id
        self.pad_token_id = tokenizer.pad_token_id
        full_titles = [self._encode(f" {title}", plain=True) for title in titles]
        self.title_ids = [ids[:max_title_tokens] for ids in full_titles]
        self.truncated_titles = sum(len(ids) > len(cut) for ids, cut in zip(full_titles, self.title_ids))
        self.longest_title = max(map(len, full_titles))
        self.separator_ids = self._encode(",")

    def _encode(self, text, plain=False):
        """Token ids of ``text``; with ``plain``, special-token strings in it ("</s>", "<|im_end|>" in a title) are
        tokenised as text, not as the special tokens (an EOS mid-title would end the answer there)."""
        split = plain or self.tokenizer.split_special_tokens  # otherwise the tokenizer's own setting, as before
        return self.tokenizer(text, add_special_tokens=False, split_special_tokens=split)["input_ids"]

    def _items(self, items, placeholder_id):
        ids = []
        for position, item in enumerate(items):
            if position:
                ids += self.separator_ids
            ids += self.title_ids[item]
            if self.use_item_embeddings:
                ids.append(placeholder_id)
        return ids

    def _template_ids(self, count):
        """Token ids of the template's three segments for ``count`` candidates."""
        if count not in self._segment_ids:
            self._segment_ids[count] = [self._encode(segment.format(count=count)) for segment in self._segments]
        return self._segment_ids[count]

    def prompt_ids(self, history, candidates):
        """Token ids of one prompt; ``history`` and ``candidates`` are internal item ids in prompt order."""
        prefix, middle, suffix = self._template_ids(len(candidates))
        return (prefix + self._items(history, self.history_token_id) + middle
                + self._items(candidates, self.candidate_token_id) + suffix)

    def longest_prompt(self, history_length, candidates):
        """An upper bound on the tokens of a prompt with ``history_length`` items and ``candidates`` candidates plus
        its answer: every item the longest (cut) title."""
        title = max(map(len, self.title_ids)) + len(self.separator_ids) + int(self.use_item_embeddings)
        template = sum(map(len, self._template_ids(candidates)))
        return template + (history_length + candidates) * title + title + 1

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
