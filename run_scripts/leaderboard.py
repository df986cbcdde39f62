"""Leaderboard: every model x dataset x seed through run_recbole, then tables, plots and LEADERBOARD.md.

    python run_scripts/leaderboard.py --models iLoRA,LoRARec,TALLRec,SASRec,GRU4Rec,Caser \
        --datasets ml-100k,lastfm --seeds 2020,2021,2022 --protocol candidates20
    python run_scripts/leaderboard.py --report_only --out results/    # render from finished runs only

Finished runs (same config hash) are skipped, so re-running resumes a killed leaderboard. A thin wrapper around
``recbole_ilora.leaderboard.main`` (also installed as the ``leaderboard`` command); ``--help`` lists the options.
"""

import sys

from recbole_ilora.leaderboard import main

if __name__ == "__main__":
    sys.exit(main())
