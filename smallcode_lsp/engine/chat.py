"""Chat prompts for instruction-following requests (fix, tests), in the layout the model was tuned on.

Qwen2.5-Coder Instruct, like most open instruct models, was tuned on ChatML
(`<|im_start|>role\\ncontent<|im_end|>`). The layout is detected from the vocabulary, as the FIM
template is; a model without ChatML tokens gets a plain-text layout that base models follow well
enough, with a stop string so it does not invent the next user turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CHATML_START = "<|im_start|>"
CHATML_END = "<|im_end|>"
PLAIN_TURN = "\n### "  # the plain layout's turn header; seeing it again ends the answer


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class ChatPrompt:
    ids: list[int]
    stop: tuple[str, ...]  # strings that end the answer (besides the model's end-of-generation tokens)
    layout: str  # chatml | plain


def build_chat_prompt(
    messages: Sequence[ChatMessage],
    *,
    tokenize: Callable[[str], list[int]],
    token_id: Callable[[str], int | None],
    head: Sequence[int] = (),
) -> ChatPrompt:
    """Token ids asking the model for the next assistant turn. Message text is tokenized as plain
    text, so a control token inside user code cannot end a turn early."""
    start, end = token_id(CHATML_START), token_id(CHATML_END)
    ids = list(head)
    if start is not None and end is not None:
        newline = tokenize("\n")
        for message in messages:
            ids += [start] + tokenize(f"{message.role}\n{message.content}") + [end] + newline
        ids += [start] + tokenize("assistant\n")
        return ChatPrompt(ids, (CHATML_END,), "chatml")
    text = "".join(f"### {m.role.capitalize()}:\n{m.content}\n\n" for m in messages) + "### Assistant:\n"
    return ChatPrompt(ids + tokenize(text), (PLAIN_TURN,), "plain")


def first_code_block(answer: str) -> str | None:
    """The body of the first fenced code block of `answer`, or None when it has none.

    An unterminated fence (the answer ran out of tokens) still yields what it holds.
    """
    fence = answer.find("```")
    if fence < 0:
        return None
    newline = answer.find("\n", fence)
    if newline < 0:
        return None
    closing = answer.find("```", newline + 1)
    body = answer[newline + 1 : closing if closing >= 0 else len(answer)]
    return body.rstrip("\n") + "\n" if body.strip() else None


RUNAWAY_LINES = 12


def runaway(text: str, lines: int = RUNAWAY_LINES) -> bool:
    """True when the answer's last `lines` complete lines share one shape (digits aside): a small
    model stuck in a loop (`assert f(0.01)`, `assert f(0.02)`, ...) until it runs out of tokens."""
    if text.count("\n") < lines:
        return False
    tail = text.rsplit("\n", lines + 1)[-(lines + 1) : -1]
    shapes = {re.sub(r"\d+", "0", line).strip() for line in tail}
    return len(shapes) == 1 and "" not in shapes
