"""The MoE-LoRA linear layer: peft's LoRA Linear with a variant that scales the rank dimension by the gate."""

import torch
import torch.nn.functional as F
from peft.tuners.lora.layer import Linear as LoraLinear
from peft.tuners.lora.layer import LoraVariant


class MoELoraVariant(LoraVariant):
    """Fused mixture of experts: ``B ((A dropout(x)) * expand(g))`` costs exactly one rank-r LoRA.

    Expert k owns rank rows ``k*r_e .. (k+1)*r_e`` of A and the matching columns of B. ``module.gate_router`` holds
    the current forward pass's gate already expanded to rank width and multiplied by K, so that
    ``scaling * K = lora_alpha / r_e`` (see ``GateRouter``).

    The update is computed in the input's dtype (the backbone's), with the float32 LoRA weights cast to it, as
    autocast would: peft instead casts every input to float32, which on a bf16 backbone was ~10% of a CPU training
    step in copies of activations (run_scripts/bench_speed.py). Gradients still reach the float32 weights. The gate
    and the scaling multiply the rank-wide hidden state, and B's product is added to the base output in the same
    ``addmm``: one pass over the wide output instead of three (its product, its scaling, the sum).
    """

    def supports_lora_conversion(self):
        return False  # the gate is per sequence: there is no single LoRA to convert to

    @staticmethod
    def init(module, adapter_name, **kwargs):
        """Nothing beyond peft's LoRA weights: experts are blocks of lora_A / lora_B."""

    @staticmethod
    def forward(module, active_adapter, x, result, **kwargs):
        weight_A = module.lora_A[active_adapter].weight.to(x.dtype)
        weight_B = module.lora_B[active_adapter].weight.to(result.dtype)
        hidden = F.linear(module.lora_dropout[active_adapter](x), weight_A)
        hidden = hidden * (module.gate_router.rank_weights(hidden) * module.scaling[active_adapter])
        wide = result.shape[-1]  # x's dtype is result's unless peft's input cast is switched on (bench_speed)
        return torch.addmm(result.reshape(-1, wide), hidden.reshape(-1, hidden.shape[-1]).to(result.dtype),
                           weight_B.t()).view(result.shape)

    @staticmethod
    def _cannot_merge(*args, **kwargs):
        raise NotImplementedError("MoE-LoRA weights depend on each sequence's gate and cannot be merged into the "
                                  "base weights; keep the adapter unmerged.")

    merge_safe = merge_unsafe = unmerge = _cannot_merge


class MoELoraLinear(LoraLinear):
    """A ``peft.tuners.lora.Linear`` whose every adapter uses ``MoELoraVariant``."""

    gate_router = None  # set by ``inject_moe_lora``; shared by every MoE-LoRA layer of one model

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cast_input_dtype_enabled = False  # peft's switch: inputs keep the backbone's dtype (MoELoraVariant)

    @property
    def lora_variants(self):
        return {(): MoELoraVariant}
