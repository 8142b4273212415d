from smallcode_lsp import config


def test_defaults_then_overrides_nested_and_dotted():
    settings, problems = config.apply(
        config.Settings(), {"smallcode": {"model": {"contextSize": 2048}, "completion.maxTokens": 32}}
    )
    assert problems == []
    assert settings.model.context_size == 2048
    assert settings.completion.max_tokens == 32
    assert settings.completion.debounce_ms == config.CompletionSettings().debounce_ms


def test_bad_values_keep_previous_and_are_named():
    base, _ = config.apply(config.Settings(), {"completion": {"maxTokens": 40}})
    settings, problems = config.apply(
        base, {"completion": {"maxTokens": -3}, "model": {"kvCacheType": "q2"}, "nope": True}
    )
    assert settings.completion.max_tokens == 40
    assert settings.model.kv_cache_type == "f16"
    joined = "\n".join(problems)
    assert "completion.maxTokens" in joined and "model.kvCacheType" in joined and "nope" in joined


def test_booleans_are_not_integers():
    _, problems = config.apply(config.Settings(), {"completion": {"maxTokens": True}})
    assert problems


def test_pyproject_section(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.smallcode]\n"context.retrieval" = false\n')
    settings, problems = config.apply(config.Settings(), config.from_pyproject(tmp_path))
    assert problems == [] and settings.context.retrieval is False


def test_status_view_uses_editor_names():
    view = config.to_dict(config.Settings())
    assert set(view) == set(config.SETTING_NAMES)
    assert view["index.exclude"] == []
