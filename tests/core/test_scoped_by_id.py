"""get / update / delete / history by memory id, limited to the scope ids the caller names:
another scope's id is refused as not found (typed), and nothing changes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mem_integrations import Memory
from mem_integrations.core.errors import (
    InvalidInputError,
    MemoryNotFoundError,
    MemoryOutOfScopeError,
)


def _two_users(make_memory: Callable[..., Memory]) -> tuple[Memory, str, str]:
    memory = make_memory(offline=True)
    alice = memory.add("I live in Paris.", user_id="alice", agent_id="bot", infer=False)
    bob = memory.add("I live in Rome.", user_id="bob", infer=False)
    return memory, alice.results[0].id, bob.results[0].id


def test_each_call_by_id_refuses_another_scopes_memory(make_memory: Callable[..., Memory]
                                                       ) -> None:
    memory, alice_id, bob_id = _two_users(make_memory)
    calls: dict[str, Callable[..., object]] = {
        "get": lambda **scope: memory.get(bob_id, **scope),
        "update": lambda **scope: memory.update(bob_id, text="I live in Oslo.", **scope),
        "history": lambda **scope: memory.history(bob_id, **scope),
        "delete": lambda **scope: memory.delete(bob_id, **scope),
    }
    for name, call in calls.items():
        for scope in ({"user_id": "alice"}, {"agent_id": "bot"},
                      {"user_id": "bob", "agent_id": "bot"}):
            with pytest.raises(MemoryOutOfScopeError, match="in scope") as caught:
                call(**scope)
            assert isinstance(caught.value, MemoryNotFoundError), name
    # nothing changed: bob's memory is intact, with only its ADD in history
    assert memory.get(bob_id).memory == "I live in Rome."
    assert [e.event for e in memory.history(bob_id)] == ["ADD"]
    # the owner's scope (or a part of it) works for every call
    assert memory.get(alice_id, user_id="alice", agent_id="bot").memory == "I live in Paris."
    memory.update(alice_id, text="I live in Lyon.", agent_id="bot")
    assert [e.event for e in memory.history(alice_id, user_id="alice")] == ["ADD", "UPDATE"]
    memory.delete(alice_id, user_id="alice")
    with pytest.raises(MemoryNotFoundError):
        memory.get(alice_id, user_id="alice")
    # history outlives the memory, still only for its own scope
    assert memory.history(alice_id, user_id="alice")[-1].event == "DELETE"
    with pytest.raises(MemoryOutOfScopeError):
        memory.history(alice_id, user_id="bob")


def test_unknown_ids_and_bad_scope_ids(make_memory: Callable[..., Memory]) -> None:
    memory, _, _ = _two_users(make_memory)
    unknown = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(MemoryNotFoundError):
        memory.history(unknown, user_id="alice")  # no history in that scope: not found
    assert memory.history(unknown) == []          # unscoped, as before
    with pytest.raises(InvalidInputError, match="user_id must be a non-empty string"):
        memory.get(unknown, user_id="  ")
