"""recbole-ilora: LLM-based sequential recommendation (iLoRA) as RecBole models.

The pieces mirror RecBole's own pipeline: ``Config`` (layered properties), ``get_model`` /
``get_trainer`` (this package first, then RecBole), ``quick_start.run`` (one training run that also
writes a JSON result), and ``cli`` (the ``run_recbole`` command).
"""

__version__ = "0.1.0"
