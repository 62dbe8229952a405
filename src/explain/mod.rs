//! `explain`: turn a build log into findings (the same [`Finding`] type,
//! and the same kinds, as `check`): undefined, duplicate and relocation
//! overflowing symbols, memory regions overflowed, linker-script
//! assertions, missing inputs, and any other linker error as a
//! `link-error` with its lines.
//!
//! One small reader per linker family, each in its own file: GNU ld/bfd and
//! gold (`gnu.rs`), lld and mold 2.x (`lld.rs`), mold's own forms
//! (`mold.rs`), Apple ld64 (`ld64.rs`), MSVC link.exe (`msvc.rs`), kernel
//! modpost (`modpost.rs`), and what none of them names but still shows a
//! failed link (`other.rs`: other errors, script assertions, the drivers'
//! summaries). Before a line reaches them it is cleaned of ANSI colours,
//! CR, the robots' `>>`/`>> ` quoting, rustc's `= note:` wrapper and
//! MSBuild's `1>` prefix; the places they name are parsed by `loc.rs`, and
//! `collect.rs` keeps the findings. A log that shows a failed link always
//! yields a finding (then [`Explained::failed`]), so `explain` never exits
//! 0 on one.
//!
//! Streaming: the log is read in chunks, a line is capped at
//! [`MAX_LINE`] bytes, and the findings kept are capped, so memory stays
//! bounded whatever the input. Pure over a `Read`; prints nothing.
use std::io::{BufRead, Write};

use crate::model::{Finding, FindingKind, escape_controls};

mod collect;
mod gnu;
mod ld64;
mod lld;
mod loc;
mod modpost;
mod mold;
mod msvc;
mod other;

/// Bytes of one line that are looked at; the rest of a longer line is
/// skipped.
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// Findings kept.
pub(crate) const MAX_SYMBOLS: usize = 100_000;
/// References (or definitions) kept per finding.
pub(crate) const MAX_REFS: usize = 1_000;

/// What a log said.
#[derive(Debug, Default)]
pub(crate) struct Explained {
    /// One finding per (kind, symbol / region / input / message), in order
    /// of first mention.
    pub(crate) findings: Vec<Finding>,
    /// The log shows a failed link (then `findings` is not empty: a
    /// failure nothing names is one `link-error` with the lines that show
    /// it).
    pub(crate) failed: bool,
    /// Lines read.
    pub(crate) lines: u64,
    /// Bytes read.
    pub(crate) bytes: u64,
    /// Findings or references dropped by the caps.
    pub(crate) dropped: u64,
}

/// One log line as the families see it.
struct Line<'a> {
    /// The text, cleaned and trimmed.
    text: &'a str,
    /// It began with white space (ld64 indents the entries of its lists).
    indented: bool,
    /// The text split after a linker's name and severity.
    split: loc::Split<'a>,
}

/// Words one of which every line a family starts something with holds,
/// unless it starts with a linker's name (`ld:`, `rust-lld:`): a line
/// without any (make's noise, compiler output) is skipped in one scan
/// instead of each family's searches. Keep in step with the families'
/// `take`.
const KEYWORDS: &[&str] = &[
    "LNK",
    "Undefined symbols",
    "duplicate symbol",
    "ERROR:",
    "WARNING:",
    "error:",
    "fatal:",
    "undefined symbol",
    "undefined reference",
    "multiple definition",
    "defined here",
    "definition here",
    "in function",
    "In function",
    "will not fit",
    "overflowed by",
    "not within region",
    "relocation",
    "cannot find",
    "cannot open",
    "ld returned",
    "linker command failed",
    "link errors found",
];

/// One pass over a line for every keyword.
static KEYWORD_SCAN: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| aho_corasick::AhoCorasick::new(KEYWORDS).ok());

