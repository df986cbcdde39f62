r"""iLoRA
################################################

Reference:
    Xiaoyu Kong et al. "Customizing Language Models with Instance-wise LoRA for Sequential Recommendation."
    NeurIPS 2024.

A frozen causal LM reads a hybrid prompt (titles, each followed by its projected SASRec embedding) and is fine-tuned
with a mixture of LoRA experts; a gate driven by the frozen SASRec's representation of the user's history mixes the
experts per sequence. Only the projector, the gate and the LoRA weights train.
"""

from logging import getLogger

import numpy as np
import torch

from recbole_ilora import random_streams
from recbole_ilora.data.candidates import sample_distinct
from recbole_ilora.data.titles import item_titles
from recbole_ilora.model.checks import iLoRAChecks
from recbole_ilora.model.llm_recommender import LLMRecommender, RequiredRun, TrainingStep
from recbole_ilora.model.parts.backbone import load_backbone
from recbole_ilora.model.parts.gate import Gate
from recbole_ilora.model.parts.generation import greedy_answers
from recbole_ilora.model.parts.losses import answer_loss, candidate_losses
from recbole_ilora.model.parts.projector import Projector
from recbole_ilora.model.parts.prompt import IGNORE_INDEX, PromptBuilder, pad, prompt_template
from recbole_ilora.model.parts.sasrec_encoder import ENCODER_MODEL, encoder_run_config, load_frozen_encoder
from recbole_ilora.model.parts.scoring import continuation_logprobs, score_continuations
from recbole_ilora.model.parts.transfer import TRANSFER_KEY, transfer_source
from recbole_ilora.tuners.moe_lora import MoELoraConfig, enable_checkpointing, inject_moe_lora

END_OF_TRAINING = TrainingStep(epoch=0, step=1, total_steps=1)

