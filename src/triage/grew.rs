//! For `diff`: what grew between a cell whose memory region overflowed
//! and one whose image fit — the overflowing cell's region as its relink
//! measured it (`RegionFill`: bytes per crate) against the fitting cell's
//! footprint (flash, or RAM for a RAM region), crate by crate.
//!
//! Reads two finished outcomes; runs nothing.
use std::collections::BTreeMap;
use std::io::Write;

use crate::model::{CellOutcome, FindingKind, RegionKind, escape_controls, grouped};

/// Crates listed per region, at most.
const MAX_CRATES: usize = 8;

/// For each region `a` overflowed (with what fills it measured) while `b`
/// linked with a size: the region's bytes in each and the crates that
/// grew most. Nothing when neither is so.
pub(super) fn region_growth(
    a: &CellOutcome,
    b: &CellOutcome,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for (over, fit) in [(a, b), (b, a)] {
        let Some(size) = fit.size.as_ref() else {
            continue;
        };
        for f in over
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::RegionOverflow)
        {
            let Some(region) = f.region.as_ref() else {
                continue;
            };
            let Some(fill) = region.fill.as_ref() else {
                continue;
            };
            let ram = size
                .regions
                .iter()
                .find(|r| r.name == region.name)
                .is_some_and(|r| r.kind == RegionKind::Ram)
                || fill.crates.iter().all(|c| c.flash == 0 && c.ram > 0);
            let fit_bytes = size
                .regions
                .iter()
                .find(|r| r.name == region.name)
                .map_or(if ram { size.ram } else { size.flash }, |r| r.used);
            let name = escape_controls(&region.name);
            writeln!(
                out,
                "{name}: {} B in {} (relinked with {name} large enough) vs {} B in {} ({})",
                grouped(fill.used),
                over.id,
                grouped(fit_bytes),
                fit.id,
                signed(i128::from(fill.used) - i128::from(fit_bytes)),
            )?;
            let before: BTreeMap<&str, u64> = size
                .crates
                .iter()
                .map(|c| (c.name.as_str(), if ram { c.ram } else { c.flash }))
                .collect();
            let mut growth: Vec<(i128, &str)> = fill
                .crates
                .iter()
                .map(|c| {
                    let now = c.flash.max(c.ram);
                    let was = before.get(c.name.as_str()).copied().unwrap_or(0);
                    (i128::from(now) - i128::from(was), c.name.as_str())
                })
                .filter(|(d, _)| *d > 0)
                .collect();
            growth.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(y.1)));
            if !growth.is_empty() {
                let shown: Vec<String> = growth
                    .iter()
                    .take(MAX_CRATES)
                    .map(|(d, n)| format!("{} {}", escape_controls(n), signed(*d)))
                    .collect();
                writeln!(out, "  grew: {}", shown.join(", "))?;
            }
        }
    }
    Ok(())
}

/// `+1,234 B`, `-56 B`.
fn signed(d: i128) -> String {
    let n = u64::try_from(d.unsigned_abs()).unwrap_or(u64::MAX);
    format!("{}{} B", if d < 0 { "-" } else { "+" }, grouped(n))
}
