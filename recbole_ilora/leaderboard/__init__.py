"""The leaderboard: many ``run_recbole`` runs (models x datasets x seeds) turned into tables, plots and a report.

Modules, in the order the command uses them: ``runs`` (plan the combinations, skip finished ones, run the rest in
subprocesses), ``collect`` (read their JSON results, check they share candidates), ``stats`` (mean / std, relative
improvement, significance), ``board`` (one dataset's numbers), ``tables`` / ``plots`` (render), ``report``
(LEADERBOARD.md), ``command`` (the CLI).
"""


def main(argv=None):
    """``run_scripts/leaderboard.py`` and the ``leaderboard`` console script; returns the exit status. The command's
    modules load torch (seconds): an interrupt while they load is one line."""
    from recbole_ilora.errors import interrupt_while_loading

    with interrupt_while_loading("leaderboard"):
        from recbole_ilora.leaderboard.command import main as command_main  # lazy: the CLI imports torch via Config
    return command_main(argv)
