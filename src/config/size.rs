//! `policy.size`: budgets (`max: {flash: 64K, ram: 90%}`) and growth
//! against the baseline (`max-growth: 2%`), each value checked where it is
//! written. Sizes are bytes: a number, or one with a `K`/`M`/`G` suffix
//! (1024-based, as linker scripts count: `64K` is 65,536); or a share of
//! the image's regions of that kind (`90%`, at most two decimals).
//! `symbols: N` is how many of the largest symbols each cell's size lists.
use serde_saphyr::Spanned;

use super::diag::Validator;
use super::raw::RawSize;
use crate::model::{Growth, Limit, SizePolicy};

/// The most symbols a cell's size may list (each is a line of the report).
const MAX_SYMBOLS: usize = 10_000;

/// `65536`, `64K`, `1M`, `2G` (also `KiB`/`MiB`/`GiB`) as bytes.
fn bytes(s: &str) -> Option<u64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let (digits, scale) = [
        ("kib", 10),
        ("mib", 20),
        ("gib", 30),
        ("k", 10),
        ("m", 20),
        ("g", 30),
    ]
    .iter()
    .find_map(|(suffix, shift)| {
        lower
            .strip_suffix(suffix)
            .map(|d| (d.trim_end(), 1u64 << shift))
    })
    .unwrap_or((lower.as_str(), 1));
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

/// `2%`, `0.5%`, `12.25%` in hundredths of a percent.
fn percent(s: &str) -> Option<u32> {
    let num = s.trim().strip_suffix('%')?.trim_end();
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .chars()
            .chain(frac.chars())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let frac = format!("{frac:0<2}");
    whole
        .parse::<u32>()
        .ok()?
        .checked_mul(100)?
        .checked_add(frac.parse::<u32>().ok()?)
}

/// `parse(value)`, or a problem at the value saying what `key` expects.
fn sized<T>(
    v: &mut Validator,
    val: Option<&Spanned<String>>,
    key: &str,
    expected: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Option<T> {
    let val = val?;
    let parsed = parse(&val.value);
    if parsed.is_none() {
        v.error(
            val,
            format!("policy.size.{key} `{}`: expected {expected}", val.value),
        );
    }
    parsed
}

impl RawSize {
    /// The size policy, every bad value reported where it is written.
    pub(super) fn validate(&self, v: &mut Validator) -> SizePolicy {
        let limit = |s: &str| match percent(s) {
            Some(h) if h > 0 && h <= 10_000 => Some(Limit::Share(h)),
            Some(_) => None,
            None => bytes(s).map(Limit::Bytes),
        };
        let max = |what: &str| {
            format!(
                "bytes (65536, 64K, 1M) or a share of the {what} regions (90%, above 0 and at most 100%)"
            )
        };
        let max_flash = sized(
            v,
            self.max.flash.as_ref(),
            "max.flash",
            &max("flash"),
            limit,
        );
        let max_ram = sized(v, self.max.ram.as_ref(), "max.ram", &max("ram"), limit);
        let growth = sized(
            v,
            self.max_growth.as_ref(),
            "max-growth",
            "a share of the baseline's size (2%, 0.5%) or bytes (512, 1K)",
            |s| {
                percent(s)
                    .map(Growth::Percent)
                    .or_else(|| bytes(s).map(Growth::Bytes))
            },
        );
        let symbols = sized(
            v,
            self.symbols.as_ref(),
            "symbols",
            &format!("how many symbols to list, 0 to {MAX_SYMBOLS}"),
            |s| s.trim().parse::<usize>().ok().filter(|n| *n <= MAX_SYMBOLS),
        );
        SizePolicy {
            max_flash,
            max_ram,
            growth_flash: growth,
            growth_ram: growth,
            symbols,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_linker_scripts() {
        assert_eq!(bytes("65536"), Some(65_536));
        assert_eq!(bytes("64K"), Some(65_536));
        assert_eq!(bytes("64 KiB"), Some(65_536));
        assert_eq!(bytes("1M"), Some(1 << 20));
        assert_eq!(bytes("2g"), Some(2 << 30));
        assert_eq!(bytes("64KB"), None);
        assert_eq!(bytes("-1"), None);
        assert_eq!(bytes("K"), None);
        assert_eq!(bytes("99999999999999999999"), None);
    }

    #[test]
    fn percents_keep_two_decimals() {
        assert_eq!(percent("2%"), Some(200));
        assert_eq!(percent("0.5%"), Some(50));
        assert_eq!(percent("12.25 %"), Some(1225));
        assert_eq!(percent("1.125%"), None);
        assert_eq!(percent("%"), None);
        assert_eq!(percent("2"), None);
    }
}