/// A linker family's reader.
trait Family {
    /// A line that continues what this family's last line opened (a
    /// `>>>` block, the lines of a list, an `in function` context).
    /// `false` when it does not; then [`Family::close`] is called.
    fn more(&mut self, _line: &Line<'_>, _out: &mut collect::Collector) -> bool {
        false
    }
    /// A line that starts something of this family's.
    fn take(&mut self, line: &Line<'_>, out: &mut collect::Collector) -> bool;
    /// What was open has ended (another line came, or the log ended).
    fn close(&mut self, _out: &mut collect::Collector) {}
}

struct Parser {
    out: collect::Collector,
    /// In the order they are asked; `other` last.
    families: Vec<Box<dyn Family>>,
    /// The family whose line came last.
    owner: Option<usize>,
}

impl Default for Parser {
    fn default() -> Self {
        Self {
            out: collect::Collector::default(),
            families: vec![
                Box::new(msvc::Msvc),
                Box::new(ld64::Ld64::default()),
                Box::new(modpost::Modpost),
                Box::new(mold::Mold),
                Box::new(lld::Lld::default()),
                Box::new(gnu::Gnu::default()),
                Box::new(other::Other::default()),
            ],
            owner: None,
        }
    }
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

/// A raw line without what wraps it: the robots' `>>`/`>> ` (never lld's
/// `>>>`), rustc's `= note: `, MSBuild's `12>`.
fn unwrap_line(s: &str) -> &str {
    let mut s = s;
    let lead = s.trim_start();
    if lead.starts_with(">>") && !lead.starts_with(">>>") {
        s = &lead[2..];
    }
    if let Some(rest) = s.trim_start().strip_prefix("= note:") {
        s = rest.strip_prefix(' ').unwrap_or(rest);
    }
    let lead = s.trim_start();
    let digits = lead.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && lead[digits..].starts_with('>') && !lead[digits..].starts_with(">>") {
        s = &lead[digits + 1..];
    }
    s
}

impl Parser {
    fn line(&mut self, raw: &str) {
        let clean = strip_ansi(raw);
        let s = unwrap_line(clean.trim_end_matches(['\r', '\n']));
        let text = s.trim();
        let line = Line {
            text,
            indented: s.starts_with([' ', '\t']),
            split: loc::split(text),
        };
        if let Some(o) = self.owner {
            if self.families[o].more(&line, &mut self.out) {
                return;
            }
            self.families[o].close(&mut self.out);
            self.owner = None;
        }
        let relevant = line.split.tool.is_some()
            || KEYWORD_SCAN.as_ref().is_none_or(|k| k.is_match(line.text));
        if !relevant {
            return;
        }
        for (i, f) in self.families.iter_mut().enumerate() {
            if f.take(&line, &mut self.out) {
                self.owner = Some(i);
                return;
            }
        }
    }

    fn finish(mut self) -> Explained {
        if let Some(o) = self.owner.take() {
            self.families[o].close(&mut self.out);
        }
        self.out.finish()
    }
}

/// Parse a whole log from `input`.
pub(crate) fn explain(input: &mut dyn BufRead) -> std::io::Result<Explained> {
    let mut p = Parser::default();
    let mut line: Vec<u8> = Vec::with_capacity(4096);
    let mut skipping = false;
    let (mut lines, mut bytes) = (0u64, 0u64);
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len();
        bytes += n as u64;
        let mut start = 0;
        while start < n {
            if let Some(off) = memchr::memchr(b'\n', &buf[start..]) {
                let seg = &buf[start..start + off];
                if !skipping {
                    let room = MAX_LINE.saturating_sub(line.len());
                    line.extend_from_slice(&seg[..seg.len().min(room)]);
                }
                lines += 1;
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
        lines += 1;
        p.line(&String::from_utf8_lossy(&line));
    }
    let mut e = p.finish();
    e.lines = lines;
    e.bytes = bytes;
    Ok(e)
}

/// A finding's first line and the lines under it, for people (names with
/// their control characters escaped): `sym: undefined-symbol (2
/// references)` then one line per reference and the kind's details
/// (definitions, relocation, script line); `region-overflow: FLASH by 2312
/// bytes (.text)`; `missing-input: library -lsensorfw`; a link error's or
/// assertion's own lines as `| …`.
fn describe(f: &Finding) -> (String, Vec<String>) {
    let kind = f.kind;
    let name = f.symbol.as_deref().map(|s| {
        let pretty = f.demangled.clone().unwrap_or_else(|| demangle_any(s));
        if pretty == s.trim() {
            escape_controls(s).into_owned()
        } else {
            format!("{}  [{}]", escape_controls(&pretty), escape_controls(s))
        }
    });
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let head = match (kind, name) {
        (FindingKind::DuplicateSymbol, Some(n)) => {
            format!(
                "{n}: {kind} ({})",
                plural(f.definitions.len(), "definition")
            )
        }
        (_, Some(n)) => format!(
            "{n}: {kind} ({})",
            plural(f.referenced_by.len(), "reference")
        ),
        (_, None) => match f
            .subject()
            .filter(|_| kind != FindingKind::LinkerScriptAssertion)
        {
            Some(s) => format!("{kind}: {s}"),
            None => kind.to_string(),
        },
    };
    let mut lines: Vec<String> = f
        .referenced_by
        .iter()
        .map(|r| {
            let func = if r.function.is_empty() {
                "?"
            } else {
                &r.function
            };
            escape_controls(&format!("{func}{}{}", r.at(), r.in_object())).into_owned()
        })
        .collect();
    lines.extend(f.detail_lines());
    if matches!(
        kind,
        FindingKind::LinkError | FindingKind::LinkerScriptAssertion | FindingKind::BuildError
    ) {
        lines.extend(
            f.message
                .iter()
                .flat_map(|m| m.lines())
                .map(|l| format!("| {}", escape_controls(l))),
        );
    }
    (head, lines)
}

/// Print findings, for people.
pub(crate) fn print_human(e: &Explained, out: &mut dyn Write) -> std::io::Result<()> {
    if e.findings.is_empty() {
        writeln!(
            out,
            "no undefined symbols and no other link failure found ({} lines)",
            e.lines
        )?;
        return Ok(());
    }
    for f in &e.findings {
        let (head, lines) = describe(f);
        writeln!(out, "{head}")?;
        for l in lines {
            writeln!(out, "    {l}")?;
        }
    }
    if e.dropped > 0 {
        writeln!(out, "({} more findings or references not kept)", e.dropped)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
