//! lld (ld.lld, rust-lld, lld-link, wasm-ld) and mold 2.x, which share its
//! block format: an `error:` line, then `>>>` lines (`referenced by`,
//! `defined at`, `defined in`, the object line). Undefined and duplicate
//! symbols, `section '.text' will not fit in region 'FLASH': overflowed by
//! N bytes`, `relocation R_… out of range` (mold: `relocation R_… against
//! SYM out of range`), `cannot find linker script`, `unable to find
//! library`, `cannot open FILE`.
//!
//! A name that begins with a newline (lld prints `undefined symbol: ` and
//! the name on the next lines) is joined back into one finding. An object
//! line cut off at the end of a truncated log names nothing.
use super::collect::Collector;
use super::loc::{Severity, Site, lld_object, lld_source, quoted};
use super::{Family, Line, gnu};
use crate::model::{FindingKind, InputKind, MissingInput, RelocationOverflow, ScriptLine};

/// Lines a name that began with a newline may span.
const MAX_NAME_LINES: usize = 8;

#[derive(Default)]
enum Block {
    #[default]
    None,
    /// A symbol whose name continues on the next lines, up to the `>>>`.
    Name {
        kind: FindingKind,
        raw: String,
        name: String,
        lines: usize,
    },
    /// `>>> referenced by` places of an undefined symbol; the last one
    /// still waiting for its object line.
    Refs {
        i: Option<usize>,
        pending: Option<Site>,
    },
    /// `>>> defined at` places of a duplicate symbol.
    Defs {
        i: Option<usize>,
        symbol: String,
        pending: Option<Site>,
    },
    /// A relocation: `>>> referenced by` is its source line, `>>> defined
    /// in` its target's object.
    Reloc { i: Option<usize>, site: Site },
    /// A missing linker script: `>>> INCLUDE x` is the statement.
    Script { i: Option<usize> },
}

#[derive(Default)]
pub(super) struct Lld {
    block: Block,
}

impl Family for Lld {
    fn more(&mut self, line: &Line<'_>, out: &mut Collector) -> bool {
        let t = line.text;
        if let Block::Name { lines, .. } = &mut self.block {
            if !t.starts_with(">>>") {
                if line.split.tool.is_some() || *lines >= MAX_NAME_LINES {
                    return false;
                }
                *lines += 1;
                if let Block::Name { name, raw, .. } = &mut self.block {
                    name.push('\n');
                    name.push_str(t);
                    raw.push('\n');
                    raw.push_str(t);
                }
                return true;
            }
            self.named(out);
        }
        if matches!(self.block, Block::None) || !t.starts_with(">>>") {
            return false;
        }
        // mold runs several `>>>` together on one line.
        for seg in t.split(">>>").filter(|s| !s.trim().is_empty()) {
            self.arrow(seg.trim(), out);
        }
        true
    }

    fn take(&mut self, line: &Line<'_>, out: &mut Collector) -> bool {
        let sp = line.split;
        let rest = sp.rest;
        let bare_symbol = sp.severity == Severity::None
            && (rest.starts_with("undefined symbol: ") || rest.starts_with("duplicate symbol: "));
        if sp.severity != Severity::Error && !bare_symbol {
            return false;
        }
        if super::mold::is_mold1(sp.tool, rest) {
            return false;
        }
        for (prefix, kind) in [
            ("undefined symbol:", FindingKind::UndefinedSymbol),
            ("undefined hidden symbol:", FindingKind::UndefinedSymbol),
            ("undefined protected symbol:", FindingKind::UndefinedSymbol),
            (
                "undefined reference due to --no-allow-shlib-undefined:",
                FindingKind::UndefinedSymbol,
            ),
            ("duplicate symbol:", FindingKind::DuplicateSymbol),
        ] {
            if let Some(name) = rest.strip_prefix(prefix) {
                self.block = Block::Name {
                    kind,
                    raw: line.text.to_owned(),
                    name: name.strip_prefix(' ').unwrap_or(name).to_owned(),
                    lines: 0,
                };
                // A name on its line is whole; one that began with a
                // newline goes on until the `>>>` lines.
                if !name.trim().is_empty() {
                    self.named(out);
                }
                return true;
            }
        }
        if rest.starts_with("section ")
            && let Some((name, fill)) = gnu::region(rest)
        {
            out.region(&name, fill, line.text);
            return true;
        }
        if let Some((site, target, relocation)) = out_of_range(rest) {
            let i = out.relocation(&target, relocation, line.text);
            self.block = Block::Reloc { i, site };
            return true;
        }
        if rest.starts_with("too many errors emitted") {
            out.failed(line.text);
            return true;
        }
        self.missing(rest, line.text, out)
    }

