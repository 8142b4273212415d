"""Document text for the fuzzer: code whose symbols the oracle can check, in hostile spellings.

Names and comments carry astral characters (two UTF-16 units), combining marks and characters that
Python's `str.splitlines` treats as line breaks but LSP does not (U+2028, form feed, NEL); lines
end in LF, CRLF, lone CR or a mix.
"""

from __future__ import annotations

import random

NAMES = ["alpha", "beta_2", "gamma", "délta", "𝑓unc", "名前", "_private", "x𝑥y", "ωmega", "café"]
CLASS_NAMES = ["Shape", "Klass", "Ünïcode", "𝐁ox", "Node2"]
ODD = [
    "😀",
    "𝑥𝑦",
    "中文字",
    "e\u0301",
    "👩\u200d💻",
    "\u2028",
    "\x0c",
    "\x85",
    "\x0b",
    "\ufeff",
    "\U0010ffff",
    "\t",
    "\u202e",
    "ß",
    "\x1c",
]
SEPARATORS = ["\n", "\n", "\n", "\r\n", "\r\n", "\r"]


def odd(rng: random.Random) -> str:
    return "".join(rng.choice(ODD) for _ in range(rng.randint(1, 3)))


def python_lines(rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        name = rng.choice(NAMES)
        roll = rng.random()
        if roll < 0.2:
            out += [f"def {name}(a, b):", f"    return a + b  # {odd(rng)}"]
        elif roll < 0.3:
            out += [
                f"class {rng.choice(CLASS_NAMES)}:",
                f"    def {name}(self):",
                f"        return '{odd(rng)}'",
            ]
        elif roll < 0.4:
            out.append(f"{name.upper()} = {rng.randint(0, 99)}")
        elif roll < 0.55:
            out.append(f"s = '{odd(rng)}'")
        elif roll < 0.65:
            out.append(f"# {odd(rng)} comment")
        elif roll < 0.75:
            out.append("")
        elif roll < 0.85:
            out.append(f"async def {name}():")
            out.append("    await thing()")
        else:
            out.append(f"x = call({name!r}, '{odd(rng)}')")
    return out


def javascript_lines(rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        name = rng.choice(["alpha", "beta", "gamma", "𝑓n", "ω", "café", "$dollar"])
        roll = rng.random()
        if roll < 0.25:
            out.append(f"/* {odd(rng)} */ function {name}(a) {{ return a; }}")
        elif roll < 0.45:
            out.append(f"const s = '{odd(rng)}'; function {name}() {{}}")
        elif roll < 0.6:
            out += [f"class {rng.choice(CLASS_NAMES)} {{", f"  {name}() {{ return '{odd(rng)}'; }}", "}"]
        elif roll < 0.75:
            out.append(f"const {name} = () => '{odd(rng)}';")
        else:
            out.append(f"let v = '{odd(rng)}';")
    return out


def join(rng: random.Random, lines: list[str]) -> str:
    """Lines joined by one separator, or by a random mix of them."""
    if rng.random() < 0.7:
        sep = rng.choice(SEPARATORS)
        text = sep.join(lines)
        return text + sep if rng.random() < 0.7 else text
    return "".join(line + rng.choice(SEPARATORS) for line in lines)


def document(rng: random.Random, language: str, lines: int | None = None) -> str:
    count = lines if lines is not None else rng.randint(1, 14)
    if language == "javascript":
        return join(rng, javascript_lines(rng, count))
    if language == "python":
        return join(rng, python_lines(rng, count))
    return join(rng, [odd(rng) + " plain text " + odd(rng) for _ in range(count)])


def snippet(rng: random.Random) -> str:
    """Text an edit inserts: typing, pasted definitions, hostile characters, line breaks."""
    return rng.choice(
        [
            "x",
            " ",
            "",
            "\n",
            "\r\n",
            "\r",
            "😀",
            "𝑥",
            "\n    return 1\n",
            "def pasted():\n    pass\n",
            "\rdef cr_only():\r    pass\r",
            "class Pasted:\r\n    def m(self):\r\n        pass\r\n",
            odd(rng),
            "\u2028def not_a_new_line(): pass",
            "\x00",
            "\ud800",
        ]
    )


def binary(rng: random.Random) -> str:
    """Text no editor would hold: NULs, controls, lone surrogates, bytes read as Latin-1."""
    raw = bytes(rng.randrange(256) for _ in range(rng.randint(10, 400)))
    pieces = [raw.decode("latin-1"), "\x00\x01\x02", "\ud800", "\udfff", "\ufffe", "\uffff"]
    rng.shuffle(pieces)
    return "".join(pieces)


def ten_megabytes(rng: random.Random) -> str:
    """About 10 MB of plausible Python (a generated table, say)."""
    line = f"VALUE_{rng.randrange(1000)} = {{'k': 'v' * 3, 'n': 12345}}  # padding padding\n"
    return line * (10_000_000 // len(line))
