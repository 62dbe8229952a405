//! What a linker's refusal is about, beyond a symbol: where a duplicate
//! symbol is defined, the memory region an image overflows, the relocation
//! that does not fit, the input the linker could not find, the linker-script
//! line that asked; and [`escape_controls`] for showing any of them to
//! people. These are the details [`super::Finding`] carries for the kinds
//! `duplicate-symbol`, `region-overflow`, `relocation-overflow`,
//! `linker-script-assertion` and `missing-input`.
//!
//! Data and small pure helpers only: nothing here reads logs or images.
use std::borrow::Cow;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// One definition of a symbol defined more than once (`duplicate-symbol`).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Definition {
    /// The object, or `archive(member)`, that defines it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) object: Option<String>,
    /// The Rust crate that object belongs to (`libNAME-HASH.rlib`,
    /// `NAME-HASH.….rcgu.o`), when it is one.
    #[serde(default, rename = "crate", skip_serializing_if = "Option::is_none")]
    pub(crate) krate: Option<String>,
    /// Source file of the definition (the linker's "defined at", else the
    /// objects' DWARF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<String>,
    /// Its source line, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<u32>,
    /// The function the linker says the definition is in (GNU ld's
    /// `in function` line), demangled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) function: Option<String>,
}

impl Definition {
    /// `object at file:line in function`, for people.
    pub(crate) fn describe(&self) -> String {
        let mut s = self.object.clone().unwrap_or_else(|| "?".to_owned());
        if let Some(k) = &self.krate {
            let _ = write!(s, " (crate {k})");
        }
        match (&self.file, self.line) {
            (Some(f), Some(l)) => {
                let _ = write!(s, " at {f}:{l}");
            }
            (Some(f), None) => {
                let _ = write!(s, " at {f}");
            }
            _ => {}
        }
        if let Some(func) = &self.function {
            let _ = write!(s, " in {func}");
        }
        escape_controls(&s).into_owned()
    }
}

/// A memory region the image does not fit in (`region-overflow`): the
/// linker script's `MEMORY` region, by how much, and which output sections
/// did not fit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RegionOverflow {
    /// The region's name: `FLASH`.
    pub(crate) name: String,
    /// Bytes past the region's end: the most the linker reported for it
    /// (lld reports each section's running total; GNU ld the region's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) overflow_bytes: Option<u64>,
    /// The region's length in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<u64>,
    /// The output sections that did not fit, in the linker's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) sections: Vec<SectionOverflow>,
    /// The image being linked, when the linker names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) output: Option<String>,
    /// What fills the region, measured by `check` in the cell's image
    /// relinked with the region made large enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fill: Option<RegionFill>,
}

/// What fills an overflowing region: the cell's image relinked with the
/// region made large enough, measured as `footprint` measures an image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RegionFill {
    /// Bytes the relinked image places in the region.
    pub(crate) used: u64,
    /// Bytes per crate (or bucket: `[C]`, `[linker]` …) of the region's
    /// kind (flash for a flash region, RAM for a RAM one), largest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) crates: Vec<super::CrateSize>,
    /// The largest symbols in the region's sections, largest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) symbols: Vec<super::SymbolSize>,
}

impl RegionFill {
    /// `fills FLASH: 62,456 B; by crate: fw 30,000 B, core 20,000 B, …`
    /// and the largest symbols, for people (the first few of each).
    pub(crate) fn describe(&self, region: &str) -> Vec<String> {
        let g = super::grouped;
        let mut out = vec![format!(
            "what fills {}: {} B in the image relinked with {} large enough",
            escape_controls(region),
            g(self.used),
            escape_controls(region)
        )];
        let crates: Vec<String> = self
            .crates
            .iter()
            .take(6)
            .map(|c| format!("{} {} B", escape_controls(&c.name), g(c.flash.max(c.ram))))
            .collect();
        if !crates.is_empty() {
            out.push(format!("by crate: {}", crates.join(", ")));
        }
        let symbols: Vec<String> = self
            .symbols
            .iter()
            .take(5)
            .map(|x| format!("{} {} B", escape_controls(&x.name), g(x.bytes)))
            .collect();
        if !symbols.is_empty() {
            out.push(format!("largest: {}", symbols.join(", ")));
        }
        out
    }
}

/// One output section that did not fit in its region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SectionOverflow {
    /// The output section: `.text`.
    pub(crate) name: String,
    /// How far past the region's end the region was once this section was
    /// placed, in bytes (lld says it per section).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) overflow_bytes: Option<u64>,
}

impl RegionOverflow {
    /// `by 2312 bytes (.text, .rodata)`, for people.
    pub(crate) fn describe(&self) -> String {
        let mut s = match self.overflow_bytes {
            Some(n) => format!("by {n} bytes"),
            None => "overflowed".to_owned(),
        };
        if let Some(size) = self.size {
            let _ = write!(s, " of {size}");
        }
        if !self.sections.is_empty() {
            let names: Vec<String> = self
                .sections
                .iter()
                .map(|x| match x.overflow_bytes {
                    Some(n) => format!("{} {n}", x.name),
                    None => x.name.clone(),
                })
                .collect();
            let _ = write!(s, " ({})", names.join(", "));
        }
        escape_controls(&s).into_owned()
    }
}

