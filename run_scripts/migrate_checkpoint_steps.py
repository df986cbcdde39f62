"""Migrate committed JSON results to ``checkpoint_steps`` as a runtime key (2026-12-06): how often a run writes a
checkpoint inside an epoch changes nothing it computes, so the key left the experiment's identity. Each result whose
``config`` holds it loses it there and takes the hash of what remains: new ``config_hash``, file name and
``result_file``; the old file is removed. Every other entry is kept as it was.

    python run_scripts/migrate_checkpoint_steps.py docs [--dry_run]
"""

import argparse
import json
import sys
from pathlib import Path

from recbole_ilora.experiment import config_hash
from recbole_ilora.files import write_json_atomic

KEY = "checkpoint_steps"


def migrated(result, path):
    """``(new result, new path)`` of a result holding ``KEY`` in its config, else None."""
    if not isinstance(result, dict) or KEY not in (result.get("config") or {}):
        return None
    old = result["config_hash"]
    if not path.name.endswith(f"-{old}.json"):
        raise SystemExit(f"{path}: its name does not end in its config_hash {old}; left as it is, fix it first")
    config = {key: value for key, value in result["config"].items() if key != KEY}
    new = config_hash(config)
    moved = {**result, "config": config, "config_hash": new}
    if isinstance(result.get("result_file"), str):
        moved["result_file"] = result["result_file"].replace(old, new)
    return moved, path.with_name(path.name[: -len(f"{old}.json")] + f"{new}.json")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("roots", nargs="+", help="folders searched for JSON results")
    parser.add_argument("--dry_run", action="store_true", help="list what would move, change nothing")
    args = parser.parse_args(argv)
    count = 0
    for root in args.roots:
        for path in sorted(Path(root).rglob("*.json")):
            found = migrated(json.loads(path.read_text()), path)
            if found is None:
                continue
            result, new_path = found
            print(f"{path} -> {new_path.name}")
            count += 1
            if not args.dry_run:
                write_json_atomic(result, new_path)
                path.unlink()
    print(f"{count} result(s) {'would be ' if args.dry_run else ''}migrated.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
