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
    cache = TypeThroughCache(max_documents=1, max_positions=1)
    cache.store(CachedSuggestion("a", 0, "f(", ")", "x)", 1))
    assert cache.lookup("a", 0, "f(", "") is None
    cache.store(CachedSuggestion("b", 0, "", "", "y", 0))
    assert cache.lookup("a", 0, "f(", ")") is None


def test_revisiting_a_place_hits_the_position_lru():
    cache = TypeThroughCache()
    cache.store(CachedSuggestion("u", 2, "def f(", "", "a, b):", 0, surroundings=7))
    cache.store(CachedSuggestion("u", 9, "x = ", "", "1", 0, surroundings=8))  # later, elsewhere
    back = cache.lookup("u", 2, "def f(", "", 7)
    assert back is not None and back.text == "a, b):"
    assert cache.lookup("u", 2, "def f(", "", 99) is None  # the lines around it changed


def test_edits_around_the_line_invalidate_type_through():
    cache = TypeThroughCache()
    cache.store(CachedSuggestion("u", 3, "x = ", "", "compute()", 0, surroundings=1))
    assert cache.lookup("u", 3, "x = co", "", 2) is None
    assert cache.lookup("u", 3, "x = co", "", 1).text == "mpute()"
    cache.invalidate("u")
    assert cache.lookup("u", 3, "x = ", "", 1) is None


def test_a_stored_background_entry_does_not_replace_the_one_on_screen():
    cache = TypeThroughCache()
    cache.store(CachedSuggestion("u", 3, "x = ", "", "compute(a)", 0, surroundings=1))
    cache.store(CachedSuggestion("u", 4, "", "", "    return x", 0, surroundings=2), as_latest=False)
    assert cache.lookup("u", 3, "x = com", "", 1).text == "pute(a)"  # still typed through
    # Reaching the stored place shows it, and typing along then continues from it.
    assert cache.lookup("u", 4, "", "", 2).text == "    return x"
    assert cache.lookup("u", 4, "    ret", "", 2).text == "urn x"
