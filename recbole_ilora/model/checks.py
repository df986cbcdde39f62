"""Checks of the iLoRA family's keys and data before any work (the SASRec stage alone costs minutes to hours), each
failing with one message that names the key, file or field and the fix."""

from logging import getLogger

from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import (is_flash_attn_2_available, is_flash_attn_3_available, is_flash_attn_4_available,
                                is_torch_flex_attn_available)

from recbole_ilora.data.candidates import candidates_per_user
from recbole_ilora.data.titles import item_titles, shared_titles
from recbole_ilora.data.validation import items_per_user, leave_one_out_training_samples
from recbole_ilora.errors import ConfigurationError, DataError
from recbole_ilora.model.llm_recommender import ModelChecks
from recbole_ilora.model.parts.backbone import (CANDIDATE_TOKEN, HISTORY_TOKEN, architecture, backbone_folder,
                                                check_backbone_config, load_tokenizer)
from recbole_ilora.model.parts.gate import GATE_INPUTS, Gate
from recbole_ilora.model.parts.losses import LOSS_TYPES
from recbole_ilora.model.parts.prompt import PromptBuilder, check_template, prompt_template
from recbole_ilora.model.parts.scoring import SCORE_REDUCTIONS


# Keys of the gate, which a single expert does not have.
GATE_KEYS = {"gate_type", "gate_input", "gate_temperature", "gate_learning_rate"}

# transformers' attention implementations ("eager" is its own, the others registered kernels)
ATTENTION_IMPLEMENTATIONS = ("eager", *sorted(name for name in ALL_ATTENTION_FUNCTIONS.valid_keys() if "|" not in name))
# The kernels that need a package (and a GPU) this environment may lack: transformers only finds out when loading.
ATTENTION_AVAILABLE = {"flash_attention_2": is_flash_attn_2_available, "flash_attention_3": is_flash_attn_3_available,
                       "flash_attention_4": is_flash_attn_4_available, "flex_attention": is_torch_flex_attn_available}


