"""A SASRec checkpoint given as sasrec_checkpoint must fit the run before any work: its items, its width and the
length of the sequences it encodes."""

import pytest
import torch
from conftest import TINY_RUN

from recbole_ilora.config import Config
from recbole_ilora.data import create_dataset, load_dataset
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.model.parts.sasrec_encoder import encoder_run_config, load_frozen_encoder
from recbole_ilora.quick_start import run


@pytest.fixture
def trained(tiny_data_root):
    """A one-epoch SASRec checkpoint on the tiny dataset, and that dataset as the run loads it."""
    config_dict = {**TINY_RUN, "data_path": str(tiny_data_root)}
    return run("SASRec", "tiny", config_dict=config_dict)["checkpoint"], load_dataset(
        Config("SASRec", "tiny", config_dict=config_dict))


def edited(checkpoint_file, tmp_path, weight, cut):
    """A copy of the checkpoint whose ``weight`` is cut to ``cut(tensor)`` (as a run with other keys would have it)."""
    checkpoint = torch.load(checkpoint_file, weights_only=True)
    checkpoint["weights"][weight] = cut(checkpoint["weights"][weight])
    torch.save(checkpoint, tmp_path / "edited.pth")
    return tmp_path / "edited.pth"


@pytest.mark.parametrize("weight, cut, message", [
    ("position_embedding.weight", lambda tensor: tensor[:1],  # trained with MAX_ITEM_LIST_LENGTH 1: an IndexError
     r"encodes sequences of at most 1 items .* but this run's are up to 10 \(MAX_ITEM_LIST_LENGTH 10\)"),
    ("item_embedding.weight", lambda tensor: tensor[:, :0],  # hidden_size 0: trained and ranked at chance, unnoticed
     r"is a SASRec with hidden_size 0"),
])
def test_an_encoder_that_does_not_fit_the_run_is_refused(trained, tmp_path, weight, cut, message):
    checkpoint_file, dataset = trained
    assert load_frozen_encoder(checkpoint_file, dataset).hidden_size == TINY_RUN["hidden_size"]
    with pytest.raises(ConfigurationError, match=rf"^sasrec_checkpoint .*edited.pth {message}"):
        load_frozen_encoder(edited(checkpoint_file, tmp_path, weight, cut), dataset)


def test_every_key_recbole_reads_the_files_with_reaches_the_encoder_run(tiny_data_root, monkeypatch):
    """The encoder's SASRec reads the LLM run's files as the LLM run does: every key RecBole's dataset reads them
    with is passed on, also those RecBole lists in no category (encoding: a latin-1 .item failed in the encoder
    stage, after the LLM run had read it)."""
    config = Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(tiny_data_root)})
    read, getitem = set(), Config.__getitem__
    monkeypatch.setattr(Config, "__getitem__", lambda self, key: read.add(key) or getitem(self, key))
    create_dataset(config)
    monkeypatch.undo()
    llm = Config("iLoRA", "ml-100k", config_dict={"encoding": "latin-1", "seq_separator": "|"})
    shared = encoder_run_config(llm)
    assert read - set(shared) - {"model", "MODEL_TYPE", "MODEL_INPUT_TYPE", "dataset"} == set()
    assert (shared["encoding"], shared["seq_separator"]) == ("latin-1", "|")
