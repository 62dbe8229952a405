//! `explain`: turn a build log into findings (the same [`Finding`] type as
//! `check`), grouped by symbol, names demangled.
//!
//! Formats: GNU ld/bfd (`in function` then `file:line: undefined reference
//! to`), gold, lld and rust-lld (`>>> referenced by`), mold, rustc's
//! `linking with cc failed` wrapper (`= note:` lines), Apple ld64
//! (`Undefined symbols for architecture`), MSVC (LNK2019/LNK2001) and
//! kernel modpost (`ERROR: modpost: "sym" [mod.ko] undefined!`, and the
//! older form), amid make noise, ANSI colours and CRLF.
//!
//! Streaming: the log is read in chunks, a line is capped at
//! [`MAX_LINE`] bytes, and the findings kept are capped, so memory stays
//! bounded whatever the input. Pure over a `Read`; prints nothing.
use std::collections::HashMap;
use std::io::{BufRead, Write};

use crate::model::{Finding, FindingKind, Reference};

/// Bytes of one line that are looked at; the rest of a longer line is
/// skipped.
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// Distinct symbols kept.
pub(crate) const MAX_SYMBOLS: usize = 100_000;
/// References kept per symbol.
pub(crate) const MAX_REFS: usize = 1_000;

/// What a log said.
#[derive(Debug, Default)]
pub(crate) struct Explained {
    /// One finding per symbol, in order of first mention.
    pub(crate) findings: Vec<Finding>,
    /// Lines read.
    pub(crate) lines: u64,
    /// Bytes read.
    pub(crate) bytes: u64,
    /// Findings or references dropped by the caps.
    pub(crate) dropped: u64,
}

#[derive(Default)]
struct Parser {
    out: Explained,
    index: HashMap<String, usize>,
    /// bfd: `OBJ: in function `F':` applies to the next lines.
    function: Option<(String, String)>,
    /// lld/mold: the symbol of the open `>>>` block, and its last reference.
    block: Option<usize>,
    /// ld64: inside `Undefined symbols for architecture`.
    in_ld64: bool,
    /// ld64: the symbol whose `referenced from:` list is open.
    ld64_symbol: Option<usize>,
    /// A line whose symbol name the linker wrapped onto the next lines (a
    /// name with newlines: `panic-never`'s, `no-panic`'s), and how many
    /// lines were joined to it.
    wrapped: Option<(String, usize)>,
}

/// Lines a wrapped symbol name may take.
const MAX_WRAPPED: usize = 8;

/// The line ends where a symbol name should be (`undefined symbol:`, or
/// `undefined reference to `` with no closing quote): the name is on the
/// next lines.
fn name_wrapped(line: &str) -> bool {
    let t = line.trim_end();
    if t.ends_with("undefined symbol:") {
        return true;
    }
    t.find("undefined reference to ")
        .is_some_and(|p| quoted(&t[p..]).is_none() && t[p..].contains(['`', '‘', '\'']))
}

/// `line` ends a wrapped name: lld's `>>>` block, or a new diagnostic.
fn ends_wrapped(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with(">>>")
        || t.starts_with("error:")
        || t.contains(": error:")
        || t.contains(": warning:")
        || t.contains("ld returned")
}

