//! The findings a log has shown so far, one per (kind, what it is about),
//! merged as the recognizers report them, under fixed caps so memory stays
//! bounded whatever the log; and whether the log shows a failed link at
//! all (a driver's "ld returned 1 exit status", rustc's "linking with …
//! failed"), so that a failure no recognizer could name is still a
//! `link-error`, never a clean exit.
//!
//! Holds no line state of its own: the recognizers do.
use std::collections::HashMap;

use super::loc::{Site, crate_of};
use super::{Explained, MAX_REFS, MAX_SYMBOLS, demangle_any};
use crate::model::{
    Definition, Finding, FindingKind, MissingInput, Reference, RegionOverflow, RelocationOverflow,
    ScriptLine,
};

/// Lines kept of one finding's message.
const MAX_MESSAGE_LINES: usize = 24;
/// Bytes kept of one message line.
const MAX_MESSAGE_LINE: usize = 512;
/// Lines kept that show the link failed (driver summaries, unnamed
/// errors), for the `link-error` of a log nothing else explains.
const MAX_EVIDENCE: usize = 16;

/// What the log has shown so far.
#[derive(Default)]
pub(super) struct Collector {
    pub(super) out: Explained,
    index: HashMap<(FindingKind, String), usize>,
    /// Per finding: the `(.text+0x…)` of each kept reference that names
    /// nothing else, so two such references stay two.
    offsets: Vec<Vec<Option<String>>>,
    /// Lines that show the link failed, without naming why.
    evidence: Vec<String>,
    /// GNU ld lines that are neither warnings nor a form known here:
    /// errors when the link failed.
    unknown: Vec<String>,
}

fn clip(line: &str) -> String {
    line.chars().take(MAX_MESSAGE_LINE).collect()
}

impl Collector {
    /// The finding of `kind` about `key`, made by `make` the first time.
    /// `None` once [`MAX_SYMBOLS`] findings are kept.
    pub(super) fn keyed(
        &mut self,
        kind: FindingKind,
        key: &str,
        raw: &str,
        make: impl FnOnce() -> Finding,
    ) -> Option<usize> {
        if let Some(&i) = self.index.get(&(kind, key.to_owned())) {
            return Some(i);
        }
        if self.out.findings.len() >= MAX_SYMBOLS {
            self.out.dropped += 1;
            return None;
        }
        let mut f = make();
        if f.message.is_none() && !raw.trim().is_empty() {
            f.message = Some(clip(raw.trim()));
        }
        self.index
            .insert((kind, key.to_owned()), self.out.findings.len());
        self.out.findings.push(f);
        self.offsets.push(Vec::new());
        Some(self.out.findings.len() - 1)
    }

    /// The finding of `kind` about `symbol` (its readable form kept when it
    /// differs). `None` for an empty name.
    pub(super) fn symbol(
        &mut self,
        kind: FindingKind,
        symbol: &str,
        readable: Option<&str>,
        raw: &str,
    ) -> Option<usize> {
        if symbol.trim().is_empty() {
            return None;
        }
        self.keyed(kind, symbol, raw, || {
            let mut f = Finding::symbol(kind, symbol);
            let shown = readable.map_or_else(|| demangle_any(symbol), str::to_owned);
            // (demangle_any trims: a name that only had white space around
            // it, or a newline in front, is not demangled.)
            if shown != symbol.trim() {
                f.demangled = Some(shown);
            }
            f
        })
    }

    /// Add a reference to finding `i`. Equal references merge, except two
    /// that only an offset tells apart (`link.o:(.text+0xC)` and
    /// `(.text+0x2A)`): those are two places.
    pub(super) fn reference(&mut self, i: Option<usize>, site: Site) {
        let Some(i) = i else { return };
        let Site {
            function,
            object,
            file,
            line,
            offset,
        } = site;
        let r = Reference {
            function: function.unwrap_or_default(),
            object,
            file,
            line,
        };
        let bare = r.function.is_empty() && r.line.is_none();
        let offset = offset.filter(|_| bare);
        let refs = &mut self.out.findings[i].referenced_by;
        let offsets = &mut self.offsets[i];
        if refs
            .iter()
            .zip(offsets.iter())
            .any(|(x, o)| *x == r && *o == offset)
        {
            return;
        }
        if refs.len() >= MAX_REFS {
            self.out.dropped += 1;
            return;
        }
        refs.push(r);
        offsets.push(offset);
    }

