"""Writes a tiny random-weight llama GGUF with a real byte-level BPE tokenizer.

The model is meaningless, but llama.cpp loads it in milliseconds, so tests can exercise the
real engine (tokenizer, FIM special tokens, KV cache, cancellation) without a multi-hundred-MB
download. The output projection is rigged so greedy decoding never picks an end-of-generation
or special token and only emits printable ASCII: generations run as long as a test asks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFWriter, TokenType

N_EMBD = 64
N_LAYER = 2
N_HEAD = 2  # head size 32: quantised (q8_0) KV cache blocks must divide it
N_HEAD_KV = 1
N_FF = 128
SEED = 1234

# Qwen2.5-Coder special tokens, in its order; <|endoftext|> doubles as BOS/EOS.
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)

# Words that become whole tokens through chains of merges, so code tokenizes into a few pieces.
_WORDS = (
    "in",
    "re",
    "er",
    "on",
    "at",
    "de",
    "se",
    "or",
    "st",
    "le",
    "en",
    "is",
    "it",
    "ar",
    "def",
    "self",
    "return",
    "import",
    "from",
    "class",
    "for",
    "if",
    "else",
    "print",
    "None",
    "True",
    "False",
    "while",
    "with",
    "lambda",
    "yield",
    "pass",
    "range",
    "len",
)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode mapping used by byte-level BPE vocabularies."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars = list(keep)
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(keep, chars, strict=True)}


def _vocab(extra_words: tuple[str, ...] = ()) -> tuple[list[str], list[str], list[bool]]:
    """Returns (tokens, merges, printable) for the byte tokens, merged words and specials."""
    byte_map = _bytes_to_unicode()
    tokens = [byte_map[b] for b in range(256)]
    printable = [32 <= b < 127 or b == 10 for b in range(256)]
    merges: list[str] = []
    known = set(tokens)

    def chain(word: str) -> None:
        # Merge left to right: "d e" -> "de", "de f" -> "def".
        mapped = [byte_map[b] for b in word.encode()]
        left = mapped[0]
        for piece in mapped[1:]:
            merged = left + piece
            if merged not in known:
                merges.append(f"{left} {piece}")
                tokens.append(merged)
                printable.append(True)
                known.add(merged)
            left = merged

    chain("  ")
    chain("    ")
    chain("        ")
    for word in (*_WORDS, *extra_words):
        chain(word)
        chain(" " + word)
    tokens.extend(SPECIAL_TOKENS)
    printable.extend(False for _ in SPECIAL_TOKENS)
    return tokens, merges, printable


def write_tiny_gguf(
    path: Path, *, n_ctx_train: int = 32768, n_layer: int = N_LAYER, extra_words: tuple[str, ...] = ()
) -> Path:
    """Writes the tiny model to `path` (deterministic for given arguments) and returns it.

    `n_layer` below the default gives a draft model with the same vocabulary whose first layer,
    embeddings and output equal the full model's (same seed), so its guesses are sometimes right;
    `extra_words` adds merged tokens, giving a model whose vocabulary differs.
    """
    tokens, merges, printable = _vocab(extra_words)
    n_vocab = len(tokens)
    first_special = n_vocab - len(SPECIAL_TOKENS)
    types = [TokenType.NORMAL] * first_special + [TokenType.CONTROL] * len(SPECIAL_TOKENS)
    eos = tokens.index("<|endoftext|>")

    writer = GGUFWriter(str(path), "llama")
    writer.add_name("Tiny Test Coder")
    writer.add_context_length(n_ctx_train)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(0)  # all f32
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(eos)
    writer.add_eos_token_id(eos)
    writer.add_pad_token_id(eos)
    writer.add_add_bos_token(False)

    rng = np.random.default_rng(SEED)

    def rand(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    n_embd_kv = N_EMBD // N_HEAD * N_HEAD_KV
    writer.add_tensor("token_embd.weight", rand(n_vocab, N_EMBD, scale=1.0))
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    output = rand(n_vocab, N_EMBD, scale=1.0)
    # Zero rows give logit 0 while a printable token's random logit has std ~8: with hundreds of
    # candidates some logit is > 0 at every step, so EOG/special/non-ASCII tokens never win.
    output[~np.array(printable)] = 0.0
    writer.add_tensor("output.weight", output)
    for i in range(n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", rand(N_EMBD, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_k.weight", rand(n_embd_kv, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_v.weight", rand(n_embd_kv, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_output.weight", rand(N_EMBD, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", rand(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", rand(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", rand(N_EMBD, N_FF))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":
    import sys

    out = write_tiny_gguf(Path(sys.argv[1] if len(sys.argv) > 1 else "tiny.gguf"))
    print(out, out.stat().st_size)
