"""Compatibility with today's stack (RecBole 1.2.1 on NumPy 2, pandas 3, torch 2.13; transformers 5): one shim per
problem, each naming its upstream issue.

Shims, applied when this module is imported (``registry`` imports it before any RecBole model is used):
- NumPy 2 removed ``np.float_``, ``np.complex_`` and ``np.unicode_``, which RecBole 1.2.1's
  ``Config.compatibility_settings`` reads to re-create ``np.float`` & co. for its own code (RecBole issue #2215;
  the fix, PR #2203, was closed unmerged): they are put back as the NumPy 1 aliases they were.
- RecBole 1.2.1's ``recbole/model/sequential_recommender/sine.py`` calls ``torch.autograd.set_detect_anomaly(True)``
  at import time, and importing any RecBole sequential model (SASRec included) imports it: every backward pass of
  the process then records Python stack traces. Measured here: LLM training steps 2.5-3.5x slower (no upstream
  issue found). Anomaly detection is a debugging switch; it is turned back off once RecBole's models are imported.

Shims used where RecBole's classes are built:
- ``PandasCopyOnWriteDataset`` is mixed into RecBole's dataset classes (``recbole_ilora.data.create_dataset``).
  pandas 3 copies on write, so RecBole 1.2.1's chained ``feat[field].fillna(..., inplace=True)`` no longer fills
  anything, and ``Series.agg(len)`` measures the whole column instead of each row's sequence (a
  ``ValueError: Length of values`` on any token_seq field, e.g. ml-100k's titles). RecBole issue #2215 reports
  its NumPy 2 / pandas breakage; the fix, PR #2203, was closed unmerged. The mixin's versions work on pandas 2
  and 3 alike. Empty token_seq cells still break RecBole's own loading under pandas 3; ``data.validation``
  refuses them with a message there.

Shims used where the LLM models call transformers:
- transformers 5.24 renamed a causal LM's ``past_key_values`` (argument and output) to ``cache`` and warns on every
  call that the old name goes away in 5.40 (transformers' deprecation notice in ``LlamaForCausalLM.forward``):
  ``cache_argument`` names the KV cache for the installed version, so that the scoring and softmax-loss passes keep
  working on 5.40 without a warning per batch, and on earlier 5.x as before.

- torch 2.13 deprecates ``DistributedDataParallel(broadcast_buffers=...)`` for ``forward_sync_buffers`` and warns on
  every DDP run (torch's deprecation notice in ``torch/nn/parallel/distributed.py``): ``DDP_NO_BUFFER_SYNC`` is the
  installed version's way to keep each rank's (identical, frozen) buffers unsynced.

RecBole's checkpoints pickle its ``Config``, which torch >= 2.6 refuses to load (RecBole issues #2212, #2215): this
package writes and reads its own plain-data checkpoints instead (``recbole_ilora.checkpoint``), so no shim loads
pickles.
"""

import re
import warnings
from contextlib import contextmanager
from importlib import metadata

import numpy as np
import pandas as pd  # noqa: E402
import recbole.model.sequential_recommender  # noqa: E402,F401 (imports sine.py, which turns anomaly detection on)
import torch  # noqa: E402
from recbole.utils import FeatureSource, FeatureType  # noqa: E402
from recbole.utils import argument_list as recbole_arguments  # noqa: E402

for _alias, _numpy1_type in {"float_": np.float64, "complex_": np.complex128, "unicode_": np.str_}.items():
    if not hasattr(np, _alias):  # NumPy 2
        setattr(np, _alias, _numpy1_type)

torch.autograd.set_detect_anomaly(False)

def _version(package):
    return tuple(int(part) for part in re.findall(r"\d+", metadata.version(package))[:2])


_TRANSFORMERS = _version("transformers")
CACHE_NAME = "cache" if _TRANSFORMERS >= (5, 24) else "past_key_values"


