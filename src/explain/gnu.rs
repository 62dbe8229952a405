//! GNU ld (bfd) and gold: `OBJ: in function `F':` naming the function of
//! the lines after it; `undefined reference to`, `multiple definition of`
//! (with `first defined here` / `previous definition here`), `section
//! `.text' will not fit in region `FLASH'` and `region `FLASH' overflowed
//! by N bytes`, `relocation truncated to fit`, `cannot find -lNAME` and
//! `cannot open linker script file`. A quoted name the linker wrapped onto
//! the next lines (it began with a newline) is joined back.
//!
//! The function of an `in function` line is never carried onto a line
//! that names its own object (`a.o:(.ARM.exidx+0x0)`: bfd found no
//! function there), nor past a line of another kind.
use super::collect::Collector;
use super::loc::{Severity, Site, gnu_site, quoted, split};
use super::{Family, Line, demangle_any};
use crate::model::{
    FindingKind, InputKind, MissingInput, RegionOverflow, RelocationOverflow, ScriptLine,
    SectionOverflow,
};

/// Lines a wrapped name may span.
const MAX_WRAPPED: usize = 8;

#[derive(Default)]
pub(super) struct Gnu {
    /// (object, function) of the last `in function` line.
    context: Option<(String, String)>,
    /// The last `multiple definition`: a `first defined here` line after it
    /// is its other definition.
    duplicate: Option<usize>,
    /// A message whose quoted name is not closed yet, and its line count.
    wrapped: Option<(String, usize)>,
}

impl Family for Gnu {
    fn more(&mut self, line: &Line<'_>, out: &mut Collector) -> bool {
        if let Some((text, n)) = self.wrapped.take() {
            let joined = format!("{text}\n{}", line.text);
            if !symbol_opens(name_part(&joined)) {
                self.message(&joined, out);
            } else if n + 1 >= MAX_WRAPPED {
                out.message(FindingKind::LinkError, &joined);
            } else {
                self.wrapped = Some((joined, n + 1));
            }
            return true;
        }
        self.take(line, out)
    }

    fn take(&mut self, line: &Line<'_>, out: &mut Collector) -> bool {
        self.message(line.text, out)
    }

    fn close(&mut self, out: &mut Collector) {
        self.context = None;
        self.duplicate = None;
        // A name cut off by the end of the log is no symbol: the line is
        // still a failed link.
        if let Some((text, _)) = self.wrapped.take() {
            out.message(FindingKind::LinkError, &text);
        }
    }
}

/// The part of a message after its keyword, where the quoted name is.
fn name_part(text: &str) -> &str {
    for k in ["undefined reference to ", "multiple definition of "] {
        if let Some(p) = text.find(k) {
            return &text[p + k.len()..];
        }
    }
    ""
}

/// The symbol of an `undefined reference to` / `multiple definition of`
/// message and what follows it. GNU ld quotes it `` `name' ``, and the
/// name may hold backticks of its own (no-panic's ``… function `f` ``):
/// it runs to the last `'`. gold quotes `'name'`.
fn symbol_quoted(s: &str) -> Option<(&str, &str)> {
    let open = s.find(['`', '\'', '‘'])?;
    if s[open..].starts_with('`') {
        let close = s.rfind('\'').filter(|&c| c > open)?;
        return Some((&s[open + 1..close], &s[close + 1..]));
    }
    quoted(s)
}

/// Does a message's symbol start on this line and go on to the next?
fn symbol_opens(s: &str) -> bool {
    s.contains(['`', '\'', '‘']) && symbol_quoted(s).is_none()
}

/// The place before a message: `…:3: error:` → `…:3`; and whether it was a
/// warning (gold marks its lines after the place).
fn head_of(s: &str) -> (&str, bool) {
    let s = s.trim().trim_end_matches(':').trim_end();
    for (word, warning) in [("error", false), ("warning", true)] {
        if let Some(h) = s.strip_suffix(word)
            && (h.is_empty() || h.ends_with([':', ' ']))
        {
            return (h.trim_end().trim_end_matches(':').trim_end(), warning);
        }
    }
    (s, false)
}

