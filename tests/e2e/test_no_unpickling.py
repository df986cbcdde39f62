"""No config value, file name or JSON result makes this package unpickle anything, nor run a backbone's custom code:
every path that reaches pickle, torch.load or transformers' custom-code loading is tried with a payload that would run
a shell command creating a marker file."""

import io
import json
import os
import pickle
import sys

import numpy as np
import pytest
import torch
from conftest import TINY_CORPUS, TINY_RUN, build_tiny_llama

from recbole_ilora import prerequisites
from recbole_ilora.cli import main as run_recbole
from recbole_ilora.quick_start import load_data_and_model, run


class ShellCommand:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def payload(tmp_path):
    """``(pickle file, torch file, marker)``; unpickling either creates the marker."""
    marker = tmp_path / "code-ran"
    plain, torch_file = tmp_path / "payload.pkl", tmp_path / "payload.pth"
    plain.write_bytes(pickle.dumps([(ShellCommand(marker), None)]))
    torch.save({"format": "recbole_ilora.checkpoint/1", "config": ShellCommand(marker)}, torch_file)
    return plain, torch_file, marker


def tiny(tiny_data_root, *extra):
    return ["--model=SASRec", "--dataset=tiny", f"--data_path={tiny_data_root}",
            *[f"--{key}={value}" for key, value in TINY_RUN.items()], *extra]


@pytest.mark.parametrize("key", ["dataloaders_save_path", "dataset_save_path"])
def test_keys_that_load_pickles_are_refused_before_any_work(key, payload, tiny_data_root, capsys):
    plain, _, marker = payload
    with pytest.raises(SystemExit) as exit_info:
        run_recbole(tiny(tiny_data_root, f"--{key}={plain}"))
    assert exit_info.value.code == 2 and f"{key} makes RecBole unpickle" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize("key", ["save_dataloaders", "save_dataset"])
def test_keys_that_write_pickles_are_refused(key, tiny_data_root, capsys):
    with pytest.raises(SystemExit):
        run_recbole(tiny(tiny_data_root, f"--{key}=True"))
    assert f"{key} pickles the" in capsys.readouterr().err


def test_files_of_recboles_default_names_in_checkpoint_dir_are_never_loaded(payload, tiny_data_root, tmp_path):
    """RecBole unpickles saved/<dataset>-for-<model>-dataloader.pth and saved/<dataset>-<DatasetClass>.pth whenever
    they exist, without any key set."""
    plain, _, marker = payload
    saved = tmp_path / "saved"
    saved.mkdir()
    for name in ("tiny-for-SASRec-dataloader.pth", "tiny-SequentialDataset.pth"):
        (saved / name).write_bytes(plain.read_bytes())
    result = run("SASRec", "tiny", cmd_args=tiny(tiny_data_root, f"--checkpoint_dir={saved}")[2:])
    assert result["test"] and not marker.exists()


@pytest.mark.parametrize("key", ["resume_checkpoint", "sasrec_checkpoint"])
def test_checkpoint_keys_refuse_a_pickle(key, payload, tiny_data_root, capsys):
    _, torch_file, marker = payload
    model = "iLoRA" if key == "sasrec_checkpoint" else "SASRec"
    with pytest.raises(SystemExit) as exit_info:
        run_recbole([f"--model={model}", *tiny(tiny_data_root, f"--{key}={torch_file}")[1:],
                     "--item_domain=movie", "--item_text_field=movie_title"])
    assert exit_info.value.code == 2 and "loading it would need unpickling" in capsys.readouterr().err
    assert not marker.exists()


def test_a_results_json_naming_a_pickle_and_load_data_and_model_refuse_it(payload, tmp_path):
    _, torch_file, marker = payload
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"config_hash": "0" * 16, "checkpoint": str(torch_file)}))
    assert prerequisites.finished_checkpoint(result) is None
    with pytest.raises(Exception, match="loading it would need unpickling"):
        load_data_and_model(str(torch_file))
    assert not marker.exists()


