"""What every run of this package records and saves on top of its RecBole trainer: ``RunRecordingMixin``.

The mixin times epochs (across an interruption and resume), keeps the last evaluation's per-user ranks, and owns
checkpoints: written through ``recbole_ilora.checkpoint`` (plain data, atomic, a fresh file name per run, so a
resumed run never writes over the file it resumed from), resumed and reloaded only by a run of the same experiment.
It saves what every trainer has (progress of early stopping, optimizer, timing); what else a checkpoint holds is the
trainer's own business, through the hooks the mixin declares (``RecBoleCheckpoints`` for RecBole's trainers,
``LLMTrainer`` for the LLM models).
"""

import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from recbole.evaluator import Evaluator
from recbole.utils import set_color

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora import distributed
from recbole_ilora.model.llm_recommender import LLMRecommender
from recbole_ilora.results import TrainingRecord


class RankRecordingEvaluator(Evaluator):
    """RecBole's evaluator that also keeps the last evaluation's per-user top-k hits (``rec.topk``), so that a
    run can save each user's rank of the target for paired significance tests."""

    last_topk = None

    def evaluate(self, dataobject):
        self.last_topk = dataobject.get("rec.topk") if "rec.topk" in dataobject else None
        return super().evaluate(dataobject)


def restore_evaluated(model, checkpoint):
    """Put a checkpoint's weights to evaluate into ``model`` (an LLM model's trainable weights, or a RecBole model's
    whole state) and its ``other_parameter``."""
    if isinstance(model, LLMRecommender):
        model.load_trainable_state_dict(checkpoint["weights"])
    else:
        model.load_state_dict(checkpoint["weights"])
    model.load_other_parameter(checkpoint.get("other_parameter"))


@dataclass(frozen=True)
class EpochProgress:
    """How far into an epoch a checkpoint is written: global batches done (all ranks together) and their loss."""

    position: int
    loss: float


