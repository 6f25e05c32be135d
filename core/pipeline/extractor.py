"""The two steps that need judgement — extraction and reconcile — behind one protocol,
implemented by an LLM (`LLMExtractor`) or by deterministic rules (`OfflineExtractor`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from mem_integrations.core.config import ExtractionConfig, ReconcileConfig
from mem_integrations.core.errors import LLMResponseError
from mem_integrations.core.images import IMAGE_CATEGORY
from mem_integrations.core.messages import Message, render_transcript
from mem_integrations.core.pipeline import prompts
from mem_integrations.core.pipeline.parsing import UnparseableReply, parse_json_object
from mem_integrations.core.pipeline.schema import (
    Decisions,
    Extraction,
    Fact,
    Triple,
    decided_extraction_schema,
    extraction_schema,
    read_decided_extraction,
    read_decisions,
    read_extraction,
    reconcile_schema,
)
from mem_integrations.core.providers.base import ChatModel
from mem_integrations.core.sources import reference_day


@dataclass
class ReconcileInput:
    """Known memories (shown as ids 0..n-1), new facts, and for each fact the indices of
    its neighbours among the known memories with their cosine similarity, best first."""

    existing: list[str]
    facts: list[Fact]
    neighbours: list[list[tuple[int, float]]] = field(default_factory=list)
    # With the graph on: existing relations (shown as ids 0..n-1) and the new ones.
    relations: list[Triple] | None = None
    new_relations: list[Triple] = field(default_factory=list)


def describe(triple: Triple) -> str:
    return f"{triple.source} --{triple.relation}--> {triple.target}"


class Extractor(Protocol):
    """Judgement steps of the add pipeline."""

    uses_llm: bool
    # whether image parts of messages can be shown to it (see core.images)
    vision: bool

    async def extract(self, messages: list[Message], *, prompt: str | None = None,
                      graph: bool = False, known: list[str] | None = None,
                      known_relations: list[str] | None = None) -> Extraction:
        """Facts worth remembering in `messages` (their images too, with `vision`), and
        with `graph` the entities and relations among them (one call). Given `known`
        memories (and `known_relations`), shown under ids 0..n-1, the same call may also
        decide each fact against them (`Extraction.decisions`, `.invalidate`); an
        extractor that does not leaves them undecided, for reconcile."""
        ...

    async def reconcile(self, data: ReconcileInput) -> Decisions:
        """ADD / UPDATE / DELETE / NONE decisions for `data.facts`, and the existing
        relations that the new ones supersede (one call)."""
        ...

    async def summarize_procedure(self, messages: list[Message], *,
                                  prompt: str | None = None) -> str:
        """One procedural memory summarising an agent's run (one call)."""
        ...


class LLMExtractor:
    """Extraction and reconcile through a chat model, one call each, JSON replies parsed
    tolerantly and re-asked `parse_retries` times before giving up."""

    uses_llm = True

    def __init__(self, chat: ChatModel, extraction: ExtractionConfig, reconcile: ReconcileConfig,
                 *, parse_retries: int = 1, vision: bool = False) -> None:
        self.chat = chat
        self.vision = vision
        self.extraction = extraction
        self.reconcile_config = reconcile
        self.parse_retries = parse_retries

    async def ask_json(self, messages: list[dict[str, Any]], schema: dict[str, Any],
                       name: str) -> dict[str, Any]:
        """One JSON reply of `schema`, parsed tolerantly; asked again `parse_retries` times
        when it cannot be parsed, then `LLMResponseError` with the raw reply."""
        last_text: str | None = None
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(1 + self.parse_retries),
                retry=retry_if_exception_type(UnparseableReply),
                reraise=True,
            ):
                with attempt:
                    reply = await self.chat.complete(messages, json_schema=schema,
                                                     schema_name=name)
                    last_text = reply.text
                    if getattr(reply, "finish_reason", None) == "length":
                        # json_repair would "complete" the cut JSON and a cut-off fact
                        # ("Lives in") would be stored: ask again instead
                        raise UnparseableReply("the reply was cut by the token limit")
                    return parse_json_object(reply.text)
        except UnparseableReply as exc:
            raise LLMResponseError(
                f"the LLM's {name} reply could not be parsed ({exc})", raw=last_text
            ) from exc
        raise AssertionError("unreachable")  # AsyncRetrying either returns or raises

    async def extract(self, messages: list[Message], *, prompt: str | None = None,
                      graph: bool = False, known: list[str] | None = None,
                      known_relations: list[str] | None = None) -> Extraction:
        # the caller drops images a model without vision cannot see, so any left are shown
        images = [url for m in messages for url in m.get("images", ())]
        request = prompts.extraction_messages(render_transcript(messages), self.extraction,
                                              today=reference_day(messages), custom_prompt=prompt,
                                              graph=graph, images=images, known=known,
                                              known_relations=known_relations)
        deciding = bool(known or known_relations)
        schema = (decided_extraction_schema if deciding else extraction_schema)(graph,
                                                                                bool(images))
        payload = await self.ask_json(request, schema, "extraction")
        try:
            extraction = (read_decided_extraction if deciding else read_extraction)(payload)
        except UnparseableReply as exc:
            raise LLMResponseError(f"the LLM's extraction reply is malformed: {exc}") from exc
        for fact in extraction.facts:
            if fact.image and IMAGE_CATEGORY not in fact.categories:
                fact.categories.append(IMAGE_CATEGORY)
        return extraction

    async def reconcile(self, data: ReconcileInput) -> Decisions:
        graph = data.relations is not None
        request = prompts.reconcile_messages(
            data.existing, [f.text for f in data.facts], custom_prompt=self.reconcile_config.prompt,
            relations=[describe(t) for t in data.relations] if graph else None,
            new_relations=[describe(t) for t in data.new_relations])
        payload = await self.ask_json(request, reconcile_schema(graph), "reconcile")
        try:
            return read_decisions(payload)
        except UnparseableReply as exc:
            raise LLMResponseError(f"the LLM's reconcile reply is malformed: {exc}") from exc

    async def summarize_procedure(self, messages: list[Message], *,
                                  prompt: str | None = None) -> str:
        reply = await self.chat.complete(
            prompts.procedure_messages(render_transcript(messages), custom_prompt=prompt)
        )
        text = reply.text.strip()
        if not text:
            raise LLMResponseError("the LLM returned an empty procedure summary")
        return text
