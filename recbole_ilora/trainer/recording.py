"""What every run of this package records and saves on top of its RecBole trainer.

``RunRecordingMixin`` times epochs (across an interruption and resume), keeps the last evaluation's per-user ranks,
and owns checkpoints: written through ``recbole_ilora.checkpoint`` (plain data, atomic, a fresh file name per run,
so a resumed run never writes over the file it resumed from), resumed and reloaded only by a run of the same
experiment. What a checkpoint holds is a trainer's own business: the ``TrainerHooks`` it implements
(``RecBoleCheckpoints`` for RecBole's trainers, ``iLoRATrainer`` for the LLM models).
"""

import time
import uuid
from functools import lru_cache
from pathlib import Path

from recbole.evaluator import Evaluator
from recbole.utils import set_color

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora import distributed
from recbole_ilora.model.llm_recommender import LLMRecommender


class RankRecordingEvaluator(Evaluator):
    """RecBole's evaluator that also keeps the last evaluation's per-user top-k hits (``rec.topk``), so that a
    run can save each user's rank of the target for paired significance tests."""

    last_topk = None

    def evaluate(self, dataobject):
        self.last_topk = dataobject.get("rec.topk") if "rec.topk" in dataobject else None
        return super().evaluate(dataobject)


def restore_weights(model, weights):
    """Put checkpoint ``weights`` into ``model``: an LLM model's trainable weights, or a RecBole model's state."""
    if isinstance(model, LLMRecommender):
        model.load_trainable_state_dict(weights)
    else:
        model.load_state_dict(weights)


class TrainerHooks:
    """What a trainer saves in and restores from its checkpoints and adds to the JSON result
    (``RunRecordingMixin`` does the rest)."""

    def _checkpoint_content(self, epoch, **kwargs):
        """The trainer's part of a checkpoint written after ``epoch``; must hold ``weights`` (to evaluate)."""
        raise NotImplementedError

    def _resume_from(self, checkpoint):
        """Restore model, optimizer and progress from a checkpoint of the same experiment."""
        raise NotImplementedError

    def result_extras(self):
        """Extra entries of the run's JSON result."""
        return {}


class RecBoleCheckpoints(TrainerHooks):
    """RecBole's own checkpoint content and resume semantics (the best weights; training continues after the
    epoch that produced them), as plain data."""

    def _checkpoint_content(self, epoch, **kwargs):
        return {"epoch": epoch, "cur_step": self.cur_step, "best_valid_score": self.best_valid_score,
                "weights": self.model.state_dict(), "other_parameter": self.model.other_parameter(),
                "optimizer": self.optimizer.state_dict()}

    def _resume_from(self, checkpoint):
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]
        restore_weights(self.model, checkpoint["weights"])
        self.model.load_other_parameter(checkpoint.get("other_parameter"))
        self.optimizer.load_state_dict(checkpoint["optimizer"])


