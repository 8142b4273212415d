"""Where an accepted suggestion lands, and whether a buffer is still on its way there."""

from __future__ import annotations

import pytest

from smallcode_lsp.completion.accept import acceptance

DOC = "def f(a):\n    return g(\n\nprint(f(1))"


def test_single_line_acceptance_replacing_an_auto_closed_bracket():
    doc = "x = compute()\ny = 2"
    accepted = acceptance(doc, 0, 12, "a, b)", 1)
    assert accepted.text == "x = compute(a, b)\ny = 2"
    assert accepted.cursor == (0, 17)


def test_multi_line_acceptance_moves_the_cursor_to_the_end_of_the_block():
    accepted = acceptance(DOC, 1, 13, "a)\n    total = 1", 0)
    assert accepted.text == "def f(a):\n    return g(a)\n    total = 1\n\nprint(f(1))"
    assert accepted.cursor == (2, 13)


@pytest.mark.parametrize(
    ("document", "reachable"),
    [
        ("x = compute()\ny = 2", True),  # nothing typed yet
        ("x = compute(a)\ny = 2", True),  # typing along, the auto-closed bracket still there
        ("x = compute(a, b)\ny = 2", True),  # accepted
        ("x = compute(z)\ny = 2", False),  # diverged
        ("x = compute()\ny = 3", False),  # edited elsewhere
        ("x = compute(", False),  # deleted the rest
    ],
)
def test_reachable_from(document: str, reachable: bool):
    accepted = acceptance("x = compute()\ny = 2", 0, 12, "a, b)", 1)
    assert accepted.reachable_from(document) is reachable


def test_positions_outside_the_document_are_refused():
    with pytest.raises(ValueError):
        acceptance(DOC, 9, 0, "x", 0)
    with pytest.raises(ValueError):
        acceptance(DOC, 0, 5, "x", 50)
