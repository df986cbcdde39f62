"""RecBole's dataset classes with the pandas 3 fixes of ``compat`` mixed in, one class per RecBole class that
``create_dataset`` can choose (by model name or model type), under RecBole's own names; the sequential ones also
read pre-split files of plain interactions (``PreSplitInteractions``)."""

import numpy as np
from recbole.data import dataset as recbole_datasets

from recbole_ilora.compat import PandasCopyOnWriteDataset, PandasCopyOnWriteSequentialDataset


def holds_samples(dataset_fields, config):
    """Whether pre-split files with these fields are samples (a history column, ``item_id_list``, as
    ``prepare_dataset llara-ref`` writes) rather than plain interactions."""
    return config["ITEM_ID_FIELD"] + config["LIST_SUFFIX"] in dataset_fields


class PreSplitInteractions:
    """Pre-split files (``benchmark_filename``) of plain interactions for a sequential model. RecBole reads each row
    of such files as a sample with its history (``item_id_list``) and fails without one; here each user's
    interactions are made samples as RecBole's augmentation does for one ``.inter`` file, the history running on
    across the files (a valid target's history holds the user's training items), each sample kept in the part
    (train, valid, test) of its target. A user's first interaction is a target nowhere, as in RecBole's split."""

    def _benchmark_presets(self):
        self._plain_interactions = not holds_samples(self.inter_feat, self.config)
        if not self._plain_interactions:
            super()._benchmark_presets()

    def _change_feat_format(self):
        super()._change_feat_format()
        if self.benchmark_filename_list is not None and self._plain_interactions:
            self._samples_by_part()

    def _samples_by_part(self):
        parts = np.repeat(np.arange(len(self.file_size_list)), self.file_size_list)
        users, times = self.inter_feat[self.uid_field].numpy(), self.inter_feat[self.time_field].numpy()
        order = np.lexsort((parts, times, users))  # ties in time keep the files' order: train, valid, test
        self.inter_feat = self.inter_feat[order]
        users, parts = users[order], parts[order]
        self.data_augmentation()  # its stable sort by user and time keeps this order
        target_parts = parts[1:][users[1:] == users[:-1]]
        self.inter_feat = self.inter_feat[np.argsort(target_parts, kind="stable")]
        self.file_size_list = np.bincount(target_parts, minlength=len(self.file_size_list)).tolist()


class Dataset(PandasCopyOnWriteDataset, recbole_datasets.Dataset):
    """RecBole's ``Dataset``, pandas-3 safe."""


class SequentialDataset(PreSplitInteractions, PandasCopyOnWriteSequentialDataset, recbole_datasets.SequentialDataset):
    """RecBole's ``SequentialDataset``, pandas-3 safe."""


class KnowledgeBasedDataset(PandasCopyOnWriteDataset, recbole_datasets.KnowledgeBasedDataset):
    """RecBole's ``KnowledgeBasedDataset``, pandas-3 safe."""


class KGSeqDataset(PreSplitInteractions, PandasCopyOnWriteSequentialDataset, recbole_datasets.KGSeqDataset):
    """RecBole's ``KGSeqDataset``, pandas-3 safe."""


class GRU4RecKGDataset(PreSplitInteractions, PandasCopyOnWriteSequentialDataset, recbole_datasets.GRU4RecKGDataset):
    """RecBole's ``GRU4RecKGDataset``, pandas-3 safe."""


class KSRDataset(PreSplitInteractions, PandasCopyOnWriteSequentialDataset, recbole_datasets.KSRDataset):
    """RecBole's ``KSRDataset``, pandas-3 safe."""


class DIENDataset(PreSplitInteractions, PandasCopyOnWriteSequentialDataset, recbole_datasets.DIENDataset):
    """RecBole's ``DIENDataset``, pandas-3 safe."""


class DecisionTreeDataset(PandasCopyOnWriteDataset, recbole_datasets.DecisionTreeDataset):
    """RecBole's ``DecisionTreeDataset``, pandas-3 safe."""


# RecBole's name -> this package's class; a model whose RecBole dataset class is missing here is refused by name.
DATASET_CLASSES = {cls.__name__: cls for cls in (Dataset, SequentialDataset, KnowledgeBasedDataset, KGSeqDataset,
                                                 GRU4RecKGDataset, KSRDataset, DIENDataset, DecisionTreeDataset)}
