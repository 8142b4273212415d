from smallcode_lsp.completion.cache import CachedSuggestion, TypeThroughCache


def test_typing_along_the_suggestion_returns_the_rest():
    cache = TypeThroughCache()
    cache.store(CachedSuggestion("u", 3, "x = ", "", "compute(a, b)", 0))
    hit = cache.lookup("u", 3, "x = comp", "")
    assert hit is not None and hit.text == "ute(a, b)"
    assert cache.lookup("u", 3, "x = cx", "") is None  # diverged
    assert cache.lookup("u", 4, "x = comp", "") is None  # other line
    assert cache.lookup("u", 3, "x = compute(a, b)", "") is None  # fully typed: nothing left
    assert (cache.hits, cache.misses) == (1, 3)


def test_suffix_change_and_eviction():
    cache = TypeThroughCache(max_documents=1)
    cache.store(CachedSuggestion("a", 0, "f(", ")", "x)", 1))
    assert cache.lookup("a", 0, "f(", "") is None
    cache.store(CachedSuggestion("b", 0, "", "", "y", 0))
    assert cache.lookup("a", 0, "f(", ")") is None