class RunRecordingMixin:
    """Timing, per-user ranks and checkpoints of every run (see the module docstring)."""

    def __init__(self, config, model):
        super().__init__(config, model)
        # Data-parallel: an LLM model's run under torchrun, or a RecBole model's under RecBole's own DDP. Not a
        # prerequisite run that rank 0 makes alone inside a torchrun job.
        self.parallel = distributed.active() and (isinstance(model, LLMRecommender) or not config["single_spec"])
        # RecBole names checkpoints by the second: two runs started together would share one file. Absolute, as
        # JSON results and prerequisite runs refer to it from anywhere; rank 0's name on every rank.
        name = str(Path(self.saved_model_file.replace(".pth", f"-{uuid.uuid4().hex[:6]}.pth")).resolve())
        self.saved_model_file = distributed.broadcast(name) if self.parallel else name
        self.evaluator = RankRecordingEvaluator(config)
        self.train_epoch_seconds = []
        self.valid_epoch_seconds = []
        self.resumed_from = None
        self.fit_seconds_before = 0.0  # fit time of the processes this run resumed from
        self.carried_epoch_seconds = 0.0  # time the interrupted process spent in the epoch a resume continues
        self._fit_started = self._epoch_started = None

    def fit(self, *args, **kwargs):
        self._fit_started = time.perf_counter()
        return super().fit(*args, **kwargs)

    def fit_seconds(self):
        """Training time of this run, including that of the processes it resumed from."""
        running = time.perf_counter() - self._fit_started if self._fit_started is not None else 0.0
        return self.fit_seconds_before + running

    def _train_epoch(self, *args, **kwargs):
        start = time.perf_counter() - self.carried_epoch_seconds
        self.carried_epoch_seconds = 0.0
        self._epoch_started = start
        loss = super()._train_epoch(*args, **kwargs)
        self.train_epoch_seconds.append(time.perf_counter() - start)
        return loss

    def _valid_epoch(self, *args, **kwargs):
        start = time.perf_counter()
        result = super()._valid_epoch(*args, **kwargs)
        self.valid_epoch_seconds.append(time.perf_counter() - start)
        return result

    def _save_checkpoint(self, epoch, verbose=True, **kwargs):
        """Every rank takes part (the content may update trainer state); rank 0 writes, and the others wait for it
        so that none reads an older file afterwards."""
        content = self._checkpoint_content(epoch, **kwargs)
        if self.parallel and not distributed.is_main():
            distributed.barrier()
            return
        in_epoch = time.perf_counter() - self._epoch_started if self._epoch_started is not None else 0.0
        timing = {"train_epoch_seconds": self.train_epoch_seconds, "valid_epoch_seconds": self.valid_epoch_seconds,
                  "fit_seconds": self.fit_seconds(), "epoch_seconds": in_epoch}
        checkpoints.save(self.saved_model_file, self.config, timing=timing, **content)
        if self.parallel:
            distributed.barrier()
        if verbose:
            self.logger.info(set_color("Saving current", "blue") + f": {self.saved_model_file}")

    def resume_checkpoint(self, resume_file):
        """Continue the run that wrote ``resume_file`` (same experiment only); this run writes its own new files."""
        checkpoint = checkpoints.load(resume_file, self.device)
        checkpoints.check_same_experiment(checkpoint, self.config, resume_file, "resumed")
        self._resume_from(checkpoint)
        timing = checkpoint["timing"]
        self.train_epoch_seconds = list(timing["train_epoch_seconds"])
        self.valid_epoch_seconds = list(timing["valid_epoch_seconds"])
        self.fit_seconds_before = timing["fit_seconds"]
        self.resumed_from = str(resume_file)
        # This run's own file starts as a copy: its evaluation finds the best weights even if it never improves.
        if not self.parallel or distributed.is_main():
            checkpoints.save(self.saved_model_file, self.config, **checkpoints.content(checkpoint))
        if self.parallel:
            distributed.barrier()
        self.logger.info(set_color("Checkpoint loaded", "blue") + f": {resume_file}; this run saves to "
                         f"{self.saved_model_file}")

    def _restore_model(self, checkpoint):
        restore_weights(self.model, checkpoint["weights"])
        self.model.load_other_parameter(checkpoint.get("other_parameter"))

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        """RecBole's evaluation; the best weights come from this package's checkpoint (RecBole's own loading
        unpickles its Config, which torch >= 2.6 refuses: RecBole issues #2212, #2215)."""
        if load_best_model and eval_data:
            checkpoint_file = model_file or self.saved_model_file
            checkpoint = checkpoints.load(checkpoint_file, self.device)
            checkpoints.check_same_experiment(checkpoint, self.config, checkpoint_file, "evaluated")
            self._restore_model(checkpoint)
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)

    def result_extras(self):
        return {**super().result_extras(), **({"resumed_from": self.resumed_from} if self.resumed_from else {})}

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
    """``trainer_class`` with ``RunRecordingMixin`` and, unless it implements ``TrainerHooks`` itself, RecBole's
    checkpoint content."""
    hooks = () if issubclass(trainer_class, TrainerHooks) else (RecBoleCheckpoints,)
    return type(trainer_class.__name__, (RunRecordingMixin, *hooks, trainer_class),
                {"__module__": trainer_class.__module__, "__doc__": trainer_class.__doc__})
