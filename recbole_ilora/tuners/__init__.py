"""Adapter code in peft's layout (config, layer, model kept apart)."""
