"""BM25 lexical retrieval over a real index; Django timing with SMALLCODE_BENCH=1 (printed, not asserted)."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from smallcode_lsp.config import IndexSettings
from smallcode_lsp.context.lexical import LexicalIndex, head_lines
from smallcode_lsp.context.tokens import code_tokens, split_identifier
from smallcode_lsp.index.workspace_index import WorkspaceIndex

FILES = {
    "billing/invoice.py": (
        "def compute_invoice_total(invoice_lines, tax_rate):\n"
        "    subtotal = sum(line.unit_price * line.quantity for line in invoice_lines)\n"
        "    return subtotal * (1 + tax_rate)\n"
        "\n"
        "def render_invoice_pdf(invoice):\n"
        "    return pdf_renderer.render(invoice.template_name)\n"
    ),
    "shop/cart.py": (
        "def compute_cart_total(cart_lines, tax_rate):\n"
        "    subtotal = sum(line.unit_price * line.quantity for line in cart_lines)\n"
        "    return subtotal * (1 + tax_rate)\n"
    ),
    "shop/unrelated.py": "def send_welcome_email(user):\n    mailer.send(user.email_address, 'welcome')\n",
}


def build(root: Path, files: dict[str, str]) -> WorkspaceIndex:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    index = WorkspaceIndex([root], IndexSettings(), None, workers=1)
    index.build()
    return index


@pytest.mark.parametrize(
    ("ident", "tokens"),
    [
        ("get_user_name", ("user", "name", "get_user_name")),
        ("getUserName", ("user", "name", "getusername")),
        ("HTTPServer", ("http", "server", "httpserver")),
        ("self", ()),
        ("x", ()),
    ],
)
def test_split_identifier(ident: str, tokens: tuple[str, ...]) -> None:
    assert split_identifier(ident) == tokens


def test_code_tokens_drops_keywords() -> None:
    assert code_tokens("def unit_price(self): return None") == ["unit", "price", "unit_price"]


def test_finds_similar_chunk_and_excludes_own(tmp_path: Path) -> None:
    index = build(tmp_path, FILES)
    lexical = LexicalIndex(index, min_tokens=2)
    assert lexical.query("anything") == []  # never builds on the query path
    lexical.warm()
    current = str(tmp_path / "shop/cart.py")
    typed = (
        "def compute_cart_total(cart_lines, tax_rate):\n    subtotal = sum(line.unit_price * line.quantity"
    )
    hits = lexical.query(typed, path=current, exclude_lines=(0, 1))
    assert hits, "expected a hit"
    assert os.path.relpath(hits[0].chunk.path, tmp_path) == "billing/invoice.py"
    assert hits[0].chunk.name == "compute_invoice_total"
    assert all(h.chunk.path != current for h in hits)
    # Without the exclusion the cursor's own chunk is the best match: the window check is what removes it.
    assert lexical.query(typed)[0].chunk.path == current


def test_refresh_is_incremental_and_sees_changes(tmp_path: Path) -> None:
    index = build(tmp_path, FILES)
    lexical = LexicalIndex(index, min_tokens=2)
    lexical.warm()
    assert not lexical.is_stale()
    (tmp_path / "shop/refund.py").write_text(
        "def issue_refund_voucher(order):\n    return voucher_service(order)\n"
    )
    index.update_file(tmp_path / "shop/refund.py")
    assert lexical.is_stale()
    assert lexical.query("refund voucher") == []  # old snapshot until refreshed
    lexical.refresh()
    assert lexical.query("refund voucher")[0].chunk.name == "issue_refund_voucher"


def test_schedule_refresh_runs_in_background(tmp_path: Path) -> None:
    index = build(tmp_path, FILES)
    lexical = LexicalIndex(index, min_tokens=2)
    lexical.schedule_refresh(0.01)
    for _ in range(200):
        if lexical.ready:
            break
        time.sleep(0.01)
    assert lexical.ready


def test_head_lines() -> None:
    assert head_lines("a\nb\nc", 2) == "a\nb"
    assert head_lines("a\nb", 5) == "a\nb"


@pytest.mark.skipif(not os.environ.get("SMALLCODE_BENCH"), reason="set SMALLCODE_BENCH=1 to time Django")
def test_django_query_timing() -> None:
    django = pytest.importorskip("django")
    root = Path(django.__path__[0])
    started = time.perf_counter()
    index = WorkspaceIndex([root], IndexSettings(), None, workers=1)
    stats = index.build()
    build_s = time.perf_counter() - started
    lexical = LexicalIndex(index)
    started = time.perf_counter()
    lexical.warm()
    warm_s = time.perf_counter() - started
    started = time.perf_counter()
    lexical.refresh()
    refresh_s = time.perf_counter() - started
    rng = random.Random(0)
    chunks = [c for c in index.all_chunks() if c.end_line - c.start_line > 5]
    times = []
    for chunk in rng.sample(chunks, 300):
        lines = Path(chunk.path).read_text().split("\n")
        cursor = rng.randint(chunk.start_line + 1, chunk.end_line)
        before = "\n".join(lines[max(0, cursor - 30) : cursor])
        t = time.perf_counter()
        hits = lexical.query(before, path=chunk.path, exclude_lines=(cursor - 60, cursor + 10))
        times.append((time.perf_counter() - t) * 1000)
        assert all(
            not (h.chunk.path == chunk.path and h.chunk.start_line <= cursor <= h.chunk.end_line)
            for h in hits
        )
    times.sort()
    print(
        f"\nDjango: {stats.files} files, {stats.chunks} chunks (index build {build_s:.2f}s); "
        f"BM25 warm {warm_s:.2f}s, no-op refresh {refresh_s:.3f}s; "
        f"query p50 {times[len(times) // 2]:.2f} ms, p95 {times[int(len(times) * 0.95)]:.2f} ms, "
        f"max {times[-1]:.2f} ms over {len(times)} queries"
    )
