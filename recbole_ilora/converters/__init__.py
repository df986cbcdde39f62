"""Dataset converters: raw downloads -> RecBole atomic files with item titles (``prepare_dataset NAME --raw PATH``).

One module per dataset (``ml1m``, ``lastfm``, ``steam``, ``llara_ref``), each with ``convert(raw, options,
issues)``, ``add_arguments(parser)`` and a one-line ``SUMMARY``; shared parts: ``rawfiles`` (finding and decoding
raw files), ``issues`` (counted warnings), ``filters`` (k-core, minimum rating, untitled items), ``atomic``
(writing a dataset folder atomically), ``stats`` and ``pipeline`` (one conversion end to end), ``cli``.
"""

import importlib

from recbole_ilora.errors import ConfigurationError

# Converter name (the command's NAME) -> module.
CONVERTERS = {
    "ml-1m": "recbole_ilora.converters.ml1m",
    "lastfm": "recbole_ilora.converters.lastfm",
    "steam": "recbole_ilora.converters.steam",
    "llara-ref": "recbole_ilora.converters.llara_ref",
}


def get_converter(name):
    """The module converting dataset ``name``."""
    if name not in CONVERTERS:
        raise ConfigurationError(f"Unknown dataset converter {name!r}. Available: {', '.join(CONVERTERS)}.")
    return importlib.import_module(CONVERTERS[name])
