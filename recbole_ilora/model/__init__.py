"""The LLM recommenders, one file per model (RecBole's layout), and the parts they are built from."""
