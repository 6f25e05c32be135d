"""Model providers: chat models (LLMs) and embedders."""
