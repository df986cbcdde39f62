"""Checkpoints: the one place where this package saves and loads them, for every model and trainer.

A checkpoint is plain data: tensors, numbers, strings, lists and dicts. The run's config is stored as the plain dict
its JSON result holds (``Config.experiment``) with its hash, and as the user's settings that built it
(config files, ``config_dict`` and command line merged, with the dataset folder), so that nothing needs unpickling: files are loaded with ``torch.load(weights_only=True)`` and a file from elsewhere cannot run code.
(RecBole itself pickles its ``Config`` into checkpoints, which torch >= 2.6 refuses to load by default: RecBole
issues #2212, #2215.) A checkpoint is only resumed, reused or evaluated by a run with the same config hash; a
mismatch names the keys that differ.

Keys: ``format``, ``model``, ``dataset``, ``config``, ``config_hash``, ``settings``, ``weights`` (the weights to evaluate:
RecBole's best ones, or an LLM model's trainable ones), then whatever the trainer needs to resume (see
``recbole_ilora.trainer.recording``).
"""

import pickle
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from recbole_ilora.errors import CheckpointError, OutputFolderError
from recbole_ilora.experiment import differing_keys, json_safe
from recbole_ilora.files import write_file_atomic

FORMAT = "recbole_ilora.checkpoint/1"
HEADER = ("format", "model", "dataset", "config", "config_hash", "settings")  # what save() adds to the content


