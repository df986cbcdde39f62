"""One run's stage times and test metrics next to Pop, SASRec and random ranking: a thin wrapper around
``recbole_ilora.studies.run_report.main`` (``--help`` lists the options).

    python run_scripts/run_report.py docs/main_job/ml-100k/candidates20/iLoRA-seed2020-<hash>.json
"""

import sys

from recbole_ilora.studies.run_report import main

if __name__ == "__main__":
    sys.exit(main())
