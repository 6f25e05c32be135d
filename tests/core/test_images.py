"""Images in messages: shown to a vision model in the one extraction call, reported as
skipped without vision, and refused with a typed error when unreadable — before anything
is written."""

from __future__ import annotations

import base64

import pytest

from mem_integrations.core.errors import InvalidInputError, LLMResponseError
from mem_integrations.core.images import ImagesSkippedWarning, is_vision_model
from mem_integrations.core.messages import normalize_messages

# one image (what the tests refer to), and the same as a data URL
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()
DATA_URL = f"data:image/png;base64,{PNG}"
HTTP_URL = "https://example.com/dog.jpg"


@pytest.fixture
def backend() -> str:
    """One vector store: the store is not what these tests are about."""
    return "qdrant_edge"


def openai_shape(text: str, url: str) -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text},
                                        {"type": "image_url", "image_url": {"url": url}}]}


def mem0_shape(url: str) -> dict:
    return {"role": "user", "content": {"type": "image_url", "image_url": {"url": url}}}


def vision_facts(*items: tuple[str, bool]) -> dict:
    return {"facts": [{"text": t, "categories": [], "image": i} for t, i in items]}


def test_a_vision_model_reads_the_images_in_the_one_extraction_call(make_memory, llm):
    memory = make_memory(llm={"vision": True})
    llm.queue(vision_facts(("User has a beagle named Rex", True),
                           ("User lives in Lyon", False)))
    result = memory.add([openai_shape("This is my dog, I live in Lyon", HTTP_URL),
                         mem0_shape(DATA_URL)], user_id="alice")

    assert llm.chat_calls == 1
    call = llm.calls[0]
    assert call.image_urls == [HTTP_URL, DATA_URL]
    assert "[image 1]" in call.user and "[image 2]" in call.user
    # the reply schema asks for the image flag only when images are shown
    fact_schema = call.body["response_format"]["json_schema"]["schema"]["properties"]["facts"]
    assert "image" in fact_schema["items"]["required"]
    assert result.skipped_images is None and "skipped_images" not in result.model_dump()
    stored = {m.memory: m.categories for m in memory.get_all(user_id="alice")}
    assert stored == {"User has a beagle named Rex": ["image"], "User lives in Lyon": None}


def test_vision_is_detected_from_well_known_model_names_only():
    assert is_vision_model("gpt-4o-mini") and is_vision_model("openai/gpt-4.1")
    assert is_vision_model("Qwen2.5-VL-72B-Instruct".lower()) and is_vision_model("glm-4v-plus")
    assert not is_vision_model("deepseek-chat") and not is_vision_model("gpt-3.5-turbo")
    assert not is_vision_model("o3-mini")


def test_without_vision_the_text_is_kept_and_the_skipped_images_reported(make_memory, llm):
    memory = make_memory(llm={"model": "deepseek-chat"})
    llm.queue({"facts": [{"text": "User lives in Lyon", "categories": []}]})
    with pytest.warns(ImagesSkippedWarning, match="1 image"):
        result = memory.add([openai_shape("I live in Lyon", HTTP_URL)], user_id="alice")

    assert result.skipped_images == 1 and result["skipped_images"] == 1
    assert llm.chat_calls == 1 and llm.calls[0].image_urls == []
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["User lives in Lyon"]
    # only images and no vision: nothing to read, no call, and still reported
    result = memory.add([mem0_shape(HTTP_URL)], user_id="alice")
    assert result.skipped_images == 1 and result.results == []
    assert llm.chat_calls == 1


@pytest.mark.parametrize("url, problem", [
    ("data:image/png;base64,@@not base64@@", "invalid base64"),
    ("data:text/plain;base64,aGVsbG8=", "data:image/"),
    ("file:///etc/passwd", r"http\(s\)"),
    ("ftp://example.com/a.png", r"http\(s\)"),
])
def test_an_unreadable_image_is_a_typed_error_and_nothing_is_written(make_memory, llm,
                                                                     url, problem):
    memory = make_memory(llm={"vision": True})
    with pytest.raises(InvalidInputError, match=problem):
        memory.add([openai_shape("my dog", url)], user_id="alice")
    assert llm.chat_calls == 0
    assert memory.get_all(user_id="alice").results == [] and memory.pending() == []


def test_an_oversized_image_names_the_limit(make_memory, llm):
    memory = make_memory(llm={"vision": True, "max_image_bytes": 32})
    with pytest.raises(InvalidInputError, match="llm.max_image_bytes"):
        memory.add([mem0_shape(DATA_URL)], user_id="alice")
    assert memory.pending() == []


def test_image_parts_are_kept_beside_the_text_of_their_message():
    assert normalize_messages([openai_shape("my dog", HTTP_URL), mem0_shape(DATA_URL)]) == [
        {"role": "user", "content": "my dog", "images": [HTTP_URL]},
        {"role": "user", "content": "", "images": [DATA_URL]}]


def test_a_failed_vision_add_is_reprocessed_with_its_images(make_memory, llm):
    memory = make_memory(llm={"vision": True, "parse_retries": 0})
    llm.queue("not json at all")
    with pytest.raises(LLMResponseError) as failed:
        memory.add([openai_shape("This is my dog", HTTP_URL)], user_id="alice")
    [pending] = memory.pending()
    assert pending.messages[0]["images"] == [HTTP_URL]

    llm.queue(vision_facts(("User has a beagle", True)))
    memory.reprocess(failed.value.pending_id)
    assert llm.calls[-1].image_urls == [HTTP_URL]
    assert [m.categories for m in memory.get_all(user_id="alice")] == [["image"]]
