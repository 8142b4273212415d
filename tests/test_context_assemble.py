"""gather_snippets: priority, dedupe, exclusion of the window, deadline; stable packing order."""

from __future__ import annotations

import os
import time
from pathlib import Path

from smallcode_lsp.config import IndexSettings
from smallcode_lsp.context.assemble import gather_snippets
from smallcode_lsp.context.lexical import LexicalIndex
from smallcode_lsp.context.prompt import PackedContext, pack_snippets
from smallcode_lsp.context.recent import RecentChunks
from smallcode_lsp.context.retrieve import Snippet
from smallcode_lsp.context.sources import PREVIOUS_CHOICES, ContextSources
from smallcode_lsp.index.workspace_index import WorkspaceIndex

FILES = {
    "app/__init__.py": "",
    "app/models.py": "class User:\n    def full_name(self):\n        return self.first + self.last\n",
    "legacy/models.py": "class User:\n    def legacy_name(self):\n        return 'old'\n",
    "app/reports.py": (
        "def monthly_revenue_report(orders):\n"
        "    totals = group_orders_by_month(orders)\n"
        "    return render_revenue_table(totals)\n"
    ),
    "app/reports_copy.py": (  # a vendored copy: a near-duplicate must not take a second slot
        "def monthly_revenue_report(orders):\n"
        "    totals = group_orders_by_month(orders)  # copied\n"
        "    return render_revenue_table(totals)\n"
    ),
    "app/views.py": (
        "from .models import User\n"
        "\n"
        "\n"
        "def weekly_revenue_report(orders):\n"
        "    totals = group_orders_by_month(orders)\n"
        "    user = User()\n"
        "    return render_revenue_table(totals)\n"
    ),
}


def build_index(tmp_path: Path, files: dict[str, str]) -> WorkspaceIndex:
    """Write `files` (relative path -> text) under `tmp_path` and index them."""
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    index = WorkspaceIndex([tmp_path], IndexSettings(), None, workers=1)
    index.build()
    return index


def setup(tmp_path: Path) -> tuple[WorkspaceIndex, str, str, str]:
    index = build_index(tmp_path, FILES)
    path = str(tmp_path / "app/views.py")
    lines = FILES["app/views.py"].split("\n")
    before = "\n".join(lines[:6]) + "\n    return render_revenue"
    return index, path, before, ""


def rel(snippets: list[Snippet], root: Path) -> list[tuple[str, str]]:
    return [(os.path.relpath(s.path, root), s.reason) for s in snippets]


def test_priority_dedupe_and_exclusions(tmp_path: Path) -> None:
    index, path, before, after = setup(tmp_path)
    lexical = LexicalIndex(index, min_tokens=2)
    lexical.warm()
    recent = RecentChunks(index.chunks_in_file)
    recent.note_edit(str(tmp_path / "app/reports.py"), 1)
    recent.note_edit(path, 4)  # the cursor's own chunk: must never come back
    snippets = gather_snippets(index, path, before, after, 6, recent=recent, lexical=lexical, deadline_s=1.0)
    got = rel(snippets, tmp_path)
    assert got[0] == ("app/models.py", "definition of User")  # the imported one, not legacy/
    assert ("legacy/models.py", "definition of User") not in got
    assert ("app/reports.py", "recently edited") in got
    # reports_copy.py is lexically similar but a near-duplicate of reports.py: dropped.
    assert all(p != "app/reports_copy.py" for p, _ in got)
    assert all(s.path != path for s in snippets)
    keys = [(s.path, s.start_line) for s in snippets]
    assert len(keys) == len(set(keys))


def test_lexical_fills_in_without_recent(tmp_path: Path) -> None:
    index, path, before, after = setup(tmp_path)
    lexical = LexicalIndex(index, min_tokens=2)
    lexical.warm()
    got = rel(gather_snippets(index, path, before, after, 6, lexical=lexical, deadline_s=1.0), tmp_path)
    similar = [p for p, reason in got if reason == "similar code"]
    assert len({"app/reports.py", "app/reports_copy.py"} & set(similar)) == 1


def test_respects_deadline(tmp_path: Path) -> None:
    index, path, before, after = setup(tmp_path)
    lexical = LexicalIndex(index, min_tokens=2)
    lexical.warm()
    started = time.perf_counter()
    snippets = gather_snippets(index, path, before, after, 6, lexical=lexical, deadline_s=0.0)
    assert time.perf_counter() - started < 0.05
    assert snippets == []  # every source saw its share already spent

    class SlowIndex:
        roots = index.roots

        def definitions(self, name: str):
            time.sleep(0.01)
            return index.definitions(name)

        def chunks_in_file(self, p: str):
            return index.chunks_in_file(p)

    many = before + "\n" + "\n".join(f"    name_{i} = value_{i}" for i in range(50))
    started = time.perf_counter()
    gather_snippets(SlowIndex(), path, many, after, 6, lexical=lexical, deadline_s=0.03)
    assert time.perf_counter() - started < 0.03 + 0.015  # at most one lookup past the share


