"""Checks on a GGUF file and the machine before llama.cpp sees them, with messages a user can act on.

llama.cpp reports a truncated file or a context it cannot allocate in its own terms (or, worse, an
allocation the kernel overcommits succeeds and the process is killed when the KV cache is cleared).
So the header is read here: a file cut short says so, and the memory a context size needs is
estimated from the model's shape and compared with what the machine (cgroup, RLIMIT_AS) can give.
"""

from __future__ import annotations

import contextlib
import os
import resource
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

GGUF_MAGIC = b"GGUF"
# Tokens per llama_decode batch (local.py opens contexts with n_ubatch=512).
UBATCH = 512
# Bytes per KV cache element for the settings' cache types (q8_0: 34-byte blocks of 32 values).
KV_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "f32": 4.0}
# A model needs some room beyond weights + KV + attention scores (graph, output buffers, threads).
_OVERHEAD = 64 << 20


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


# ----------------------------------------------------------------------------- the GGUF header


@dataclass(frozen=True)
class ModelShape:
    """What the memory estimate needs from a GGUF's metadata (0 = not stated in the file)."""

    architecture: str
    n_layer: int
    n_head: int
    n_head_kv: int
    n_embd: int
    key_length: int
    value_length: int
    file_bytes: int

    def kv_values_per_token(self) -> int:
        """K plus V values cached per token over all layers."""
        head = self.n_embd // self.n_head if self.n_head else 0
        k = self.key_length or head
        v = self.value_length or head
        return self.n_layer * (self.n_head_kv or self.n_head) * (k + v)


class _Truncated(Exception):
    pass


# GGUF metadata value types: fixed-size scalars by struct format; 8 = string, 9 = array.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


class _Reader:
    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def take(self, size: int) -> bytes:
        data = self._handle.read(size)
        if len(data) != size:
            raise _Truncated
        return data

    def unpack(self, fmt: str) -> int | float | bool:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        length = int(self.unpack("Q"))
        if length > 1 << 24:
            raise ValueError(f"implausible string length {length}")
        return self.take(length).decode("utf-8", "replace")

    def value(self, kind: int, keep: bool) -> object:
        """Read (or skip, when not `keep`) one value; arrays are only ever skipped."""
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind != _ARRAY:
            raise ValueError(f"unknown metadata type {kind}")
        item, count = int(self.unpack("I")), int(self.unpack("Q"))
        if item in _SCALARS:
            self._handle.seek(struct.calcsize(_SCALARS[item]) * count, os.SEEK_CUR)
            return None
        values = [self.value(item, keep) for _ in range(count)]
        return values if keep else None


def read_model_shape(path: Path) -> ModelShape:
    """The architecture's sizes from the metadata; ModelLoadError when the header is cut short.

    Reading stops at the tokenizer's keys (converters write the architecture's before them), so the
    vocabulary's ~150k strings are not walked through.
    """
    found: dict[str, object] = {}
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            reader = _Reader(handle)
            if reader.take(4) != GGUF_MAGIC:
                raise ModelLoadError(f"{path} is not a GGUF model")
            version = reader.unpack("I")
            if version not in (2, 3):
                raise ModelLoadError(f"{path}: unsupported GGUF version {version}")
            reader.unpack("Q")  # tensor count
            for _ in range(int(reader.unpack("Q"))):
                key = reader.string()
                if key.startswith("tokenizer."):
                    break
                kind = int(reader.unpack("I"))
                found[key] = reader.value(kind, keep=kind != _ARRAY or key.endswith("head_count_kv"))
    except _Truncated:
        raise ModelLoadError(
            f"{path} is truncated ({size:,} bytes; its header ends early): the download or copy did "
            "not finish. Download it again or point smallcode.model.path at a complete GGUF."
        ) from None
    except (ValueError, UnicodeError) as exc:
        raise ModelLoadError(f"{path} is not a valid GGUF model ({exc}).") from exc
    except OSError as exc:
        raise ModelLoadError(f"Cannot read model file {path}: {exc}") from exc
    arch = str(found.get("general.architecture", ""))

    def number(name: str) -> int:
        value = found.get(f"{arch}.{name}", 0)
        if isinstance(value, list):  # per-layer values (e.g. OpenELM): the largest is an upper bound
            value = max((v for v in value if isinstance(v, int)), default=0)
        return int(value) if isinstance(value, int | float) else 0

    return ModelShape(
        architecture=arch,
        n_layer=number("block_count"),
        n_head=number("attention.head_count"),
        n_head_kv=number("attention.head_count_kv"),
        n_embd=number("embedding_length"),
        key_length=number("attention.key_length"),
        value_length=number("attention.value_length"),
        file_bytes=size,
    )


