"""Putting MoE-LoRA into a model: peft's injection with ``MoELoraLinear`` as a custom module, wired to one router."""

from peft import get_peft_model
from torch import nn

from recbole_ilora.tuners.moe_lora.layer import MoELoraLinear
from recbole_ilora.tuners.moe_lora.router import GateRouter


def linear_module_names(model):
    """Short names of the model's linear layers (``q_proj``, ``down_proj``, ...), the valid target modules."""
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)})


def inject_moe_lora(model, config):
    """Wrap ``model`` in a peft model whose target linears are ``MoELoraLinear``; return ``(peft_model, router)``.

    Only the LoRA weights are trainable afterwards (peft freezes the rest).
    """
    config._register_custom_module({nn.Linear: MoELoraLinear})
    peft_model = get_peft_model(model, config)
    router = GateRouter(config.num_experts, config.r)
    for module in peft_model.modules():
        if isinstance(module, MoELoraLinear):
            module.gate_router = router
    return peft_model, router


def enable_checkpointing(peft_model, router):
    """Activation checkpointing of the backbone's layers (non-reentrant), recomputing each with its forward's gate."""
    peft_model.get_base_model().gradient_checkpointing_enable(
        gradient_checkpointing_kwargs={"use_reentrant": False, "context_fn": router.checkpoint_contexts})
