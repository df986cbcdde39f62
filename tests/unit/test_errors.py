"""How the command lines report errors and interrupts: one line and an exit status, no traceback."""

import os
import signal

import pytest

from recbole_ilora.errors import ConfigurationError, exit_on_user_error, interrupt_while_loading, interrupts_ignored


def test_ctrl_c_while_a_command_loads_its_modules_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        with interrupt_while_loading("run_recbole"):
            raise KeyboardInterrupt  # as when torch is being imported
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "run_recbole: interrupted while starting; nothing was run\n"


def test_sigterm_while_a_command_loads_its_modules_is_one_line_and_143(capsys):
    """A scheduler's stop during the seconds torch takes to load: one line, not silence (SIGTERM's default)."""
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exit_info:
        with interrupt_while_loading("study"):
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()  # not reached: the handler raises at once
    assert exit_info.value.code == 143 and signal.getsignal(signal.SIGTERM) is before
    assert capsys.readouterr().err == "study: interrupted while starting; nothing was run\n"


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
