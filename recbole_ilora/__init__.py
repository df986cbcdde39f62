"""recbole-ilora: LLM-based sequential recommendation (iLoRA) as RecBole models.

The pieces mirror RecBole's own pipeline: ``Config`` (layered properties, final once checked), ``get_model`` (this
package first, then RecBole), ``runners`` (what each kind of model does in a run), ``quick_start.run`` (one training
run that also writes a JSON result), and ``cli`` (the ``run_recbole`` command). The README's Layout section has the
tree.
"""

__version__ = "0.1.0"
