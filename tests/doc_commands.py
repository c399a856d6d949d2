"""Documented `python -m MODULE ...` commands: found in Markdown (`extract`) and checked without running their
jobs (`check`, in a child process: `python -m tests.doc_commands RESULT.json` with the commands as JSON on stdin).
Used by tests/test_docs.py.

Commands are read from shell code blocks (```bash, sh, shell, console; in an untitled block, lines that start with
the command) with `\\` continuations joined, and from inline code spans. `$VAR`, `${VAR}` and `$(...)` become a
placeholder path; `&&`, `||`, `;` and `|` split a line into commands; redirections and what precedes `python`
(environment assignments, `srun ...`) are dropped. A usage line (`[optional]` parts, `...`, ALL-CAPS placeholders
such as NAME or DIR) is checked for its flag names only; a concrete command is parsed whole.

The child runs each module as `__main__` with argparse's `parse_*args` methods patched to parse, then stop with a
sentinel; for `esrgan_jax.train` (absl flags, `--config NAME`, `--config.KEY=VALUE`) `train_and_evaluate` is the
stop, so the config file is found and every override applied (an unknown key fails) before anything would train.
A module of another project (`python3 -m venv`, `pip`) only has to exist, and so does a command written without
arguments (a mention such as "`python -m esrgan_jax.evaluate` builds the table").
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import json
import re
import shlex
import sys
from pathlib import Path

PROJECT = ("esrgan_jax", "weights_conversion", "benchmarks", "experiments", "configs", "testkit")
SHELL = ("bash", "sh", "shell", "console", "zsh")
PLACEHOLDER_PATH = "/doc-placeholder"
FLAG_CHECK_ONLY = ("-h", "--help")
PARSE_METHODS = ("parse_args", "parse_known_args", "parse_intermixed_args", "parse_known_intermixed_args")
CHECK = {"flags_only": False}  # the child's mode for the command being checked


@dataclasses.dataclass
class Command:
    file: str
    line: int
    text: str  # the command as the doc writes it (continuations joined)
    module: str
    args: list[str]
    usage: bool  # a usage pattern: check flag names only

    def where(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def _substitute(text: str) -> str:
    """`$(...)` (balanced parentheses), `${VAR}` and `$VAR` -> a placeholder path."""
    while (i := text.find("$(")) >= 0:
        depth, j = 0, i + 1
        for j in range(i + 1, len(text)):  # noqa: B007 (j is where the substitution ends)
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if depth == 0:
                break
        text = text[:i] + PLACEHOLDER_PATH + text[j + 1 :]
    return re.sub(r"\$\{\w+\}|\$\w+", PLACEHOLDER_PATH, text)


_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(=[A-Z][A-Z0-9_]*)?$|^--[\w.-]+=[A-Z][A-Z0-9_]*$|^--config\.[A-Z]")


def _is_usage(args: list[str]) -> bool:
    return any(c in a for a in args for c in ("[", "]", "...", "\u2026", "<", ">")) or any(
        _PLACEHOLDER.match(a) for a in args
    )


def _python(token: str) -> bool:
    return re.fullmatch(r"(.*/)?python(\d(\.\d+)?)?", token) is not None


def commands_in_shell(text: str, file: str, line: int) -> list[Command]:
    """The `python -m` commands of one shell line (continuations already joined)."""
    raw = text.strip()
    body = re.sub(r"^\$\s+", "", raw)  # a console prompt
    body = re.sub(r"\s\d*>&\d+", " ", _substitute(body))  # 2>&1
    body = re.sub(r"\s\d+(?=>)", " ", body)  # the fd of 2> FILE
    lex = shlex.shlex(body, posix=True, punctuation_chars="|&;<>")
    lex.whitespace_split = True
    try:
        tokens = list(lex)
    except ValueError:  # unbalanced quotes: a prose fragment, not a command
        return []
    segments, current = [], []
    for tok in tokens:
        if tok in ("&&", "||", ";", "|", "&"):
            segments.append(current)
            current = []
        else:
            current.append(tok)
    segments.append(current)
    found = []
    for seg in segments:
        starts = [i for i in range(len(seg) - 2) if _python(seg[i]) and seg[i + 1] == "-m"]
        if not starts:
            continue
        module, args = seg[starts[0] + 2], []
        rest = iter(seg[starts[0] + 3 :])
        for tok in rest:
            if tok in (">", ">>", "<", ">&", "&>"):
                next(rest, None)  # the redirection's target
            else:
                args.append(tok)
        if not re.fullmatch(r"[A-Za-z_][\w.]*", module) or module.isupper():
            continue  # `python -m MODULE ...`: a pattern of commands, not one
        found.append(Command(file, line, raw, module, args, _is_usage(args)))
    return found


def extract(markdown: str, file: str) -> list[Command]:
    """Every `python -m` command of a Markdown document, with the line it starts on."""
    lines, found, fence, lang, i = markdown.splitlines(), [], None, "", 0
    while i < len(lines):
        line, start = lines[i], i + 1
        opener = re.match(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)", line)
        if fence is None and opener:
            fence, lang = opener.group(1), opener.group(2).lower()
            i += 1
            continue
        if fence is not None and line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            fence = None
            i += 1
            continue
        if fence is not None:
            command_line = re.match(r"^\s*(\$\s+)?(\S+=\S*\s+)*\S*python\S*\s+-m\s", line)
            if lang in SHELL or (lang == "" and command_line):
                text = line
                while text.rstrip().endswith("\\") and i + 1 < len(lines):
                    i += 1
                    text = text.rstrip()[:-1] + " " + lines[i].strip()
                found += commands_in_shell(text, file, start)
        else:
            for span in re.finditer(r"(`+)(.+?)\1", line):
                if re.search(r"python\S*\s+-m\s", span.group(2)):
                    found += commands_in_shell(span.group(2), file, start)
        i += 1
    return found


class Parsed(BaseException):  # noqa: N818 (not an error: the stop after a successful parse)
    """Raised in place of the job once the flags are parsed (BaseException: no `except Exception` catches it)."""

    def __init__(self, parser=None, namespace=None):
        super().__init__()
        self.parser, self.namespace = parser, namespace


class ParseFailed(BaseException):  # noqa: N818 (the parser's own error line is the message)
    pass


def _last_error_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["(no message)"])[-1].strip()


def _run_main(module: str, args: list[str]) -> tuple[BaseException | None, str]:
    """Runs `python -m module args` in-process; returns (what stopped it, its stderr)."""
    import runpy
    import warnings

    saved = sys.argv
    sys.argv = [module, *args]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runpy.run_module(module, run_name="__main__", alter_sys=False)
    except (Parsed, ParseFailed, SystemExit, Exception) as e:  # noqa: BLE001 (each is reported)
        return e, err.getvalue()
    finally:
        sys.argv = saved
    return None, err.getvalue()


def check_train(args: list[str], usage: bool) -> str | None:
    if usage:  # flag names only: --config, --workdir and --config.KEY
        for a in args:
            flag = a.strip("[]").split("=", 1)[0]
            if flag.startswith("-") and flag not in ("--config", "--workdir", "--help") and "--config." not in flag:
                return f"esrgan_jax.train has no flag {flag}"
        return None
    stop, err = _run_main("esrgan_jax.train", args)
    if isinstance(stop, Parsed):
        return None
    if isinstance(stop, SystemExit):
        return _last_error_line(err) if stop.code else "exited before train_and_evaluate"
    return f"{type(stop).__name__}: {stop}" if stop is not None else "returned before train_and_evaluate"


def check_argparse(module: str, args: list[str], usage: bool) -> str | None:
    flags_only = usage or any(a in FLAG_CHECK_ONLY for a in args)
    CHECK["flags_only"] = flags_only
    stop, err = _run_main(module, args)
    if isinstance(stop, ParseFailed):
        return str(stop)
    if not isinstance(stop, Parsed):
        what = f"{type(stop).__name__}: {stop}" if stop is not None else "returned"
        return f"{what} without parsing flags with argparse ({_last_error_line(err) if err.strip() else 'no stderr'})"
    if flags_only:
        known = stop.parser._option_string_actions
        for a in args:
            if a == "--":
                break
            flag = a.strip("[]").split("=", 1)[0]
            if flag.startswith("-") and not re.fullmatch(r"-\d[\d.]*", flag) and flag not in known:
                return f"unrecognized flag {flag}"
        return None
    if module == "benchmarks.memory.train":  # its REMAINDER is an esrgan_jax.train command line
        rest = list(stop.namespace.train_args)
        return check_train(rest[1:] if rest[:1] == ["--"] else rest, usage=False)
    return None


def check(module: str, args: list[str], usage: bool) -> str | None:
    """None when `python -m module args` would get past its flag parsing, else why not."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return f"no module named {module}"
    if spec.submodule_search_locations is not None and importlib.util.find_spec(module + ".__main__") is None:
        return f"{module} is a package without __main__"
    if module.split(".")[0] not in PROJECT or not args:
        return None  # another project's module, or a mention of the command: it exists
    if module == "esrgan_jax.train":
        return check_train(args, usage)
    return check_argparse(module, args, usage)


