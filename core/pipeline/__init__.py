"""The add pipeline: extraction, reconcile, and the offline rules used without an LLM."""
