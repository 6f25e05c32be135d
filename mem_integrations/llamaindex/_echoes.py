"""What a user or an assistant actually said, without what LlamaIndex's agents write into
plain messages on behalf of tools.

Function-calling agents keep tool results in `tool` messages, which extraction skips. Two
agents do not:

* `ReActAgent` stores its whole reasoning as ONE assistant message at the end of a run:
  ``Thought: ... / Action: ... / Action Input: ... / Observation: <tool output> / ...
  Thought: ... / Answer: <reply>``. Only the final answer was said to the user; thoughts,
  actions and observations are the model's scratchpad and the tools' output. When a tool
  was `return_direct`, the "answer" is the observation itself, and nothing is kept.
* `CodeActAgent` stores the code it ran inside ``<execute>...</execute>`` in assistant
  messages, and its result as a USER message starting "Result of executing the code
  given:". Neither was said by anyone.

Extracting these would store tool output (often a `recall` result, that is memories
already stored) as if the user had said it.
"""

from __future__ import annotations

import re

_REACT_START = "Thought:"
_REACT_STEP = re.compile(r"^(?:Thought|Action|Action Input|Observation|Answer"
                         r"(?: \(Starts With\))?):", re.MULTILINE)
_ANSWER = re.compile(r"^Answer(?: \(Starts With\))?:[ \t]?", re.MULTILINE)
_OBSERVATION = re.compile(r"^Observation:[ \t]?", re.MULTILINE)
_CODEACT_RESULT = "Result of executing the code given:"
_CODEACT_CODE = re.compile(r"<execute>.*?</execute>", re.DOTALL)


def said(role: str, text: str) -> str:
    """The part of a message's text its author said ("" when none): a ReAct trace
    becomes its final answer, CodeAct code and code results are dropped."""
    if role == "user":
        return "" if text.startswith(_CODEACT_RESULT) else text
    if role != "assistant":
        return text
    if _is_react_trace(text):
        return _react_answer(text)
    return _CODEACT_CODE.sub("", text).strip()


def _is_react_trace(text: str) -> bool:
    # The agent writes every step as "<Label>: ..." starting with "Thought:"; a reply that
    # merely begins with that word has no second step label.
    return text.startswith(_REACT_START) and len(_REACT_STEP.findall(text)) >= 2


def _react_answer(text: str) -> str:
    answers = list(_ANSWER.finditer(text))
    observations = list(_OBSERVATION.finditer(text))
    if not answers:
        return ""
    last = answers[-1]
    if observations and observations[-1].start() > last.start():
        return ""  # the "Answer:" is inside a tool's output, not the agent's answer
    answer = text[last.end():].strip()
    if observations:
        seen = text[observations[-1].end():].split("\nThought:", 1)[0].strip()
        if answer == seen:
            return ""  # return_direct: the tool's output stood in for the answer
    return answer
