#!/usr/bin/env python3
"""Function lengths, parameter counts and file lengths in Rust sources.

A function's length is its lines from the line with `fn` to the line
with its closing brace, both counted (attributes and doc comments above
it are not; a nested function or closure counts in its own length and in
the one around it). The body's braces are matched with strings, raw
strings, character literals and comments skipped. A declaration without
a body (`fn f();` in a trait) is not a function here. Parameters are the
top-level commas of the parameter list, `self` in any form not counted.

Usage: scripts/fnlen.py [--top N] [--check] [--max-lines N]
                        [--max-file-lines N] [--max-params N] PATH...
PATHs are `.rs` files or directories (searched for `.rs` files). Prints
the N longest functions (default 12) as `lines params file:line name`,
the most parameters, and the longest file. Each `--max-…` is a limit:
every breach is printed and the exit status is 1 (`--max-params` counts
only functions under `src/check/`). `--check` sets the project's limits
(CONVENTIONS, README "Development"): 120 lines a function, 700 a file,
5 parameters in `check/`.
"""
import os
import re
import sys

# The project's limits (`--check`).
MAX_LINES = 120
MAX_PARAMS = 5
PARAMS_UNDER = "src/check/"
MAX_FILE_LINES = 700

FN = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?"
    r'(?:extern\s+"[^"]*"\s+)?fn\s+(\w+)'
)


def skip_literal(text, i):
    """If a string, raw string, character literal or comment starts at
    `i`, the index just past it; else None."""
    if text.startswith("//", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        return len(text) if end < 0 else end + 2
    m = re.match(r'b?r(#*)"', text[i:i + 300])
    if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
        close = '"' + m.group(1)
        end = text.find(close, i + m.end())
        return len(text) if end < 0 else end + len(close)
    if text[i] == '"' or text.startswith('b"', i):
        j = i + (2 if text[i] == "b" else 1)
        while j < len(text) and text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        return j + 1
    if text[i] == "'":
        # A character literal ('{', '\'', '\u{7b}'), not a lifetime ('a).
        m = re.match(r"'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:i + 12])
        if m:
            return i + m.end()
    return None


def code(text, start):
    """(index, character) from `start` on, strings, raw strings,
    character literals and comments skipped."""
    i = start
    while i < len(text):
        skip = skip_literal(text, i)
        if skip is not None:
            i = skip
            continue
        yield i, text[i]
        i += 1


def body_end(text, start):
    """The index of the brace closing the `{` at `start`."""
    depth = 0
    for i, c in code(text, start):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text) - 1


def signature_end(text, start):
    """The index of the `{` opening the body, or of the `;` ending a
    declaration, for the function whose `fn` is at `start`: the first
    one outside the parameter list's parentheses."""
    paren = 0
    for i, c in code(text, start):
        if c in "([":
            paren += 1
        elif c in ")]":
            paren -= 1
        elif paren == 0 and c in "{;":
            return i
    return len(text) - 1


def params(sig):
    """The parameter count of a signature `fn name<…>(…) -> …`."""
    at = sig.index("(")
    depth, item, items = 0, "", []
    for c in sig[at + 1:]:
        if c in "(<[{":
            depth += 1
        elif c in ")]}" or (c == ">" and not item.endswith("-")):
            if depth == 0:
                break
            depth -= 1
        if c == "," and depth == 0:
            items.append(item)
            item = ""
            continue
        item += c
    items.append(item)
    selfs = {"self", "&self", "&mut self", "mut self"}
    return sum(1 for x in items if x.strip() and re.sub(r"&'\w+ ", "&", x.strip()) not in selfs
               and not x.strip().startswith(("self:", "mut self:")))


def functions(path):
    """(lines, params, line, name) for each function in the file at `path`."""
    text = open(path, encoding="utf-8").read()
    starts = [0]
    for i, c in enumerate(text):
        if c == "\n":
            starts.append(i + 1)

    def line_of(index):
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= index:
                lo = mid
            else:
                hi = mid - 1
        return lo

    out = []
    for n, start in enumerate(starts):
        end_of_line = text.find("\n", start)
        line = text[start:end_of_line if end_of_line >= 0 else len(text)]
        m = FN.match(line)
        if not m:
            continue
        fn_at = start + line.index("fn " + m.group(1))
        open_at = signature_end(text, fn_at)
        if text[open_at] != "{":
            continue
        close_at = body_end(text, open_at)
        out.append((line_of(close_at) - n + 1, params(text[fn_at:open_at]), n + 1, m.group(1)))
    return out


def sources(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f.endswith(".rs"):
                        yield os.path.join(root, f)
        else:
            yield p


def main(argv):
    top, paths = 12, []
    limits = {"lines": None, "file": None, "params": None}
    args = iter(argv)
    for a in args:
        if a == "--top":
            top = int(next(args))
        elif a == "--check":
            limits = {"lines": MAX_LINES, "file": MAX_FILE_LINES, "params": MAX_PARAMS}
        elif a == "--max-lines":
            limits["lines"] = int(next(args))
        elif a == "--max-file-lines":
            limits["file"] = int(next(args))
        elif a == "--max-params":
            limits["params"] = int(next(args))
        else:
            paths.append(a)
    rows, files = [], []
    for path in sources(paths):
        rows.extend((n, k, path, line, name) for n, k, line, name in functions(path))
        with open(path, encoding="utf-8") as f:
            files.append((sum(1 for _ in f), path))
    if not rows:
        print("no functions found", file=sys.stderr)
        return 2
    rows.sort(key=lambda r: (-r[0], r[2], r[3]))
    for n, k, path, line, name in rows[:top]:
        print(f"{n:4} lines {k} params  {path}:{line} {name}")
    n, k, path, line, name = max(rows, key=lambda r: r[1])
    print(f"most parameters: {k} ({path}:{line} {name})")
    lines, path = max(files)
    print(f"longest file: {lines} lines ({path}); {len(rows)} functions in {len(files)} files")
    bad = []
    if limits["lines"] is not None:
        bad += [f"{path}:{line} {name}: {n} lines (over {limits['lines']})"
                for n, k, path, line, name in rows if n > limits["lines"]]
    if limits["params"] is not None:
        bad += [f"{path}:{line} {name}: {k} parameters (over {limits['params']} in {PARAMS_UNDER})"
                for n, k, path, line, name in rows
                if k > limits["params"] and PARAMS_UNDER in path.replace(os.sep, "/")]
    if limits["file"] is not None:
        bad += [f"{path}: {lines} lines (over {limits['file']})"
                for lines, path in files if lines > limits["file"]]
    for b in bad:
        print("over the limit:", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
