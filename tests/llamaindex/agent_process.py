"""A FunctionAgent paused for a human and resumed in another process, as a script:

    python -m tests.llamaindex.agent_process start  DATA_DIR CONTEXT_FILE json|pickle [workflow]
    python -m tests.llamaindex.agent_process resume CONTEXT_FILE json|pickle [workflow]

`start` runs the agent (alone, or inside an `AgentWorkflow` with "workflow") with a `LongTermMemory` on an offline engine in DATA_DIR until its
tool asks for a confirmation, writes the serialized workflow context and exits. `resume`
builds the same agent, loads the context (building NO engine itself: the memory must
re-attach one from its serialized configuration), answers the tool, and prints what the
engine holds for the user, and what a fresh `LongTermMemory` recalls, as JSON.
"""

# No `from __future__ import annotations`: FunctionTool reads the tool's hints at runtime.

import asyncio
import json
import sys
from pathlib import Path

from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent
from llama_index.core.tools import FunctionTool
from llama_index.core.workflow import Context, HumanResponseEvent, InputRequiredEvent
from workflows.context.serializers import JsonSerializer, PickleSerializer

from mem_integrations import Memory
from mem_integrations.llamaindex import LongTermMemory
from tests.llamaindex.scripted import ScriptedAgentLLM, ToolCall, last_tool_result

USER = "alice"
ASK = "Book me a table at Luigi's for Friday, I am vegetarian."


async def book_table(ctx: Context, restaurant: str) -> str:
    """Book a table once the user confirms."""
    answer = await ctx.wait_for_event(
        HumanResponseEvent, waiter_id="confirm",
        waiter_event=InputRequiredEvent(prefix=f"Book {restaurant}? "))
    return f"Booked {restaurant}" if answer.response == "yes" else "Not booked"


WORKFLOW = "workflow" in sys.argv[1:]


def agent(script: ScriptedAgentLLM) -> FunctionAgent | AgentWorkflow:
    booker = FunctionAgent(name="booker", description="Books tables.",
                           tools=[FunctionTool.from_defaults(async_fn=book_table)],
                           llm=script.llm())
    return AgentWorkflow(agents=[booker], root_agent="booker") if WORKFLOW else booker


def serializer(name: str) -> JsonSerializer:
    return PickleSerializer() if name == "pickle" else JsonSerializer()


async def start(data_dir: str, context_file: str, kind: str) -> None:
    memory = Memory({"data_dir": data_dir, "llm": {"provider": "offline"}})
    chat = LongTermMemory.from_defaults(memory, user_id=USER)
    script = ScriptedAgentLLM(ToolCall("book_table", {"restaurant": "Luigi's"}))
    handler = agent(script).run(ASK, memory=chat)
    async for event in handler.stream_events():
        if isinstance(event, InputRequiredEvent):
            data = handler.ctx.to_dict(serializer=serializer(kind))
            Path(context_file).write_text(json.dumps(data))
            break
    await handler.cancel_run()
    memory.close()


async def resume(context_file: str, kind: str) -> None:
    script = ScriptedAgentLLM(lambda messages: f"{last_tool_result(messages)}, enjoy!")
    worker = agent(script)
    ctx = Context.from_dict(worker, json.loads(Path(context_file).read_text()),
                            serializer=serializer(kind))
    handler = worker.run(ctx=ctx)
    handler.ctx.send_event(HumanResponseEvent(response="yes"))
    reply = await handler
    chat: LongTermMemory = await handler.ctx.store.get("memory")
    assert isinstance(chat.memory, Memory)  # re-attached from its configuration
    stored = [m.memory for m in chat.memory.get_all(user_id=USER)]
    later = LongTermMemory.from_defaults(chat.memory, user_id=USER)
    recalled = await later.aget(input="Which diet do I follow?")
    print(json.dumps({"reply": str(reply), "stored": stored,
                      "history": [m.content for m in await chat.aget_all()],
                      "recalled": recalled[0].content if recalled else ""}))


if __name__ == "__main__":
    if sys.argv[1] == "start":
        asyncio.run(start(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        asyncio.run(resume(sys.argv[2], sys.argv[3]))
