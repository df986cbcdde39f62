"""How the command lines report errors and interrupts: one line and an exit status, no traceback."""

import pytest

from recbole_ilora.errors import ConfigurationError, exit_on_user_error, interrupt_while_loading


def test_ctrl_c_while_a_command_loads_its_modules_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        with interrupt_while_loading("run_recbole"):
            raise KeyboardInterrupt  # as when torch is being imported
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "run_recbole: interrupted while starting; nothing was run\n"


def test_a_user_error_is_one_line_and_a_hint(capsys):
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_user_error("run_recbole", debug=False):
            raise ConfigurationError("epochs must be a positive number, got 0.")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert err.startswith("run_recbole: error: epochs must be a positive number, got 0.\nrun_recbole: hint:")