    fn close(&mut self, out: &mut Collector) {
        if matches!(self.block, Block::Name { .. }) {
            self.named(out);
        }
        match std::mem::take(&mut self.block) {
            Block::Refs { i, pending } => {
                if let Some(p) = pending {
                    out.reference(i, p);
                }
            }
            Block::Defs { i, pending, .. } => {
                if let Some(p) = pending {
                    out.definition(i, p);
                }
            }
            Block::Reloc { i, site } => out.reference(i, site),
            Block::None | Block::Name { .. } | Block::Script { .. } => {}
        }
    }
}

impl Lld {
    /// The name is complete: make its finding and open its `>>>` block.
    fn named(&mut self, out: &mut Collector) {
        let Block::Name {
            kind, raw, name, ..
        } = std::mem::take(&mut self.block)
        else {
            return;
        };
        let name = name.trim_end_matches(' ');
        if kind == FindingKind::DuplicateSymbol
            && let Some((symbol, a, b)) = coff_duplicate(name)
        {
            // lld-link: `duplicate symbol: x in a.obj and in b.obj`.
            let i = out.symbol(kind, symbol, None, &raw);
            for o in [a, b] {
                out.definition(i, lld_source(o));
            }
            return;
        }
        let i = out.symbol(kind, name, None, &raw);
        self.block = if kind == FindingKind::DuplicateSymbol {
            Block::Defs {
                i,
                symbol: name.to_owned(),
                pending: None,
            }
        } else {
            Block::Refs { i, pending: None }
        };
    }

    /// One `>>>` line of the open block.
    fn arrow(&mut self, s: &str, out: &mut Collector) {
        match &mut self.block {
            Block::Refs { i, pending } => {
                if let Some(src) = s.strip_prefix("referenced by ") {
                    if let Some(p) = pending.take() {
                        out.reference(*i, p);
                    }
                    *pending = Some(lld_source(src));
                } else if let Some(obj) = lld_object(s) {
                    let p = pending.get_or_insert_with(Site::default);
                    p.object = obj.object;
                    p.function = obj.function;
                    p.offset = p.offset.take().or(obj.offset);
                }
            }
            Block::Defs { i, symbol, pending } => {
                if let Some(src) = s
                    .strip_prefix("defined at ")
                    .or_else(|| s.strip_prefix("defined in "))
                {
                    if let Some(p) = pending.take() {
                        out.definition(*i, p);
                    }
                    let mut site = lld_source(src);
                    site.function = site.function.filter(|f| f != symbol);
                    *pending = Some(site);
                } else if let Some(obj) = lld_object(s) {
                    let p = pending.get_or_insert_with(Site::default);
                    p.object = obj.object;
                    // `gpio.o:(gpio_lock)` names the symbol itself.
                    p.function = obj.function.filter(|f| f != symbol);
                }
            }
            Block::Reloc { i, site } => {
                if let Some(src) = s.strip_prefix("referenced by ") {
                    let place = lld_source(src);
                    site.file = place.file.or(site.file.take());
                    site.line = place.line.or(site.line);
                } else if let Some(obj) = s.strip_prefix("defined in ")
                    && let Some(r) = i.and_then(|i| out.out.findings[i].relocation.as_mut())
                {
                    r.target_object.get_or_insert_with(|| obj.trim().to_owned());
                }
            }
            Block::Script { i } => {
                let statement = s.trim();
                if !statement.is_empty()
                    && !statement.starts_with('^')
                    && let Some(input) = i.and_then(|i| out.out.findings[i].input.as_mut())
                {
                    input.statement.get_or_insert_with(|| statement.to_owned());
                }
            }
            Block::None | Block::Name { .. } => {}
        }
    }

