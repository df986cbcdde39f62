"""How much iLoRA's numbers move with threads and processes: a thin wrapper around
``recbole_ilora.studies.execution.main`` (``--help`` lists the options).

    python run_scripts/execution_sensitivity.py          # three runs of the main job (resumable), then the table
"""

import sys

from recbole_ilora.studies.execution import main

if __name__ == "__main__":
    sys.exit(main())
