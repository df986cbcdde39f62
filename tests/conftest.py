"""Shared fixtures: tiny atomic datasets written by the tests, a tiny random Llama, an LLM model built on both, one
CPU thread, a clean working folder; and the ``e2e`` marker of every test under ``tests/e2e/``.

``pytest -m "not e2e" tests`` runs the unit tests (``tests/unit/``, mirroring the package); ``pytest -m e2e tests``
the end-to-end ones (whole runs through ``quick_start.run`` or the CLIs, subprocesses, torchrun, the real backbone
and datasets).
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from recbole.utils import init_seed

from recbole_ilora.config import Config
from recbole_ilora.data import data_preparation, load_dataset
from recbole_ilora.quick_start import run
from recbole_ilora.registry import get_model

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
E2E_DIR = Path(__file__).resolve().parent / "e2e"
METRICS = {f"{name}@{k}" for name in ("hit", "ndcg") for k in (1, 3, 5, 10)}


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end test (a whole run, a CLI, a subprocess; tests/e2e/)")


def pytest_collection_modifyitems(items):
    for item in items:
        if E2E_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)

# Config keys that keep unit-test runs small and quiet; tests add their own on top.
TINY_RUN = {
    "show_progress": False,
    "state": "WARNING",
    "epochs": 1,
    "train_batch_size": 64,
    "eval_batch_size": 400,
    "hidden_size": 16,
    "inner_size": 32,
    "n_layers": 1,
    "n_heads": 1,
    "embedding_size": 16,
    "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"], "item": ["item_id", "movie_title"]},
}


def write_atomic_dataset(root, name="tiny", n_users=30, n_items=60, min_len=8, max_len=20, seed=0):
    """Write ``root/name/name.inter`` and ``.item`` in RecBole's atomic format; return ``root``.

    Each user gets a random run of distinct items with increasing timestamps; each item a short title.
    """
    rng = np.random.default_rng(seed)
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for user in range(1, n_users + 1):
        length = rng.integers(min_len, max_len + 1)
        for step, item in enumerate(rng.choice(np.arange(1, n_items + 1), size=length, replace=False)):
            lines.append(f"u{user}\ti{item}\t{rng.integers(1, 6)}\t{1_000_000 + 1000 * user + step}")
    (folder / f"{name}.inter").write_text("\n".join(lines) + "\n")
    titles = ["item_id:token\tmovie_title:token_seq"]
    titles += [f"i{item}\tMovie number {item}" for item in range(1, n_items + 1)]
    (folder / f"{name}.item").write_text("\n".join(titles) + "\n")
    return Path(root)


@pytest.fixture(autouse=True)
def one_thread_in_tmp_cwd(tmp_path, monkeypatch):
    """Every test runs with one torch thread inside its own folder (RecBole writes log/ and saved/ to cwd)."""
    torch.set_num_threads(1)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def tiny_data_root(tmp_path):
    return write_atomic_dataset(tmp_path / "data")


def build_tiny_llama(folder, corpus, vocab_size=400, seed=0, initializer_range=0.02):
    """A randomly initialised 2-layer Llama and a byte-level BPE tokenizer trained on ``corpus``, saved as a
    Hugging Face model folder: the test backbone (no download, milliseconds per step).

    At transformers' ``initializer_range`` of 0.02 the final RMSNorm and the tied embeddings bound every logit
    gap to about 1.3 nats, so no training can separate two titles by more; a test that must see a model fit
    asks for a wider one.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["[UNK]", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="</s>", unk_token="[UNK]")
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=None, pad_token_id=None, initializer_range=initializer_range))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return Path(folder)


