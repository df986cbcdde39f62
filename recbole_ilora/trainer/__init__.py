"""Trainers: RecBole's own for its models (``recbole_trainers``), ``LLMTrainer`` for the LLM recommenders; both
record their runs through ``recording.RunRecordingMixin``."""

from recbole_ilora.trainer.llm_trainer import LLMTrainer
from recbole_ilora.trainer.recbole_trainers import recorded_trainer
from recbole_ilora.trainer.recording import RunRecordingMixin, restore_evaluated

__all__ = ["LLMTrainer", "recorded_trainer", "RunRecordingMixin", "restore_evaluated"]
