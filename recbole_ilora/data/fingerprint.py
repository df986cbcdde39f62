"""The content of a dataset's atomic files, as part of an experiment's identity: a run on an edited ``.inter`` is
another experiment than the run on the original, even under the same dataset name.

Every file of the dataset's folder named ``<dataset>.<suffix>`` counts (``.inter`` or its pre-split parts,
``.item``, ``.user``, knowledge-graph and additional feature files): conservative, since an unread file's edit also
changes the identity. Digests are cached on disk by path, size and modification time, so that a large dataset is
read once, not once per run or per planned leaderboard job.
"""

import json
from functools import lru_cache
from pathlib import Path

from recbole_ilora.files import file_sha256, write_json_atomic

CACHE_FILE = Path("~/.cache/recbole_ilora/fingerprints.json").expanduser()


@lru_cache(maxsize=None)
def file_digest(path, size, mtime_ns):
    """SHA-256 (16 hex digits) of one file, from the disk cache when its size and modification time match."""
    key = f"{path}:{size}:{mtime_ns}"
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


def dataset_fingerprint(folder, dataset):
    """``{file name: digest}`` of the dataset's atomic files in ``folder`` (empty when there are none yet)."""
    folder = Path(folder)
    files = sorted(path for path in folder.iterdir() if path.name.startswith(f"{dataset}.") and path.is_file()) \
        if folder.is_dir() else []
    fingerprint = {}
    for path in files:
        status = path.stat()
        fingerprint[path.name] = file_digest(str(path.resolve()), status.st_size, status.st_mtime_ns)
    return fingerprint
