"""MoE-LoRA with one gate per sequence, computed as a single rank-r LoRA whose rank dimension is scaled per
sequence by the expanded gate: h = W0 x + (alpha / r_e) * B ((A dropout(x)) * expand(g)), r_e = r / K.

Built on peft's LoRA: ``MoELoraConfig`` is a ``LoraConfig`` (peft_type LORA), ``MoELoraLinear`` a
``peft.tuners.lora.Linear`` whose only LoRA variant is ``MoELoraVariant``, registered through peft's custom-module
dispatch. Saved adapters are ordinary peft LoRA adapters; loaded into plain peft they compute the uniform gate.
"""

from recbole_ilora.tuners.moe_lora.config import MoELoraConfig
from recbole_ilora.tuners.moe_lora.layer import MoELoraLinear, MoELoraVariant
from recbole_ilora.tuners.moe_lora.injection import enable_checkpointing, inject_moe_lora, linear_module_names
from recbole_ilora.tuners.moe_lora.router import GateRouter

__all__ = ["MoELoraConfig", "MoELoraLinear", "MoELoraVariant", "GateRouter", "enable_checkpointing",
           "inject_moe_lora", "linear_module_names"]
