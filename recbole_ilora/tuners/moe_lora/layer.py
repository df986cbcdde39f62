"""The MoE-LoRA linear layer: peft's LoRA Linear with a variant that scales the rank dimension by the gate."""

from peft.tuners.lora.layer import Linear as LoraLinear
from peft.tuners.lora.layer import LoraVariant


class MoELoraVariant(LoraVariant):
    """Fused mixture of experts: ``B ((A dropout(x)) * expand(g))`` costs exactly one rank-r LoRA.

    Expert k owns rank rows ``k*r_e .. (k+1)*r_e`` of A and the matching columns of B. ``module.gate_router`` holds
    the current forward pass's gate already expanded to rank width and multiplied by K, so that
    ``scaling * K = lora_alpha / r_e`` (see ``GateRouter``).
    """

    def supports_lora_conversion(self):
        return False  # the gate is per sequence: there is no single LoRA to convert to

    @staticmethod
    def init(module, adapter_name, **kwargs):
        """Nothing beyond peft's LoRA weights: experts are blocks of lora_A / lora_B."""

    @staticmethod
    def forward(module, active_adapter, x, result, **kwargs):
        lora_A = module.lora_A[active_adapter]
        lora_B = module.lora_B[active_adapter]
        hidden = lora_A(module.lora_dropout[active_adapter](x))
        rank_weights = module.gate_router.rank_weights(hidden)
        return result + lora_B(hidden * rank_weights) * module.scaling[active_adapter]

    @staticmethod
    def _cannot_merge(*args, **kwargs):
        raise NotImplementedError("MoE-LoRA weights depend on each sequence's gate and cannot be merged into the "
                                  "base weights; keep the adapter unmerged.")

    merge_safe = merge_unsafe = unmerge = _cannot_merge


class MoELoraLinear(LoraLinear):
    """A ``peft.tuners.lora.Linear`` whose every adapter uses ``MoELoraVariant``."""

    gate_router = None  # set by ``inject_moe_lora``; shared by every MoE-LoRA layer of one model

    @property
    def lora_variants(self):
        return {(): MoELoraVariant}