def test_recbole_models_pretrained_weights_are_loaded_only_as_plain_tensors(payload, capsys, tmp_path):
    """RecBole's NeuMF, NAIS, ConvNCF, RaCT, S3Rec and KD_DAGFM torch.load a file named by a key; it is checked with
    weights_only loading before any work."""
    _, torch_file, marker = payload
    with pytest.raises(SystemExit) as exit_info:
        run_recbole(["--model=NeuMF", "--dataset=ml-100k", "--use_pretrain=True", f"--mf_pretrain_path={torch_file}",
                     f"--mlp_pretrain_path={torch_file}", "--epochs=1"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "mf_pretrain_path" in err and "without unpickling" in err
    assert not marker.exists()


def test_ldiffrecs_item_embeddings_must_be_a_plain_array(tiny_data_root, capsys):
    """LDiffRec with n_cate > 1 loads DATASET/item_emb.npy with allow_pickle=True: an object array would run code."""
    marker = tiny_data_root / "code-ran"
    numpy_payload = tiny_data_root / "tiny" / "item_emb.npy"
    np.save(numpy_payload, np.array([ShellCommand(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(SystemExit) as exit_info:
        run_recbole(tiny(tiny_data_root, "--n_cate=2")[1:] + ["--model=LDiffRec"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "item_emb.npy is not a plain .npy array" in err
    assert not marker.exists()


def test_kd_dagfms_teacher_is_never_evaluated_as_code(tmp_path, capsys):
    """KD_DAGFM passes its ``teacher`` key to ``eval``; it is a context-aware model, which the protocols refuse before
    any model is built."""
    marker = tmp_path / "code-ran"
    with pytest.raises(SystemExit) as exit_info:
        run_recbole(["--model=KD_DAGFM", "--dataset=ml-100k", f"--teacher=__import__('os').system('touch {marker}')",
                     "--epochs=1"])
    assert exit_info.value.code == 2 and "KD_DAGFM is context-aware" in capsys.readouterr().err
    assert not marker.exists()


# A backbone part mapped to custom code (transformers' auto_map), the file its module is in, and the settings that
# map it: loading it through transformers would import the module, running the payload at its top.
CUSTOM_CODE = {
    "tokenizer": ("tokenizer_config.json", "tokenization_evil",
                  "from transformers import PreTrainedTokenizerFast\n"
                  "class EvilTokenizer(PreTrainedTokenizerFast): pass",
                  {"auto_map": {"AutoTokenizer": [None, "tokenization_evil.EvilTokenizer"]},
                   "tokenizer_class": "EvilTokenizer"}),
    "model": ("config.json", "configuration_evil",
                    "from transformers import LlamaConfig\nclass EvilConfig(LlamaConfig): model_type = 'evil'",
                    {"auto_map": {"AutoConfig": "configuration_evil.EvilConfig"}, "model_type": "evil"}),
}


@pytest.mark.parametrize("part", CUSTOM_CODE)
def test_a_backbones_custom_code_is_never_run_even_when_the_user_answers_yes(part, tiny_data_root, tmp_path,
                                                                            monkeypatch, capsys):
    """transformers asks "Do you wish to run the custom code? [y/N]" unless told trust_remote_code=False: the question
    must never come, and an answer of y on stdin must not run the code."""
    file_name, module, code, settings = CUSTOM_CODE[part]
    marker = tmp_path / "code-ran"
    backbone = build_tiny_llama(tmp_path / "llm", TINY_CORPUS)
    (backbone / f"{module}.py").write_text(f"import os\nos.system('touch {marker}')\n{code}\n")
    (backbone / file_name).write_text(json.dumps({**json.loads((backbone / file_name).read_text()), **settings}))
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n" * 10))
    with pytest.raises(SystemExit) as exit_info:
        run_recbole(["--model=iLoRA", *tiny(tiny_data_root, f"--llm_path={backbone}", "--cpu_processes=1",
                                             "--item_domain=movie", "--item_text_field=movie_title")[1:]])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and not marker.exists()
    assert "Do you wish to run the custom code" not in out + err
    assert f"its {file_name} maps the {part} to custom code (auto_map), which is never run" in err
