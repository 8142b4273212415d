"""Checks on a GGUF file and the machine before llama.cpp sees them, with messages a user can act on."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

GGUF_MAGIC = b"GGUF"


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the message is meant for the user."""


def check_gguf_file(path: Path) -> None:
    """Fails early with a readable message for the common mistakes llama.cpp reports cryptically."""
    if not path.exists():
        raise ModelLoadError(f"Model file not found: {path}")
    if not path.is_file():
        raise ModelLoadError(f"Model path is not a file: {path}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelLoadError(f"Cannot read model file {path}: {exc}") from exc
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"{path} is not a GGUF model (file starts with {magic!r}, expected {GGUF_MAGIC!r}). "
            "Use a .gguf file converted for llama.cpp."
        )


def physical_core_count() -> int:
    """Physical cores usable by this process; llama.cpp gains nothing from hyper-threads."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    with contextlib.suppress(OSError):
        physical = core = ""
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "physical id":
                physical = value.strip()
            elif key == "core id":
                core = value.strip()
                cores.add((physical, core))
    return max(1, min(usable, len(cores)) if cores else usable)