def pack_in_w(
    snippets: list[Snippet], budget: int = 1000, keep_first: PackedContext | None = None
) -> PackedContext:
    """Snippets of a workspace at /w packed with one token per character."""
    return pack_snippets(
        snippets,
        budget_tokens=budget,
        count_tokens=len,
        comment_prefix="#",
        roots=["/w"],
        keep_first=keep_first,
    )


def test_pack_order_is_stable(tmp_path: Path) -> None:
    a = Snippet("/w/b.py", "def b(): pass", "definition of b", 10, 10)
    b = Snippet("/w/a.py", "def a2(): pass", "similar code", 30, 30)
    c = Snippet("/w/a.py", "def a1(): pass", "recently edited", 5, 5)

    def pack(snippets: list[Snippet], budget: int = 1000) -> str:
        return pack_in_w(snippets, budget).text

    assert pack_snippets([a, b, c], budget_tokens=1000, count_tokens=len, comment_prefix="#").snippets == 3
    first = pack([a, b, c])
    assert first == pack([c, a, b]) == pack([b, c, a])
    assert first.index("a1") < first.index("a2") < first.index("def b")
    # Priority still decides what fits: with room for two, the last-priority snippet is dropped.
    two = pack([c, a, b], budget=len(first) - 5)
    assert "a1" in two and "def b" in two and "a2" not in two
    # Opt-out keeps priority order.
    unsorted = pack_snippets(
        [a, c], budget_tokens=1000, count_tokens=len, comment_prefix="#", stable_order=False
    ).text
    assert unsorted.index("def b") < unsorted.index("a1")


def test_a_new_choice_keeps_what_the_previous_prompt_showed_at_the_front() -> None:
    def snip(path: str, name: str, line: int) -> Snippet:
        return Snippet(path, f"def {name}(): pass", "similar code", line, line)

    def pack(snippets: list[Snippet], keep_first: PackedContext | None = None) -> PackedContext:
        return pack_in_w(snippets, keep_first=keep_first)

    first = pack([snip("/w/m.py", "m", 1), snip("/w/z.py", "z", 1)])
    # Coming back: a snippet that sorts before both is new, one old snippet is no longer chosen.
    again = pack([snip("/w/a.py", "a", 1), snip("/w/z.py", "z", 1), snip("/w/m.py", "m2", 9)], first)
    assert [text for _, text in again.files] == ["def z(): pass", "def a(): pass", "def m2(): pass"]
    # Without a previous choice the order is by path and line, as before.
    fresh = pack([snip("/w/a.py", "a", 1), snip("/w/z.py", "z", 1), snip("/w/m.py", "m2", 9)])
    assert [text for _, text in fresh.files] == ["def a(): pass", "def m2(): pass", "def z(): pass"]
    # The previous choice never adds what the new one did not choose.
    assert pack([snip("/w/q.py", "q", 1)], first).files == (("q.py", "def q(): pass"),)


def test_coming_back_the_old_snippets_keep_their_room_but_not_against_definitions() -> None:
    def pack(snippets: list[Snippet], keep_first: PackedContext | None = None) -> PackedContext:
        return pack_in_w(snippets, 60, keep_first)

    old = Snippet("/w/m.py", "def m(): pass", "similar code", 1, 1)  # 25 "tokens" with its header
    edited = Snippet("/w/b.py", "def b(): pass", "recently edited", 1, 1)
    named = Snippet("/w/d.py", "def d(): pass", "definition of d", 1, 1)
    first = pack([old])
    # Another file's recent edit outranks the old snippet by priority, but only one of them fits
    # beside the definition: the one the file's last prompt showed stays, and stays first.
    back = pack([named, edited, old], first)
    assert [text for _, text in back.files] == ["def m(): pass", "def d(): pass"]
    # Without that history, priority decides.
    assert [text for _, text in pack([named, edited, old]).files] == ["def b(): pass", "def d(): pass"]
    # A definition of a name near the cursor is never pushed out by an old snippet.
    crowded = pack([named, Snippet("/w/n.py", "def n(): pass", "definition of n", 1, 1), old], first)
    assert sorted(text for _, text in crowded.files) == ["def d(): pass", "def n(): pass"]


def test_sources_remember_each_files_last_choice_within_a_bound(tmp_path: Path) -> None:
    index = WorkspaceIndex([tmp_path], IndexSettings(), None, workers=1)
    sources = ContextSources.for_index(index, [str(tmp_path)])
    packed = PackedContext((("a.py", "def a(): pass"),), "#")
    for number in range(PREVIOUS_CHOICES + 5):
        sources.remember(f"/w/f{number}.py", (0, 100), packed)
    assert sources.previous_choice("/w/f0.py") is None  # the oldest files were forgotten
    assert sources.previous_choice(f"/w/f{PREVIOUS_CHOICES + 4}.py") is packed


