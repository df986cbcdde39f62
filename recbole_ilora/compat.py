"""Compatibility with RecBole 1.2.1 on today's stack: one shim per problem, each naming its upstream issue.

Everything a version range can fix is pinned in setup.py instead:
- ``numpy<2``: RecBole's ``Config.compatibility_settings`` reads ``np.float_`` and ray 2.6's tune logger
  ``np.bool8``, both removed in NumPy 2 (RecBole issue #2215).
- ``pandas<3``: pandas 3 needs NumPy 2, and its copy-on-write breaks RecBole's chained
  ``fillna(inplace=True)`` on float fields (RecBole issue #2215 covers the NumPy side).
- ``setuptools<82``: ray 2.6 (imported by ``recbole.quick_start``) needs ``pkg_resources``, removed in
  setuptools 82 (pypa/setuptools#3085).

RecBole's checkpoints pickle its ``Config``, which torch >= 2.6 refuses to load (RecBole issues #2212, #2215): this
package writes and reads its own plain-data checkpoints instead (``recbole_ilora.checkpoint``), so no shim loads
pickles.
"""
