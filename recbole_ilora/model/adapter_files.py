"""An LLM model's trained weights as files a peft user recognises: a peft LoRA adapter folder
(``adapter_config.json``, ``adapter_model.safetensors``) plus the other trained modules (iLoRA's projector and gate)
in ``ilora_modules.safetensors``. Loaded into plain peft, the LoRA alone computes the model with a uniform gate."""

from pathlib import Path

from peft import set_peft_model_state_dict
from peft.utils import load_peft_weights
from safetensors.torch import load_file, save_file

from recbole_ilora.files import folder_atomic

MODULES_FILE = "ilora_modules.safetensors"


def save_adapter(model, folder):
    """Write ``model``'s adapter folder (an ``LLMRecommender``'s ``adapter_parts``) atomically."""
    peft_model, modules = model.adapter_parts()
    with folder_atomic(folder) as partial:
        peft_model.save_pretrained(partial, save_embedding_layers=False)  # the backbone rebuilds them exactly
        if modules:
            save_file({name: tensor.detach().contiguous() for name, tensor in modules.items()}, partial / MODULES_FILE)


def load_adapter(model, folder):
    """Load what ``save_adapter`` wrote into ``model`` (built with the same config)."""
    peft_model, _ = model.adapter_parts()
    result = set_peft_model_state_dict(peft_model, load_peft_weights(str(folder)))
    if result.unexpected_keys:
        raise ValueError(f"Adapter {folder} does not fit this model: unexpected {result.unexpected_keys[:5]}")
    modules = Path(folder) / MODULES_FILE
    if modules.is_file():
        model.load_state_dict(load_file(modules), strict=False)