    /// Add a definition site to a `duplicate-symbol` finding.
    pub(super) fn definition(&mut self, i: Option<usize>, site: Site) {
        let Some(i) = i else { return };
        let f = &mut self.out.findings[i];
        let d = Definition {
            krate: site.object.as_deref().and_then(crate_of),
            object: site.object,
            file: site.file,
            line: site.line,
            function: site.function,
        };
        if f.definitions.contains(&d) {
            return;
        }
        if f.definitions.len() >= MAX_REFS {
            self.out.dropped += 1;
            return;
        }
        f.definitions.push(d);
    }

    /// A memory region overflowed: merge the section and the bytes into
    /// its one finding.
    pub(super) fn region(&mut self, name: &str, fill: RegionOverflow, raw: &str) {
        let i = self.keyed(FindingKind::RegionOverflow, name, raw, || {
            let mut f = Finding::new(FindingKind::RegionOverflow);
            f.region = Some(RegionOverflow {
                name: name.to_owned(),
                ..RegionOverflow::default()
            });
            f
        });
        let Some(r) = i.and_then(|i| self.out.findings[i].region.as_mut()) else {
            return;
        };
        r.overflow_bytes = r.overflow_bytes.max(fill.overflow_bytes);
        r.size = r.size.or(fill.size);
        r.output = r.output.take().or(fill.output);
        for s in fill.sections {
            match r.sections.iter().position(|x| x.name == s.name) {
                Some(k) => {
                    let x = &mut r.sections[k];
                    x.overflow_bytes = x.overflow_bytes.max(s.overflow_bytes);
                }
                None if r.sections.len() < MAX_REFS => r.sections.push(s),
                None => {}
            }
        }
    }

    /// A relocation that does not fit: one finding per target (its places
    /// are added as references).
    pub(super) fn relocation(
        &mut self,
        target: &str,
        relocation: RelocationOverflow,
        raw: &str,
    ) -> Option<usize> {
        let kind = FindingKind::RelocationOverflow;
        let section = relocation.target_section.clone();
        let i = if target.is_empty() {
            self.keyed(kind, section.as_deref().unwrap_or_default(), raw, || {
                Finding::new(kind)
            })
        } else {
            self.symbol(kind, target, None, raw)
        }?;
        self.out.findings[i].relocation.get_or_insert(relocation);
        Some(i)
    }

    /// The linker could not find an input (asked for at `script`'s line,
    /// when the linker says).
    pub(super) fn missing(
        &mut self,
        input: MissingInput,
        script: Option<ScriptLine>,
        raw: &str,
    ) -> Option<usize> {
        let name = input.name.clone();
        let i = self.keyed(FindingKind::MissingInput, &name, raw, || {
            let mut f = Finding::new(FindingKind::MissingInput);
            f.input = Some(input);
            f
        })?;
        let f = &mut self.out.findings[i];
        if f.script.is_none() {
            f.script = script;
        }
        Some(i)
    }

    /// A finding whose message is the linker's lines: a `link-error` or a
    /// `linker-script-assertion`. Later lines come through [`Self::append`].
    pub(super) fn message(&mut self, kind: FindingKind, first: &str) -> Option<usize> {
        let first = clip(first.trim());
        self.keyed(kind, &first, "", || Finding::message(kind, first.clone()))
    }

    /// Another line of finding `i`'s message (capped).
    pub(super) fn append(&mut self, i: Option<usize>, line: &str) {
        let Some(f) = i.and_then(|i| self.out.findings.get_mut(i)) else {
            return;
        };
        let m = f.message.get_or_insert_with(String::new);
        if m.lines().count() >= MAX_MESSAGE_LINES {
            return;
        }
        if !m.is_empty() {
            m.push('\n');
        }
        m.push_str(&clip(line.trim_end()));
    }

    /// A line that shows the link failed without saying why.
    pub(super) fn failed(&mut self, line: &str) {
        self.out.failed = true;
        if self.evidence.len() < MAX_EVIDENCE {
            self.evidence.push(clip(line.trim()));
        }
    }

    /// A GNU ld line of no known form and no warning.
    pub(super) fn unknown(&mut self, line: &str) {
        if self.unknown.len() < MAX_EVIDENCE {
            self.unknown.push(clip(line.trim()));
        }
    }

    /// The findings: when the log shows a failed link, GNU ld's unknown
    /// lines become `link-error`s, and a failure nothing names becomes one
    /// `link-error` with the lines that show it.
    pub(super) fn finish(mut self) -> Explained {
        let failed = self.out.failed || !self.out.findings.is_empty();
        if failed {
            for line in std::mem::take(&mut self.unknown) {
                self.message(FindingKind::LinkError, &line);
            }
        }
        if self.out.findings.is_empty() && !self.evidence.is_empty() {
            let text = self.evidence.join("\n");
            self.out
                .findings
                .push(Finding::message(FindingKind::LinkError, text));
        }
        self.out.failed = failed || !self.out.findings.is_empty();
        self.out
    }
}
