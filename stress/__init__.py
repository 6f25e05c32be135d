"""Long reliability runs for issue 7: SIGKILL crash trials, LLM/embedder fault campaigns,
concurrency and cross-scope isolation, with figures. `python -m stress.run --help`.

The fast versions of the same machinery run in `tests/reliability` (part of `make test`).
"""