def explain_load_error(path: Path, detail: str, context_size: int | None = None) -> str:
    """llama.cpp's wording for a cut-short file or a failed allocation, said plainly (the original
    kept for reference)."""
    if "not within the file bounds" in detail or "failed to read" in detail:
        return (
            f"{path} is truncated or incomplete: the download or copy did not finish. Download it again "
            f"or point smallcode.model.path at a complete GGUF. (llama.cpp: {detail})"
        )
    lowered = detail.lower()
    if context_size and ("failed to allocate" in lowered or "failed to create llama_context" in lowered):
        return (
            f"not enough memory for model.contextSize {context_size}: lower smallcode.model.contextSize "
            f"or set model.kvCacheType to q8_0. (llama.cpp: {detail})"
        )
    return detail


# ----------------------------------------------------------------------------- memory


def context_bytes(shape: ModelShape, context_size: int, kv_cache_type: str) -> int:
    """Memory a context of `context_size` tokens needs beside the weights: KV cache + attention scores.

    Without flash attention (f16 KV) llama.cpp reserves the scores of a full batch against the whole
    context (n_ctx x n_ubatch x n_head floats); with it (quantised KV) they are computed in tiles.
    """
    kv = shape.kv_values_per_token() * context_size * KV_BYTES.get(kv_cache_type, 2.0)
    flash = kv_cache_type != "f16"
    scores = 0 if flash else context_size * UBATCH * max(shape.n_head, 1) * 4
    return int(kv + scores)


def _read_int(path: str) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = Path(path).read_text().strip()
        return None if text == "max" else int(text)
    return None


def _status_kb(field: str) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def available_memory() -> int | None:
    """Bytes this process can still get: the least of free RAM, the cgroup's room and RLIMIT_AS's."""
    limits: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    cgroup_max = _read_int("/sys/fs/cgroup/memory.max")
    cgroup_now = _read_int("/sys/fs/cgroup/memory.current")
    if cgroup_max is not None and cgroup_now is not None:
        limits.append(max(0, cgroup_max - cgroup_now))
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    mapped = _status_kb("VmSize")
    if soft != resource.RLIM_INFINITY and mapped is not None:
        limits.append(max(0, soft - mapped))
    return min(limits) if limits else None


def _mb(value: float) -> str:
    return f"{value / (1 << 30):.1f} GB" if value >= 1 << 30 else f"{value / (1 << 20):.0f} MB"


def check_memory(shape: ModelShape, context_size: int, kv_cache_type: str) -> None:
    """Refuse, with the numbers and a context size that would fit, a load the machine cannot hold."""
    available = available_memory()
    if available is None or not shape.n_layer:
        return
    fixed = shape.file_bytes + _OVERHEAD
    needed = fixed + context_bytes(shape, context_size, kv_cache_type)
    if needed <= available:
        return
    fits = context_size
    while fits > 256 and fixed + context_bytes(shape, fits, kv_cache_type) > available:
        fits //= 2
    advice = (
        f"set smallcode.model.contextSize to {fits} or less"
        if fixed + context_bytes(shape, fits, kv_cache_type) <= available
        else "free memory or use a smaller model"
    )
    quantised = " or model.kvCacheType to q8_0" if kv_cache_type == "f16" else ""
    raise ModelLoadError(
        f"not enough memory for model.contextSize {context_size}: the model needs about {_mb(needed)} "
        f"(weights {_mb(shape.file_bytes)}, KV cache and attention buffers "
        f"{_mb(needed - fixed)}) but only {_mb(available)} is available; {advice}{quantised}."
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
