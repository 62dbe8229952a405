#!/usr/bin/env python3
"""Import cycles between linkmatrix's top-level modules.

An edge A -> B is any `crate::B` path (a `use crate::B::…`, a grouped
`use crate::{B, …}`, or an inline `crate::B::f()`) written in a file of
module A (`src/A.rs` or anything under `src/A/`), outside `//` comments,
test code included. `src/lib.rs` (the root, which declares every module),
`src/main.rs` and `src/bin/` are not modules and are left out. A cycle is
a strongly connected component of more than one module.

Usage: scripts/modcycles.py [--edges] [SRC_DIR]   (default: src)
Prints each cycle with the file:line of every edge inside it; exits 1
if there is any, 0 if none. `--edges` also prints the whole edge list.
"""
import os
import re
import sys


def module_of(rel):
    """`config/raw.rs` -> `config`; `plan.rs` -> `plan`; root files -> None."""
    parts = rel.split(os.sep)
    if parts[0] in ("lib.rs", "main.rs", "bin"):
        return None
    return parts[0][:-3] if len(parts) == 1 else parts[0]


def strip_comments(line):
    """The line without a `//` comment (a `//` inside a string is rare enough
    in this tree to ignore; block comments are not used)."""
    i = line.find("//")
    return line if i < 0 else line[:i]


def targets(text):
    """Each name after a `crate::` in `text`: `crate::a::b` gives `a`,
    `crate::{a::b, c}` gives `a` and `c`."""
    out = []
    for m in re.finditer(r"\bcrate::", text):
        rest = text[m.end():]
        if rest.startswith("{"):
            out.extend(group_heads(rest))
        elif name := re.match(r"(\w+)", rest):
            out.append(name.group(1))
    return out


def group_heads(rest):
    """First word of every top-level item in `{a::b, c::{d, e}, f}`."""
    heads, depth, item = [], 0, ""
    for ch in rest:
        if ch == "{":
            depth += 1
            if depth == 1:
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and ch == ",":
            heads.append(item)
            item = ""
            continue
        item += ch
    heads.append(item)
    return [m.group(1) for h in heads if (m := re.match(r"\s*(\w+)", h))]


def edges(src):
    """{(a, b): [file:line, …]} for every edge a -> b, a != b."""
    found = {}
    # A name is a module if it is a file or folder of `src` (`crate::X`
    # naming an item of the root, e.g. a function in lib.rs, is no edge).
    modules = {
        module_of(e if e.endswith(".rs") else os.path.join(e, "mod.rs"))
        for e in os.listdir(src)
        if e.endswith(".rs") or os.path.isdir(os.path.join(src, e))
    } - {None}
    for root, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            mod = module_of(os.path.relpath(path, src))
            if mod is None:
                continue
            lines = open(path, encoding="utf-8").read().split("\n")
            # Join a multi-line `use crate::{…};` into its first line.
            i = 0
            while i < len(lines):
                start, text = i, strip_comments(lines[i])
                while text.count("{") > text.count("}") and "crate::{" in text and i + 1 < len(lines):
                    i += 1
                    text += " " + strip_comments(lines[i])
                for t in targets(text):
                    if t != mod and t in modules:
                        found.setdefault((mod, t), []).append(f"{path}:{start + 1}")
                i += 1
    return found


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main(argv):
    show = "--edges" in argv
    args = [a for a in argv if a != "--edges"]
    src = args[0] if args else "src"
    found = edges(src)
    graph = {}
    for a, b in found:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    if show:
        for (a, b), at in sorted(found.items()):
            print(f"{a} -> {b}  ({len(at)}: {at[0]})")
    bad = cycles(graph)
    for comp in bad:
        print("cycle:", " <-> ".join(comp))
        for (a, b), at in sorted(found.items()):
            if a in comp and b in comp:
                print(f"  {a} -> {b}: {', '.join(at)}")
    mods = len(graph)
    print(f"{len(found)} edges between {mods} modules, {len(bad)} cycle(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
