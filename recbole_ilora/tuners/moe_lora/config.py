"""Configuration of MoE-LoRA: peft's LoraConfig plus the number of experts."""

from dataclasses import dataclass, field

from peft import LoraConfig


@dataclass
class MoELoraConfig(LoraConfig):
    """A ``LoraConfig`` whose rank ``r`` is split into ``num_experts`` blocks of ``r // num_experts``.

    ``lora_alpha`` keeps its meaning per expert: each expert's update is scaled by ``lora_alpha / r_e``, so with one
    expert this is exactly peft's LoRA. ``peft_type`` stays ``LORA``, so the saved adapter is a peft LoRA adapter.
    """

    num_experts: int = field(default=4, metadata={"help": "Number of experts K; must divide r."})

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.num_experts, int) or self.num_experts < 1:
            raise ValueError(f"num_experts must be a positive integer, got {self.num_experts!r}.")
        if self.r % self.num_experts:
            raise ValueError(
                f"num_experts={self.num_experts} must divide the LoRA rank r={self.r} (each expert gets r/K ranks)."
            )
