r"""TALLRec
################################################

The text-only ablation of iLoRA: one LoRA and a prompt of titles only (``use_item_embeddings: False``), so no
SASRec is needed under candidates20 (full ranking still uses it to retrieve candidates).

Reference:
    Keqin Bao et al. "TALLRec: An Effective and Efficient Tuning Framework to Align Large Language Model with
    Recommendation." RecSys 2023.
"""

from recbole_ilora.model.ilora import iLoRA


class TALLRec(iLoRA):
    r"""iLoRA with ``num_experts: 1`` and ``use_item_embeddings: False`` by default (properties/model/TALLRec.yaml)."""

    defining_keys = {"num_experts": 1, "use_item_embeddings": False}
