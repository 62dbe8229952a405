//! The memory regions of a linker script's `MEMORY` command (GNU ld's
//! syntax, which lld and every embedded `memory.x` use):
//!
//! ```text
//! MEMORY
//! {
//!   FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 256K
//!   RAM        : ORIGIN = 0x20000000, LENGTH = 64K - 8
//! }
//! ```
//!
//! `ORIGIN`/`org`/`o` and `LENGTH`/`len`/`l`; numbers in decimal, `0x`
//! hex or with a `K`/`M`/`G` suffix; `+ - * /`, parentheses, and
//! `ORIGIN(NAME)`/`LENGTH(NAME)` of a region defined before. A region
//! whose expressions use anything else (a symbol, `DEFINED`) is left out
//! rather than guessed.
//!
//! A region's kind comes from its attributes when it has them (`w` →
//! RAM; `r`/`x` without `w`, or `!w` → flash), else from its name (it
//! guesses: `FLASH`, `ROM`, `BOOT`, `XIP`, `NOR`, `QSPI`/`OSPI` → flash;
//! `RAM`, `TCM`, `CCM`, `STACK`, `HEAP` → RAM; anything else unknown).
//!
//! Pure: text in, regions out; reading the script is the caller's.
use crate::model::{Region, RegionKind};

/// The regions of every `MEMORY` command in `script`, in order.
pub(crate) fn regions(script: &str) -> Vec<Region> {
    let text = without_comments(script);
    let mut out: Vec<Region> = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = find_word(rest, "MEMORY") {
        rest = &rest[at + "MEMORY".len()..];
        let Some(open) = rest.find('{') else { break };
        if !rest[..open].trim().is_empty() {
            continue;
        }
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        for line in split_regions(&rest[open + 1..open + close]) {
            if let Some(r) = region(&line, &out) {
                out.push(r);
            }
        }
        rest = &rest[open + close..];
    }
    out
}