# The linear layers of a Llama decoder layer in their order: the one spelling of lora_target_modules.
LAYER_ORDER = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class iLoRA(LLMRecommender):
    r"""Instance-wise MoE-LoRA over a frozen LLM, scoring the candidates listed in its prompt."""

    checks = iLoRAChecks

    @staticmethod
    def needs_encoder(config):
        """The SASRec is needed for item embeddings, for a gate on its representation (K > 1, ``gate_input``
        sasrec), or to retrieve full-ranking candidates."""
        full_ranking = "full" in config["eval_args"]["mode"].values()
        sasrec_gate = config["num_experts"] > 1 and (config["gate_input"] or "sasrec") == "sasrec"
        return bool(config["use_item_embeddings"]) or sasrec_gate or full_ranking

    @classmethod
    def required_runs(cls, config):
        """The SASRec run that provides the frozen encoder (``sasrec_checkpoint`` may name a finished one), and with
        ``transfer_from`` the run whose trained weights this one evaluates (``transfer_checkpoint``)."""
        required = {}
        if cls.needs_encoder(config):
            required["sasrec_checkpoint"] = RequiredRun(ENCODER_MODEL, encoder_run_config(config), "encoder_config")
        source = transfer_source(config)
        if source is not None:
            required[TRANSFER_KEY] = source
        return required

    @classmethod
    def canonical_values(cls, values):
        """``lora_target_modules`` once each, in a decoder layer's order (peft adapts a set of layers), and
        ``curriculum`` off without item embeddings (TALLRec: every prompt is text-only either way)."""
        targets = values.get("lora_target_modules")
        if isinstance(targets, list) and all(isinstance(name, str) for name in targets):
            values["lora_target_modules"] = sorted(dict.fromkeys(targets), key=lambda name: (
                LAYER_ORDER.index(name) if name in LAYER_ORDER else len(LAYER_ORDER), name))
        if values.get("curriculum") and values.get("use_item_embeddings") is False:
            getLogger().warning("curriculum alternates hybrid and text-only prompts; without item embeddings every "
                                "prompt is text-only: curriculum ignored (the run is the one without it).")
            values["curriculum"] = False

    @classmethod
    def trains(cls, config):
        """A run with ``transfer_from`` evaluates its source run's weights, untouched."""
        return config["transfer_from"] is None

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.num_experts = config["num_experts"]
        self.use_item_embeddings = bool(config["use_item_embeddings"])
        self.history_length = config["history_length"]
        self.train_negatives = config["train_negatives"]
        self.rerank_top_n = config["rerank_top_n"]
        self.loss_type = config["loss_type"]
        self.score_reduction = config["score_reduction"]
        self.curriculum = bool(config["curriculum"]) and self.use_item_embeddings
        self.seed = config["seed"]
        self.gate_input = config["gate_input"] or "sasrec"
        self.titles = item_titles(dataset, config["item_text_field"])
        self.encoder = load_frozen_encoder(config["sasrec_checkpoint"], dataset) if self.needs_encoder(config) else None
        backbone, self.tokenizer = load_backbone(config)
        self.llm, self.router = inject_moe_lora(backbone, self._lora_config(config))
        if config["gradient_checkpointing"]:
            enable_checkpointing(self.llm, self.router)
        encoder_dim, llm_dim = self.encoder.hidden_size if self.encoder else None, backbone.config.hidden_size
        self.projector = Projector(encoder_dim, llm_dim) if self.use_item_embeddings else None
        gate_dim = encoder_dim if self.gate_input == "sasrec" else llm_dim
        self.gate = (Gate(gate_dim, self.num_experts, config["gate_type"], config["gate_temperature"])
                     if self.num_experts > 1 else None)
        if self.gate is not None and self.gate_input == "token":  # one gate, applied at every decoder layer
            self.router.use_token_gate(self.gate, self.llm.get_base_model().get_decoder().layers)
        self.prompts = PromptBuilder(self.tokenizer, self.titles, prompt_template(config), self.use_item_embeddings,
                                     config["max_title_tokens"])
        self.last_statistics = {}
        for part in (self.encoder, self.projector, self.gate):  # the backbone was loaded onto its device
            if part is not None:
                part.to(config["device"])

    @staticmethod
    def _lora_config(config):
        return MoELoraConfig(r=config["lora_r"], lora_alpha=config["lora_alpha"], lora_dropout=config["lora_dropout"],
                             target_modules=list(config["lora_target_modules"]), num_experts=config["num_experts"],
                             task_type="CAUSAL_LM")

    def train(self, mode=True):
        super().train(mode)
        if self.encoder is not None:
            self.encoder.eval()  # frozen: its dropout stays off
        return self

    def __str__(self):
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        backbone = self.llm.get_base_model()
        return (f"{type(self).__name__}(backbone={backbone.config.name_or_path} {backbone.dtype}, "
                f"MoE-LoRA r={self.router.rank} K={self.num_experts} on {sorted(self.llm.peft_config['default'].target_modules)}, "
                f"gate={self.gate}, projector={self.projector}, encoder={type(self.encoder).__name__ if self.encoder else None})"
                f"\nTrainable parameters: {trainable}")

    # ----- pieces shared by training, scoring and generation -----

    def _histories(self, item_seq, lengths):
        """The last ``history_length`` items of each sequence (RecBole pads sequences at the end)."""
        return [row[max(0, n - self.history_length):n] for row, n in zip(item_seq.tolist(), lengths.tolist())]

    def _gates(self, item_seq, lengths, embeds, mask):
        """The ``(batch, K)`` gate of each sequence, from ``gate_input``: its SASRec representation (sasrec), the
        mean of its prompt's input embeddings (``embeds`` where ``mask``; prompt); None routes per token (token,
        by the router). Without experts: ones (plain LoRA)."""
        if self.gate is None:
            return torch.ones(item_seq.shape[0], 1, device=item_seq.device)
        if self.gate_input == "token":
            return None
        if self.gate_input == "prompt":
            weights = mask.unsqueeze(-1).to(embeds.dtype)
            return self.gate(((embeds.detach() * weights).sum(1) / weights.sum(1).clamp_min(1)).float())
        with torch.no_grad():
            sequence_repr = self.encoder(item_seq, lengths)
        return self.gate(sequence_repr)

    def _note_gate(self, gate):
        if gate is not None and self.gate is not None:
            entropy = -(gate * gate.clamp_min(1e-12).log()).sum(-1) / np.log(self.num_experts)
            self.last_statistics["gate_entropy"] = entropy.mean().item()

    def _input_embeds(self, input_ids, prompt_items, text_only=False):
        """Token embeddings, with each placeholder replaced by its item's projected SASRec embedding.

        ``prompt_items`` lists, per row, the items whose placeholders appear in that row, in prompt order. With
        ``text_only`` the placeholders keep their token's own embedding (the curriculum's text-only prompts).
        """
        embeds = self.llm.get_input_embeddings()(input_ids)
        if not self.use_item_embeddings or text_only:
            return embeds
        slots = (input_ids == self.prompts.history_token_id) | (input_ids == self.prompts.candidate_token_id)
        items = torch.tensor([item for row in prompt_items for item in row], device=input_ids.device)
        if int(slots.sum()) != len(items):
            raise RuntimeError("Placeholder count differs from item count: does an item title contain "
                               "[HistoryEmb] or [CansEmb]?")
        projected = self.projector(self.encoder.item_embedding(items)).to(embeds.dtype)
        return embeds.masked_scatter(slots.unsqueeze(-1), projected)

    def _prompt_order(self, user, count):
        """Seeded shuffle of a user's candidates for the prompt: RecBole lists the positive first, and a prompt that
        did the same would leak the answer's position."""
        return random_streams.generator(self.seed, random_streams.PROMPT_ORDER, user).permutation(count).tolist()

    def _encode_prompts(self, histories, candidate_lists, device, text_only=False):
        """Left-padded input embeddings and attention mask of the prompts listing ``candidate_lists`` in order."""
        ids, mask = pad([self.prompts.prompt_ids(h, c) for h, c in zip(histories, candidate_lists)],
                        self.prompts.pad_token_id, left=True)
        ids, mask = ids.to(device), mask.to(device)
        return self._input_embeds(ids, [h + c for h, c in zip(histories, candidate_lists)], text_only), mask

    def _prompts(self, item_seq, lengths, users, candidate_lists):
        """Left-padded prompt embeddings, mask and gate for users whose candidates are listed (shuffled)."""
        histories = self._histories(item_seq, lengths)
        shown = []
        for user, candidates in zip(users.tolist(), candidate_lists):
            shown.append([candidates[i] for i in self._prompt_order(user, len(candidates))])
        embeds, mask = self._encode_prompts(histories, shown, item_seq.device)
        return embeds, mask, self._gates(item_seq, lengths, embeds, mask), shown

    def _candidate_continuations(self, candidate_lists, device):
        """Each candidate's answer tokens (title + EOS), and the index of the prompt that lists it."""
        owners = torch.tensor([u for u, c in enumerate(candidate_lists) for _ in c], device=device)
        return [self.prompts.target_ids(item) for candidates in candidate_lists for item in candidates], owners

    # ----- training -----

    def _training_candidates(self, history, target, key):
        """The target and ``train_negatives`` items outside the history, shuffled; drawn from an RNG keyed by
        ``key`` (epoch, user, position), so that a sample's draw is the same however batches are split."""
        excluded = set(history) | {target, 0}
        if self.n_items - len(excluded) < self.train_negatives:
            raise ValueError(f"Too few items outside the history to draw {self.train_negatives} negatives.")
        rng = random_streams.generator(self.seed, random_streams.TRAINING_NEGATIVES, *key)
        candidates = sample_distinct(rng, self.n_items, excluded, self.train_negatives).tolist()
        candidates.append(target)
        rng.shuffle(candidates)
        return candidates

    def _text_only(self, step):
        """The curriculum's draw for an optimizer step: text-only with probability 1 - progress."""
        return self.curriculum and random_streams.generator(
            self.seed, random_streams.CURRICULUM, step.epoch, step.step).random() >= step.progress

    def calculate_loss(self, interaction, step=None):
        """The ``loss_type`` loss of prompts listing each target with sampled negatives in random order.

        With ``curriculum`` on, an optimizer ``step``'s batches are text-only (placeholders without item embeddings)
        with probability 1 - its progress.
        """
        step = step or END_OF_TRAINING
        item_seq, lengths = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        targets = interaction[self.POS_ITEM_ID].tolist()
        histories = self._histories(item_seq, lengths)
        keys = [(step.epoch, user, length) for user, length in zip(interaction[self.USER_ID].tolist(), lengths.tolist())]
        candidates = [self._training_candidates(h, t, k) for h, t, k in zip(histories, targets, keys)]
        text_only = self._text_only(step)
        self.last_statistics = {"text_only": float(text_only)}
        if self.loss_type == "lm":
            return self._answer_loss(item_seq, lengths, histories, candidates, targets, text_only)
        return self._candidate_loss(item_seq, lengths, histories, candidates, targets, text_only)

    def _answer_loss(self, item_seq, lengths, histories, candidates, targets, text_only):
        """The paper's loss: cross-entropy of the target's title + EOS appended to the prompt."""
        device = item_seq.device
        input_ids, attention_mask, labels = (
            tensor.to(device) for tensor in self.prompts.training_batch(histories, candidates, targets))
        embeds = self._input_embeds(input_ids, [h + c for h, c in zip(histories, candidates)], text_only)
        prompt_mask = attention_mask.clone()  # the answer's positions are the labelled ones of the last columns
        prompt_mask[:, -labels.shape[1]:] *= (labels == IGNORE_INDEX).to(prompt_mask.dtype)
        gate = self._gates(item_seq, lengths, embeds, prompt_mask)
        self._note_gate(gate)
        with self.router.route(gate):
            loss = answer_loss(self.llm, embeds, attention_mask, labels)
        self.last_statistics["lm_loss"] = loss.item()
        return loss

    def _candidate_loss(self, item_seq, lengths, histories, candidates, targets, text_only):
        """Softmax over the listed candidates scored as at evaluation (plus, for ``lm+softmax``, the target's token
        cross-entropy from the same pass)."""
        device = item_seq.device
        embeds, mask = self._encode_prompts(histories, candidates, device, text_only)
        gate = self._gates(item_seq, lengths, embeds, mask)
        self._note_gate(gate)
        continuations, owners = self._candidate_continuations(candidates, device)
        logprobs = continuation_logprobs(self.llm, self.router, embeds, mask, gate, continuations, owners)
        logprobs = logprobs.view(len(candidates), -1)
        target_index = torch.tensor([c.index(t) for c, t in zip(candidates, targets)], device=device)
        target_lengths = torch.tensor([len(self.prompts.target_ids(t)) for t in targets], device=device)
        softmax, lm = candidate_losses(logprobs, target_index, target_lengths)
        self.last_statistics.update(softmax_loss=softmax.item(), lm_loss=lm.item(),
                                    **{"hit@1": (logprobs.argmax(1) == target_index).float().mean().item()})
        return softmax if self.loss_type == "softmax" else softmax + lm

    @property
    def may_leave_parameters_unused(self):
        return self.curriculum  # a text-only batch leaves the projector idle

    def optimizer_groups(self):
        """LoRA, projector and gate: three learning rates (``learning_rate``, ``projector_learning_rate``,
        ``gate_learning_rate``)."""
        groups = {"lora": [], "projector": [], "gate": []}
        for name, param in self.named_parameters():
            if param.requires_grad:
                module = name.split(".", 1)[0]
                groups[module if module in ("projector", "gate") else "lora"].append(param)
        return {name: params for name, params in groups.items() if params}

    def training_statistics(self):
        """Scalars of the last ``calculate_loss`` for the trainer's log: its losses, training Hit@1 among the
        listed candidates (softmax losses), the gate's normalised entropy, whether the batch was text-only."""
        return dict(self.last_statistics)

    # ----- scoring for RecBole's evaluator -----

    def _score_users(self, item_seq, lengths, users, candidate_lists):
        """Scores of each user's candidates (in the given order), one flat tensor."""
        embeds, mask, gate, _ = self._prompts(item_seq, lengths, users, candidate_lists)
        continuations, owners = self._candidate_continuations(candidate_lists, item_seq.device)
        scores = score_continuations(self.llm, self.router, embeds, mask, gate, continuations, owners,
                                     self.score_reduction)
        if gate is not None:  # per-token routing has no gate per user
            self._record(dict(zip(users.tolist(), gate.float().cpu().tolist())))
        return scores

    def _user_groups(self, interaction):
        """RecBole's sampled evaluation rows, grouped per user: ``(first row index per user, candidate lists)``.

        Each user's rows are contiguous, the positive first; a batch holds whole users.
        """
        users = interaction[self.USER_ID]
        starts = torch.nonzero(torch.cat([users.new_ones(1), users[1:] != users[:-1]])).squeeze(1)
        bounds = starts.tolist() + [len(users)]
        items = interaction[self.ITEM_ID].tolist()
        return starts, [items[bounds[i]:bounds[i + 1]] for i in range(len(starts))]

    def predict(self, interaction):
        starts, candidate_lists = self._user_groups(interaction)
        return self._score_users(interaction[self.ITEM_SEQ][starts], interaction[self.ITEM_SEQ_LEN][starts],
                                 interaction[self.USER_ID][starts], candidate_lists)

    def _retrieve(self, interaction):
        """The frozen SASRec's top ``rerank_top_n`` items per user (padding id excluded)."""
        scores = self.encoder.full_sort_predict(interaction)
        scores[:, 0] = -torch.inf
        return scores.topk(min(self.rerank_top_n, self.n_items - 1), dim=1).indices

    def full_sort_predict(self, interaction):
        """Full ranking: the frozen SASRec retrieves the top ``rerank_top_n`` items, the LLM reranks them, every
        other item scores -inf."""
        retrieved = self._retrieve(interaction)
        scores = self._score_users(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN],
                                   interaction[self.USER_ID], retrieved.tolist())
        full = torch.full((retrieved.shape[0], self.n_items), -torch.inf, device=scores.device)
        return full.scatter(1, retrieved, scores.view_as(retrieved).to(full.dtype))

    # ----- generation metrics -----

    def generate_answers(self, interaction, full_ranking, max_new_tokens):
        """Greedy answers for each user of an evaluation batch: ``[(answer, shown titles, target index or None)]``."""
        if full_ranking:
            item_seq, lengths, users = (interaction[k] for k in (self.ITEM_SEQ, self.ITEM_SEQ_LEN, self.USER_ID))
            candidate_lists, targets = self._retrieve(interaction).tolist(), interaction[self.POS_ITEM_ID].tolist()
        else:
            starts, candidate_lists = self._user_groups(interaction)
            item_seq, lengths, users = (interaction[k][starts] for k in (self.ITEM_SEQ, self.ITEM_SEQ_LEN, self.USER_ID))
            targets = [candidates[0] for candidates in candidate_lists]  # RecBole lists the positive first
        embeds, mask, gate, shown = self._prompts(item_seq, lengths, users, candidate_lists)
        answers = greedy_answers(self.llm, self.router, self.tokenizer, embeds, mask, gate, max_new_tokens)
        return [(answer, [self.titles[item] for item in items], items.index(target) if target in items else None)
                for answer, items, target in zip(answers, shown, targets)]

    # ----- what the run records and saves -----

    def adapter_parts(self):
        """The peft model (MoE-LoRA) and the projector and gate weights beside it."""
        return self.llm, {name: param for name, param in self.named_parameters()
                          if name.startswith(("projector.", "gate."))}

    def result_extras(self, dataset):
        """Per-user gate weights of the last evaluation, for the JSON result (the leaderboard's gate plot)."""
        if self.gate is None or not self._records:
            return {}
        users = sorted(self._records)
        return {"gate_weights": {"user": dataset.id2token(dataset.uid_field, users).tolist(),
                                 "weights": [[round(w, 5) for w in self._records[u]] for u in users]}}
