"""run_scripts/migrate_runtime_keys.py: results move to the hash of their config without the runtime keys, and a run
that names a moved run's hash (a transfer's source) follows it. (That today's planner finds every migrated committed
result: test_committed_results.py.)"""

import json
import subprocess
import sys

from conftest import REPO_ROOT

from recbole_ilora.experiment import config_hash

SCRIPT = REPO_ROOT / "run_scripts" / "migrate_runtime_keys.py"


def write(folder, model, config):
    digest = config_hash(config)
    path = folder / f"{model}-seed2020-{digest}.json"
    path.write_text(json.dumps({"model": model, "config_hash": digest, "config": config, "result_file": str(path)}))
    return digest


def migrate(root):
    return subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, check=True).stdout


def test_runtime_keys_leave_the_config_and_a_transfer_follows_its_sources_new_hash(tmp_path):
    source_config = {"lora_r": 8, "llm_path": "/models/smol", "checkpoint_steps": 50}
    source = write(tmp_path, "TALLRec", source_config)
    target = write(tmp_path, "iLoRA", {"lora_r": 8, "llm_path": None, "prerequisites": {"transfer_checkpoint": source}})
    untouched = write(tmp_path, "SASRec", {"hidden_size": 64})

    assert "2 result(s) migrated." in migrate(tmp_path)
    new_source = config_hash({"lora_r": 8})
    moved = json.loads((tmp_path / f"TALLRec-seed2020-{new_source}.json").read_text())
    assert moved["config"] == {"lora_r": 8} and moved["llm_path"] == "/models/smol"
    assert moved["result_file"].endswith(f"{new_source}.json")
    new_target = config_hash({"lora_r": 8, "prerequisites": {"transfer_checkpoint": new_source}})
    assert json.loads((tmp_path / f"iLoRA-seed2020-{new_target}.json").read_text())["llm_path"] is None
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([
        f"TALLRec-seed2020-{new_source}.json", f"iLoRA-seed2020-{new_target}.json", f"SASRec-seed2020-{untouched}.json"])
    assert not any(target in path.name for path in tmp_path.iterdir())
    assert "0 result(s) migrated." in migrate(tmp_path)
