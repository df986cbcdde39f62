"""What the CUDA paths need and a CPU can check: every tensor the model code creates is placed on its inputs'
device, the checkpointing and evaluation-batch options, and the refusals that protect the GPU-only paths."""

import ast

import pytest

from recbole_ilora.paths import PACKAGE_DIR

FACTORIES = {"tensor", "full", "zeros", "ones", "arange", "empty", "randn", "rand", "randint", "eye", "linspace"}
# Functions that build index tensors on the CPU by design; their callers move the results.
CPU_BUILDERS = {"pad", "pack_continuations"}
MODEL_CODE = [*sorted((PACKAGE_DIR / "model").rglob("*.py")), *sorted((PACKAGE_DIR / "tuners").rglob("*.py")),
              PACKAGE_DIR / "trainer" / "llm_trainer.py"]


def unplaced_factories(path):
    """``(line, function)`` of torch factory calls without ``device=`` outside the CPU builders."""
    tree = ast.parse(path.read_text())
    found = []
    for function in (node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))):
        if function.name in CPU_BUILDERS:
            continue
        for call in (node for node in ast.walk(function) if isinstance(node, ast.Call)):
            target = call.func
            if (isinstance(target, ast.Attribute) and target.attr in FACTORIES and isinstance(target.value, ast.Name)
                    and target.value.id == "torch" and not any(k.arg == "device" for k in call.keywords)):
                found.append((call.lineno, function.name))
    return found


@pytest.mark.parametrize("path", MODEL_CODE, ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_model_code_creates_tensors_on_its_inputs_device(path):
    assert unplaced_factories(path) == [], f"{path}: torch factory calls without device= (CUDA would mix devices)"


def test_gradient_checkpointing_is_refused_with_the_cached_softmax_scoring(tmp_path):
    from recbole_ilora.config import Config
    from recbole_ilora.errors import ConfigurationError
    from recbole_ilora.model.ilora import iLoRA

    config = Config("iLoRA", "ml-100k", cmd_args=["--gradient_checkpointing=True", "--loss_type=softmax"])
    with pytest.raises(ConfigurationError, match="gradient_checkpointing works with loss_type=lm only"):
        iLoRA.checks.check_config(config)


def test_gradient_checkpointing_trains_to_the_same_loss_and_gradients(tiny_llama):
    import torch

    from recbole_ilora.model.parts.backbone import load_backbone
    from recbole_ilora.tuners.moe_lora import MoELoraConfig, enable_checkpointing, inject_moe_lora

    def loss_and_grads(checkpointing):
        config = {"llm_path": str(tiny_llama), "llm_cache_dir": "unused", "dtype": "float32", "load_in_8bit": False,
                  "load_in_4bit": False, "device": torch.device("cpu"), "attn_implementation": "eager"}
        torch.manual_seed(0)
        backbone, _ = load_backbone(config)
        model, router = inject_moe_lora(backbone, MoELoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                                num_experts=2))
        if checkpointing:  # the backward pass recomputes each layer, outside router.route: with the forward's gate
            enable_checkpointing(model, router)
        for name, param in model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(param, std=0.1, generator=torch.Generator().manual_seed(1))
        model.train()
        ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
        with router.route(torch.tensor([[0.3, 0.7]])):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        return loss.item(), [p.grad.clone() for n, p in model.named_parameters() if p.requires_grad]

    plain, checkpointed = loss_and_grads(False), loss_and_grads(True)
    assert plain[0] == pytest.approx(checkpointed[0], abs=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain[1], checkpointed[1]))


def test_eval_batch_users_sizes_batches_in_whole_users(tiny_data_root):
    from conftest import TINY_RUN

    from recbole_ilora.config import Config
    from recbole_ilora.data import data_preparation, load_dataset

    config = Config("iLoRA", "tiny", config_dict={**TINY_RUN, "data_path": str(tiny_data_root),
                                                   "item_domain": "movie", "item_text_field": "movie_title",
                                                   "eval_batch_users": 3})
    *_, test_data = data_preparation(config, load_dataset(config))
    assert config["eval_batch_size"] == 60
    assert len(next(iter(test_data))[0]) == 60  # three users' 20 candidates


def test_quantized_loading_is_refused_on_a_cpu_with_the_reason():
    import torch

    from recbole_ilora.errors import ConfigurationError
    from recbole_ilora.model.parts.backbone import check_backbone_config

    with pytest.raises(ConfigurationError, match="need a CUDA GPU"):
        check_backbone_config({"dtype": "bfloat16", "load_in_8bit": False, "load_in_4bit": True,
                               "device": torch.device("cpu"), "llm_path": None})
