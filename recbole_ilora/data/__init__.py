"""Data side: where atomic files live, how the split is prepared, and the fixed evaluation candidates."""

from recbole_ilora.data.location import resolve_data_path
from recbole_ilora.data.preparation import candidates_fingerprint, data_preparation

__all__ = ["resolve_data_path", "data_preparation", "candidates_fingerprint"]
