"""MoE-LoRA math: the fused form, its reduction to peft's LoRA, gating, zero init, saving for peft users."""

import copy

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

from recbole_ilora.tuners.moe_lora import GateRouter, MoELoraConfig, MoELoraLinear, inject_moe_lora

TARGETS = ["q_proj", "v_proj", "down_proj"]


def base_model(folder):
    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def moe(folder, experts, r=8, alpha=16):
    model, router = inject_moe_lora(base_model(folder), MoELoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=TARGETS, num_experts=experts))
    return model.eval(), router


def randomise_lora(model, seed=1):
    generator = torch.Generator().manual_seed(seed)
    for name, param in model.named_parameters():
        if "lora_" in name:
            param.data = torch.randn(param.shape, generator=generator) * 0.5


def logits(model, router, gate, ids):
    with torch.no_grad(), router.route(gate):
        return model(input_ids=ids).logits


IDS = torch.tensor([[5, 17, 42, 99, 7, 3], [8, 8, 120, 6, 77, 250]])


def test_fused_layer_equals_sum_of_experts(tiny_llama):
    model, router = moe(tiny_llama, experts=4)
    randomise_lora(model)
    layer = next(m for m in model.modules() if isinstance(m, MoELoraLinear))
    x = torch.randn(2, 5, layer.in_features)
    gate = torch.softmax(torch.randn(2, 4), dim=-1)
    with torch.no_grad(), router.route(gate):
        fused = layer(x)
    A, B = layer.lora_A["default"].weight, layer.lora_B["default"].weight
    r_e = 8 // 4
    expected = layer.base_layer(x)
    for k in range(4):
        A_k, B_k = A[k * r_e:(k + 1) * r_e], B[:, k * r_e:(k + 1) * r_e]
        expected = expected + (16 / r_e) * gate[:, k, None, None] * (x @ A_k.T @ B_k.T)
    assert torch.allclose(fused, expected, atol=1e-5)


def test_one_expert_is_exactly_peft_lora(tiny_llama):
    ours, router = moe(tiny_llama, experts=1)
    randomise_lora(ours)
    theirs = get_peft_model(base_model(tiny_llama), LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                                                                target_modules=TARGETS)).eval()
    theirs.load_state_dict(ours.state_dict())
    with torch.no_grad():
        expected = theirs(input_ids=IDS).logits
    assert torch.equal(logits(ours, router, torch.ones(2, 1), IDS), expected)


def test_different_gates_give_different_outputs(tiny_llama):
    model, router = moe(tiny_llama, experts=4)
    randomise_lora(model)
    first = logits(model, router, torch.tensor([[1.0, 0, 0, 0]]), IDS)
    second = logits(model, router, torch.tensor([[0, 0, 0, 1.0]]), IDS)
    assert (first - second).abs().max() > 1e-3


def test_per_sequence_gate_rows_apply_to_their_own_sequence(tiny_llama):
    model, router = moe(tiny_llama, experts=4)
    randomise_lora(model)
    gates = torch.softmax(torch.randn(2, 4), dim=-1)
    both = logits(model, router, gates, IDS)
    for row in range(2):
        alone = logits(model, router, gates[row:row + 1], IDS[row:row + 1])
        assert torch.allclose(both[row], alone[0], atol=1e-5)


def test_zero_initialised_B_gives_the_base_model(tiny_llama):
    model, router = moe(tiny_llama, experts=4)  # peft initialises B to zero
    with torch.no_grad():
        base = base_model(tiny_llama)(input_ids=IDS).logits
    assert torch.equal(logits(model, router, torch.softmax(torch.randn(2, 4), -1), IDS), base)


def test_only_lora_weights_are_trainable(tiny_llama):
    model, _ = moe(tiny_llama, experts=4)
    trainable = [name for name, param in model.named_parameters() if param.requires_grad]
    assert trainable and all("lora_A" in name or "lora_B" in name for name in trainable)


def test_router_errors_are_clear(tiny_llama):
    model, router = moe(tiny_llama, experts=4)
    with pytest.raises(RuntimeError, match="without a gate"):
        model(input_ids=IDS)
    with pytest.raises(ValueError, match=r"gate must have shape \(batch, 4\)"):
        with router.route(torch.ones(2, 3)):
            pass


def test_experts_must_divide_rank():
    with pytest.raises(ValueError, match="must divide the LoRA rank"):
        MoELoraConfig(r=16, num_experts=3, target_modules=TARGETS)


def test_saved_adapter_loads_in_plain_peft_as_the_uniform_gate(tiny_llama, tmp_path):
    model, router = moe(tiny_llama, experts=4)
    randomise_lora(model)
    model.save_pretrained(tmp_path / "adapter")
    plain = PeftModel.from_pretrained(base_model(tiny_llama), tmp_path / "adapter").eval()
    with torch.no_grad():
        plain_logits = plain(input_ids=IDS).logits
    uniform = logits(model, router, torch.full((1, 4), 0.25), IDS)
    assert torch.allclose(plain_logits, uniform, atol=1e-5)
    reloaded, reloaded_router = moe(tiny_llama, experts=4)
    reloaded.load_state_dict(copy.deepcopy(model.state_dict()))
    gate = torch.softmax(torch.randn(2, 4), -1)
    assert torch.equal(logits(reloaded, reloaded_router, gate, IDS), logits(model, router, gate, IDS))


def test_per_token_routing_needs_a_token_gate_and_matches_the_layers_tokens():
    router = GateRouter(num_experts=2, rank=4)
    with pytest.raises(ValueError, match="needs a token gate"):
        with router.route(None):
            pass
    layer = torch.nn.Identity()
    router.use_token_gate(lambda hidden: torch.softmax(hidden[..., :2], dim=-1), [layer])
    with router.route(None):
        layer(torch.randn(3, 5, 8))  # the pre-hook gates its input's 5 tokens
        weights = router.rank_weights(torch.zeros(3, 5, 4))
        assert weights.shape == (3, 5, 4) and torch.allclose(weights.sum(-1), torch.full((3, 5), 4.0))
        with pytest.raises(ValueError, match="does not match the input"):
            router.rank_weights(torch.zeros(3, 6, 4))
    with pytest.raises(RuntimeError, match="ran without a gate"):
        router.rank_weights(torch.zeros(3, 5, 4))  # outside route: nothing left behind
