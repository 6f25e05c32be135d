"""The LlamaIndex adapter and event time: a message's additional_kwargs["timestamp"]
dates what is extracted from it, and the block and the recall tool can say when each
fact became true."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import ChatMessage  # noqa: E402
from llama_index.core.memory import Memory as ChatMemory  # noqa: E402

from mem_integrations.llamaindex import LongTermMemoryBlock, memory_tools  # noqa: E402

SAID = datetime(2023, 5, 8, 10, 0, tzinfo=UTC)


def said(role: str, text: str, when: datetime | None = None) -> ChatMessage:
    extra = {"timestamp": when.isoformat()} if when else {}
    return ChatMessage(role=role, content=text, additional_kwargs=extra)


async def test_flushed_messages_keep_their_time_and_the_block_shows_it(offline_memory):
    block = LongTermMemoryBlock(memory=offline_memory, user_id="alice", dates=True)
    chat = ChatMemory.from_defaults(session_id="s1", memory_blocks=[block], token_limit=60,
                                    chat_history_token_ratio=0.5, token_flush_size=20)
    await chat.aput_messages([said("user", "I have two kids named Lea and Tom.", SAID),
                              said("assistant", "That is lovely, tell me more about them.")])
    await chat.aput_messages([said("user", "Lea is seven and loves drawing horses every day."),
                              said("assistant", "Seven is a great age for drawing horses.")])
    [stored] = offline_memory.get_all(user_id="alice").results
    assert stored.memory == "I have two kids named Lea and Tom"
    assert stored.valid_from == SAID
    text = await block.aget([said("user", "How old are my kids Lea and Tom?")])
    assert "- (since 2023-05-08) I have two kids named Lea and Tom" in text


def test_the_recall_tool_can_show_dates(offline_memory):
    offline_memory.add([said("user", "I ran the Berlin marathon",
                             datetime(2023, 9, 24, tzinfo=UTC))], user_id="bo", infer=False)
    tools = {t.metadata.name: t for t in memory_tools(offline_memory, user_id="bo", dates=True)}
    answer = str(tools["recall"].call(query="marathon"))
    assert "(since 2023-09-24) I ran the Berlin marathon" in answer
