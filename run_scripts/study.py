"""Run one of the paper's analyses and write its page: a thin wrapper around ``recbole_ilora.studies.command.main``
(``--help`` lists the studies and options).

    python run_scripts/study.py experts --dry_run
"""

import sys

from recbole_ilora.studies import main

if __name__ == "__main__":
    sys.exit(main())
