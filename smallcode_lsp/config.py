"""Typed settings for the `smallcode` section.

Layers, lowest first: built-in defaults < `[tool.smallcode]` in the workspace's pyproject.toml <
LSP `initializationOptions` < `workspace/didChangeConfiguration`. Keys use the editor-facing dotted
camelCase names (`model.contextSize`), so editors, benchmarks and docs share one vocabulary.
Bad values never crash the server: they are reported and the previous (or default) value is kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    tomllib = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ModelSettings:
    path: str | None = None
    draft_path: str | None = None
    context_size: int = 4096
    threads: int = 0  # 0 = let the engine pick (physical cores)
    kv_cache_type: str = "f16"
    fim_template: str = "auto"


@dataclass(frozen=True)
class SpeculativeSettings:
    # Off by default: measured on a 2-core CPU, verification batches cost nearly as much as the
    # tokens they save (clients/bench/speculation.py), so drafting does not pay there yet.
    mode: str = "off"
    max_draft_tokens: int = 8


@dataclass(frozen=True)
class CompletionSettings:
    debounce_ms: int = 75
    max_tokens: int = 64
    multiline: str = "auto"
    prefetch: bool = True  # compute the suggestion that follows an acceptance while the model is idle
    # How long `textDocument/completion` waits for a fresh suggestion before answering an empty,
    # incomplete list: menus (Helix merges every server's items) must not stall on a generation.
    # The generation goes on; the client's next request (the user types on) finds it in the cache.
    menu_wait_ms: int = 300


@dataclass(frozen=True)
class ContextSettings:
    retrieval: bool = True
    max_tokens: int = 512


@dataclass(frozen=True)
class IndexSettings:
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = 1_000_000


@dataclass(frozen=True)
class CloudSettings:
    endpoint: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    # Escalate when the local answer's mean token log-probability is below this, or its least likely
    # token below the second (the weakest step of the answer; -1e9 turns either off). Together with
    # the syntax signal, -0.4 and -1.3 sent 25% of HumanEval's 164 single-line holes with the default
    # 0.5B model and kept the most of the cloud's quality there (clients/bench/hybrid.py).
    confidence_threshold: float = -0.4
    min_logprob_threshold: float = -1.3
    timeout_ms: int = 1500
    # A fix or tests turn asks for a whole function or test module: minutes on a slow endpoint.
    agent_timeout_ms: int = 120_000
    never_send: tuple[str, ...] = ()
    # How infill is asked for: "suffix" sends OpenAI's `suffix` field; a template name (qwen,
    # starcoder, ...) builds the remote model's own FIM-token prompt, which servers that mishandle
    # `suffix` (llama_cpp.server echoes the prompt) answer correctly.
    fim_template: str = "suffix"
    # Escalate when the definitions the cursor needs live in at least this many other files
    # (0 = never by scope): cross-file use is where a small local model is weakest.
    multi_file_threshold: int = 3
    # Escalate when the local answer leaves a syntax error at the cursor (completion/syntax_fit.py):
    # on HumanEval's holes every such answer was wrong, however confident the model was.
    escalate_on_syntax_error: bool = True
    # Escalate when the local answer reads a name that nothing defines (completion/name_fit.py): an
    # invented variable or helper, which no parser sees.
    escalate_on_unknown_name: bool = True
    # Run the docstring examples of the Python function the answer lands in (sandboxed, for at most
    # a second and never past half of what `timeout_ms` leaves): failing ones escalate, passing ones
    # keep the answer local (agent/example_check.py). Only with an endpoint, when it can matter.
    check_examples: bool = True
    daily_token_budget: int = 0  # prompt + answer tokens sent per local day; 0 = no limit


@dataclass(frozen=True)
class AgentSettings:
    """Fix and test generation loops: bounded, and verified unless the user says otherwise."""

    max_attempts: int = 3  # model turns per request, each checked in the sandbox
    offer_unverified: bool = False  # apply a fix that no check confirmed (titled "unverified")
    timeout_seconds: int = 60  # wall clock per sandbox run
    max_tokens: int = 768  # answer length per model turn
    python: str | None = None  # interpreter for the project's code and tests (default: its venv)


@dataclass(frozen=True)
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    speculative: SpeculativeSettings = field(default_factory=SpeculativeSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    context: ContextSettings = field(default_factory=ContextSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    cloud: CloudSettings = field(default_factory=CloudSettings)
    agent: AgentSettings = field(default_factory=AgentSettings)


class SettingsError(ValueError):
    """A setting had the wrong type or an unknown value; the message names it."""


def _positive_int(lo: int = 0, hi: int = 10**9) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"expected an integer, got {value!r}")
        if not lo <= value <= hi:
            raise SettingsError(f"expected an integer in [{lo}, {hi}], got {value}")
        return value

    return check


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise SettingsError(f"expected one of {', '.join(allowed)}; got {value!r}")
        return value

    return check


def _optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SettingsError(f"expected a string, got {value!r}")
    return value


def _nonempty_str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SettingsError(f"expected a non-empty string, got {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"expected true or false, got {value!r}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"expected a number, got {value!r}")
    return float(value)


def _globs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"expected a list of glob strings, got {value!r}")
    return tuple(value)


# dotted editor name -> (group attribute, field attribute, validator)
_SCHEMA: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    "model.path": ("model", "path", _optional_str),
    "model.draftPath": ("model", "draft_path", _optional_str),
    "model.contextSize": ("model", "context_size", _positive_int(256, 131072)),
    "model.threads": ("model", "threads", _positive_int(0, 256)),
    "model.kvCacheType": ("model", "kv_cache_type", _choice("f16", "q8_0")),
    "model.fimTemplate": ("model", "fim_template", _nonempty_str),
    "speculative.mode": ("speculative", "mode", _choice("promptLookup", "draftModel", "off")),
    "speculative.maxDraftTokens": ("speculative", "max_draft_tokens", _positive_int(1, 64)),
    "completion.debounceMs": ("completion", "debounce_ms", _positive_int(0, 5000)),
    "completion.maxTokens": ("completion", "max_tokens", _positive_int(1, 100_000)),
    "completion.multiline": ("completion", "multiline", _choice("auto", "always", "never")),
    "completion.prefetch": ("completion", "prefetch", _bool),
    "completion.menuWaitMs": ("completion", "menu_wait_ms", _positive_int(0, 600_000)),
    "context.retrieval": ("context", "retrieval", _bool),
    "context.maxTokens": ("context", "max_tokens", _positive_int(0, 32768)),
    "index.exclude": ("index", "exclude", _globs),
    "index.maxFileBytes": ("index", "max_file_bytes", _positive_int(1, 1 << 31)),
    "cloud.endpoint": ("cloud", "endpoint", _optional_str),
    "cloud.model": ("cloud", "model", _optional_str),
    "cloud.apiKeyEnv": ("cloud", "api_key_env", _optional_str),
    "cloud.confidenceThreshold": ("cloud", "confidence_threshold", _number),
    "cloud.minLogprobThreshold": ("cloud", "min_logprob_threshold", _number),
    "cloud.timeoutMs": ("cloud", "timeout_ms", _positive_int(1, 600_000)),
    "cloud.agentTimeoutMs": ("cloud", "agent_timeout_ms", _positive_int(1, 3_600_000)),
    "cloud.neverSend": ("cloud", "never_send", _globs),
    "cloud.fimTemplate": (
        "cloud",
        "fim_template",
        _choice("suffix", "qwen", "starcoder", "deepseek", "codellama", "codegemma"),
    ),
    "cloud.multiFileThreshold": ("cloud", "multi_file_threshold", _positive_int(0, 1000)),
    "cloud.dailyTokenBudget": ("cloud", "daily_token_budget", _positive_int(0, 10**12)),
    "cloud.escalateOnSyntaxError": ("cloud", "escalate_on_syntax_error", _bool),
    "cloud.escalateOnUnknownName": ("cloud", "escalate_on_unknown_name", _bool),
    "cloud.checkExamples": ("cloud", "check_examples", _bool),
    "agent.maxAttempts": ("agent", "max_attempts", _positive_int(1, 10)),
    "agent.offerUnverified": ("agent", "offer_unverified", _bool),
    "agent.timeoutSeconds": ("agent", "timeout_seconds", _positive_int(1, 3600)),
    "agent.maxTokens": ("agent", "max_tokens", _positive_int(16, 8192)),
    "agent.python": ("agent", "python", _optional_str),
}

SETTING_NAMES: tuple[str, ...] = tuple(_SCHEMA)


def flatten(options: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Turn `{"model": {"path": x}}` or `{"model.path": x}` into `{"model.path": x}`."""
    flat: dict[str, Any] = {}
    for key, value in options.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and name not in _SCHEMA:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def apply(base: Settings, options: Mapping[str, Any] | None) -> tuple[Settings, list[str]]:
    """Overlay `options` (nested or dotted, optionally under a `smallcode` key) on `base`.

    Returns the new settings and one human-readable problem per rejected key; rejected keys keep
    their value from `base`, so one typo never resets the rest of the configuration.
    """
    if not options:
        return base, []
    if not isinstance(options, Mapping):
        return base, [f"settings must be an object, got {type(options).__name__}"]
    if isinstance(options.get("smallcode"), Mapping):
        options = options["smallcode"]
    problems: list[str] = []
    groups: dict[str, dict[str, Any]] = {}
    for name, raw in flatten(options).items():
        spec = _SCHEMA.get(name)
        if spec is None:
            problems.append(f"smallcode.{name}: unknown setting (ignored)")
            continue
        group, attr, validate = spec
        try:
            groups.setdefault(group, {})[attr] = validate(raw)
        except SettingsError as exc:
            problems.append(f"smallcode.{name}: {exc}; keeping the previous value")
    replaced = {
        group: dataclasses.replace(getattr(base, group), **changes) for group, changes in groups.items()
    }
    return dataclasses.replace(base, **replaced), problems


def from_pyproject(root: Path) -> dict[str, Any]:
    """Read `[tool.smallcode]` from a workspace's pyproject.toml (empty when absent or unreadable)."""
    path = root / "pyproject.toml"
    if tomllib is None or not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    section = data.get("tool", {}).get("smallcode", {})
    return section if isinstance(section, dict) else {}


def to_dict(settings: Settings) -> dict[str, Any]:
    """Dotted-name view of the settings, as `smallcode.status` reports them."""
    out: dict[str, Any] = {}
    for name, (group, attr, _) in _SCHEMA.items():
        value = getattr(getattr(settings, group), attr)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out
