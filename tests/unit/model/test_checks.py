"""The iLoRA family's checks before any work that need neither data nor a backbone."""

import logging

import pytest

from recbole_ilora.config import Config
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.model.checks import iLoRAChecks


@pytest.mark.parametrize("model, warned", [("LoRARec", True), ("iLoRA", False)])
def test_gate_keys_of_a_model_without_a_gate_are_named_in_a_warning(model, warned, caplog):
    """LoRARec has one expert and no gate: a gate key set for it changes the config hash and nothing else."""
    with caplog.at_level(logging.WARNING):
        iLoRAChecks.check_config(Config(model, "ml-100k", config_dict={"gate_temperature": 2.0}))
    said = [record.getMessage() for record in caplog.records if "configure the gate" in record.getMessage()]
    assert bool(said) == warned
    if warned:
        assert said[0].startswith("gate_temperature configure the gate, which LoRARec with num_experts=1")


def test_an_ablations_defining_keys_cannot_be_changed_under_its_name():
    with pytest.raises(ConfigurationError, match="use_item_embeddings=True is not TALLRec"):
        iLoRAChecks.check_config(Config("TALLRec", "ml-100k", config_dict={"use_item_embeddings": True}))
    iLoRAChecks.check_config(Config("iLoRA", "ml-100k", config_dict={"num_experts": 1}))  # iLoRA takes any K
