"""FIM template detection, prompt budgeting and the pure helpers of the engine (no model)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smallcode_lsp.engine.fim import KNOWN_TEMPLATES, detect_fim_template, fit_budget
from smallcode_lsp.engine.logprobs import greedy_choice
from smallcode_lsp.engine.text_stream import TextStream

VOCABS = {
    "qwen": {
        "<|endoftext|>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        "<|fim_pad|>",
        "<|repo_name|>",
        "<|file_sep|>",
    },
    "starcoder": {
        "<|endoftext|>",
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
        "<fim_pad>",
        "<file_sep>",
        "<repo_name>",
    },
    "deepseek": {"<｜begin▁of▁sentence｜>", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"},
    "codellama": {"<s>", "</s>", "▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"},
    "codegemma": {
        "<bos>",
        "<eos>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        "<|file_separator|>",
    },
}


@pytest.mark.parametrize("name", sorted(VOCABS))
def test_detects_each_known_template_from_vocab(name: str) -> None:
    template = detect_fim_template(VOCABS[name].__contains__)
    assert template is not None
    assert template.name == name
    assert template == KNOWN_TEMPLATES[name]


def test_repo_tokens_are_dropped_when_missing() -> None:
    starcoder1 = {"<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<|endoftext|>"}
    template = detect_fim_template(starcoder1.__contains__)
    assert template is not None and template.name == "starcoder"
    assert template.repo_name is None and template.file_sep is None


def test_no_fim_tokens_gives_none() -> None:
    assert detect_fim_template({"<s>", "</s>", "<|im_start|>"}.__contains__) is None


def test_deepseek_order_is_begin_hole_end() -> None:
    t = KNOWN_TEMPLATES["deepseek"]
    assert (t.prefix, t.suffix, t.middle) == ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>")


def test_override_forces_template_and_none_disables() -> None:
    template = detect_fim_template(VOCABS["qwen"].__contains__, override="starcoder")
    assert template is not None and template.name == "starcoder"
    assert detect_fim_template(VOCABS["qwen"].__contains__, override="none") is None


def test_unknown_override_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="qwen.*starcoder.*deepseek.*codellama.*codegemma"):
        detect_fim_template(VOCABS["qwen"].__contains__, override="gpt5")


def test_fit_budget_keeps_everything_that_fits() -> None:
    assert fit_budget([1, 2], [3, 4], [5], 10) == ([1, 2], [3, 4], [5])


def test_fit_budget_trims_prefix_left_suffix_right_context_tail() -> None:
    context, prefix, suffix = list(range(100)), list(range(1000, 1100)), list(range(2000, 2100))
    c, p, s = fit_budget(context, prefix, suffix, 100)
    assert len(c) + len(p) + len(s) == 100
    assert c == context[: len(c)] and len(c) == 25  # context keeps its head, a quarter of the budget
    assert p == prefix[len(prefix) - len(p) :]  # the text nearest the cursor survives
    assert s == suffix[: len(s)]
    assert len(p) > len(s)


def test_greedy_choice_logprob_matches_softmax() -> None:
    logits = np.array([1.0, 3.0, -2.0, 0.5], dtype=np.float32)
    token, logprob = greedy_choice(logits)
    expected = 3.0 - math.log(sum(math.exp(x) for x in logits))
    assert token == 1
    assert logprob == pytest.approx(expected, rel=1e-6)


def test_text_stream_joins_utf8_split_across_tokens() -> None:
    stream = TextStream(())
    encoded = "é✓".encode()
    for i in range(len(encoded)):
        stream.push(encoded[i : i + 1])
        if i == 0:
            assert stream.text == ""
    assert stream.text == "é✓"


def test_text_stream_finds_stop_string_spanning_tokens() -> None:
    stream = TextStream(("<|endoftext|>", "<|file_sep|>"))
    assert stream.push(b"abc<|endo") is None
    assert stream.push(b"ftext|>tail") == 3