class RunRecordingMixin:
    """Timing, per-user ranks and checkpoints of every run (see the module docstring).

    A trainer wraps its ``_train_epoch`` body in ``_timed_epoch()``. Hooks it implements:
        ``_checkpoint_content(epoch, progress)``: its part of a checkpoint written after ``epoch``; must hold
            ``weights`` (what evaluation loads). ``progress`` is an ``EpochProgress`` when the checkpoint is written
            inside an epoch, else None (RecBole's save after a better validation, or after an epoch without one).
        ``_resume_from(checkpoint)``: restore model and progress from a checkpoint of the same experiment; return
            whether training continues inside the checkpoint's epoch.
        ``_trainer_extras()``: the trainer's own entries of the JSON result.
        ``_evaluate_loaded(eval_data, show_progress)``: evaluate the weights in place (RecBole's loop by default).
    """

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
        self._epoch_valid_result = None  # this epoch's validation result, until RecBole assigns best_valid_result

    # ----- hooks -----

    def _checkpoint_content(self, epoch, progress):
        raise NotImplementedError

    def _resume_from(self, checkpoint):
        raise NotImplementedError

    def _trainer_extras(self):
        return {}

    # ----- timing -----

    def fit(self, *args, **kwargs):
        self._fit_started = time.perf_counter()
        return super().fit(*args, **kwargs)

    def fit_seconds(self):
        """Training time of this run, including that of the processes it resumed from."""
        running = time.perf_counter() - self._fit_started if self._fit_started is not None else 0.0
        return self.fit_seconds_before + running

    @contextmanager
    def _timed_epoch(self):
        """Around a trainer's ``_train_epoch`` body: its time, counting what an interrupted process spent on it."""
        start = time.perf_counter() - self.carried_epoch_seconds
        self.carried_epoch_seconds = 0.0
        self._epoch_started = start
        self._epoch_valid_result = None
        yield
        self.train_epoch_seconds.append(time.perf_counter() - start)

    def _valid_epoch(self, *args, **kwargs):
        start = time.perf_counter()
        valid_score, valid_result = super()._valid_epoch(*args, **kwargs)
        self.valid_epoch_seconds.append(time.perf_counter() - start)
        self._epoch_valid_result = valid_result
        return valid_score, valid_result

    # ----- checkpoints -----

    def _best_valid_result_now(self, progress):
        """The best validation result as of a checkpoint: RecBole's ``fit`` saves after a better validation but
        assigns ``best_valid_result`` only afterwards, so at that save the best is this epoch's result."""
        if progress is None and self._epoch_valid_result is not None:
            return dict(self._epoch_valid_result)
        return dict(self.best_valid_result) if self.best_valid_result else None

    def _save_checkpoint(self, epoch, verbose=True, progress=None):
        """Every rank takes part (the content may update trainer state); rank 0 writes, and the others wait for it
        so that none reads an older file afterwards."""
        content = self._checkpoint_content(epoch, progress)
        if self.parallel and not distributed.is_main():
            distributed.barrier()
            return
        in_epoch = time.perf_counter() - self._epoch_started if self._epoch_started is not None else 0.0
        timing = {"train_epoch_seconds": self.train_epoch_seconds, "valid_epoch_seconds": self.valid_epoch_seconds,
                  "fit_seconds": self.fit_seconds(), "epoch_seconds": in_epoch}
        checkpoints.save(self.saved_model_file, self.config, timing=timing, cur_step=self.cur_step,
                         best_valid_score=self.best_valid_score, best_valid_result=self._best_valid_result_now(progress),
                         other_parameter=self.model.other_parameter(), optimizer=self.optimizer.state_dict(),
                         **content)
        if self.parallel:
            distributed.barrier()
        if verbose:
            self.logger.info(set_color("Saving current", "blue") + f": {self.saved_model_file}")

    def resume_checkpoint(self, resume_file):
        """Continue the run that wrote ``resume_file`` (same experiment only); this run writes its own new files."""
        checkpoint = checkpoints.load(resume_file, self.device)
        checkpoints.check_same_experiment(checkpoint, self.config, resume_file, "resumed")
        self.cur_step, self.best_valid_score = checkpoint["cur_step"], checkpoint["best_valid_score"]
        self.best_valid_result = checkpoint.get("best_valid_result")  # absent from checkpoints of RecBole models before 0.2
        mid_epoch = self._resume_from(checkpoint)
        self.model.load_other_parameter(checkpoint["other_parameter"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        timing = checkpoint["timing"]
        self.train_epoch_seconds = list(timing["train_epoch_seconds"])
        self.valid_epoch_seconds = list(timing["valid_epoch_seconds"])
        self.fit_seconds_before = timing["fit_seconds"]
        self.carried_epoch_seconds = timing["epoch_seconds"] if mid_epoch else 0.0
        self.resumed_from = str(resume_file)
        # This run's own file starts as a copy: its evaluation finds the best weights even if it never improves.
        if not self.parallel or distributed.is_main():
            checkpoints.save(self.saved_model_file, self.config, **checkpoints.content(checkpoint))
        if self.parallel:
            distributed.barrier()
        self.logger.info(set_color("Checkpoint loaded", "blue") + f": {resume_file}; this run saves to "
                         f"{self.saved_model_file}")

    # ----- evaluation and the record -----

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        """RecBole's evaluation; the best weights come from this package's checkpoint (RecBole's own loading
        unpickles its Config, which torch >= 2.6 refuses: RecBole issues #2212, #2215)."""
        if load_best_model and eval_data:
            checkpoint_file = model_file or self.saved_model_file
            checkpoint = checkpoints.load(checkpoint_file, self.device)
            checkpoints.check_same_experiment(checkpoint, self.config, checkpoint_file, "evaluated")
            restore_evaluated(self.model, checkpoint)
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        return self._evaluate_loaded(eval_data, show_progress)

    def _evaluate_loaded(self, eval_data, show_progress):
        return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)

    def last_eval_ranks(self):
        """1-based rank of each evaluated user's target in the last evaluation; None where it ranked below
        ``max(topk)`` (RecBole's collector keeps only the top ``max(topk)``)."""
        topk = self.evaluator.last_topk
        if topk is None:
            return None
        hits = topk[:, :-1].bool()  # the last column holds the number of positives
        first_hit = hits.int().argmax(dim=1) + 1
        return [rank if found else None for rank, found in zip(first_hit.tolist(), hits.any(dim=1).tolist())]

    def training_record(self):
        """What the JSON result reports about this trainer's run (after the test evaluation)."""
        extras = {**self._trainer_extras(), **({"resumed_from": self.resumed_from} if self.resumed_from else {})}
        return TrainingRecord(self.train_epoch_seconds, self.valid_epoch_seconds, self.last_eval_ranks(),
                              distributed.world_size() if self.parallel else 1, extras)


class RecBoleCheckpoints(RunRecordingMixin):
    """Run recording for RecBole's own trainers: RecBole's checkpoint content and resume semantics (the best weights;
    training continues after the epoch that produced them), as plain data."""

    def _train_epoch(self, *args, **kwargs):
        with self._timed_epoch():
            return super()._train_epoch(*args, **kwargs)

    def _checkpoint_content(self, epoch, progress):
        return {"epoch": epoch, "weights": self.model.state_dict()}

    def _resume_from(self, checkpoint):
        self.start_epoch = checkpoint["epoch"] + 1
        self.model.load_state_dict(checkpoint["weights"])
        return False
