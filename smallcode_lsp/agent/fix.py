""" "Fix this": generate a rewrite of the code around a diagnostic, verify it, feed failures back, repeat.

A small model rarely fixes a bug in one shot, but it often does once it reads what went wrong with its
first try. Nothing is offered until a rewrite passes every check that can run here (see `checks.py`);
the result says which checks those were, so the editor's title can too.

Two strategies take turns. The first try asks for the smallest change to the code as it is. Shown the
buggy body, a small model mostly copies it back unchanged, so when a failing test says what the code
must do and the function documents its contract, later tries hide the body and ask for the function
anew from its signature, docstring and the test's failure (measured in clients/bench/agent.py). The
test re-run then checks the new body, and the title says the function was rewritten.
"""

from __future__ import annotations

import ast
import textwrap
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from smallcode_lsp.agent.checks import Checker, Outcome, Problem
from smallcode_lsp.agent.target import Target, find_target, python_function
from smallcode_lsp.engine.chat import ChatMessage, first_code_block
from smallcode_lsp.index.languages import LanguageSpec

# One model turn: the conversation so far in, the assistant's answer out; the attempt number picks
# the decoding (see `decoding_for`).
Generate = Callable[[Sequence[ChatMessage], threading.Event | None, int], str]

RETRY_TEMPERATURE = 0.7


def decoding_for(attempt: int) -> tuple[float, int]:
    """(temperature, seed) of a turn: greedy first; later turns sample (seeded, so runs repeat),
    because greedy decoding of a repair request tends to return the same wrong answer again."""
    return (0.0, 0) if attempt <= 1 else (RETRY_TEMPERATURE, attempt)


SYSTEM = (
    "You are an expert programmer who fixes bugs with the smallest correct change. "
    "You answer with code only, in one fenced code block."
)


@dataclass
class Attempt:
    answer: str
    outcome: Outcome | None  # None: the answer held no usable code


@dataclass
class FixResult:
    verified: bool
    target: Target
    replacement: str | None  # the new text of the target's lines (the last try when unverified)
    document: str | None  # the whole rewritten document
    checks: tuple[str, ...] = ()
    attempts: list[Attempt] = field(default_factory=list)
    error: str = ""  # why nothing verified
    cancelled: bool = False
    rewritten: bool = False  # the function was written anew from its contract, not edited
    source: str = "local"  # local | cloud: which model wrote the final try (the server sets it)

    @property
    def title(self) -> str:
        """What the editor shows: what was verified, or that nothing was."""
        kind = "Fix (function rewritten)" if self.rewritten else "Fix"
        if self.source == "cloud":
            kind += " [cloud model]"
        if self.verified:
            tests = [c for c in self.checks if c.startswith("re-running ")]
            if tests:
                return f"{kind}: verified by {tests[0]}"
            return f"{kind}: verified by " + ", ".join(self.checks) if self.checks else kind
        return f"{kind} (unverified)"


def fix_prompt(
    relative_path: str,
    language: str,
    target: Target,
    problem: Problem,
    definitions: str = "",
    test_output: str = "",
) -> list[ChatMessage]:
    fence = language.lower()
    parts = [f"File: {relative_path}"]
    if definitions.strip():
        heading = "Definitions this code uses, from other parts of the project:"
        parts.append(f"{heading}\n```{fence}\n{definitions.rstrip()}\n```")
    parts.append(f"The code to fix:\n```{fence}\n{target.text}\n```")
    where = problem.line - target.start + 1
    source = f" (reported by {problem.source})" if problem.source else ""
    code = f" [{problem.code}]" if problem.code else ""
    parts.append(f"Problem at line {where} of that code{source}{code}: {problem.message}")
    if test_output.strip():
        parts.append(f"Test output:\n```\n{test_output.strip()[-1500:]}\n```")
    parts.append(
        "Rewrite the code to fix the problem. Keep its name, signature and everything that is not part "
        "of the problem unchanged. Answer with the complete corrected code in one code block."
    )
    return [ChatMessage("system", SYSTEM), ChatMessage("user", "\n\n".join(parts))]


REWRITE_SYSTEM = (
    "You are an expert programmer. You write correct, complete functions. "
    "You answer with code only, in one fenced code block."
)


def contract_of(code: str, name: str | None) -> str | None:
    """A Python function's decorators, signature and docstring, without its body; None when the
    function has no docstring (then the signature alone says too little to write it anew)."""
    function = python_function(code, name) if name else None
    if function is None or ast.get_docstring(function) is None:
        return None
    lines = textwrap.dedent(code).split("\n")
    start = min([function.lineno] + [d.lineno for d in function.decorator_list])
    end = function.body[0].end_lineno or function.body[0].lineno
    return "\n".join(lines[start - 1 : end])


def rewrite_prompt(
    relative_path: str,
    language: str,
    contract: str,
    failure: str,
    definitions: str = "",
) -> list[ChatMessage]:
    fence = language.lower()
    parts = [f"File: {relative_path}"]
    if definitions.strip():
        heading = "Definitions this code can use, from other parts of the project:"
        parts.append(f"{heading}\n```{fence}\n{definitions.rstrip()}\n```")
    parts.append(f"Complete this function:\n```{fence}\n{contract}\n```")
    parts.append(
        f"Its previous implementation was wrong; it failed this test:\n```\n{failure.strip()[-1500:]}\n```"
    )
    parts.append("Answer with the complete function, signature and docstring included, in one code block.")
    return [ChatMessage("system", REWRITE_SYSTEM), ChatMessage("user", "\n\n".join(parts))]


