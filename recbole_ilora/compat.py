"""Compatibility shims for RecBole 1.2.1 on today's stack: one shim per problem, each naming its upstream issue.

Everything a version range can fix is pinned in setup.py instead:
- ``numpy<2``: RecBole's ``Config.compatibility_settings`` reads ``np.float_`` and ray 2.6's tune logger
  ``np.bool8``, both removed in NumPy 2 (RecBole issue #2215).
- ``pandas<3``: pandas 3 needs NumPy 2, and its copy-on-write breaks RecBole's chained
  ``fillna(inplace=True)`` on float fields (RecBole issue #2215 covers the NumPy side).
- ``setuptools<82``: ray 2.6 (imported by ``recbole.quick_start``) needs ``pkg_resources``, removed in
  setuptools 82 (pypa/setuptools#3085).
"""

import os

import torch
from recbole.utils import set_color


def load_trusted_checkpoint(path, device):
    """Load a RecBole checkpoint that the user's own runs wrote.

    RecBole 1.2.1 pickles its Config into every checkpoint (protocol 4), which torch >= 2.6 refuses under
    its new ``weights_only=True`` default (RecBole issues #2212, #2215). Those files come from the user's
    own training runs, so they are loaded as trusted; never point this at a file from elsewhere.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint file {path!r} does not exist; check `resume_checkpoint` or the "
                                f"`checkpoint_dir` it was saved to.")
    checkpoint = torch.load(path, map_location=device, weights_only=False)
    restore_numpy_aliases(checkpoint.get("config"))
    return checkpoint


def restore_numpy_aliases(config):
    """Re-create the NumPy aliases (``np.float``, ``np.long``...) RecBole 1.2.1's metrics and layers still use.

    NumPy >= 1.24 removed them (RecBole issues #1604, #1714); RecBole puts them back in ``Config.__init__``
    (``compatibility_settings``, RecBole PR #1621), so a process whose only Config was unpickled from a
    checkpoint (``load_data_and_model``) crashes in the evaluator with ``AttributeError: np.float``.
    """
    if config is not None:
        config.compatibility_settings()


class TrustedCheckpointMixin:
    """Makes a RecBole trainer's checkpoint loading work on torch >= 2.6 (RecBole issues #2212, #2215).

    RecBole's ``Trainer.evaluate(load_best_model=True)`` and ``Trainer.resume_checkpoint`` call ``torch.load``
    with the default ``weights_only=True``, which fails on RecBole's own checkpoints. This mixin loads the file
    itself (``load_trusted_checkpoint``) and then hands on to RecBole's code.
    """

    def _restore_model(self, checkpoint):
        self.model.load_state_dict(checkpoint["state_dict"])
        self.model.load_other_parameter(checkpoint.get("other_parameter"))

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if load_best_model and eval_data:
            checkpoint_file = model_file or self.saved_model_file
            self._restore_model(load_trusted_checkpoint(checkpoint_file, self.device))
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)

    def resume_checkpoint(self, resume_file):
        checkpoint = load_trusted_checkpoint(resume_file, self.device)
        if checkpoint["config"]["model"].lower() != self.config["model"].lower():
            raise ValueError(
                f"Checkpoint {resume_file} was written by model {checkpoint['config']['model']}, "
                f"not {self.config['model']}; pass a checkpoint of the same model as `resume_checkpoint`."
            )
        self.saved_model_file = str(resume_file)
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]
        self._restore_model(checkpoint)
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.logger.info(set_color("Checkpoint loaded", "blue") + f": resume training from epoch {self.start_epoch}")
