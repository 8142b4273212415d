"""Fill-in-the-middle prompt templates and their detection from a model's vocabulary.

Detection looks only at which special tokens the vocabulary holds, never at file names:
GGUF files get renamed, fine-tuned and re-quantised, but their tokenizer is what the model
was trained with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class FimTemplate:
    """Token strings of one FIM format; all known formats are prefix-suffix-middle ordered.

    The prompt is `prefix <prefix text> suffix <suffix text> middle`, the three markers being
    single special tokens. For DeepSeek-Coder those are fim-begin, fim-hole and fim-end.
    """

    name: str
    prefix: str
    suffix: str
    middle: str
    stop: tuple[str, ...]
    repo_name: str | None = None
    file_sep: str | None = None


QWEN = FimTemplate(
    name="qwen",
    prefix="<|fim_prefix|>",
    suffix="<|fim_suffix|>",
    middle="<|fim_middle|>",
    stop=(
        "<|endoftext|>",
        "<|fim_pad|>",
        "<|file_sep|>",
        "<|repo_name|>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        "<|im_end|>",
    ),
    repo_name="<|repo_name|>",
    file_sep="<|file_sep|>",
)

STARCODER = FimTemplate(
    name="starcoder",
    prefix="<fim_prefix>",
    suffix="<fim_suffix>",
    middle="<fim_middle>",
    stop=(
        "<|endoftext|>",
        "<file_sep>",
        "<fim_pad>",
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
        "<repo_name>",
    ),
    repo_name="<repo_name>",
    file_sep="<file_sep>",
)

DEEPSEEK = FimTemplate(
    name="deepseek",
    prefix="<｜fim▁begin｜>",
    suffix="<｜fim▁hole｜>",
    middle="<｜fim▁end｜>",
    stop=("<｜end▁of▁sentence｜>", "<|EOT|>", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
)

CODELLAMA = FimTemplate(
    name="codellama",
    prefix="▁<PRE>",
    suffix="▁<SUF>",
    middle="▁<MID>",
    stop=("▁<EOT>", "<EOT>", "</s>"),
)

CODEGEMMA = FimTemplate(
    name="codegemma",
    prefix="<|fim_prefix|>",
    suffix="<|fim_suffix|>",
    middle="<|fim_middle|>",
    stop=(
        "<|file_separator|>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        "<eos>",
        "<end_of_turn>",
    ),
    file_sep="<|file_separator|>",
)

KNOWN_TEMPLATES: dict[str, FimTemplate] = {
    t.name: t for t in (QWEN, STARCODER, DEEPSEEK, CODELLAMA, CODEGEMMA)
}

# Detection order matters: CodeGemma and Qwen share the three FIM markers and differ only in
# their file separator, so the more specific CodeGemma check runs first.
_DETECTION_ORDER = ("codegemma", "qwen", "starcoder", "deepseek", "codellama")

# Values of `override` that mean "no FIM": plain prefix prompting even if the vocab has markers.
DISABLED = ("none", "off")


def detect_fim_template(has_token: Callable[[str], bool], override: str = "auto") -> FimTemplate | None:
    """Picks the FIM template whose markers are single tokens of the vocabulary.

    `has_token(text)` must say whether `text` is one token of the model's vocabulary.
    `override` forces a template by name ("none"/"off" disable FIM); repository-level markers
    are dropped from the result when the vocabulary lacks them.
    """
    key = override.strip().lower()
    if key in DISABLED:
        return None
    if key != "auto":
        template = KNOWN_TEMPLATES.get(key)
        if template is None:
            valid = ", ".join(["auto", *KNOWN_TEMPLATES, *DISABLED])
            raise ValueError(f"unknown FIM template {override!r}; valid names: {valid}")
        return _prune_repo_tokens(template, has_token)
    for name in _DETECTION_ORDER:
        template = KNOWN_TEMPLATES[name]
        if not all(has_token(t) for t in (template.prefix, template.suffix, template.middle)):
            continue
        if name == "codegemma" and not has_token(template.file_sep or ""):
            continue
        return _prune_repo_tokens(template, has_token)
    return None


def _prune_repo_tokens(template: FimTemplate, has_token: Callable[[str], bool]) -> FimTemplate:
    repo_name = template.repo_name if template.repo_name and has_token(template.repo_name) else None
    file_sep = template.file_sep if template.file_sep and has_token(template.file_sep) else None
    if (repo_name, file_sep) == (template.repo_name, template.file_sep):
        return template
    return replace(template, repo_name=repo_name, file_sep=file_sep)


def fit_budget(
    context: list[int], prefix: list[int], suffix: list[int], budget: int
) -> tuple[list[int], list[int], list[int]]:
    """Trims (context, prefix, suffix) token lists so their total fits `budget`.

    The code around the cursor matters most, so prefix and suffix are served first but may not
    crowd out the retrieved context entirely (it keeps up to a quarter of the budget). The
    prefix loses its far-away start, the suffix its far-away end, and the context its tail, so
    the context's head stays stable across requests and its KV cache can be reused.
    """
    budget = max(budget, 0)
    context_floor = min(len(context), budget // 4)
    local_budget = budget - context_floor
    if len(prefix) + len(suffix) > local_budget:
        keep_suffix = min(len(suffix), max(local_budget // 4, local_budget - len(prefix)))
        keep_prefix = local_budget - keep_suffix
        prefix = prefix[len(prefix) - keep_prefix :] if keep_prefix > 0 else []
        suffix = suffix[:keep_suffix]
    context = context[: budget - len(prefix) - len(suffix)]
    return context, prefix, suffix
