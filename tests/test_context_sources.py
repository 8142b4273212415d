from smallcode_lsp.config import IndexSettings
from smallcode_lsp.context import sources as sources_module
from smallcode_lsp.context.prompt import PackedContext
from smallcode_lsp.context.sources import ContextSources
from smallcode_lsp.index.workspace_index import WorkspaceIndex


def test_context_is_remembered_per_window_and_expires(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("def f():\n    return 1\n")
    index = WorkspaceIndex([tmp_path], IndexSettings(), None)
    index.build()
    sources = ContextSources.for_index(index, [str(tmp_path)])
    packed = PackedContext((("a.py", "def f(): ..."),), "#")
    clock = [100.0]
    monkeypatch.setattr(sources_module.time, "monotonic", lambda: clock[0])
    sources.remember("/w/b.py", (16, 512), packed)
    assert sources.remembered("/w/b.py", (16, 512)) is packed
    assert sources.remembered("/w/b.py", (32, 512)) is None  # the window moved
    assert sources.remembered("/w/c.py", (16, 512)) is None
    clock[0] += sources_module.CONTEXT_MEMORY_S + 1
    assert sources.remembered("/w/b.py", (16, 512)) is None  # too old
    # Requests that keep arriving (even ones superseded before retrieval) keep the choice alive.
    sources.remember("/w/b.py", (16, 512), packed)
    for _ in range(3):
        clock[0] += sources_module.CONTEXT_MEMORY_S * 0.8
        sources.still_typing("/w/b.py")
    assert sources.remembered("/w/b.py", (16, 512)) is packed
    sources.still_typing("/w/c.py")  # nothing remembered there: nothing to keep
    clock[0] += sources_module.CONTEXT_MEMORY_S + 1
    sources.still_typing("/w/b.py")  # too late: a pause this long is not typing along
    assert sources.remembered("/w/b.py", (16, 512)) is None
    index.close()


def test_attribute_owners():
    from smallcode_lsp.context.retrieve import attribute_owners

    owners = attribute_owners("x: t.List[int] = nodes . List(a)\nitems = f().items\nList")
    assert owners["List"] == {"t", "nodes", None}
    assert owners["items"] == {None, "?"}
    assert owners["x"] == {None}
