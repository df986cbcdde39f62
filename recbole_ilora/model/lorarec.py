r"""LoRARec
################################################

The LLaRA-style ablation of iLoRA: one LoRA (``num_experts: 1``, so no gate) with the same hybrid prompt.

Reference:
    Jiayi Liao et al. "LLaRA: Large Language-Recommendation Assistant." SIGIR 2024.
"""

from recbole_ilora.model.ilora import iLoRA


class LoRARec(iLoRA):
    r"""iLoRA with ``num_experts: 1`` by default (properties/model/LoRARec.yaml): plain LoRA, hybrid prompt."""

    defining_keys = {"num_experts": 1, "use_item_embeddings": True}
