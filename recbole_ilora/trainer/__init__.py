"""Trainers: RecBole's own for its models, ``iLoRATrainer`` for the LLM recommenders, both wrapped by
``with_run_recording``. ``registry.get_trainer`` looks up ``<Model>Trainer`` here first."""

from recbole_ilora.trainer.llm_trainer import iLoRATrainer
from recbole_ilora.trainer.recording import RankRecordingEvaluator, RunRecordingMixin, with_run_recording

LoRARecTrainer = TALLRecTrainer = iLoRATrainer  # the ablations train exactly like iLoRA

__all__ = ["iLoRATrainer", "LoRARecTrainer", "TALLRecTrainer", "RankRecordingEvaluator", "RunRecordingMixin",
           "with_run_recording"]
