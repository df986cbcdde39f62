"""Compatibility with RecBole 1.2.1 on today's stack: one shim per problem, each naming its upstream issue.

Everything a version range can fix is pinned in setup.py instead:
- ``numpy<2``: RecBole's ``Config.compatibility_settings`` reads ``np.float_`` and ray 2.6's tune logger
  ``np.bool8``, both removed in NumPy 2 (RecBole issue #2215).
- ``pandas<3``: pandas 3 needs NumPy 2, and its copy-on-write breaks RecBole's chained
  ``fillna(inplace=True)`` on float fields (RecBole issue #2215 covers the NumPy side).
- ``setuptools<82``: ray 2.6 (imported by ``recbole.quick_start``) needs ``pkg_resources``, removed in
  setuptools 82 (pypa/setuptools#3085).

Shims, applied when this module is imported (``registry`` imports it before any RecBole model is used):
- RecBole 1.2.1's ``recbole/model/sequential_recommender/sine.py`` calls ``torch.autograd.set_detect_anomaly(True)``
  at import time, and importing any RecBole sequential model (SASRec included) imports it: every backward pass of
  the process then records Python stack traces. Measured here: LLM training steps 2.5-3.5x slower (no upstream
  issue found). Anomaly detection is a debugging switch; it is turned back off once RecBole's models are imported.

RecBole's checkpoints pickle its ``Config``, which torch >= 2.6 refuses to load (RecBole issues #2212, #2215): this
package writes and reads its own plain-data checkpoints instead (``recbole_ilora.checkpoint``), so no shim loads
pickles.
"""

import recbole.model.sequential_recommender  # noqa: E402,F401 (imports sine.py, which turns anomaly detection on)
import torch  # noqa: E402

torch.autograd.set_detect_anomaly(False)
