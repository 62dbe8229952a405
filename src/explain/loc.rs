//! The small grammar every linker family shares: a linker's name in front
//! of its lines (`arm-none-eabi-ld: `, `rust-lld: error: `), quoted names,
//! and the places it names (`core.c:(.text+0x1a4)`, `fs/blob.c:146`,
//! `ring.o:(ring_commit) in archive libring.a`), told apart so that an
//! object name, a `(.text+0x…)` offset or a code-generation unit is never
//! taken for a source file.
//!
//! Pure string functions; nothing here keeps state between lines.
use super::demangle_any;

/// How a linker line is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Severity {
    /// `error:` or `fatal:` (or GNU ld's unmarked errors).
    Error,
    /// `warning:`.
    Warning,
    /// `note:` / `info:`.
    Note,
    /// No marker.
    None,
}

/// A line split after the linker's name: `("ld.lld", Error, "undefined
/// symbol: x")`. `tool` is `None` when the line does not start with a
/// linker's name.
#[derive(Clone, Copy)]
pub(super) struct Split<'a> {
    pub(super) tool: Option<&'a str>,
    pub(super) severity: Severity,
    pub(super) rest: &'a str,
}

/// Is `word` (a path or a name) a linker: `ld`, `arm-none-eabi-ld`,
/// `ld.bfd`, `ld.gold`, `ld.lld`, `rust-lld`, `lld-link`, `wasm-ld`,
/// `ld64.lld`, `mold`?
pub(super) fn is_linker_name(word: &str) -> bool {
    let w = basename(word);
    let w = w.strip_suffix(".exe").unwrap_or(w);
    matches!(w, "ld" | "lld" | "mold" | "gold" | "ld64")
        || w.ends_with("-ld")
        || w.ends_with("-lld")
        || w.starts_with("ld.")
        || w.contains("-ld.")
        || w.starts_with("lld-")
        || w.starts_with("ld64.")
}

/// Split a linker's name and severity off a line.
pub(super) fn split(line: &str) -> Split<'_> {
    let mut tool = None;
    let mut rest = line.trim_start();
    // The first `: ` (or a `:` that ends the line), found with memchr: this
    // runs on every line of a log.
    let b = rest.as_bytes();
    let colon = memchr::memchr_iter(b':', b).find(|&i| matches!(b.get(i + 1), Some(b' ') | None));
    if let Some(i) = colon {
        let head = &rest[..i];
        if !head.contains(' ') && is_linker_name(head) {
            tool = Some(head);
            rest = rest.get(i + 2..).unwrap_or_default().trim_start();
        }
    }
    let (severity, rest) = severity(rest);
    Split {
        tool,
        severity,
        rest,
    }
}

/// `error: x` → (Error, `x`).
pub(super) fn severity(s: &str) -> (Severity, &str) {
    for (word, sev) in [
        ("error:", Severity::Error),
        ("fatal:", Severity::Error),
        ("warning:", Severity::Warning),
        ("note:", Severity::Note),
        ("info:", Severity::Note),
    ] {
        if let Some(rest) = s.strip_prefix(word) {
            return (sev, rest.trim_start());
        }
    }
    (Severity::None, s)
}

/// The last path component.
pub(super) fn basename(p: &str) -> &str {
    p.rsplit(['/', '\\']).next().unwrap_or(p)
}

/// The first quoted text in `s` (`` `x' ``, `'x'`, `‘x’`, `"x"`) and what
/// follows its closing quote.
pub(super) fn quoted(s: &str) -> Option<(&str, &str)> {
    let (open, start) = s
        .char_indices()
        .find(|(_, c)| matches!(c, '`' | '\'' | '‘' | '"'))
        .map(|(i, c)| (c, i + c.len_utf8()))?;
    let close: &[char] = match open {
        '`' => &['\'', '`'],
        '‘' => &['’'],
        '"' => &['"'],
        _ => &['\''],
    };
    let rest = &s[start..];
    let end = rest.find(close)?;
    let after = &rest[end..];
    let after = &after[after.chars().next().map_or(0, char::len_utf8)..];
    Some((&rest[..end], after))
}

