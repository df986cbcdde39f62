"""How the command lines report errors and interrupts: one line and an exit status, no traceback."""

import os
import signal
import subprocess
import sys

import pytest

from recbole_ilora.errors import ConfigurationError, exit_on_user_error, interrupts_ignored


LOADING = """
import os, signal, sys, time
from recbole_ilora.errors import interrupt_while_loading
with interrupt_while_loading("study"):
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))  # as when torch is being imported
    time.sleep(30)
"""


@pytest.mark.parametrize("signal_name, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupt_while_a_command_loads_its_modules_is_one_line(signal_name, status):
    """Ctrl-C or a scheduler's stop during the seconds torch takes to load: one line, not the traceback of a library
    left half-imported (nor SIGTERM's silence)."""
    done = subprocess.run([sys.executable, "-c", LOADING, signal_name], capture_output=True, text=True, timeout=60)
    assert done.returncode == status and done.stderr == "study: interrupted while starting; nothing was run\n"


def test_a_user_error_is_one_line_and_a_hint(capsys):
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_user_error("run_recbole", debug=False):
            raise ConfigurationError("epochs must be a positive number, got 0.")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert err.startswith("run_recbole: error: epochs must be a positive number, got 0.\nrun_recbole: hint:")


def test_a_second_interrupt_while_the_first_is_reported_is_ignored():
    """Two Ctrl-C in quick succession: the second must not cut short the line that names the checkpoint."""
    before = signal.getsignal(signal.SIGINT)
    with interrupts_ignored():
        os.kill(os.getpid(), signal.SIGINT)  # ignored: no KeyboardInterrupt here
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGINT) is before
