"""Learning curve of iLoRA on ml-100k: a thin wrapper around ``recbole_ilora.studies.learning_curve.main``
(``--help`` lists the options).

    python run_scripts/learning_curve.py --cpu_threads=1              # every recipe and budget, resumable
    python run_scripts/learning_curve.py --report_only                # table and figure from the results present
"""

import sys

from recbole_ilora.studies.learning_curve import main

if __name__ == "__main__":
    sys.exit(main())
