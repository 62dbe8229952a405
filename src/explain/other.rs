//! What no linker family's reader names, yet shows a failed link: a
//! linker's `error:` line of any other form (a `link-error` with its lines,
//! `>>>` ones included), a linker-script `ASSERT` message (the linker
//! prints the script's own words, which start with a capital: `ERROR(cortex-m-rt):
//! …`, with the lines after it), GNU ld's unmarked lines (errors when the
//! link failed), and the drivers' summaries: collect2's `ld returned 1
//! exit status`, clang's `linker command failed`, rustc's `linking with
//! `cc` failed`. A linker's warnings and notes, and their `>>>` lines, are
//! skipped.
use super::collect::Collector;
use super::loc::Severity;
use super::{Family, Line};
use crate::model::FindingKind;

/// Lines an assertion's message may span.
const MAX_MESSAGE: usize = 24;

#[derive(Default)]
enum Block {
    #[default]
    None,
    /// A warning's or note's `>>>` lines.
    Skip,
    /// An error whose message starts on the next line (a script's message
    /// that begins with a newline): the line so far.
    Empty(String),
    /// An error's further lines: `>>>` ones, and for an assertion its
    /// free text.
    Message {
        i: Option<usize>,
        free: bool,
        lines: usize,
    },
}

#[derive(Default)]
pub(super) struct Other {
    block: Block,
}

/// A driver's or rustc's summary of a failed link.
fn summary(t: &str) -> bool {
    (t.contains("ld returned ") && t.contains("exit status"))
        || t.contains("linker command failed with exit code")
        || t.starts_with("error: linking with `")
        || (t.starts_with("error: linker `") && t.ends_with("not found"))
        || t.contains("link errors found, deleting executable")
}

/// A linker-script `ASSERT` message rather than the linker's own words:
/// linkers start theirs lower-case (or with a path); a script's message is
/// the user's, and in practice starts with a capital (`ERROR(riscv-rt):`).
fn assertion(rest: &str) -> bool {
    let first = rest
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    rest.starts_with(|c: char| c.is_ascii_uppercase())
        && !["DWARF", "LLVM", "LTO", "ELF", "BFD", "COFF", "PE", "Using"].contains(&first)
        && !rest.starts_with("R_")
}

/// GNU ld's unmarked lines that are not errors.
fn informational(rest: &str) -> bool {
    [
        "skipping incompatible",
        "Using ",
        "mode ",
        "DWARF error",
        "attempt to open",
        "found ",
        "opened script file",
    ]
    .iter()
    .any(|p| rest.starts_with(p))
        || rest.contains("warning")
}

impl Other {
    /// An error's message, first line `rest`, as `raw` printed it.
    fn error(&mut self, rest: &str, raw: &str, out: &mut Collector) {
        let (kind, first, free) = if assertion(rest) {
            (FindingKind::LinkerScriptAssertion, rest, true)
        } else {
            (FindingKind::LinkError, raw, false)
        };
        // lld reports a failed assertion once per pass: a message seen
        // before takes no more lines.
        let before = out.out.findings.len();
        let i = out
            .message(kind, first)
            .filter(|_| out.out.findings.len() > before);
        self.block = Block::Message { i, free, lines: 1 };
    }
}

impl Family for Other {
    fn more(&mut self, line: &Line<'_>, out: &mut Collector) -> bool {
        let t = line.text;
        match &mut self.block {
            Block::Skip => t.starts_with(">>>"),
            Block::Empty(raw) => {
                if t.is_empty() || line.split.tool.is_some() || summary(t) {
                    return false;
                }
                let raw = format!("{raw}\n{t}");
                self.error(t, &raw, out);
                true
            }
            Block::Message { i, free, lines } => {
                let more = t.starts_with(">>>")
                    || (*free && !t.is_empty() && line.split.tool.is_none() && !summary(t));
                if !more || *lines >= MAX_MESSAGE {
                    return more;
                }
                *lines += 1;
                out.append(*i, t);
                true
            }
            Block::None => false,
        }
    }

    fn take(&mut self, line: &Line<'_>, out: &mut Collector) -> bool {
        let t = line.text;
        if summary(t) {
            out.failed(t);
            return true;
        }
        let sp = line.split;
        if sp.tool.is_none() {
            return false;
        }
        let rest = sp.rest.trim();
        match sp.severity {
            Severity::Warning | Severity::Note => self.block = Block::Skip,
            _ if rest.is_empty() => self.block = Block::Empty(t.to_owned()),
            Severity::Error => self.error(rest, t, out),
            Severity::None => {
                if informational(rest) {
                    return true;
                }
                if assertion(rest) {
                    self.error(rest, t, out);
                } else {
                    if rest.starts_with("final link failed") {
                        out.failed(t);
                    }
                    out.unknown(t);
                }
            }
        }
        true
    }

    fn close(&mut self, out: &mut Collector) {
        // An error line with nothing after it.
        if let Block::Empty(raw) = std::mem::take(&mut self.block) {
            out.message(FindingKind::LinkError, &raw);
        }
    }
}