    /// `SCRIPT:LINE: cannot find linker script X`, `unable to find
    /// library -lX`, `cannot open X: No such file or directory`.
    fn missing(&mut self, rest: &str, raw: &str, out: &mut Collector) -> bool {
        let (script, msg) = match script_place(rest) {
            Some((s, m)) => (Some(s), m),
            None => (None, rest),
        };
        let input = if let Some(x) = msg
            .strip_prefix("cannot find linker script ")
            .or_else(|| msg.strip_prefix("cannot open linker script file "))
        {
            MissingInput {
                kind: InputKind::LinkerScript,
                name: x.split(": ").next().unwrap_or(x).trim().to_owned(),
                flag: None,
                statement: None,
            }
        } else if let Some(x) = msg.strip_prefix("unable to find library ") {
            let x = x.trim();
            gnu::library_flag(x).unwrap_or(MissingInput {
                kind: InputKind::Library,
                name: x.to_owned(),
                flag: None,
                statement: None,
            })
        } else if let Some(input) = gnu::cannot_open(msg) {
            input
        } else {
            return false;
        };
        let i = out.missing(input, script, raw);
        self.block = Block::Script { i };
        true
    }
}

/// `/x/link.x:261: msg` → the script line and `msg`.
fn script_place(rest: &str) -> Option<(ScriptLine, &str)> {
    let (place, msg) = rest.split_once(": ")?;
    let (file, line) = place.rsplit_once(':')?;
    let line = line.parse().ok()?;
    (!file.is_empty() && !file.contains('(')).then(|| {
        (
            ScriptLine {
                file: file.to_owned(),
                line: Some(line),
            },
            msg,
        )
    })
}

/// `x in a.obj and in b.obj`.
fn coff_duplicate(s: &str) -> Option<(&str, &str, &str)> {
    let (head, b) = s.rsplit_once(" and in ")?;
    let (symbol, a) = head.rsplit_once(" in ")?;
    Some((symbol, a, b))
}

/// `start.o:(.text+0x4): relocation R_RISCV_JAL out of range: 1200000 is
/// not in [-1048576, 1048575]; references 'far_entry'` (lld; `references
/// section '.rodata'` for a section), or mold's `a.o:(.text): relocation
/// R_X86_64_PC32 against foo out of range: …`: the place, the target
/// (empty for a section) and the details.
fn out_of_range(rest: &str) -> Option<(Site, String, RelocationOverflow)> {
    let p = rest.find("relocation R_")?;
    let tail = &rest[p + "relocation ".len()..];
    let (r_type, after) = tail.split_once(' ')?;
    let (against, range) = after.split_once("out of range")?;
    let site = lld_object(rest[..p].trim().trim_end_matches(':')).unwrap_or_default();
    let range = range.trim_start_matches(':').trim();
    let (range, hint) = match range.split_once("; ") {
        Some((r, h)) => (r, h),
        None => (range, ""),
    };
    let mut r = RelocationOverflow {
        r_type: r_type.to_owned(),
        range: (!range.is_empty()).then(|| range.to_owned()),
        ..RelocationOverflow::default()
    };
    let mut target = against
        .trim()
        .strip_prefix("against ")
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    if let Some(h) = hint.strip_prefix("references ") {
        if let Some(sec) = h.strip_prefix("section ") {
            r.target_section = Some(quoted(sec).map_or(sec, |(q, _)| q).to_owned());
        } else {
            quoted(h)
                .map_or(h, |(q, _)| q)
                .trim()
                .clone_into(&mut target);
        }
    }
    Some((site, target, r))
}