/// An object file or an archive member, not a source file: `a.o`,
/// `lib.a(x.o)`, `main.obj`, `x.ko`, `fw.elf`, `libfoo.so.1`.
pub(super) fn is_object(name: &str) -> bool {
    let n = name.trim();
    if n.ends_with(')') && n.contains('(') {
        return true;
    }
    let base = basename(n);
    let ext = base
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    matches!(
        ext.as_str(),
        "o" | "obj"
            | "ko"
            | "lo"
            | "a"
            | "so"
            | "rlib"
            | "elf"
            | "out"
            | "exe"
            | "dll"
            | "lib"
            | "axf"
            | "dylib"
            | "bc"
    ) || base.contains(".so.")
}

/// A Rust code-generation unit's name (what an object without line
/// information carries as its file symbol): `foo.1a2b3c-cgu.0`,
/// `…rcgu.o`, or an older unit's hash-like `29qlfu0bgl5pi1ii`.
pub(super) fn is_codegen_unit(name: &str) -> bool {
    let base = basename(name.trim());
    if base.contains("-cgu.") || base.ends_with(".rcgu.o") {
        return true;
    }
    let b = base.as_bytes();
    (12..=40).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_lowercase)
}

/// The Rust crate an object belongs to: `…/libboardpac-0c1d….rlib(…)` or
/// `boardpac-0c1d….boardpac.….rcgu.o` → `boardpac`.
pub(super) fn crate_of(object: &str) -> Option<String> {
    let hashed = |s: &str| -> Option<String> {
        let (name, hash) = s.rsplit_once('-')?;
        (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && !name.is_empty())
            .then(|| name.to_owned())
    };
    let (archive, member) = match object.split_once('(') {
        Some((a, m)) => (Some(a), m.strip_suffix(')').unwrap_or(m)),
        None => (None, object),
    };
    if let Some(stem) = archive
        .map(basename)
        .and_then(|b| b.strip_prefix("lib")?.strip_suffix(".rlib"))
    {
        return hashed(stem);
    }
    let base = basename(member);
    if base.ends_with(".rcgu.o") {
        return hashed(base.split('.').next()?);
    }
    None
}

/// Where a linker says something is, as far as it says it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Site {
    /// The function, demangled.
    pub(super) function: Option<String>,
    /// The object, or `archive(member)`.
    pub(super) object: Option<String>,
    /// The source file.
    pub(super) file: Option<String>,
    /// The source line.
    pub(super) line: Option<u32>,
    /// `.text+0x1a4`: where in the object, when nothing better is given.
    pub(super) offset: Option<String>,
}

impl Site {
    /// Set `file` from what a linker gave as a source file, unless it is
    /// an object (then it is the object) or a code-generation unit.
    fn source(&mut self, name: &str) {
        let name = name.trim();
        if name.is_empty() || is_codegen_unit(name) {
            return;
        }
        if is_object(name) {
            if self.object.is_none() {
                self.object = Some(name.to_owned());
            }
            return;
        }
        self.file = Some(name.to_owned());
    }
}

/// `(.text+0x1a4)` (or `(.ARM.exidx)`) at the end of `s`: the index of its
/// opening parenthesis.
fn trailing_offset(s: &str) -> Option<usize> {
    let body = s.strip_suffix(')')?;
    let open = body.rfind('(')?;
    let inner = &body[open + 1..];
    (inner.starts_with('.') || inner.contains("+0x")).then_some(open)
}

