"""The pure parts the LLM recommenders are built from: backbone loading, the SASRec encoder, projector, gate,
prompt, candidate scoring, losses and generation. Each takes tensors and config values, not RecBole objects."""
