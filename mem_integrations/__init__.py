"""mem-integrations: long-term memory for LLM agents.

    from mem_integrations import Memory, AsyncMemory

Adapters live in subpackages: `mem_integrations.langchain`, `mem_integrations.llamaindex`,
`mem_integrations.tools`, `mem_integrations.server`.
"""

from mem_integrations.core import *  # noqa: F403 - the public API of the engine, re-exported
from mem_integrations.core import __all__ as _core_all

__all__ = list(_core_all)
__version__ = "0.1.0"
