"""The content of a dataset's atomic files and of an LLM's backbone, as part of an experiment's identity: a run on
an edited ``.inter``, or with another model at the same ``llm_path``, is another experiment than the run on the
original, even under the same names.

Every file of the dataset's folder named ``<dataset>.<suffix>`` counts (``.inter`` or its pre-split parts,
``.item``, ``.user``, knowledge-graph and additional feature files): conservative, since an unread file's edit also
changes the identity. Digests are cached on disk by path, size, modification and change time, so that a large
dataset or backbone is read once, not once per run or per planned leaderboard job: one small JSON file per
fingerprinted file under ``<llm_cache_dir>/fingerprints/``, replaced atomically, so that runs at the same time never
rewrite each other's entries.
"""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from recbole_ilora.files import file_sha256, write_json_atomic

CACHE_FOLDER = "fingerprints"


def _cached_digest(record, key):
    """The digest ``record`` holds for ``key``; None when it holds none (missing, unreadable, another key)."""
    try:
        cached = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    return cached.get("sha256") if isinstance(cached, dict) and cached.get("key") == key else None


@lru_cache(maxsize=None)
def file_digest(path, size, mtime_ns, ctime_ns, cache_dir):
    """SHA-256 (16 hex digits) of one file, from its record under ``cache_dir`` when its size and modification and
    change times match (the change time moves on every write, also one that restores the modification time, as
    cp -p does)."""
    key = f"{path}:{size}:{mtime_ns}:{ctime_ns}"
    record = Path(cache_dir).expanduser() / CACHE_FOLDER / f"{hashlib.sha256(path.encode()).hexdigest()[:32]}.json"
    digest = _cached_digest(record, key)
    if digest is None:
        digest = file_sha256(path)
        try:
            write_json_atomic({"key": key, "sha256": digest}, record)
        except OSError:  # a read-only cache folder: the digest is still right, only not remembered
            pass
    return digest


def files_fingerprint(paths, cache_dir):
    """``{file name: digest}`` of ``paths``, their digests cached under ``cache_dir``."""
    fingerprint = {}
    for path in sorted(paths):
        status = path.stat()
        fingerprint[path.name] = file_digest(str(path.resolve()), status.st_size, status.st_mtime_ns,
                                             status.st_ctime_ns, str(cache_dir))
    return fingerprint


def dataset_fingerprint(folder, dataset, cache_dir):
    """``{file name: digest}`` of the dataset's atomic files in ``folder`` (empty when there are none yet)."""
    folder = Path(folder)
    return files_fingerprint((path for path in folder.iterdir() if path.name.startswith(f"{dataset}.")
                              and path.is_file()), cache_dir) if folder.is_dir() else {}


def backbone_fingerprint(path, cache_dir):
    """``{file name: digest}`` of a backbone: its .gguf file, or every file of its model folder (config, tokenizer,
    weights): another model at the same ``llm_path`` is another experiment."""
    path = Path(path)
    if path.is_file():
        return files_fingerprint([path], cache_dir)
    return files_fingerprint((child for child in path.iterdir() if child.is_file()
                              and not child.name.startswith(".")), cache_dir)