/// gold's `view_draw:src/view.c(.text+0x88)`: the function and the place,
/// split at the last `:` that is not part of `::`.
fn function_and_place(s: &str) -> (&str, &str) {
    let b = s.as_bytes();
    let at = (1..b.len().saturating_sub(1))
        .rev()
        .find(|&i| b[i] == b':' && b[i - 1] != b':' && b[i + 1] != b':');
    match at {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// `… in function `F':` → (object, F).
fn in_function(rest: &str) -> Option<(&str, &str)> {
    let p = rest
        .find(": in function ")
        .or_else(|| rest.find(": In function "))?;
    let (f, after) = quoted(&rest[p + ": in function ".len()..])?;
    (after.trim() == ":").then_some((rest[..p].trim(), f))
}

impl Gnu {
    /// The place of a message: gold's `OBJ: in function F:LOC`, else the
    /// head as written, completed by the `in function` line before it
    /// unless it names its own object.
    fn site(&self, head: &str) -> Site {
        if let Some(p) = head.find(": in function ") {
            let (func, place) = function_and_place(&head[p + ": in function ".len()..]);
            let mut site = gnu_site(place);
            site.object = Some(head[..p].trim().to_owned());
            site.function = Some(demangle_any(func));
            return site;
        }
        let mut site = gnu_site(head);
        if site.function.is_none()
            && site.object.is_none()
            && let Some((object, function)) = &self.context
        {
            site.object = Some(object.clone());
            site.function = Some(function.clone());
        }
        site
    }

    /// One line; `false` when it is not GNU ld's or gold's.
    fn message(&mut self, text: &str, out: &mut Collector) -> bool {
        let sp = split(text);
        if matches!(sp.severity, Severity::Warning | Severity::Note) {
            return false;
        }
        let rest = sp.rest;
        if let Some((object, function)) = in_function(rest) {
            self.context = Some((object.to_owned(), demangle_any(function)));
            return true;
        }
        if symbol_opens(name_part(rest)) {
            self.wrapped = Some((text.to_owned(), 1));
            return true;
        }
        if let Some(p) = rest.find("undefined reference to ") {
            let Some((symbol, _)) = symbol_quoted(&rest[p..]) else {
                return false;
            };
            let (head, warning) = head_of(&rest[..p]);
            if !warning {
                let i = out.symbol(FindingKind::UndefinedSymbol, symbol, None, text);
                out.reference(i, self.site(head));
            }
            return true;
        }
        if let Some(p) = rest.find("multiple definition of ") {
            return self.duplicate(text, rest, p, out);
        }
        if let Some(place) = rest
            .strip_suffix("first defined here")
            .or_else(|| rest.strip_suffix("previous definition here"))
        {
            out.definition(self.duplicate, gnu_site(place));
            return self.duplicate.is_some();
        }
        if let Some((name, fill)) = region(rest) {
            out.region(&name, fill, text);
            return true;
        }
        if let Some(p) = rest.find("relocation truncated to fit: ") {
            let (head, _) = head_of(&rest[..p]);
            let Some((target, relocation)) =
                truncated(&rest[p + "relocation truncated to fit: ".len()..])
            else {
                return false;
            };
            let i = out.relocation(&target, relocation, text);
            out.reference(i, self.site(head));
            return true;
        }
        if let Some(p) = rest.find("relocation overflow") {
            let (head, _) = head_of(&rest[..p]);
            let Some((target, relocation)) = gold_overflow(&rest[p..]) else {
                return false;
            };
            let i = out.relocation(&target, relocation, text);
            out.reference(i, self.site(head));
            return true;
        }
        missing(sp.tool, rest, text, out)
    }

    fn duplicate(&mut self, text: &str, rest: &str, p: usize, out: &mut Collector) -> bool {
        let Some((symbol, tail)) = symbol_quoted(&rest[p..]) else {
            return false;
        };
        let (head, _) = head_of(&rest[..p]);
        let i = out.symbol(FindingKind::DuplicateSymbol, symbol, None, text);
        out.definition(i, self.site(head));
        // bfd 2.32 and later: `; OBJ:…: first defined here` on the same line.
        if let Some(first) = tail
            .trim_start()
            .strip_prefix(';')
            .and_then(|t| t.trim().strip_suffix("first defined here"))
        {
            out.definition(i, gnu_site(first));
        }
        self.duplicate = i;
        true
    }
}

/// `N bytes` after `overflowed by`.
fn bytes_over(s: &str) -> Option<u64> {
    let (_, after) = s.split_once("overflowed by ")?;
    after.split_whitespace().next()?.parse().ok()
}

/// A region overflow, in GNU ld's or lld's words: `OUT section `.text'
/// will not fit in region `FLASH'` (lld adds `: overflowed by N bytes`),
/// `region `FLASH' overflowed by N bytes`, `address 0x… of OUT section
/// `.bss' is not within region `RAM'`.
pub(super) fn region(rest: &str) -> Option<(String, RegionOverflow)> {
    let output = |s: &str| {
        let s = s.trim().trim_start_matches("address ");
        let s = s.split_once(" of ").map_or(s, |(_, o)| o).trim();
        (!s.is_empty() && !s.starts_with("0x")).then(|| s.to_owned())
    };
    for keyword in ["will not fit in region ", "is not within region "] {
        if let Some(p) = rest.find(keyword) {
            let (name, tail) = quoted(&rest[p + keyword.len()..])?;
            let before = &rest[..p];
            let s = before.rfind("section ")?;
            let (section, _) = quoted(&before[s..])?;
            let over = bytes_over(tail);
            return Some((
                name.to_owned(),
                RegionOverflow {
                    overflow_bytes: over,
                    sections: vec![SectionOverflow {
                        name: section.to_owned(),
                        overflow_bytes: over,
                    }],
                    output: output(&before[..s]),
                    ..RegionOverflow::default()
                },
            ));
        }
    }
    let r = rest.strip_prefix("region ")?;
    if !r.contains("overflowed by ") {
        return None;
    }
    let name = match quoted(r) {
        Some((n, _)) => n,
        None => r.split_whitespace().next()?,
    };
    Some((
        name.to_owned(),
        RegionOverflow {
            overflow_bytes: bytes_over(r),
            ..RegionOverflow::default()
        },
    ))
}

/// bfd's `R_ARM_THM_CALL against symbol `ram_main' defined in .ramfunc
/// section in ram.o` (or `against `x'`, `against undefined symbol `x'`,
/// `against `.text'`): the target (empty for a section) and the details.
fn truncated(s: &str) -> Option<(String, RelocationOverflow)> {
    let (r_type, against) = s.trim().split_once(' ')?;
    let against = against.trim_start().strip_prefix("against ")?;
    let (target, after) = quoted(against)?;
    let mut r = RelocationOverflow {
        r_type: r_type.to_owned(),
        ..RelocationOverflow::default()
    };
    if let Some((section, object)) = after
        .trim()
        .strip_prefix("defined in ")
        .and_then(|d| d.split_once(" section in "))
    {
        r.target_section = Some(section.trim().to_owned());
        // `ram.o+4`: an addend.
        let object = object.trim();
        let object = match object.rsplit_once('+') {
            Some((o, a)) if a.bytes().all(|b| b.is_ascii_hexdigit()) => o,
            _ => object,
        };
        r.target_object = Some(object.to_owned());
    }
    let symbol_word = against
        .split('`')
        .next()
        .unwrap_or_default()
        .contains("symbol");
    if target.starts_with('.') && !symbol_word {
        r.target_section = Some(target.to_owned());
        return Some((String::new(), r));
    }
    Some((target.to_owned(), r))
}

/// gold's `relocation overflow: reference to 'far_away' defined in far.o`
/// (or `relocation overflow in R_AARCH64_CALL26`): the target (empty when
/// gold does not name it) and the details.
fn gold_overflow(s: &str) -> Option<(String, RelocationOverflow)> {
    let rest = s.strip_prefix("relocation overflow")?;
    let mut r = RelocationOverflow::default();
    if let Some(t) = rest.trim_start().strip_prefix("in ") {
        t.split_whitespace().next()?.clone_into(&mut r.r_type);
        return Some((String::new(), r));
    }
    let (target, after) = quoted(
        rest.trim_start_matches(':')
            .trim()
            .strip_prefix("reference to ")?,
    )?;
    r.target_object = after
        .trim()
        .strip_prefix("defined in ")
        .map(|o| o.trim().to_owned());
    Some((target.to_owned(), r))
}

/// What kind of input a file name is.
pub(super) fn input_kind(name: &str) -> InputKind {
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match ext {
        "o" | "obj" => InputKind::Object,
        "a" | "so" | "lib" | "dylib" | "rlib" | "tbd" => InputKind::Library,
        "x" | "ld" | "lds" | "lnk" => InputKind::LinkerScript,
        _ if name.contains(".so.") => InputKind::Library,
        _ => InputKind::File,
    }
}

/// `-lNAME` or `-l:FILE` → the missing library.
pub(super) fn library_flag(flag: &str) -> Option<MissingInput> {
    let name = flag.strip_prefix("-l")?;
    Some(MissingInput {
        kind: InputKind::Library,
        name: name.trim_start_matches(':').to_owned(),
        flag: Some(flag.to_owned()),
        statement: None,
    })
}

/// `ld:SCRIPT:LINE: msg`: GNU ld's place in a linker script.
fn script_place(tool: Option<&str>, text: &str) -> Option<(ScriptLine, String)> {
    if tool.is_some() {
        return None;
    }
    let (ld, rest) = text.trim_start().split_once(':')?;
    if !super::loc::is_linker_name(ld) {
        return None;
    }
    let (place, msg) = rest.split_once(": ")?;
    let (file, line) = place.rsplit_once(':')?;
    let line = line.trim().parse().ok()?;
    Some((
        ScriptLine {
            file: file.to_owned(),
            line: Some(line),
        },
        msg.to_owned(),
    ))
}

/// `cannot find -lNAME`, `cannot find FILE`, `cannot open linker script
/// file FILE: …`, `cannot open FILE: No such file or directory`.
fn missing(tool: Option<&str>, rest: &str, text: &str, out: &mut Collector) -> bool {
    let placed = script_place(tool, text);
    let msg = placed.as_ref().map_or(rest, |(_, m)| m.as_str());
    let named = |s: &str| s.split(": ").next().unwrap_or(s).trim().to_owned();
    let input = if let Some(x) = msg
        .strip_prefix("cannot open linker script file ")
        .or_else(|| msg.strip_prefix("cannot find script file "))
    {
        MissingInput {
            kind: InputKind::LinkerScript,
            name: named(x),
            flag: None,
            statement: None,
        }
    } else if let Some(x) = msg.strip_prefix("cannot find ") {
        let name = named(x);
        if name.starts_with("entry symbol") {
            return false;
        }
        library_flag(&name).unwrap_or(MissingInput {
            kind: input_kind(&name),
            name,
            flag: None,
            statement: None,
        })
    } else if let Some(input) = cannot_open(msg) {
        input
    } else {
        return false;
    };
    out.missing(input, placed.map(|(script, _)| script), text);
    true
}

/// `cannot open FILE: No such file or directory` (GNU ld, lld, mold; not
/// the output file) → the missing input.
pub(super) fn cannot_open(msg: &str) -> Option<MissingInput> {
    let x = msg
        .strip_prefix("cannot open ")
        .filter(|x| x.contains("No such file") && !x.starts_with("output file"))?;
    let name = x.split(": ").next().unwrap_or(x).trim().to_owned();
    Some(MissingInput {
        kind: input_kind(&name),
        name,
        flag: None,
        statement: None,
    })
}