/// Remove ANSI escape sequences (CSI … final byte, and OSC … BEL/ST).
pub(crate) fn strip_ansi(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\x1b') {
        std::borrow::Cow::Owned(anstream::adapter::strip_str(s).to_string())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Demangle Rust (legacy, v0) and C++ (Itanium) names; ld64 prefixes one
/// underscore. Unmangled names come back as they are.
pub(crate) fn demangle_any(sym: &str) -> String {
    let s = sym.trim();
    // Already demangled by the linker, with the legacy hash: drop the hash.
    if let Some((head, h)) = s.rsplit_once("::h")
        && h.len() == 16
        && h.chars().all(|c| c.is_ascii_hexdigit())
        && !head.contains(' ')
    {
        return head.to_owned();
    }
    for cand in [s, s.strip_prefix('_').unwrap_or(s)] {
        if let Some(d) = crate::inspect::demangle(cand) {
            return d;
        }
        if cand.starts_with("_Z")
            && let Ok(d) = cpp_demangle::Symbol::new(cand)
            && let Ok(text) = d.demangle()
        {
            return text;
        }
    }
    s.to_owned()
}

/// `file:line` → (file, line); `file:(.text+0x22)` → (file, None).
fn file_line(loc: &str) -> (Option<String>, Option<u32>) {
    let loc = loc.trim();
    if loc.is_empty() {
        return (None, None);
    }
    if let Some((f, rest)) = loc.rsplit_once(':') {
        if let Ok(n) = rest.trim().parse::<u32>() {
            return (Some(f.to_owned()), Some(n));
        }
        if rest.starts_with('(') {
            return (Some(f.to_owned()), None);
        }
    }
    (Some(loc.to_owned()), None)
}

/// Text between the first pair of quotes: `x', ‘x’, 'x', "x".
fn quoted(s: &str) -> Option<&str> {
    let (open, rest) = s
        .char_indices()
        .find(|(_, c)| matches!(c, '`' | '\'' | '‘' | '"'))
        .map(|(i, c)| (c, &s[i + c.len_utf8()..]))?;
    let close: &[char] = match open {
        '`' => &['\'', '`'],
        '‘' => &['’'],
        '"' => &['"'],
        _ => &['\''],
    };
    let end = rest.find(close)?;
    Some(&rest[..end])
}

/// Drop a leading linker name: `/usr/bin/ld: `, `arm-none-eabi-ld: `.
fn strip_linker_prefix(s: &str) -> &str {
    let mut s = s.trim_start();
    while let Some(i) = s.find(": ") {
        let head = &s[..i];
        let word = head.rsplit('/').next().unwrap_or(head);
        if !head.contains(' ')
            && (word == "ld"
                || word.ends_with("-ld")
                || word.starts_with("ld.")
                || word.ends_with("lld")
                || word == "mold")
        {
            s = s[i + 2..].trim_start();
        } else {
            break;
        }
    }
    s
}

impl Parser {
    fn finding(&mut self, kind: FindingKind, symbol: &str, raw: &str) -> Option<usize> {
        // Spaces and CR around a name are the log's; a newline inside a
        // joined name is the name's.
        let symbol = symbol.trim_matches([' ', '\t', '\r']);
        if symbol.is_empty() {
            return None;
        }
        if let Some(&i) = self.index.get(symbol) {
            return Some(i);
        }
        if self.out.findings.len() >= MAX_SYMBOLS {
            self.out.dropped += 1;
            return None;
        }
        let mut f = Finding::symbol(kind, symbol.to_owned());
        f.message = Some(raw.chars().take(512).collect());
        self.index
            .insert(symbol.to_owned(), self.out.findings.len());
        self.out.findings.push(f);
        Some(self.out.findings.len() - 1)
    }

    fn reference(&mut self, i: Option<usize>, r: Reference) {
        let Some(i) = i else { return };
        let refs = &mut self.out.findings[i].referenced_by;
        if refs.contains(&r) {
            return;
        }
        if refs.len() >= MAX_REFS {
            self.out.dropped += 1;
            return;
        }
        refs.push(r);
    }

    fn line(&mut self, raw: &str) {
        let clean = strip_ansi(raw);
        let mut line: &str = clean.trim_end_matches(['\r', '\n']);
        // rustc's wrapper: `  = note: …` and its indented continuation.
        if let Some(rest) = line.trim_start().strip_prefix("= note: ") {
            line = rest;
        }
        // A name wrapped onto the next lines is joined back: one linker
        // error, one finding.
        if let Some((mut head, n)) = self.wrapped.take() {
            let quote_closed = !head.contains("undefined symbol:") && line.contains(['\'', '’']);
            if !ends_wrapped(line) && n < MAX_WRAPPED {
                head.push('\n');
                // rustc's wrapper indents the linker's continuation lines.
                head.push_str(line.trim_start_matches(' '));
                if quote_closed {
                    self.one(&head);
                } else {
                    self.wrapped = Some((head, n + 1));
                }
                return;
            }
            self.one(&head);
        }
        if name_wrapped(line) {
            self.wrapped = Some((line.to_owned(), 0));
            return;
        }
        // mold runs `>>>` lines together: treat each as its own line.
        if line.matches(">>>").count() > 1 {
            let owned = line.to_owned();
            for (n, part) in owned.split(">>>").enumerate() {
                if n == 0 {
                    if !part.trim().is_empty() {
                        self.one(part);
                    }
                } else {
                    self.one(&format!(">>>{part}"));
                }
            }
            return;
        }
        self.one(line);
    }

    fn one(&mut self, line: &str) {
        let t = line.trim();
        if t.is_empty() {
            return;
        }
        // ld64 block.
        if t.starts_with("Undefined symbols for architecture") {
            self.in_ld64 = true;
            self.ld64_symbol = None;
            return;
        }
        if self.in_ld64 {
            let cur = self.ld64_symbol;
            if let Some(rest) = t.strip_suffix(", referenced from:") {
                // Mach-O puts `_` before every C name.
                let sym = rest.trim().trim_matches('"');
                let sym = if sym.starts_with("__Z") {
                    sym
                } else {
                    sym.strip_prefix('_').unwrap_or(sym)
                };
                self.ld64_symbol = self.finding(FindingKind::UndefinedSymbol, sym, t);
                return;
            }
            if line.starts_with("  ") && !t.starts_with("ld:") {
                if let Some((func, obj)) = t.rsplit_once(" in ") {
                    let func = if func.starts_with("__Z") {
                        func
                    } else {
                        func.strip_prefix('_').unwrap_or(func)
                    };
                    self.reference(
                        cur,
                        Reference {
                            function: demangle_any(func),
                            object: Some(obj.to_owned()),
                            file: None,
                            line: None,
                        },
                    );
                }
                return;
            }
            self.in_ld64 = false;
        }
        // lld / mold blocks.
        if let Some(rest) = t.strip_prefix(">>>") {
            let rest = rest.trim();
            if let Some(loc) = rest.strip_prefix("referenced by ") {
                // `main.c:3 (/tmp/main.c:3)`: the full path is in parentheses.
                let loc = loc.trim();
                let loc = match (loc.find(" ("), loc.ends_with(')')) {
                    (Some(i), true) => &loc[i + 2..loc.len() - 1],
                    _ => loc,
                };
                let (file, line) = file_line(loc);
                let r = Reference {
                    function: String::new(),
                    object: None,
                    file,
                    line,
                };
                if let Some(i) = self.block {
                    let refs = &mut self.out.findings[i].referenced_by;
                    if refs.len() >= MAX_REFS {
                        self.out.dropped += 1;
                    } else {
                        refs.push(r);
                    }
                }
            } else if let Some((obj, func)) = rest.split_once(":(") {
                // `main.o:(helper)` or `x.o:(f) in archive libx.a`; the
                // one closing parenthesis is lld's (a C++ name ends in its
                // own: `f(std::string const&))`).
                let (func, archive) = match func.rsplit_once(") in archive ") {
                    Some((f, a)) => (f, Some(a.trim())),
                    None => (func.strip_suffix(')').unwrap_or(func), None),
                };
                let object = match archive {
                    Some(a) => format!("{a}({obj})"),
                    None => obj.to_owned(),
                };
                if let Some(i) = self.block {
                    let refs = &mut self.out.findings[i].referenced_by;
                    if let Some(last) = refs.last_mut().filter(|r| r.function.is_empty()) {
                        last.function = demangle_any(func);
                        last.object = Some(object);
                        // A second mention of the same place adds nothing.
                        let last = last.clone();
                        if refs[..refs.len() - 1].contains(&last) || refs.len() > MAX_REFS {
                            refs.pop();
                        }
                    }
                }
            }
            return;
        }
        if let Some(i) = t.find("undefined symbol:") {
            let sym = t[i + "undefined symbol:".len()..].trim_start_matches(' ');
            self.block = self.finding(FindingKind::UndefinedSymbol, sym, t);
            return;
        }
        self.block = None;
        // modpost.
        if let Some(rest) = t
            .strip_prefix("ERROR: ")
            .or_else(|| t.strip_prefix("WARNING: "))
        {
            let rest = rest.strip_prefix("modpost: ").unwrap_or(rest);
            if rest.ends_with("undefined!") {
                if let (Some(sym), Some(m0)) = (quoted(rest), rest.find('[')) {
                    let module = rest[m0 + 1..].split(']').next().unwrap_or_default();
                    let i = self.finding(FindingKind::UndefinedSymbol, sym, t);
                    self.reference(
                        i,
                        Reference {
                            function: String::new(),
                            object: Some(module.to_owned()),
                            file: None,
                            line: None,
                        },
                    );
                }
                return;
            }
        }
        // MSVC.
        if let Some(i) = t.find("unresolved external symbol ") {
            let obj = t.split(" : ").next().unwrap_or_default().trim();
            let rest = &t[i + "unresolved external symbol ".len()..];
            let (sym_part, func) = match rest.split_once(" referenced in function ") {
                Some((s, f)) => (s, Some(f.trim())),
                None => (rest, None),
            };
            // `"void __cdecl f(void)" (?f@@YAXXZ)`: the decorated name.
            let sym = match (sym_part.rfind(" ("), sym_part.ends_with(')')) {
                (Some(p), true) => &sym_part[p + 2..sym_part.len() - 1],
                _ => sym_part.trim_matches('"'),
            };
            let idx = self.finding(FindingKind::UndefinedSymbol, sym, t);
            self.reference(
                idx,
                Reference {
                    function: func.map(demangle_any).unwrap_or_default(),
                    object: Some(obj.to_owned()),
                    file: None,
                    line: None,
                },
            );
            return;
        }
        // GNU ld (bfd): `OBJ: in function `F':`.
        if let Some(p) = t.find(": in function ") {
            let obj = strip_linker_prefix(&t[..p]).to_owned();
            if let Some(f) = quoted(&t[p..]) {
                self.function = Some((obj, demangle_any(f)));
            }
            return;
        }
        // bfd and gold: `…: undefined reference to `sym'`.
        if let Some(p) = t.find("undefined reference to ") {
            let Some(sym) = quoted(&t[p..]) else { return };
            let head = t[..p].trim_end().trim_end_matches(':').trim_end();
            let head = head
                .strip_suffix(": error")
                .or_else(|| head.strip_suffix(":error"))
                .unwrap_or(head);
            let head = strip_linker_prefix(head);
            let (mut object, mut function) = match &self.function {
                Some((o, f)) => (Some(o.clone()), f.clone()),
                None => (None, String::new()),
            };
            // gold without debug info: `OBJ:SRC:function F`.
            let loc = if let Some(fp) = head.find(":function ") {
                function = demangle_any(&head[fp + ":function ".len()..]);
                let mut parts = head[..fp].splitn(2, ':');
                object = parts.next().map(str::to_owned);
                parts.next().unwrap_or_default()
            } else {
                head
            };
            let (file, line) = file_line(loc);
            let i = self.finding(FindingKind::UndefinedSymbol, sym, t);
            self.reference(
                i,
                Reference {
                    function,
                    object,
                    file,
                    line,
                },
            );
            return;
        }
        // Any other line from the linker ends a bfd `in function` context
        // only when it is a new diagnostic (make noise does not matter).
        if t.contains("error:") || t.contains("warning:") {
            self.function = None;
        }
    }
}

/// Parse a whole log from `input`.
pub(crate) fn explain(input: &mut dyn BufRead) -> std::io::Result<Explained> {
    let mut p = Parser::default();
    let mut line: Vec<u8> = Vec::with_capacity(4096);
    let mut skipping = false;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len();
        p.out.bytes += n as u64;
        let mut start = 0;
        while start < n {
            if let Some(off) = memchr::memchr(b'\n', &buf[start..]) {
                let seg = &buf[start..start + off];
                if !skipping {
                    let room = MAX_LINE.saturating_sub(line.len());
                    line.extend_from_slice(&seg[..seg.len().min(room)]);
                }
                p.out.lines += 1;
                p.line(&String::from_utf8_lossy(&line));
                line.clear();
                skipping = false;
                start += off + 1;
            } else {
                let seg = &buf[start..];
                if !skipping {
                    let room = MAX_LINE.saturating_sub(line.len());
                    line.extend_from_slice(&seg[..seg.len().min(room)]);
                    skipping = line.len() >= MAX_LINE;
                }
                start = n;
            }
        }
        input.consume(n);
    }
    if !line.is_empty() {
        p.out.lines += 1;
        p.line(&String::from_utf8_lossy(&line));
    }
    if let Some((head, _)) = p.wrapped.take() {
        p.one(&head);
    }
    // lld's `>>> referenced by` with no object line still names the place.
    for f in &mut p.out.findings {
        f.referenced_by
            .retain(|r| !(r.function.is_empty() && r.file.is_none() && r.object.is_none()));
        f.referenced_by.dedup();
    }
    Ok(p.out)
}