/// The script without `/* … */` comments (an unclosed one ends it).
fn without_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        out.push(' ');
        match rest[i + 2..].find("*/") {
            Some(j) => rest = &rest[i + 2 + j + 2..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The byte offset of `word` standing alone (not inside an identifier).
fn find_word(s: &str, word: &str) -> Option<usize> {
    word_at(s, word, 0)
}

/// The byte offset of `word` standing alone (not inside an identifier)
/// in `s`, from byte `from` on.
pub(crate) fn word_at(s: &str, word: &str, mut from: usize) -> Option<usize> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    while let Some(i) = s.get(from..)?.find(word) {
        let at = from + i;
        let before = s[..at].chars().next_back().is_some_and(ident);
        let after = s[at + word.len()..].chars().next().is_some_and(ident);
        if !before && !after {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// The region definitions of a `MEMORY` body: each starts with a name
/// and ends where the next name begins (`ORIGIN = …, LENGTH = …` may span
/// lines, and several may share one).
fn split_regions(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in body.split([';', '\n']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        // A piece that does not define a new region (`LENGTH = 4K` on a
        // line of its own) continues the previous one.
        match (part.contains(':'), out.last_mut()) {
            (false, Some(last)) => {
                last.push(' ');
                last.push_str(part);
            }
            _ => out.push(part.to_owned()),
        }
    }
    out
}

/// One `NAME (attrs) : ORIGIN = e, LENGTH = e`.
fn region(def: &str, earlier: &[Region]) -> Option<Region> {
    let (head, body) = def.split_once(':')?;
    let head = head.trim();
    let (name, attrs) = match head.split_once('(') {
        Some((n, a)) => (n.trim(), Some(a.trim_end_matches(')').trim())),
        None => (head, None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let (mut origin, mut length) = (None, None);
    for field in body.split(',') {
        let (key, value) = field.split_once('=')?;
        let v = Expr::new(value, earlier).eval()?;
        match key.trim() {
            "ORIGIN" | "org" | "o" => origin = Some(v),
            "LENGTH" | "len" | "l" => length = Some(v),
            _ => return None,
        }
    }
    Some(Region {
        name: name.to_owned(),
        origin: origin?,
        length: length?,
        kind: kind(name, attrs),
        used: 0,
    })
}

/// Flash, RAM or unknown, from the attributes, else the name.
fn kind(name: &str, attrs: Option<&str>) -> RegionKind {
    if let Some(a) = attrs {
        let (yes, no) = a.split_once('!').unwrap_or((a, ""));
        let has = |s: &str, c: char| s.chars().any(|x| x.eq_ignore_ascii_case(&c));
        if has(yes, 'w') {
            return RegionKind::Ram;
        }
        if has(yes, 'r') || has(yes, 'x') || has(no, 'w') {
            return RegionKind::Flash;
        }
    }
    let n = name.to_ascii_uppercase();
    let any = |words: &[&str]| words.iter().any(|w| n.contains(w));
    if any(&["FLASH", "ROM", "BOOT", "XIP", "NOR", "QSPI", "OSPI"]) {
        RegionKind::Flash
    } else if any(&["RAM", "TCM", "CCM", "STACK", "HEAP"]) {
        RegionKind::Ram
    } else {
        RegionKind::Unknown
    }
}

/// A linker-script expression over numbers and earlier regions.
struct Expr<'a> {
    s: &'a [u8],
    at: usize,
    earlier: &'a [Region],
}

impl<'a> Expr<'a> {
    fn new(s: &'a str, earlier: &'a [Region]) -> Self {
        Self {
            s: s.as_bytes(),
            at: 0,
            earlier,
        }
    }

    /// The value, when the whole text is one expression.
    fn eval(mut self) -> Option<u64> {
        let v = self.sum()?;
        self.skip_space();
        (self.at == self.s.len()).then_some(v)
    }

    fn skip_space(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn next_is(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn sum(&mut self) -> Option<u64> {
        let mut v = self.product()?;
        loop {
            if self.next_is(b'+') {
                v = v.checked_add(self.product()?)?;
            } else if self.next_is(b'-') {
                v = v.checked_sub(self.product()?)?;
            } else {
                return Some(v);
            }
        }
    }

    fn product(&mut self) -> Option<u64> {
        let mut v = self.atom()?;
        loop {
            if self.next_is(b'*') {
                v = v.checked_mul(self.atom()?)?;
            } else if self.next_is(b'/') {
                v = v.checked_div(self.atom()?)?;
            } else {
                return Some(v);
            }
        }
    }

    fn atom(&mut self) -> Option<u64> {
        if self.next_is(b'(') {
            let v = self.sum()?;
            return self.next_is(b')').then_some(v);
        }
        self.skip_space();
        let start = self.at;
        while self
            .s
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.at += 1;
        }
        let word = std::str::from_utf8(&self.s[start..self.at]).ok()?;
        match word {
            "ORIGIN" | "LENGTH" => {
                if !self.next_is(b'(') {
                    return None;
                }
                self.skip_space();
                let from = self.at;
                while self.s.get(self.at).is_some_and(|c| *c != b')') {
                    self.at += 1;
                }
                let name = std::str::from_utf8(&self.s[from..self.at]).ok()?.trim();
                self.at += 1;
                let r = self.earlier.iter().find(|r| r.name == name)?;
                Some(if word == "ORIGIN" { r.origin } else { r.length })
            }
            w => number(w),
        }
    }
}

/// `0x1000`, `4096`, `4K`, `1M`, `0x10K`.
fn number(w: &str) -> Option<u64> {
    let (digits, scale) = match w.as_bytes().last()? {
        b'K' | b'k' => (&w[..w.len() - 1], 1u64 << 10),
        b'M' | b'm' => (&w[..w.len() - 1], 1 << 20),
        b'G' | b'g' => (&w[..w.len() - 1], 1 << 30),
        _ => (w, 1),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    v.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, origin: u64, length: u64, kind: RegionKind) -> Region {
        Region {
            name: name.to_owned(),
            origin,
            length,
            kind,
            used: 0,
        }
    }

    #[test]
    fn cortex_m_memory_x_gives_flash_and_ram() {
        let text = "/* Linker script for the STM32F303VCT6 */\nMEMORY\n{\n  /* NOTE 1 K = 1 KiBi = 1024 bytes */\n  FLASH : ORIGIN = 0x08000000, LENGTH = 256K\n  RAM : ORIGIN = 0x20000000, LENGTH = 40K\n}\n\n/* _stack_start = ORIGIN(RAM) + LENGTH(RAM); */\n";
        assert_eq!(
            regions(text),
            vec![
                r("FLASH", 0x0800_0000, 256 << 10, RegionKind::Flash),
                r("RAM", 0x2000_0000, 40 << 10, RegionKind::Ram),
            ]
        );
    }

    #[test]
    fn attributes_decide_the_kind_before_the_name() {
        let text = "MEMORY { MEM (rwx) : ORIGIN = 0x80000000, LENGTH = 64M\n CODE (rx) : org = 0, len = 0x1000 }";
        assert_eq!(
            regions(text),
            vec![
                r("MEM", 0x8000_0000, 64 << 20, RegionKind::Ram),
                r("CODE", 0, 0x1000, RegionKind::Flash),
            ]
        );
    }

    #[test]
    fn expressions_and_earlier_regions_are_evaluated() {
        let text = "MEMORY\n{\n  BOOT2 : ORIGIN = 0x10000000, LENGTH = 0x100\n  FLASH : ORIGIN = ORIGIN(BOOT2) + LENGTH(BOOT2), LENGTH = 2048K - 0x100\n  RAM : ORIGIN = 0x20000000,\n        LENGTH = (256 + 8) * 1K\n  ODD : ORIGIN = _symbol, LENGTH = 4K\n}";
        assert_eq!(
            regions(text),
            vec![
                r("BOOT2", 0x1000_0000, 0x100, RegionKind::Flash),
                r(
                    "FLASH",
                    0x1000_0100,
                    (2048 << 10) - 0x100,
                    RegionKind::Flash
                ),
                r("RAM", 0x2000_0000, 264 << 10, RegionKind::Ram),
            ]
        );
    }

    #[test]
    fn a_script_without_memory_has_no_regions() {
        assert!(regions("SECTIONS { .text : { *(.text) } }").is_empty());
        assert!(regions("/* MEMORY { A : ORIGIN = 0, LENGTH = 1 } */").is_empty());
        assert!(regions("_MEMORY_END = 1;").is_empty());
    }
}