/// A relocation whose value does not fit its field (`relocation-overflow`:
/// GNU ld's "relocation truncated to fit", lld's and mold's "out of
/// range"). The finding's symbol is the target; its reference is the place.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RelocationOverflow {
    /// The relocation type: `R_ARM_THM_CALL`; empty when the linker does
    /// not say (gold's `relocation overflow: reference to 'x'`).
    #[serde(rename = "type")]
    pub(crate) r_type: String,
    /// The object that defines the target, when the linker says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) target_object: Option<String>,
    /// The target's section (or the target itself, when it is a section).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) target_section: Option<String>,
    /// The value and the range it missed, as the linker wrote them:
    /// `1200000 is not in [-1048576, 1048575]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) range: Option<String>,
}

impl RelocationOverflow {
    /// `R_ARM_THM_CALL, target in ram.o (.ramfunc)`, for people.
    pub(crate) fn describe(&self) -> String {
        let mut s = if self.r_type.is_empty() {
            "type not given".to_owned()
        } else {
            self.r_type.clone()
        };
        match (&self.target_object, &self.target_section) {
            (Some(o), Some(sec)) => {
                let _ = write!(s, ", target in {o} ({sec})");
            }
            (Some(o), None) => {
                let _ = write!(s, ", target in {o}");
            }
            (None, Some(sec)) => {
                let _ = write!(s, ", target in {sec}");
            }
            (None, None) => {}
        }
        if let Some(r) = &self.range {
            let _ = write!(s, ": {r}");
        }
        escape_controls(&s).into_owned()
    }
}

/// What kind of input the linker could not find.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum InputKind {
    /// A library (`-lNAME`, `NAME.lib`).
    Library,
    /// A linker script (`-T`, `INCLUDE`).
    LinkerScript,
    /// An object file.
    Object,
    /// Any other file.
    File,
}

impl InputKind {
    /// `library`, `linker script`, …, for people.
    pub(crate) fn as_words(self) -> &'static str {
        match self {
            InputKind::Library => "library",
            InputKind::LinkerScript => "linker script",
            InputKind::Object => "object",
            InputKind::File => "file",
        }
    }
}

/// An input the linker could not find (`missing-input`), and who asked
/// for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MissingInput {
    /// Library, linker script, object or file.
    pub(crate) kind: InputKind,
    /// As the linker names it: `sensorfw` for `-lsensorfw`, `device.x`.
    pub(crate) name: String,
    /// The command-line flag that asked for it: `-lsensorfw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) flag: Option<String>,
    /// The linker-script statement that asked for it: `INCLUDE device.x`
    /// (the script and line are the finding's `script`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) statement: Option<String>,
}

impl MissingInput {
    /// `library -lsensorfw`, `linker script device.x`, for people.
    pub(crate) fn describe(&self) -> String {
        let name = self.flag.as_deref().unwrap_or(&self.name);
        escape_controls(&format!("{} {name}", self.kind.as_words())).into_owned()
    }
}

/// A line of a linker script: the one whose `ASSERT` failed, or whose
/// `INCLUDE` named a missing file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ScriptLine {
    /// The script, as the linker names it.
    pub(crate) file: String,
    /// Its line, from 1, when the linker gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<u32>,
}

impl std::fmt::Display for ScriptLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", escape_controls(&self.file)),
            None => write!(f, "{}", escape_controls(&self.file)),
        }
    }
}

impl super::Finding {
    /// The lines a finding's kind adds beyond its references, for people:
    /// each definition of a duplicate symbol, the image an overflowing
    /// region belongs to, a relocation's target, the script line and
    /// statement or flag that asked for a missing input, an assertion's
    /// script line.
    pub(crate) fn detail_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .definitions
            .iter()
            .map(|d| format!("defined in {}", d.describe()))
            .collect();
        if let Some(o) = self.region.as_ref().and_then(|r| r.output.as_deref()) {
            out.push(format!("linking {}", escape_controls(o)));
        }
        if let Some(r) = &self.region
            && let Some(fill) = &r.fill
        {
            out.extend(fill.describe(&r.name));
        }
        if let Some(r) = &self.relocation {
            out.push(format!("relocation {}", r.describe()));
        }
        let statement = self.input.as_ref().and_then(|i| i.statement.as_deref());
        let missing = self.kind == super::FindingKind::MissingInput;
        match (&self.script, statement) {
            (Some(s), Some(st)) => out.push(format!("asked for by {s}: {}", escape_controls(st))),
            (Some(s), None) if missing => out.push(format!("asked for by {s}")),
            (Some(s), None) => out.push(format!("in {s}")),
            (None, Some(st)) => out.push(format!("asked for by {}", escape_controls(st))),
            (None, None) => {}
        }
        out
    }
}

/// `s` with its control characters escaped as Rust writes them (`\n`,
/// `\t`, `\u{1b}`): for every place a name is shown to people (a table row,
/// a chain, Markdown, HTML, SARIF text, annotations). JSON keeps names
/// exact. A symbol may really contain a newline: `no-panic` and
/// `panic-never` name their link-time error that way.
pub(crate) fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_is_kept() {
        assert_eq!(
            escape_controls("\nerror(no-panic): x"),
            "\\nerror(no-panic): x"
        );
        assert_eq!(escape_controls("a\tb\u{1b}[0m"), "a\\tb\\u{1b}[0m");
        assert!(matches!(escape_controls("π::f"), Cow::Borrowed("π::f")));
    }
}
