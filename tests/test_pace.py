import pytest

from smallcode_lsp.completion.pace import MIN_DELAY_MS, TypingPace


def typed(gaps_s: list[float]) -> TypingPace:
    pace, now = TypingPace(), 100.0
    pace.keystroke("u", now)
    for gap in gaps_s:
        now += gap
        pace.keystroke("u", now)
    return pace


def test_configured_value_until_a_rhythm_is_known():
    assert typed([0.1]).delay_ms("u", 75) == 75
    assert typed([]).delay_ms("u", 0) == 0


def test_fast_burst_waits_about_one_interval():
    assert typed([0.1, 0.12, 0.1, 0.11]).delay_ms("u", 75) == pytest.approx(0.105 * 1200, rel=0.01)
    assert typed([0.02] * 5).delay_ms("u", 75) == MIN_DELAY_MS


def test_slow_typing_gets_the_minimum_and_pauses_are_ignored():
    assert typed([0.5, 0.6, 0.55]).delay_ms("u", 75) == MIN_DELAY_MS
    assert typed([0.1, 5.0, 0.1, 7.0]).delay_ms("u", 75) == 75  # only two burst gaps so far
