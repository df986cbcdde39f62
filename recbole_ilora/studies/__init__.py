"""Studies: lists of ordinary runs (resumable, reused by config hash) plus the analysis that turns their JSON results
into a page. ``learning_curve``: iLoRA's test metrics against its training budget, per recipe."""
