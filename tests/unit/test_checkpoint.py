"""Checkpoints: plain data loaded without unpickling, refused when foreign, broken or of another experiment."""

import os
import resource
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora.config import Config
from recbole_ilora.errors import CheckpointError, OutputFolderError


@pytest.fixture
def config():
    return Config("SASRec", "ml-100k")


def test_save_then_load_is_plain_data_with_the_runs_identity(config, tmp_path):
    path = checkpoints.save(tmp_path / "a.pth", config, weights={"w": torch.ones(2)},
                            other_parameter={"score": np.float32(0.5), "array": np.arange(3)})
    assert torch.serialization.get_unsafe_globals_in_checkpoint(str(path)) == []
    loaded = checkpoints.load(path)
    assert loaded["config_hash"] == config.experiment_hash and loaded["config"] == config.experiment
    assert loaded["other_parameter"]["score"] == 0.5 and torch.equal(loaded["other_parameter"]["array"],
                                                                     torch.arange(3))
    assert set(checkpoints.content(loaded)) == {"weights", "other_parameter"}
    checkpoints.check_same_experiment(loaded, config, path, "resumed")  # no error
    assert checkpoints.is_checkpoint_of(path, config.experiment_hash)


def test_a_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (marker.write_text, ("pwned",))

    path = tmp_path / "foreign.pth"
    torch.save({"format": checkpoints.FORMAT, "config": Payload()}, path)
    with pytest.raises(CheckpointError, match="not a checkpoint written by this version"):
        checkpoints.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"", "cannot be read as a checkpoint"),
    (b"not a zip file at all", "cannot be read as a checkpoint"),
])
def test_broken_files_are_named(tmp_path, content, message):
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        checkpoints.load(path)
    assert not checkpoints.is_checkpoint_of(path, "anything")


def test_a_checkpoint_whose_bytes_changed_is_refused_before_loading(config, tmp_path):
    """A flipped byte inside a tensor's data loaded silently as another weight."""
    path = checkpoints.save(tmp_path / "a.pth", config, weights={"w": torch.full((1000,), 7.0)})
    content = bytearray(path.read_bytes())
    content[content.find(torch.full((1000,), 7.0).numpy().tobytes()) + 10] ^= 0xFF
    path.write_bytes(content)
    assert torch.load(path, weights_only=True)["weights"]["w"].sum() != 7000  # torch reads it without notice
    with pytest.raises(CheckpointError, match=r"^Checkpoint .*a.pth is corrupt \(its member .*/data/\d+ fails its "
                                              r"CRC check\).*\(resume_checkpoint, sasrec_checkpoint\)"):
        checkpoints.load(path)


def test_another_format_and_a_missing_file_are_refused(tmp_path):
    torch.save({"weights": torch.ones(1)}, tmp_path / "plain.pth")
    with pytest.raises(CheckpointError, match="is not a recbole-ilora checkpoint"):
        checkpoints.load(tmp_path / "plain.pth")
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoints.load(tmp_path / "missing.pth")


def test_another_experiment_is_refused_naming_the_differing_keys(config, tmp_path):
    path = checkpoints.save(tmp_path / "a.pth", config, weights={})
    other = Config("SASRec", "ml-100k", cmd_args=["--hidden_size=32", "--n_layers=1"])
    with pytest.raises(CheckpointError, match=r"hidden_size \(64 there, 32 here\), n_layers \(2 there, 1 here\)"):
        checkpoints.check_same_experiment(checkpoints.load(path), other, path, "resumed")


@contextmanager
def file_size_limit(size):
    """Files of this process cannot grow beyond ``size`` bytes, as on a full disk (Python ignores SIGXFSZ, so a
    write past it fails with EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_checkpoint_that_cannot_be_written_is_named_and_leaves_no_partial_file(config, tmp_path):
    """On a full disk torch's zip writer ended the run with 'RuntimeError: [enforce fail at inline_container.cc]'."""
    with file_size_limit(60_000), pytest.raises(OutputFolderError, match=r"^Checkpoint .*a.pth cannot be written "
                                                                         r"\(.*\): the disk may be full"):
        checkpoints.save(tmp_path / "a.pth", config, weights={"w": torch.zeros(100_000)})
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputFolderError, match=r"^Checkpoint .*file/a.pth cannot be written \(.*File exists"):
        checkpoints.save(tmp_path / "file" / "a.pth", config, weights={})


def test_a_stopped_runs_newest_checkpoint_is_found_by_its_experiment(config, tmp_path):
    older = checkpoints.save(tmp_path / checkpoints.file_name("SASRec-a.pth", config.experiment_hash, "1"), config,
                             weights={})
    newer = checkpoints.save(tmp_path / checkpoints.file_name("SASRec-b.pth", config.experiment_hash, "2"), config,
                             weights={})
    os.utime(older, (1, 1))
    assert checkpoints.latest_of(tmp_path, "SASRec", config.experiment_hash) == newer
    assert checkpoints.latest_of(tmp_path, "SASRec", "0" * 16) is None


def test_a_device_or_pipe_as_checkpoint_is_named_as_such():
    with pytest.raises(CheckpointError, match="'/dev/null' is not a regular file"):
        checkpoints.load("/dev/null")
