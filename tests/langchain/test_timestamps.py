"""The LangChain adapter and event time: a message's timestamp (additional_kwargs or
response_metadata) dates what the middleware extracts from it, and the middleware's
block and the recall tool can say when each fact became true."""

from __future__ import annotations

from datetime import UTC, datetime

from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from mem_integrations import Memory
from mem_integrations.langchain import MemoryMiddleware, RecallTool
from tests.langchain.fakes import fake_model
from tests.langchain.test_agent import Context, system_prompts

SAID = datetime(2023, 5, 8, 10, 0, tzinfo=UTC)


def test_the_middleware_dates_facts_by_their_message_and_shows_the_date(memory: Memory
                                                                        ) -> None:
    model = fake_model("Noted.", "Lentil curry?")
    middleware = MemoryMiddleware(memory, extraction="await", dates=True)
    agent = create_agent(model, [], system_prompt="You cook.", middleware=[middleware],
                         context_schema=Context, checkpointer=InMemorySaver())
    said = HumanMessage("I am vegan and I cook every evening.",
                        additional_kwargs={"timestamp": SAID.isoformat()})
    agent.invoke({"messages": [said]}, {"configurable": {"thread_id": "t1"}},
                 context=Context("alice"))
    [learned] = memory.get_all(user_id="alice").results
    assert learned.valid_from == SAID
    assert learned.created_at > SAID  # stored now, said then

    agent.invoke({"messages": [HumanMessage("What should I cook tonight?")]},
                 {"configurable": {"thread_id": "t2"}}, context=Context("alice"))
    assert "- (since 2023-05-08) I am vegan and I cook every evening" in \
        system_prompts(model)[1]


def test_the_recall_tool_can_show_dates(memory: Memory) -> None:
    memory.add([HumanMessage("I ran the Berlin marathon",
                             response_metadata={"timestamp": "2023-09-24"})],
               user_id="bo", infer=False)
    dated = RecallTool(memory=memory, user_id="bo", dates=True)
    plain = RecallTool(memory=memory, user_id="bo")
    assert "(since 2023-09-24) I ran the Berlin marathon" in dated.invoke({"query": "marathon"})
    assert "since" not in plain.invoke({"query": "marathon"})
