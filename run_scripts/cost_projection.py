"""The cost of the leaderboard's runs on a dataset this machine lacks (ML-1M), projected stage by stage from its runs
on a part of it (ml-1m-partial): a thin wrapper around ``recbole_ilora.studies.cost_projection.main``.

    python run_scripts/cost_projection.py --readme README.md      # docs/leaderboard/ml-1m-projection.md + README
"""

import sys

from recbole_ilora.studies.cost_projection import main

if __name__ == "__main__":
    sys.exit(main())