def test_repo_layout_merges_only_neighbouring_snippets_of_a_file() -> None:
    packed = PackedContext((("m.py", "A"), ("u.py", "B"), ("m.py", "C")), "#")
    pieces: list[str] = []
    packed.repo_layout(
        repo_name="w",
        current_path="app.py",
        tokenize=lambda text: pieces.append(text) or [len(pieces)],
        repo_token=-1,
        file_sep_token=-2,
    )
    assert pieces == ["w\n", "m.py\nA\n", "u.py\nB\n", "m.py\nC\n", "app.py\n"]


def test_repo_layout_groups_files_and_ends_with_the_current_path() -> None:
    packed = pack_snippets(
        [
            Snippet("/w/pkg/models.py", "class User: ...", "definition of User", 1, 1),
            Snippet("/w/pkg/models.py", "class Group: ...", "definition of Group", 9, 9),
            Snippet("/w/util.py", "def slug(s): ...", "similar code", 3, 3),
        ],
        budget_tokens=10_000,
        count_tokens=len,
        comment_prefix="#",
        roots=["/w"],
    )
    pieces: list[str] = []
    ids = packed.repo_layout(
        repo_name="w",
        current_path="app.py",
        tokenize=lambda text: pieces.append(text) or [len(pieces)],
        repo_token=-1,
        file_sep_token=-2,
    )
    assert ids == [-1, 1, -2, 2, -2, 3, -2, 4]
    assert pieces == [
        "w\n",
        "pkg/models.py\nclass User: ...\n\nclass Group: ...\n",
        "util.py\ndef slug(s): ...\n",
        "app.py\n",
    ]


def test_imported_names_not_near_the_cursor_come_as_signatures(tmp_path: Path) -> None:
    long_body = "\n".join(f"    step{i} = {i}" for i in range(20))
    # Far more than the identifier window: nothing near the cursor mentions the imported names.
    filler = "\n".join(f"    value_{i} = compute_{i}(value_{i - 1})" for i in range(1, 80))
    files = {
        "pkg/__init__.py": "",
        "pkg/text.py": (
            'def slugify(value, *, sep="-"):\n    """Make a URL slug."""\n'
            f"{long_body}\n    return value\n\n\n"
            "def shout(value):\n    return value.upper()\n"
        ),
        "pkg/other.py": "def slugify(value):\n    return 'a namesake nobody imported'\n",
        "pkg/page.py": (
            "from .text import shout, slugify\n\n\n"
            "def title(page):\n    name = slugify(page.name)\n    return shout(name)\n\n\n"
            f"def filler(value_0):\n{filler}\n\n\n"
            "def link(page):\n    target = \n"
        ),
    }
    index = build_index(tmp_path, files)
    path = str(tmp_path / "pkg/page.py")
    text = files["pkg/page.py"]
    cursor_line = text.count("\n") - 1  # `    target = ` : nothing near it names a callee
    before = text[: text.rindex("\n")]
    snippets = gather_snippets(index, path, before, "\n", cursor_line, deadline_s=1.0)
    by_reason = {s.reason: s for s in snippets}
    slug = by_reason["imported slugify"]
    assert os.path.relpath(slug.path, tmp_path) == "pkg/text.py"  # the imported one, not the namesake
    # Signatures only: many imported names must fit the budget.
    assert slug.text == 'def slugify(value, *, sep="-"):\n    ...'
    assert by_reason["imported shout"].text == "def shout(value):\n    ..."
    assert not any("namesake" in s.text for s in snippets)


def test_attributes_of_outside_modules_are_not_looked_up(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/nodes.py": "class List:\n    def __init__(self, items):\n        self.items = items\n",
        "pkg/view.py": (
            "import typing as t\nfrom . import nodes\n\n\ndef names(x) -> t.List[str]:\n    y = \n"
        ),
        "pkg/tree.py": "from . import nodes\n\n\ndef build(x):\n    return nodes.List(\n",
    }
    index = build_index(tmp_path, files)

    def reasons(rel: str, line: int) -> list[str]:
        text = files[rel]
        before = text[: text.rindex("\n")]
        return [
            s.reason for s in gather_snippets(index, str(tmp_path / rel), before, "\n", line, deadline_s=1.0)
        ]

    assert "definition of List" not in reasons("pkg/view.py", 5)  # typing's List, not pkg.nodes.List
    assert "definition of List" in reasons("pkg/tree.py", 4)  # nodes.List is the workspace's


def test_same_file_definitions_outside_the_window_are_shown(tmp_path: Path) -> None:
    filler = "\n".join(f"X{i} = {i}" for i in range(100))
    text = (
        "def normalize(path, sep='/'):\n    return path.replace(sep, '_')\n\n\n"
        f"{filler}\n\n\ndef run(p):\n    q = normalize("
    )
    index = build_index(
        tmp_path, {"tool.py": text, "other.py": "def normalize(x):\n    return 'a namesake'\n"}
    )
    line = text.count("\n")
    snippets = gather_snippets(index, str(tmp_path / "tool.py"), text, "", line, deadline_s=1.0)
    found = [s for s in snippets if s.reason == "definition of normalize"]
    assert [os.path.basename(s.path) for s in found] == ["tool.py"]
    assert found[0].text.startswith("def normalize(path, sep='/'):")
