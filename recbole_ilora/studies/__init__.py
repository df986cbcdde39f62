"""Studies: lists of ordinary runs (resumable, reused by config hash) plus the analysis that turns their JSON results
into a page. ``study NAME`` runs one from its spec (``spec``, ``plan``, ``arms``, ``index``, ``command``);
``learning_curve`` (iLoRA's test metrics against its training budget, per recipe) and ``execution`` (the main job
under three ways of executing it) have their own scripts."""