class iLoRAChecks(ModelChecks):
    """What iLoRA, LoRARec and TALLRec check before any work."""

    @staticmethod
    def check_config(config):
        """Checks of this model's keys that need no data and no backbone weights."""
        model = config.model_class
        for key, value in model.defining_keys.items():
            if config[key] != value:
                raise ConfigurationError(
                    f"{key}={config[key]!r} is not {config['model']}: {config['model']} is iLoRA with "
                    f"{', '.join(f'{k}={v!r}' for k, v in model.defining_keys.items())}; for another combination "
                    f"run --model=iLoRA with the keys you want, so that the result carries the model it is.")
        gate_keys = sorted(GATE_KEYS & set(config.external_config_dict))
        if config["num_experts"] == 1 and gate_keys:
            getLogger().warning(f"{', '.join(gate_keys)} configure the gate, which {config['model']} with "
                                f"num_experts=1 does not have: ignored (yet part of the config hash).")
        if config["sasrec_checkpoint"] and "encoder_config" in config.given_settings():
            getLogger().warning("encoder_config configures the SASRec run trained or reused when sasrec_checkpoint is "
                                "empty: with sasrec_checkpoint given it is ignored (yet part of the config hash).")
        choices = {"loss_type": LOSS_TYPES, "score_reduction": SCORE_REDUCTIONS}
        for key, allowed in choices.items():
            if config[key] not in allowed:
                raise ConfigurationError(f"{key} must be one of {', '.join(allowed)}, got {config[key]!r}.")
        if config["lora_r"] % config["num_experts"]:
            raise ConfigurationError(f"num_experts={config['num_experts']} must be a positive divisor of "
                                     f"lora_r={config['lora_r']}: each expert gets lora_r / num_experts ranks.")
        if config["gradient_checkpointing"] and config["loss_type"] != "lm":
            raise ConfigurationError(
                f"gradient_checkpointing works with loss_type=lm only: loss_type={config['loss_type']} scores the "
                f"candidates over the prompt's KV cache, which checkpointed layers do not keep.")
        for phase in ("valid", "test"):
            per_user = candidates_per_user(config, phase)
            if per_user and config["eval_batch_size"] < per_user:
                raise ConfigurationError(
                    f"eval_batch_size={config['eval_batch_size']} is below the {per_user} candidates of one {phase} "
                    f"user: RecBole would split a user's candidates over several predict calls and {config['model']} "
                    f"would rank partial lists. Use a multiple of {per_user}.")
        if config["history_length"] > config["MAX_ITEM_LIST_LENGTH"]:
            raise ConfigurationError(
                f"history_length={config['history_length']} is above MAX_ITEM_LIST_LENGTH="
                f"{config['MAX_ITEM_LIST_LENGTH']}, the history RecBole keeps per sample: prompts would show "
                f"{config['MAX_ITEM_LIST_LENGTH']} items. Lower history_length or raise MAX_ITEM_LIST_LENGTH.")
        targets = config["lora_target_modules"]
        if not targets or not all(isinstance(name, str) and name for name in targets):
            raise ConfigurationError(f"lora_target_modules must list the backbone's linear layers to adapt (e.g. "
                                     f"[q_proj, v_proj]), got {targets!r}.")
        attention = config["attn_implementation"]
        if attention not in ATTENTION_IMPLEMENTATIONS:
            raise ConfigurationError(f"attn_implementation must be one of {', '.join(ATTENTION_IMPLEMENTATIONS)}, "
                                     f"got {attention!r}.")
        if attention in ATTENTION_AVAILABLE and not ATTENTION_AVAILABLE[attention]():
            raise ConfigurationError(f"attn_implementation={attention} is not available here (its package or a "
                                     f"supported GPU is missing): use sdpa or eager, or install it.")
        for key in ("learning_rate", "projector_learning_rate", "gate_learning_rate"):
            if config[key] is not None and config[key] > 1:
                raise ConfigurationError(f"{key}={config[key]} is above 1: an AdamW step moves each trained weight by "
                                         f"about the learning rate, so this cannot train (the defaults: 2e-3 on the "
                                         f"CPU budget, 8e-4 in gpu_full.yaml).")
        Gate.check(config["gate_type"], config["gate_temperature"])
        if config["gate_input"] not in GATE_INPUTS:
            raise ConfigurationError(f"gate_input must be ~ (sasrec) or one of {', '.join(GATE_INPUTS[1:])}, got "
                                     f"{config['gate_input']!r}.")
        if config["gate_input"] == "token" and config["gradient_checkpointing"]:
            raise ConfigurationError("gate_input: token routes inside each decoder layer, which activation "
                                     "checkpointing's recomputation does not cover: set gradient_checkpointing: False.")
        if config["transfer_from"] is not None and config["resume_checkpoint"]:
            raise ConfigurationError("resume_checkpoint resumes training, and a run with transfer_from trains "
                                     "nothing (it evaluates its source run's weights): unset one of them.")
        check_template(prompt_template(config))
        check_backbone_config(config)

    @staticmethod
    def check_dataset(config, dataset):
        """Titles (present, without the placeholder strings, cut to ``max_title_tokens``, told apart), the longest
        prompt against the backbone's context, room for the training negatives, and the LoRA target modules."""
        titles = item_titles(dataset, config["item_text_field"])
        placeholders = [item for item, title in enumerate(titles) if HISTORY_TOKEN in title or CANDIDATE_TOKEN in title]
        if placeholders:
            raise DataError(f"{len(placeholders)} title(s) of dataset '{dataset.dataset_name}' contain the prompt's "
                            f"placeholder {HISTORY_TOKEN} or {CANDIDATE_TOKEN} (item ids "
                            f"{', '.join(dataset.id2token(dataset.iid_field, placeholders[:5]))}): edit them in the "
                            f".item file ({config['item_text_field']}).")
        folder = backbone_folder(config)
        backbone = architecture(folder)
        unknown = [name for name in config["lora_target_modules"] if name not in backbone.linear_layers]
        if unknown:
            raise ConfigurationError(f"lora_target_modules {unknown} are not linear layers of the backbone; "
                                     f"available: {', '.join(backbone.linear_layers)}.")
        prompts = PromptBuilder(load_tokenizer(folder, backbone.embedding_rows), titles, prompt_template(config),
                                bool(config["use_item_embeddings"]), config["max_title_tokens"])
        if prompts.truncated_titles:
            getLogger().warning(f"{prompts.truncated_titles} title(s) of dataset '{dataset.dataset_name}' are longer "
                                f"than max_title_tokens={config['max_title_tokens']} tokens (the longest: "
                                f"{prompts.longest_title}) and are cut in prompts and answers.")
        shared = shared_titles(prompts.title_ids)
        if shared:
            shown = "; ".join(" = ".join(dataset.id2token(dataset.iid_field, items[:3])) for items in shared[:3])
            getLogger().warning(f"{sum(map(len, shared))} items of dataset '{dataset.dataset_name}' share their title "
                                f"(as prompts show it, cut to max_title_tokens) with another item ({len(shared)} "
                                f"title(s); item ids {shown}{'; ...' if len(shared) > 3 else ''}): the LLM cannot tell "
                                f"them apart in a prompt or an answer. Give them distinct titles in the .item file "
                                f"({config['item_text_field']}).")
        listed = max(config["train_negatives"] + 1, config["rerank_top_n"],
                     *(candidates_per_user(config, phase) for phase in ("valid", "test")))
        longest = prompts.longest_prompt(config["history_length"], listed)
        if backbone.max_positions and longest > backbone.max_positions:
            raise ConfigurationError(
                f"The longest prompt this run can build ({config['history_length']} history items and {listed} "
                f"candidates, each with the dataset's longest title cut to max_title_tokens="
                f"{config['max_title_tokens']}: {max(map(len, prompts.title_ids))} tokens, and the answer) has "
                f"{longest} tokens, beyond the backbone's {backbone.max_positions} positions: lower max_title_tokens, "
                f"history_length or the number of candidates (train_negatives, rerank_top_n, the protocol's "
                f"candidate lists).")
        interacted = items_per_user(dataset).max()
        if dataset.item_num - 1 - interacted < config["train_negatives"]:
            raise DataError(f"Dataset '{dataset.dataset_name}' has {dataset.item_num - 1} items and a user who "
                            f"interacted with {interacted}: fewer than train_negatives={config['train_negatives']} "
                            f"items are left to draw negatives from. Lower train_negatives or filter such users "
                            f"(user_inter_num_interval).")
        samples = leave_one_out_training_samples(config, dataset)
        if samples is not None and (config["train_samples_per_epoch"] or 0) > samples:
            getLogger().warning(f"train_samples_per_epoch={config['train_samples_per_epoch']} is above the {samples} "
                                f"training samples of dataset '{dataset.dataset_name}': each epoch trains on all of "
                                f"them, as train_samples_per_epoch: ~ says.")