/// Print findings grouped by symbol, for people.
pub(crate) fn print_human(e: &Explained, out: &mut dyn Write) -> std::io::Result<()> {
    if e.findings.is_empty() {
        writeln!(out, "no undefined symbols found ({} lines)", e.lines)?;
        return Ok(());
    }
    for f in &e.findings {
        let sym = f.symbol.as_deref().unwrap_or_default();
        let pretty = demangle_any(sym);
        let shown = if pretty == sym {
            crate::model::shown(sym).into_owned()
        } else {
            format!(
                "{}  [{}]",
                crate::model::shown(&pretty),
                crate::model::shown(sym)
            )
        };
        let n = f.referenced_by.len();
        writeln!(
            out,
            "{shown}: {} ({n} reference{})",
            f.kind,
            if n == 1 { "" } else { "s" }
        )?;
        for r in &f.referenced_by {
            let func = if r.function.is_empty() {
                "?".into()
            } else {
                crate::model::shown(&r.function)
            };
            writeln!(out, "    {func}{}{}", r.at(), r.in_object())?;
        }
    }
    if e.dropped > 0 {
        writeln!(out, "({} more references not kept)", e.dropped)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_and_quotes() {
        assert_eq!(strip_ansi("a\x1b[0;31merror: \x1b[0mb"), "aerror: b");
        assert_eq!(quoted("to `flush'"), Some("flush"));
        assert_eq!(quoted("to ‘flush’"), Some("flush"));
        assert_eq!(strip_linker_prefix("/usr/bin/ld: main.o"), "main.o");
        assert_eq!(
            strip_linker_prefix("arm-none-eabi-ld: /x/main.c:4"),
            "/x/main.c:4"
        );
    }

    /// lld prints a name that starts with a newline (panic-never's) as
    /// `undefined symbol: ` and the rest on the next line: one finding,
    /// the name exact.
    #[test]
    fn a_name_wrapped_onto_the_next_line_is_one_finding() {
        let log = "rust-lld: error: undefined symbol: \nerror(panic-never): your program contains at least one panicking branch\n>>> referenced by lib.rs:54 (src/lib.rs:54)\n>>>               panic_never-1.o:(rust_begin_unwind) in archive libpanic_never.rlib\n";
        let e = explain(&mut log.as_bytes()).unwrap();
        assert_eq!(e.findings.len(), 1, "{e:#?}");
        let f = &e.findings[0];
        assert_eq!(
            f.symbol.as_deref(),
            Some("\nerror(panic-never): your program contains at least one panicking branch")
        );
        assert_eq!(f.referenced_by[0].function, "rust_begin_unwind");
        let gnu = "/usr/bin/ld: lib.rs:54: undefined reference to `\nerror(panic-never): a panicking branch'\ncollect2: error: ld returned 1 exit status\n";
        let e = explain(&mut gnu.as_bytes()).unwrap();
        assert_eq!(e.findings.len(), 1, "{e:#?}");
        assert_eq!(
            e.findings[0].symbol.as_deref(),
            Some("\nerror(panic-never): a panicking branch")
        );
    }

    #[test]
    fn a_long_line_is_capped_not_kept() {
        let mut log = vec![b'x'; 3 * MAX_LINE];
        log.extend_from_slice(b"\nld.lld: error: undefined symbol: foo\n");
        let e = explain(&mut std::io::Cursor::new(log)).unwrap();
        assert_eq!(e.findings.len(), 1);
        assert_eq!(e.lines, 2);
    }
}