def child(result_path: str) -> None:
    import argparse

    depth = [0]  # inside an original parse: parse_args calls parse_known_args, and so on

    def patched(original):
        def parse(self, *args, **kwargs):
            if depth[0]:
                return original(self, *args, **kwargs)
            if CHECK.get("flags_only"):
                raise Parsed(self)
            err, depth[0] = io.StringIO(), 1
            try:
                with contextlib.redirect_stderr(err):
                    result = original(self, *args, **kwargs)
            except SystemExit as e:
                if e.code == 0:  # --help and the like
                    raise Parsed(self) from None
                raise ParseFailed(_last_error_line(err.getvalue())) from None
            finally:
                depth[0] = 0
            raise Parsed(self, result[0] if isinstance(result, tuple) else result)

        return parse

    for name in PARSE_METHODS:
        setattr(argparse.ArgumentParser, name, patched(getattr(argparse.ArgumentParser, name)))

    def train_and_evaluate(config, workdir):
        raise Parsed(None, {"workdir": str(workdir)})

    from esrgan_jax.training import trainer

    trainer.train_and_evaluate = train_and_evaluate
    results = [check(c["module"], c["args"], c["usage"]) for c in json.load(sys.stdin)]
    Path(result_path).write_text(json.dumps(results))


if __name__ == "__main__":
    child(sys.argv[1])