def retry_message(error: str) -> ChatMessage:
    return ChatMessage(
        "user",
        f"That does not work yet:\n```\n{error.strip()[-1500:]}\n```\n"
        "Fix this too and answer with the complete corrected code in one code block.",
    )


UNCHANGED = (
    "Your answer repeats the original code, and the original code is wrong: the problem above still "
    "happens. Find the line that causes it and change that line."
)


def python_definition(code: str, name: str | None, document: str, top_level: bool) -> str:
    """From a Python answer, just the definition of `name`, plus what it needs that the file lacks.

    Models like to answer with a whole module (imports, the function, a usage example); pasted over
    one function, the extra lines would be unused imports or stray code. When the definition is
    top-level, the imports it uses that the file does not bind, and the helpers it calls (functions,
    classes, constants of the answer, and theirs in turn) that the file does not define, go in front
    of it; inside a class they are dropped.
    """
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return code
    lines = textwrap.dedent(code).split("\n")
    definition = next(
        (
            n
            for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name
        ),
        None,
    )
    if definition is None:
        return code

    def source(node: ast.stmt) -> str:
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno] + [d.lineno for d in decorators])
        return "\n".join(lines[start - 1 : node.end_lineno])

    if not top_level:
        return source(definition)
    try:
        in_file = _top_level_names(ast.parse(document))
    except SyntaxError:
        in_file = set()
    helpers = _helpers_needed(tree, definition, in_file)
    used = set().union(*(_names_used(node) for node in [definition, *helpers]))
    imports = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = _bound_names(node)
            if "*" not in names and names & used and not names <= in_file:
                imports.append(node)
    return "\n".join(source(node) for node in [*imports, *helpers, definition])


def _bound_names(node: ast.stmt) -> set[str]:
    """The module-level names a statement binds (imports, definitions, plain assignments)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {alias.asname or alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    else:
        return set()
    return {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}


def _top_level_names(module: ast.Module) -> set[str]:
    return set().union(*(_bound_names(node) for node in module.body))


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _helpers_needed(tree: ast.Module, definition: ast.stmt, in_file: set[str]) -> list[ast.stmt]:
    """The answer's other top-level definitions that `definition` uses, directly or through each
    other, and the file does not define: a rewrite that calls its own new helper must bring it."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)
    candidates = [n for n in tree.body if isinstance(n, kinds) and n is not definition]
    wanted = _names_used(definition)
    chosen: list[ast.stmt] = []
    grew = True
    while grew:
        grew = False
        for node in candidates:
            names = _bound_names(node)
            if node in chosen or not names or not names & wanted or names & in_file:
                continue
            chosen.append(node)
            wanted |= _names_used(node)
            grew = True
    return [node for node in tree.body if node in chosen]  # the answer's own order


def reindent(code: str, like: str) -> str:
    """Give `code` the indentation of `like`'s first line (models drop a method's indentation)."""
    first = next((line for line in like.split("\n") if line.strip()), "")
    indent = first[: len(first) - len(first.lstrip())]
    body = textwrap.dedent(code.rstrip("\n"))
    return textwrap.indent(body, indent) if indent else body


class Fixer:
    def __init__(self, generate: Generate, checker: Checker, max_attempts: int = 3) -> None:
        self.generate = generate
        self.checker = checker
        self.max_attempts = max(1, max_attempts)

    def fix(
        self,
        document: str,
        path: str,
        relative_path: str,
        spec: LanguageSpec | None,
        problem: Problem,
        *,
        definitions: str = "",
        test_output: str = "",
        cancel: threading.Event | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> FixResult:
        target = find_target(document, spec, path, problem.line)
        language = spec.name if spec else ""
        messages = fix_prompt(relative_path, language, target, problem, definitions, test_output)
        # Rewriting from the contract needs a contract and a test that checks the new body.
        contract = None
        if problem.test_id and spec is not None and spec.name == "python":
            contract = contract_of(target.text, target.name)
        rewriting = False
        result = FixResult(False, target, None, None)
        for number in range(1, self.max_attempts + 1):
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                return result
            if contract is not None and number == 2:
                failure = result.error if result.attempts and result.attempts[-1].outcome else ""
                failure = failure or test_output or problem.message
                messages = rewrite_prompt(relative_path, language, contract, failure, definitions)
                rewriting = True
            if progress:
                what = "rewriting the function" if rewriting else "generating"
                progress(f"attempt {number} of {self.max_attempts}: {what}")
            answer = self.generate(messages, cancel, number)
            code = first_code_block(answer)
            if code is None or not code.strip():
                result.attempts.append(Attempt(answer, None))
                result.error = "the model's answer held no code"
                messages = [*messages, ChatMessage("assistant", answer), retry_message(result.error)]
                continue
            if spec is not None and spec.name == "python":
                top_level = not target.text[:1].isspace()
                code = python_definition(code, target.name, document, top_level)
            replacement = reindent(code, target.text)
            rewritten = target.replace_in(document, replacement)
            if rewritten == document:
                result.attempts.append(Attempt(answer, None))
                result.error = "the model returned the code unchanged"
                messages = [*messages, ChatMessage("assistant", answer), ChatMessage("user", UNCHANGED)]
                continue
            if progress:
                progress(f"attempt {number} of {self.max_attempts}: checking")
            outcome = self.checker.verify(relative_path, document, rewritten, spec, problem, cancel)
            result.attempts.append(Attempt(answer, outcome))
            result.replacement, result.document, result.rewritten = replacement, rewritten, rewriting
            if outcome.passed:
                result.verified, result.checks, result.error = True, outcome.done, ""
                return result
            result.error = outcome.error
            messages = [*messages, ChatMessage("assistant", answer), retry_message(outcome.error)]
        return result
