"""Shared fixtures: tiny atomic datasets written by the tests, one CPU thread, a clean working folder."""

from pathlib import Path

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"

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


def build_tiny_llama(folder, corpus, vocab_size=400, seed=0):
    """A randomly initialised 2-layer Llama and a byte-level BPE tokenizer trained on ``corpus``, saved as a
    Hugging Face model folder: the test backbone (no download, milliseconds per step)."""
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
        eos_token_id=tokenizer.eos_token_id, bos_token_id=None, pad_token_id=None))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return Path(folder)


TINY_CORPUS = [
    "This user has watched Movie number 1, Movie number 2. Given the following 20 movie titles: "
    "recommend one movie for this user to watch next. The movie title you recommend is:",
    *[f"Movie number {i}" for i in range(1, 61)],
]


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), TINY_CORPUS)
