"""iLoRA end to end through the real CLI: real ml-100k, the real SmolLM2-135M backbone, a tiny budget.

The 16 ml-100k users with at least 400 ratings keep the evaluation short; everything else is the real pipeline:
the SASRec encoder stage, the GGUF backbone, training, RecBole's evaluator and the JSON result.
"""

import json
import subprocess
import sys


def test_ilora_on_ml100k_with_the_real_backbone(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "recbole_ilora", "--model=iLoRA", "--dataset=ml-100k", "--show_progress=False",
         "--user_inter_num_interval=[400,inf)", "--encoder_config={'epochs': 1}", "--train_samples_per_epoch=8",
         "--checkpoint_steps=1", "--eval_batch_size=160", "--generation_eval=True", "--generation_max_new_tokens=8"],
        capture_output=True, text=True, cwd=tmp_path, timeout=1500,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "Stage: training SASRec for iLoRA's sasrec_checkpoint" in completed.stdout
    (result_file,) = (tmp_path / "results" / "ml-100k" / "candidates20").glob("iLoRA-seed2020-*.json")
    result = json.loads(result_file.read_text())
    assert len(result["per_user_test"]["user"]) == 16
    assert set(result["test"]) >= {"hit@1", "ndcg@5", "generation_valid_ratio", "generation_hr@1"}
    assert result["parameters"]["trainable"] < result["parameters"]["total"] / 10
    gates = result["gate_weights"]["weights"]
    assert len(gates) == 16 and all(len(g) == 4 and abs(sum(g) - 1) < 1e-3 for g in gates)
    assert (tmp_path / result["adapter_dir"] / "adapter_config.json").is_file()
    assert result["llm_path"] is None and "llm_path" not in result["config"]  # the default backbone, a runtime key
    # The encoder's run (capped epochs: not the SASRec baseline) keeps its result apart from the leaderboard's.
    (encoder_result,) = (tmp_path / "results" / "encoders" / "ml-100k" / "candidates20").glob("SASRec-seed2020-*.json")
    # The encoder evaluated on exactly the candidates iLoRA was scored on.
    assert json.loads(encoder_result.read_text())["candidates_sha256"] == result["candidates_sha256"]