def write_tiny_gguf(path, llama, architecture="llama", leave_out=(), tokenizer_keys=("tokens", "merges")):
    """The Llama folder ``llama`` (``build_tiny_llama``) as a float32 GGUF file at ``path``, as llama.cpp names its
    keys and tensors, with a byte-level BPE tokenizer; ``architecture`` is the one the file declares, ``leave_out``
    the tensors it lacks, ``tokenizer_keys`` the tokenizer's arrays it holds (tokens, merges)."""
    import gguf
    from safetensors.torch import load_file

    settings = json.loads((llama / "config.json").read_text())
    tokenizer = json.loads((llama / "tokenizer.json").read_text())
    writer = gguf.GGUFWriter(path, architecture)
    writer.add_block_count(settings["num_hidden_layers"])
    writer.add_context_length(settings["max_position_embeddings"])
    writer.add_embedding_length(settings["hidden_size"])
    writer.add_feed_forward_length(settings["intermediate_size"])
    writer.add_head_count(settings["num_attention_heads"])
    writer.add_head_count_kv(settings["num_key_value_heads"])
    writer.add_layer_norm_rms_eps(settings["rms_norm_eps"])
    writer.add_tokenizer_model("gpt2")
    if "tokens" in tokenizer_keys:  # GPT-2's <|endoftext|> in [UNK]'s place, as transformers adds it otherwise
        added = {token["content"]: token["id"] for token in tokenizer["added_tokens"]}
        vocab = {**tokenizer["model"]["vocab"], **added}
        writer.add_token_list(["<|endoftext|>" if token == "[UNK]" else token
                               for token, _ in sorted(vocab.items(), key=lambda item: item[1])])
    if "merges" in tokenizer_keys:
        writer.add_token_merges([" ".join(merge) for merge in tokenizer["model"]["merges"]])
    writer.add_eos_token_id(settings["eos_token_id"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, settings["num_hidden_layers"])
    for name, tensor in load_file(llama / "model.safetensors").items():
        gguf_name = names.get_name(name, try_suffixes=(".weight",))
        if gguf_name not in leave_out:
            writer.add_tensor(gguf_name, tensor.float().numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path)


TINY_CORPUS = [
    "This user has watched Movie number 1, Movie number 2. Given the following 20 movie titles: "
    "recommend one movie for this user to watch next. The movie title you recommend is:",
    *[f"Movie number {i}" for i in range(1, 61)],
]


@pytest.fixture
def tiny_cli_args(tmp_path):
    """Command-line arguments of a one-epoch run on a tiny dataset written by the test."""
    root = write_atomic_dataset(tmp_path / "data")
    return [f"--data_path={root}", "--epochs=1", "--hidden_size=16", "--inner_size=32", "--n_layers=1",
            "--n_heads=1", "--embedding_size=16", "--show_progress=False", "--state=WARNING", "--cpu_threads=1",
            f"--load_col={TINY_RUN['load_col']}"]


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), TINY_CORPUS)


@pytest.fixture(scope="session")
def llm_setup(tmp_path_factory, tiny_llama):
    """A tiny dataset and the SASRec encoder trained on it (one epoch), shared by the tests."""
    root = tmp_path_factory.mktemp("ilora")
    data_root = write_atomic_dataset(root / "data")
    base = {**TINY_RUN, "data_path": str(data_root), "checkpoint_dir": str(root / "saved"),
            "results_dir": str(root / "results")}
    encoder = run("SASRec", "tiny", config_dict=base)["checkpoint"]
    return {"base": base, "encoder": encoder, "llm": str(tiny_llama), "root": root}


def build_llm(llm_setup, model="iLoRA", **overrides):
    """Config, dataset, loaders and model of one LLM run (float32 so that comparisons are exact)."""
    config = Config(model, "tiny", config_dict={
        **llm_setup["base"], "llm_path": llm_setup["llm"], "sasrec_checkpoint": llm_setup["encoder"], "dtype": "float32",
        "item_domain": "movie", "item_text_field": "movie_title", "train_batch_size": 4, "eval_batch_size": 40,
        "lora_dropout": 0.0, **overrides})
    model_class = get_model(model)
    model_class.checks.check_config(config)  # as run() does, before any work
    init_seed(config["seed"], config["reproducibility"])
    dataset = load_dataset(config)
    model_class.checks.check_dataset(config, dataset)
    loaders = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])
    return config, dataset, loaders, model_class(config, loaders[0]._dataset)


@pytest.fixture(scope="module")
def built(llm_setup):
    return build_llm(llm_setup)


def first_batch(loader):
    return next(iter(loader))


def check_result_schema(result):
    assert result["schema_version"] == 1
    assert isinstance(result["config_hash"], str) and len(result["config_hash"]) == 16
    assert set(result["test"]) == METRICS and set(result["valid"]) == METRICS
    assert all(0.0 <= value <= 1.0 for value in result["test"].values())
    times = result["time_s"]
    assert times["total"] >= times["train"] > 0 and times["test"] > 0 and len(times["train_per_epoch"]) == 1
    assert result["peak_memory_mb"]["rss"] > 0 and result["threads"] >= 1 and result["world_size"] == 1
    assert result["parameters"]["trainable"] == result["parameters"]["total"] > 0
    assert any(line.startswith("CPU: ") and "logical CPUs" in line for line in result["machine"])
    assert any(line.startswith("CPU kernels: ") for line in result["machine"])
    assert set(result["versions"]) >= {"python", "recbole", "torch", "transformers", "peft", "recbole-ilora"}
    assert result["config"]["seed"] == result["seed"] and "data_path" not in result["config"]


def ranks_match_metrics(result):
    """Per-user ranks reproduce RecBole's aggregated metrics (one positive per user)."""
    ranks = result["per_user_test"]["rank"]
    for k in (1, 3, 5, 10):
        hit = sum(r is not None and r <= k for r in ranks) / len(ranks)
        ndcg = sum(1 / math.log2(r + 1) for r in ranks if r is not None and r <= k) / len(ranks)
        assert hit == pytest.approx(result["test"][f"hit@{k}"], abs=1e-4)
        assert ndcg == pytest.approx(result["test"][f"ndcg@{k}"], abs=1e-4)
