"""Smoke test of the soak benchmark: a short cancel storm and a few hundred keystrokes, tiny model.

Speed is not asserted (the full-size run measures it); what must hold at any size is that every
request is answered and nothing the server holds per keystroke (fds, threads) accumulates.
"""

from __future__ import annotations

import json
from pathlib import Path

from clients.bench import soak
from clients.bench.png_chart import Canvas


def test_soak_bench_answers_everything_and_leaks_no_descriptors(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    out = tmp_path / "soak.json"
    argv = ["--model", str(tiny_model_path), "--keystrokes", "400", "--sample-every", "100"]
    argv += ["--storm-seconds", "1.5", "--storms", "1", "--probes", "1", "--json", str(out)]
    assert soak.main(argv) == 0
    result = json.loads(out.read_text())
    storm = result["storms"][0]
    assert storm["requests"] >= 100 and storm["unanswered"] == 0 and storm["errors"] == 0
    assert storm["answered"] + storm["cancelled"] == storm["requests"]
    assert storm["cancelled"] > 0  # each request cancelled the one before it
    run = result["soak"]
    assert run["unanswered"] == 0 and run["errors"] == 0
    assert run["answered"] + run["cancelled"] == run["requests"] == 400
    assert run["waited_completion"]["count"] == 400 // 50
    assert (
        run["fds"]["last"] <= run["fds"]["warm"] + 2 and run["threads"]["last"] <= run["threads"]["warm"] + 2
    )
    assert result["alive_after"] and result["exit_code"] == 0
    assert out.with_suffix(".png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_chart_canvas_draws_lines_and_text_where_asked() -> None:
    canvas = Canvas(20, 10)
    canvas.line(0, 0, 19, 9, (255, 0, 0))
    assert canvas.pixels[0:3] == bytes((255, 0, 0)) and canvas.pixels[-3:] == bytes((255, 0, 0))
    canvas.text(0, 0, "1")
    assert b"\x00\x00\x00" in bytes(canvas.pixels)
    png = canvas.png()
    assert png[12:16] == b"IHDR" and png.endswith(b"IEND\xaeB`\x82")
