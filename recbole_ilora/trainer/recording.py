"""What every run of this package records on top of its RecBole trainer, and the checkpoint fixes it needs."""

import os
import time
import uuid
from functools import lru_cache

from recbole.evaluator import Evaluator
from recbole.utils import set_color

from recbole_ilora.compat import TrustedCheckpointMixin


class RankRecordingEvaluator(Evaluator):
    """RecBole's evaluator that also keeps the last evaluation's per-user top-k hits (``rec.topk``), so that a
    run can save each user's rank of the target for paired significance tests."""

    last_topk = None

    def evaluate(self, dataobject):
        self.last_topk = dataobject.get("rec.topk") if "rec.topk" in dataobject else None
        return super().evaluate(dataobject)


class RunRecordingMixin:
    """Times every epoch, keeps the per-user ranks of the last evaluation, and writes checkpoints atomically
    (RecBole writes them in place, so a run killed mid-write leaves a corrupt file behind)."""

    def __init__(self, config, model):
        super().__init__(config, model)
        # RecBole names checkpoints by the second: two runs started together would share one file.
        self.saved_model_file = self.saved_model_file.replace(".pth", f"-{uuid.uuid4().hex[:6]}.pth")
        self.evaluator = RankRecordingEvaluator(config)
        self.train_epoch_seconds = []
        self.valid_epoch_seconds = []

    def _train_epoch(self, *args, **kwargs):
        start = time.perf_counter()
        loss = super()._train_epoch(*args, **kwargs)
        self.train_epoch_seconds.append(time.perf_counter() - start)
        return loss

    def _valid_epoch(self, *args, **kwargs):
        start = time.perf_counter()
        result = super()._valid_epoch(*args, **kwargs)
        self.valid_epoch_seconds.append(time.perf_counter() - start)
        return result

    def _save_checkpoint(self, epoch, verbose=True, **kwargs):
        if not self.config["single_spec"] and self.config["local_rank"] != 0:
            return
        target = kwargs.pop("saved_model_file", self.saved_model_file)
        partial = f"{target}.partial"
        super()._save_checkpoint(epoch, verbose=False, saved_model_file=partial, **kwargs)
        os.replace(partial, target)
        if verbose:
            self.logger.info(set_color("Saving current", "blue") + f": {target}")

    def last_eval_ranks(self):
        """1-based rank of each evaluated user's target in the last evaluation; None where it ranked below
        ``max(topk)`` (RecBole's collector keeps only the top ``max(topk)``)."""
        topk = self.evaluator.last_topk
        if topk is None:
            return None
        hits = topk[:, :-1].bool()  # the last column holds the number of positives
        first_hit = hits.int().argmax(dim=1) + 1
        return [rank if found else None for rank, found in zip(first_hit.tolist(), hits.any(dim=1).tolist())]


@lru_cache(maxsize=None)
def with_run_recording(trainer_class):
    """``trainer_class`` with ``RunRecordingMixin`` and, unless it handles its checkpoints itself, the torch >= 2.6
    checkpoint shim mixed in."""
    shim = () if issubclass(trainer_class, TrustedCheckpointMixin) else (TrustedCheckpointMixin,)
    return type(trainer_class.__name__, (RunRecordingMixin, *shim, trainer_class),
                {"__module__": trainer_class.__module__, "__doc__": trainer_class.__doc__})
