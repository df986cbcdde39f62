"""Raw dataset download -> RecBole atomic files with titles: ``python run_scripts/prepare_dataset.py NAME --raw PATH``.

A thin wrapper of ``recbole_ilora.converters.cli`` (also installed as ``prepare_dataset`` and reachable as
``python -m recbole_ilora.converters``); ``--help`` lists the datasets, ``NAME --help`` their options.
"""

from recbole_ilora.converters.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