def plain(value):
    """``value`` with NumPy scalars and arrays (RecBole's scores, some models' ``other_parameter``) as Python
    numbers and tensors, which ``weights_only`` loading accepts."""
    if isinstance(value, dict):
        return type(value)((key, plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return value


def save(path, config, **content):
    """Write a checkpoint of the run configured by ``config`` atomically to ``path``; return ``path``."""
    content = plain(content)
    payload = {"format": FORMAT, "model": config["model"], "dataset": config["dataset"],
               "config": config.experiment, "config_hash": config.experiment_hash,
               "settings": json_safe(config.settings()), **content}
    return _write(path, payload)


def _write(path, payload):
    """``torch.save`` of ``payload`` to ``path``, atomic: a failed write (a full disk, a folder turned read-only: an
    ``OSError``, or the ``RuntimeError`` of torch's zip writer, ``unexpected pos``) leaves no partial file and is
    one line naming the checkpoint."""
    try:
        return write_file_atomic(path, lambda partial: torch.save(payload, partial))
    except (OSError, RuntimeError) as error:
        raise OutputFolderError(f"Checkpoint {path} cannot be written ({' '.join(str(error).split())[:200]}): the "
                                f"disk may be full or its folder not writable; free space, or set checkpoint_dir to "
                                f"another folder, and run again.") from None


def mark_finished(path, timing):
    """Mark the checkpoint at ``path`` as written by a run whose training ended, with its final ``timing``."""
    checkpoint = load(path)
    checkpoint.update(finished=True, timing=timing)
    _write(path, checkpoint)


def content(checkpoint):
    """What a trainer put into ``checkpoint`` (for a resumed run's first copy of it)."""
    return {key: value for key, value in checkpoint.items() if key not in HEADER}


def _check_archive(path):
    """``path`` is an intact zip archive, as ``torch.save`` writes: torch reads a member whose bytes changed on disk
    or in a copy (a failing CRC) without notice, so every member's CRC is checked first."""
    if not zipfile.is_zipfile(path):  # anything else is truncated or foreign
        raise CheckpointError(f"{path} cannot be read as a checkpoint (not a PyTorch checkpoint archive); it may be "
                              f"truncated or another kind of file: re-run the training that produced it.")
    try:
        with zipfile.ZipFile(path) as archive:
            member = archive.testzip()
        corrupt = member and f"its member {member} fails its CRC check"
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        corrupt = f"its archive cannot be read: {error}"
    if corrupt:
        raise CheckpointError(f"Checkpoint {path} is corrupt ({corrupt}): its bytes changed on disk or in a copy; "
                              f"copy it again, or use another checkpoint (resume_checkpoint, sasrec_checkpoint).")


def load(path, device="cpu"):
    """A checkpoint this package wrote, loaded without unpickling; ``CheckpointError`` for anything else."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"Checkpoint {str(path)!r} is a folder; name the .pth file (resume_checkpoint, "
                              f"sasrec_checkpoint).")
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise CheckpointError(f"Checkpoint file {str(path)!r} {what}; check the path (resume_checkpoint, "
                              f"sasrec_checkpoint) or the checkpoint_dir it was saved to.")
    _check_archive(path)
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path} is not a checkpoint written by this version of recbole-ilora: loading it would need unpickling "
            f"({str(error).splitlines()[0][:160]}). RecBole's own checkpoints and those of earlier versions pickle "
            f"their Config; re-run the training that produced it."
        ) from None
    except (RuntimeError, EOFError, OSError) as error:
        raise CheckpointError(f"{path} cannot be read as a checkpoint ({error}); it may be truncated: re-run the "
                              f"training that produced it.") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a recbole-ilora checkpoint ({FORMAT}).")
    missing = [key for key in (*HEADER, "weights") if key not in checkpoint]
    if missing or not isinstance(checkpoint["weights"], dict):
        raise CheckpointError(f"{path} is an incomplete recbole-ilora checkpoint (no {', '.join(missing) or 'weights'})"
                              f"; it was edited or written by another tool: re-run the training that produced it.")
    return checkpoint


@contextmanager
def resume_guard(path):
    """Context of reading a checkpoint's resume state: a missing or malformed part (an edited file) is a
    ``CheckpointError`` naming the file, not a ``KeyError`` from deep inside a trainer."""
    try:
        yield
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
        what = f"no {error}" if isinstance(error, KeyError) else \
            f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
        raise CheckpointError(f"{path} cannot be resumed: its training state is incomplete or malformed ({what}); "
                              f"resume from another checkpoint of the run, or start it again.") from None


def check_same_experiment(checkpoint, config, path, purpose):
    """Raise ``CheckpointError`` unless ``checkpoint`` was written by a run with ``config``'s hash."""
    if checkpoint["config_hash"] == config.experiment_hash:
        return
    current = config.experiment
    keys = differing_keys(checkpoint["config"], current)
    shown = ", ".join(f"{key} ({checkpoint['config'].get(key)!r} there, {current.get(key)!r} here)"
                      for key in keys[:6])
    more = f" and {len(keys) - 6} more" if len(keys) > 6 else ""
    raise CheckpointError(
        f"Checkpoint {path} was written by another experiment than this run, so it cannot be {purpose}: "
        f"{shown}{more} differ. Run with the checkpoint's own settings, or start this run without it."
    )


def file_name(recbole_name, experiment_hash, unique):
    """``<model>-<time>-<hash[:8]>-<unique>.pth`` from RecBole's ``<model>-<time>.pth``."""
    return recbole_name.replace(".pth", f"-{experiment_hash[:8]}-{unique}.pth")


def latest_of(folder, model, experiment_hash):
    """The newest checkpoint in ``folder`` written by a run of ``model`` with ``experiment_hash``, or None: what a
    rerun of a stopped run's command resumes from."""
    named = sorted(Path(folder).glob(f"{model}-*-{experiment_hash[:8]}-*.pth"), key=lambda path: path.stat().st_mtime,
                   reverse=True)
    return next((path for path in named if is_checkpoint_of(path, experiment_hash)), None)


def is_checkpoint_of(path, expected_hash):
    """Whether ``path`` holds a readable checkpoint of the experiment with ``expected_hash`` (a path read from a
    JSON result is followed only after this check)."""
    try:
        return load(path)["config_hash"] == expected_hash
    except CheckpointError:
        return False
