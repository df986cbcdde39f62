"""Studies: lists of ordinary runs (resumable, reused by config hash) plus the analysis that turns their JSON results
into a page. ``study NAME`` runs one from its spec (``spec``, ``plan``, ``arms``, ``index``, ``command``);
``learning_curve`` (iLoRA's test metrics against its training budget, per recipe) and ``execution`` (the main job
under three ways of executing it) have their own scripts."""


def main(argv=None):
    """The ``study`` console script and ``run_scripts/study.py``; returns the exit status. The command's modules load
    torch and transformers (seconds): an interrupt while they load is one line."""
    from recbole_ilora.errors import interrupt_while_loading

    with interrupt_while_loading("study"):
        from recbole_ilora.studies.command import main as command_main  # lazy: loading is what may be interrupted
    return command_main(argv)
