//! `policy.size`: budgets (`max: {flash: 64K, ram: 90%}`) and growth
//! against the baseline (`max-growth: 2%`), each value checked where it is
//! written. Sizes are bytes: a number, or one with a `K`/`M`/`G` suffix
//! (1024-based, as linker scripts count: `64K` is 65,536); or a share of
//! the image's regions of that kind (`90%`, at most two decimals).
use serde_saphyr::Spanned;

use super::diag::Validator;
use super::raw::RawSize;
use crate::model::{Growth, Limit, SizePolicy};

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

impl RawSize {
    /// The size policy, every bad value reported where it is written.
    pub(super) fn validate(&self, v: &mut Validator) -> SizePolicy {
        let mut limit = |val: &Option<Spanned<String>>, what: &str| {
            let val = val.as_ref()?;
            let parsed = match percent(&val.value) {
                Some(h) if h > 0 && h <= 10_000 => Some(Limit::Share(h)),
                Some(_) => None,
                None => bytes(&val.value).map(Limit::Bytes),
            };
            if parsed.is_none() {
                v.error(
                    val,
                    format!(
                        "policy.size.max.{what} `{}`: expected bytes (65536, 64K, 1M) or a share of the {what} regions (90%, above 0 and at most 100%)",
                        val.value
                    ),
                );
            }
            parsed
        };
        let max_flash = limit(&self.max.flash, "flash");
        let max_ram = limit(&self.max.ram, "ram");
        let growth = self.max_growth.as_ref().and_then(|val| {
            let parsed = percent(&val.value)
                .map(Growth::Percent)
                .or_else(|| bytes(&val.value).map(Growth::Bytes));
            if parsed.is_none() {
                v.error(
                    val,
                    format!(
                        "policy.size.max-growth `{}`: expected a share of the baseline's size (2%, 0.5%) or bytes (512, 1K)",
                        val.value
                    ),
                );
            }
            parsed
        });
        SizePolicy {
            max_flash,
            max_ram,
            growth_flash: growth,
            growth_ram: growth,
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