def cache_argument(output):
    """``{name: KV cache}`` of a causal LM's ``output``, to pass the cache on to the next forward call."""
    return {CACHE_NAME: getattr(output, CACHE_NAME)}


@contextmanager
def _chained_assignment_warnings_silenced():
    """RecBole's no-op chained ``fillna(inplace=True)`` calls warn on pandas >= 2.2; their work is done here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*chained assignment.*")
        yield


class PandasCopyOnWriteDataset:
    """RecBole 1.2.1's dataset steps that pandas 3 broke, written with assignments and element-wise lengths."""

    def _load_feat(self, *args, **kwargs):
        with _chained_assignment_warnings_silenced():  # empty sequence cells are refused before (data.validation)
            return super()._load_feat(*args, **kwargs)

    def _fill_nan(self):
        for feat_name in self.feat_name_list:
            feat = getattr(self, feat_name)
            for field in feat:
                if self.field2type[field] == FeatureType.TOKEN:
                    feat[field] = feat[field].fillna(0)
                elif self.field2type[field] == FeatureType.FLOAT:
                    feat[field] = feat[field].fillna(feat[field].mean())
        with _chained_assignment_warnings_silenced():
            super()._fill_nan()  # its sequence-field branch assigns, and works

    def _remap(self, remap_list):
        if not remap_list:
            return
        tokens, split_point = self._concat_remaped_tokens(remap_list)
        new_ids_list, mapping = pd.factorize(tokens)
        new_ids_list = np.split(new_ids_list + 1, split_point)
        mapping = np.array(["[PAD]"] + list(mapping))
        token_id = {token: index for index, token in enumerate(mapping)}
        for (feat, field, ftype), new_ids in zip(remap_list, new_ids_list):
            if field not in self.field2id_token:
                self.field2id_token[field] = mapping
                self.field2token_id[field] = token_id
            if ftype == FeatureType.TOKEN:
                feat[field] = new_ids
            elif ftype == FeatureType.TOKEN_SEQ:
                feat[field] = np.split(new_ids, np.cumsum(feat[field].map(len))[:-1])


class PandasCopyOnWriteSequentialDataset(PandasCopyOnWriteDataset):
    """The same, plus SequentialDataset's pre-split (benchmark file) lengths."""

    def _benchmark_presets(self):
        list_suffix = self.config["LIST_SUFFIX"]
        for field in self.inter_feat:
            if field + list_suffix in self.inter_feat:
                setattr(self, f"{field}_list_field", field + list_suffix)
        self.set_field_property(self.item_list_length_field, FeatureType.TOKEN, FeatureSource.INTERACTION, 1)
        self.inter_feat[self.item_list_length_field] = self.inter_feat[self.item_id_list_field].map(len)


DDP_NO_BUFFER_SYNC = {"forward_sync_buffers": False} if _version("torch") >= (2, 13) else {"broadcast_buffers": False}


# RecBole 1.2.1's Config extends the module-level ``dataset_arguments`` list in place with the keys of each embedded
# dataset YAML it loads (recbole/config/configurator.py, ``self.parameters["Dataset"] += [...]``; no upstream issue
# found): a process that once built a config for ml-100k lists ml-100k's keys as dataset keys of every later config,
# and what a config's "Dataset" keys are (an LLM run's encoder config copies them) depends on the process's history.
# ``fresh_parameter_categories`` gives each Config its own lists, starting from the lists as RecBole ships them.
_SHIPPED_CATEGORIES = {name: tuple(keys) for name, keys in (
    ("General", recbole_arguments.general_arguments), ("Training", recbole_arguments.training_arguments),
    ("Evaluation", recbole_arguments.evaluation_arguments), ("Dataset", recbole_arguments.dataset_arguments))}


def fresh_parameter_categories():
    """RecBole's parameter categories as shipped, as new lists (see above)."""
    return {name: list(keys) for name, keys in _SHIPPED_CATEGORIES.items()}
