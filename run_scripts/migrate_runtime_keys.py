"""Migrate committed JSON results when config keys become runtime keys: ``checkpoint_steps`` (2026-12-06: how often
a run writes a checkpoint inside an epoch changes nothing it computes), ``llm_path`` (2026-12-08: where the
backbone's files lie; their content is in the identity as ``backbone_fingerprint``), ``eval_batch_size`` and
``eval_batch_users`` (2026-12-08: how many rows an evaluation batch holds; each user's candidates are fixed
whatever the batch, as ``candidates_sha256`` shows). Each result whose ``config``
holds one of them loses it there and takes the hash of what remains: new ``config_hash``, file name and
``result_file``; the old file is removed. ``llm_path`` moves to the result's top level, where runs record it now.
A result whose ``prerequisites`` name a moved run's hash (a transfer run's source) takes the source's new hash.
Every other entry is kept as it was; running it again changes nothing.

    python run_scripts/migrate_runtime_keys.py docs [--dry_run]
"""

import argparse
import json
import sys
from pathlib import Path

from recbole_ilora.experiment import config_hash
from recbole_ilora.files import write_json_atomic

KEYS = ("checkpoint_steps", "llm_path", "eval_batch_size", "eval_batch_users")
RECORDED = ("llm_path",)  # kept at the result's top level


def migrated(result, renamed):
    """The result with ``KEYS`` out of its config and its prerequisites' hashes renamed by ``renamed`` (old hash ->
    new); None when nothing changes."""
    if not isinstance(result, dict) or not isinstance(result.get("config"), dict):
        return None
    config = {key: value for key, value in result["config"].items() if key not in KEYS}
    if isinstance(config.get("prerequisites"), dict):
        config["prerequisites"] = {key: renamed.get(value, value) for key, value in config["prerequisites"].items()}
    if config == result["config"]:
        return None
    old, new = result["config_hash"], config_hash(config)
    moved = {**result, **{key: result["config"][key] for key in RECORDED if key in result["config"]},
             "config": config, "config_hash": new}
    if isinstance(result.get("result_file"), str):
        moved["result_file"] = result["result_file"].replace(old, new)
    return moved


def migrate_all(paths):
    """``{path: (new result, new path)}`` of the results under ``paths`` that move, each from its file as it is, with
    the prerequisites' new hashes followed until none changes (a source run before the runs that name it)."""
    originals = {path: json.loads(path.read_text()) for path in paths}
    renamed = {}
    while True:
        moves = {}
        for path, result in originals.items():
            moved = migrated(result, renamed)
            if moved is None:
                continue
            old = result["config_hash"]
            if not path.name.endswith(f"-{old}.json"):
                raise SystemExit(f"{path}: its name does not end in its config_hash {old}; left as it is, fix it first")
            moves[path] = moved, path.with_name(path.name[: -len(f"{old}.json")] + f"{moved['config_hash']}.json")
        now = {originals[path]["config_hash"]: moved["config_hash"] for path, (moved, _) in moves.items()}
        if now == renamed:
            return moves
        renamed = now


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("roots", nargs="+", help="folders searched for JSON results")
    parser.add_argument("--dry_run", action="store_true", help="list what would move, change nothing")
    args = parser.parse_args(argv)
    paths = sorted(path for root in args.roots for path in Path(root).rglob("*.json"))
    moves = migrate_all(paths)
    for path, (result, new_path) in moves.items():
        print(f"{path} -> {new_path.name}")
        if not args.dry_run:
            write_json_atomic(result, new_path)
            if new_path != path:
                path.unlink()
    print(f"{len(moves)} result(s) {'would be ' if args.dry_run else ''}migrated.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
