"""The content of a dataset's atomic files and of an LLM's backbone, as part of an experiment's identity: a run on
an edited ``.inter``, or with another model at the same ``llm_path``, is another experiment than the run on the
original, even under the same names.

Every file of the dataset's folder named ``<dataset>.<suffix>`` counts (``.inter`` or its pre-split parts,
``.item``, ``.user``, knowledge-graph and additional feature files): conservative, since an unread file's edit also
changes the identity. Digests are cached on disk by path, size, modification and change time, so that a large
dataset or backbone is read once, not once per run or per planned leaderboard job.
"""

import json
from functools import lru_cache
from pathlib import Path

from recbole_ilora.files import file_sha256, write_json_atomic

CACHE_FILE = Path("~/.cache/recbole_ilora/fingerprints.json").expanduser()


@lru_cache(maxsize=None)
def file_digest(path, size, mtime_ns, ctime_ns):
    """SHA-256 (16 hex digits) of one file, from the disk cache when its size and modification and change times
    match (the change time moves on every write, also one that restores the modification time, as cp -p does)."""
    key = f"{path}:{size}:{mtime_ns}:{ctime_ns}"
    try:
        cache = json.loads(CACHE_FILE.read_text())
    except (OSError, ValueError):
        cache = {}
    if key not in cache:
        cache[key] = file_sha256(path)
        try:
            write_json_atomic(cache, CACHE_FILE)
        except OSError:  # a read-only home: the digest is still right, only not remembered
            pass
    return cache[key]


def files_fingerprint(paths):
    """``{file name: digest}`` of ``paths``."""
    fingerprint = {}
    for path in sorted(paths):
        status = path.stat()
        fingerprint[path.name] = file_digest(str(path.resolve()), status.st_size, status.st_mtime_ns,
                                             status.st_ctime_ns)
    return fingerprint


def dataset_fingerprint(folder, dataset):
    """``{file name: digest}`` of the dataset's atomic files in ``folder`` (empty when there are none yet)."""
    folder = Path(folder)
    return files_fingerprint(path for path in folder.iterdir() if path.name.startswith(f"{dataset}.")
                             and path.is_file()) if folder.is_dir() else {}


def backbone_fingerprint(path):
    """``{file name: digest}`` of a backbone: its .gguf file, or every file of its model folder (config, tokenizer,
    weights): another model at the same ``llm_path`` is another experiment."""
    path = Path(path)
    if path.is_file():
        return files_fingerprint([path])
    return files_fingerprint(child for child in path.iterdir() if child.is_file() and not child.name.startswith("."))
