"""`put_many(..., max_metadata_bytes=)`: integrations that keep whole documents in a
memory's metadata (the LangGraph store) may raise the 64 KB cap; past the cap they set,
nothing is written."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mem_integrations import Memory
from mem_integrations.core.errors import InvalidInputError
from mem_integrations.core.models import PutItem
from mem_integrations.core.records import MAX_METADATA_BYTES

ID = "8f1d0c5e-3a0b-4c1e-9a57-2b7d6f7c0a11"


def test_a_raised_cap_keeps_large_metadata_whole(make_memory: Callable[..., Memory]) -> None:
    memory = make_memory(offline=True)
    big = {"doc": "x" * (2 * MAX_METADATA_BYTES)}
    item = PutItem(id=ID, text="a large document", metadata=big, user_id="u")
    with pytest.raises(InvalidInputError, match=f"larger than {MAX_METADATA_BYTES} bytes"):
        memory.put_many([item])
    assert memory.fetch([ID]) == []  # refused before anything was written

    memory.put_many([item], max_metadata_bytes=4 * MAX_METADATA_BYTES)
    [stored] = memory.fetch([ID])
    assert stored.metadata == big

    with pytest.raises(InvalidInputError, match="larger than 1000 bytes"):
        memory.put_many([item.model_copy(update={"text": "changed"})], max_metadata_bytes=1000)
    assert memory.fetch([ID])[0].memory == "a large document"