/// Split on `:` outside parentheses, keeping a drive letter (`C:\x.o`).
fn colon_parts(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b':' if depth == 0 => {
                let drive = i == start + 1
                    && bytes[start].is_ascii_alphabetic()
                    && matches!(bytes.get(i + 1), Some(b'\\' | b'/'));
                if !drive {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A GNU ld / gold place, as printed before its message:
/// `core.c:(.text+0x1a4)`, `kernel/ring.c:212:(.text+0x4a10)`,
/// `(.text+0x2dc)`, `a.o:(.ARM.exidx+0x0)`, `obj/init.o:init.c:(.text+0x40)`,
/// `/tmp/main.c:3`, gold's `lib.a(view.o):src/view.c:function view_draw`.
pub(super) fn gnu_site(head: &str) -> Site {
    let mut site = Site::default();
    let mut s = head.trim().trim_end_matches(':').trim_end();
    if let Some(open) = trailing_offset(s) {
        site.offset = Some(s[open + 1..s.len() - 1].to_owned());
        s = s[..open].trim_end().trim_end_matches(':');
    }
    if let Some(p) = s.find(":function ") {
        site.function = Some(demangle_any(&s[p + ":function ".len()..]));
        s = &s[..p];
    }
    if s.is_empty() {
        return site;
    }
    let mut parts = colon_parts(s);
    if parts.len() >= 2
        && let Some(l) = parts.last().and_then(|p| p.trim().parse::<u32>().ok())
    {
        site.line = Some(l);
        parts.pop();
    }
    if parts.len() >= 2 && is_object(parts[0]) {
        site.object = Some(parts[0].trim().to_owned());
        site.source(&parts[1..].join(":"));
    } else {
        site.source(&parts.join(":"));
    }
    if site.file.is_none() {
        site.line = None;
    }
    site
}

/// `file:line` → (`file`, line); `file` → (`file`, None).
fn file_line(s: &str) -> (&str, Option<u32>) {
    match s.rsplit_once(':') {
        Some((f, l)) if !f.is_empty() => match l.trim().parse::<u32>() {
            Ok(n) => (f, Some(n)),
            Err(_) => (s, None),
        },
        _ => (s, None),
    }
}

/// lld's object line: `main.o:(helper)`, `link.o:(.text+0xC)`,
/// `x.o:(f) in archive libx.a`, `a.o:(function f: .text+0xf4f)`, mold's
/// `a.o:(.text._ZN…E)`. `None` for a line cut off (at the end of a
/// truncated log) or not of this form: a cut name is never a function.
pub(super) fn lld_object(s: &str) -> Option<Site> {
    let (obj, rest) = s.trim().split_once(":(")?;
    let (inner, archive) = match rest.rsplit_once(") in archive ") {
        Some((i, a)) => (i, Some(a.trim())),
        None => (rest.strip_suffix(')')?, None),
    };
    if inner.matches('(').count() != inner.matches(')').count() || inner.is_empty() {
        return None;
    }
    let object = match archive {
        Some(a) => format!("{a}({obj})"),
        None => obj.to_owned(),
    };
    let mut site = Site {
        object: Some(object),
        ..Site::default()
    };
    if let Some((f, off)) = inner
        .strip_prefix("function ")
        .and_then(|r| r.rsplit_once(": "))
    {
        site.function = Some(demangle_any(f));
        site.offset = Some(off.to_owned());
    } else if inner.starts_with('.') {
        // A section: `-ffunction-sections` names it after its function.
        let named = inner
            .split_once('+')
            .map_or(inner, |(sec, _)| sec)
            .strip_prefix(".text.")
            .filter(|n| n.starts_with("_Z") || n.starts_with("_R"));
        site.function = named
            .map(demangle_any)
            .filter(|d| Some(d.as_str()) != named);
        site.offset = Some(inner.to_owned());
    } else {
        site.function = Some(demangle_any(inner));
    }
    Some(site)
}

/// lld's source part of `>>> referenced by X` / `>>> defined at X`:
/// `main.c:3 (/tmp/main.c:3)` (the full path is in parentheses), `r.rs:2`,
/// `main.c`; or the object line itself when there is no source
/// (`link.o:(.text+0xC)`). A code-generation unit is no source file.
pub(super) fn lld_source(s: &str) -> Site {
    let s = s.trim();
    if s.contains(":(") {
        return lld_object(s).unwrap_or_default();
    }
    let loc = match (s.find(" ("), s.ends_with(')')) {
        (Some(i), true) => &s[i + 2..s.len() - 1],
        (Some(i), false) => &s[..i],
        _ => s,
    };
    let (file, line) = file_line(loc);
    let mut site = Site::default();
    site.source(file);
    if site.file.is_some() {
        site.line = line;
    }
    site
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gnu(s: &str) -> (Option<String>, Option<String>, Option<u32>, Option<String>) {
        let x = gnu_site(s);
        (x.object, x.file, x.line, x.offset)
    }

    #[test]
    fn gnu_places_keep_files_objects_and_offsets_apart() {
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            gnu("kernel/ring.c:212:(.text+0x4a10)"),
            (None, s("kernel/ring.c"), Some(212), s(".text+0x4a10"))
        );
        assert_eq!(gnu("(.text+0x2dc)"), (None, None, None, s(".text+0x2dc")));
        assert_eq!(
            gnu("a.o:(.ARM.exidx+0x0)"),
            (s("a.o"), None, None, s(".ARM.exidx+0x0"))
        );
        assert_eq!(
            gnu("build/obj/init.o:init.c:(.text+0x40)"),
            (s("build/obj/init.o"), s("init.c"), None, s(".text+0x40"))
        );
        assert_eq!(
            gnu("/tmp/main.c:3"),
            (None, s("/tmp/main.c"), Some(3), None)
        );
        assert_eq!(
            gnu("C:\\b\\x.o:(.text+0x1)"),
            (s("C:\\b\\x.o"), None, None, s(".text+0x1"))
        );
        let g = gnu_site("lib/libview.a(view.o):src/view.c:function view_draw");
        assert_eq!(g.object.as_deref(), Some("lib/libview.a(view.o)"));
        assert_eq!(g.file.as_deref(), Some("src/view.c"));
        assert_eq!(g.function.as_deref(), Some("view_draw"));
    }

    #[test]
    fn lld_places() {
        let x = lld_object("ring.o:(ring_commit) in archive libring.a").unwrap();
        assert_eq!(x.object.as_deref(), Some("libring.a(ring.o)"));
        assert_eq!(x.function.as_deref(), Some("ring_commit"));
        assert!(lld_object("ring.o:(ring_co").is_none(), "a cut line");
        let x = lld_object("link.o:(.text+0xC)").unwrap();
        assert_eq!((x.function, x.offset.as_deref()), (None, Some(".text+0xC")));
        let x = lld_object("a.o:(function f: .text+0xf4f)").unwrap();
        assert_eq!(x.function.as_deref(), Some("f"));
        let x = lld_source("boardpac.7f3a21c9e0d4b6a2-cgu.0");
        assert_eq!(x, Site::default(), "a codegen unit is not a file");
        let x = lld_source("main.c:3 (/tmp/main.c:3)");
        assert_eq!((x.file.as_deref(), x.line), (Some("/tmp/main.c"), Some(3)));
    }

    #[test]
    fn names_and_crates() {
        assert!(is_linker_name("/usr/bin/arm-none-eabi-ld"));
        assert!(is_linker_name("rust-lld") && is_linker_name("ld.gold"));
        assert!(!is_linker_name("collect2") && !is_linker_name("make"));
        assert!(is_codegen_unit("29qlfu0bgl5pi1ii"));
        assert!(!is_codegen_unit("main.c"));
        assert_eq!(
            crate_of("/x/libboardpac-0c1d2e3f4a5b6c7d.rlib(boardpac-0c1d2e3f4a5b6c7d.boardpac.7f3a-cgu.0.rcgu.o)")
                .as_deref(),
            Some("boardpac")
        );
        assert_eq!(quoted("to `flush'"), Some(("flush", "")));
        assert_eq!(quoted("to ‘flush’ x"), Some(("flush", " x")));
    }
}
