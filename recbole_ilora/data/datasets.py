"""RecBole's dataset classes with the pandas 3 fixes of ``compat`` mixed in, one class per RecBole class that
``create_dataset`` can choose (by model name or model type), under RecBole's own names."""

from recbole.data import dataset as recbole_datasets

from recbole_ilora.compat import PandasCopyOnWriteDataset, PandasCopyOnWriteSequentialDataset


class Dataset(PandasCopyOnWriteDataset, recbole_datasets.Dataset):
    """RecBole's ``Dataset``, pandas-3 safe."""


class SequentialDataset(PandasCopyOnWriteSequentialDataset, recbole_datasets.SequentialDataset):
    """RecBole's ``SequentialDataset``, pandas-3 safe."""


class KnowledgeBasedDataset(PandasCopyOnWriteDataset, recbole_datasets.KnowledgeBasedDataset):
    """RecBole's ``KnowledgeBasedDataset``, pandas-3 safe."""


class KGSeqDataset(PandasCopyOnWriteSequentialDataset, recbole_datasets.KGSeqDataset):
    """RecBole's ``KGSeqDataset``, pandas-3 safe."""


class GRU4RecKGDataset(PandasCopyOnWriteSequentialDataset, recbole_datasets.GRU4RecKGDataset):
    """RecBole's ``GRU4RecKGDataset``, pandas-3 safe."""


class KSRDataset(PandasCopyOnWriteSequentialDataset, recbole_datasets.KSRDataset):
    """RecBole's ``KSRDataset``, pandas-3 safe."""


class DIENDataset(PandasCopyOnWriteSequentialDataset, recbole_datasets.DIENDataset):
    """RecBole's ``DIENDataset``, pandas-3 safe."""


class DecisionTreeDataset(PandasCopyOnWriteDataset, recbole_datasets.DecisionTreeDataset):
    """RecBole's ``DecisionTreeDataset``, pandas-3 safe."""


# RecBole's name -> this package's class; a model whose RecBole dataset class is missing here is refused by name.
DATASET_CLASSES = {cls.__name__: cls for cls in (Dataset, SequentialDataset, KnowledgeBasedDataset, KGSeqDataset,
                                                 GRU4RecKGDataset, KSRDataset, DIENDataset, DecisionTreeDataset)}
