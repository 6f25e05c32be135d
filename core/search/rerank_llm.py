"""An LLM reranker: ONE chat call orders the candidates (off unless configured).

The memories are shown under small integer ids (never UUIDs) and the model replies
`{"ranking": [ids, best first]}`; ids it leaves out or invents are ignored (those left
out rank after the ranked ones, in fusion's order). A reply that holds no ranking raises
`LLMResponseError`: the search does not quietly return the unreranked order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from mem_integrations.core.errors import ConfigurationError, LLMResponseError
from mem_integrations.core.providers.base import ChatModel
from mem_integrations.core.search.settings import RerankConfig

__all__ = ["LLMReranker"]

_SYSTEM = ("You rank a user's memories by how useful each is to answer a question. "
           'Reply with JSON only: {"ranking": [ids of the useful memories, most useful '
           "first]}. Leave out memories that do not help.")
_SCHEMA = {"type": "object", "required": ["ranking"], "additionalProperties": False,
           "properties": {"ranking": {"type": "array", "items": {"type": "integer"}}}}


class LLMReranker:
    """Candidates ordered by one call to a chat model."""

    remote = True

    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat

    @classmethod
    def from_config(cls, config: RerankConfig, chat: ChatModel | None) -> LLMReranker:
        """The memory's own LLM, unless `rerank.base_url` names another endpoint (then
        `rerank.model`, default gpt-4.1-mini, and `rerank.api_key`)."""
        if config.base_url:
            from mem_integrations.core.config import LLMConfig
            from mem_integrations.core.providers.openai_chat import OpenAIChatModel
            llm = LLMConfig(base_url=config.base_url, api_key=config.api_key,
                            timeout=config.timeout, max_retries=config.max_retries,
                            **({"model": config.model} if config.model else {}))
            return cls(OpenAIChatModel(llm))
        if chat is None:
            raise ConfigurationError("search.rerank.provider='llm' needs an LLM: configure "
                                     "llm (base_url / api_key) or search.rerank.base_url")
        return cls(chat)

    async def aclose(self) -> None:
        close = getattr(self.chat, "aclose", None)
        if close is not None:
            await close()

    async def scores(self, query: str, documents: Sequence[str]) -> list[float]:
        listing = "\n".join(f"{i}: {json.dumps(text, ensure_ascii=False)}"
                            for i, text in enumerate(documents))
        reply = await self.chat.complete(
            [{"role": "system", "content": _SYSTEM},
             {"role": "user", "content": f"Question: {query}\n\nMemories:\n{listing}"}],
            json_schema=_SCHEMA, schema_name="rerank")
        from mem_integrations.core.pipeline.parsing import UnparseableReply, parse_json_object
        try:
            ranking = parse_json_object(reply.text)["ranking"]
            if not isinstance(ranking, list):
                raise TypeError("ranking is not a list")
        except (UnparseableReply, KeyError, TypeError) as exc:
            raise LLMResponseError(f"the rerank reply holds no ranking list ({exc})",
                                   raw=reply.text) from None
        scores = [float("-inf")] * len(documents)
        for position, id_ in enumerate(ranking):
            if isinstance(id_, int) and not isinstance(id_, bool) and 0 <= id_ < len(documents) \
                    and scores[id_] == float("-inf"):
                scores[id_] = float(len(documents) - position)
        return scores
