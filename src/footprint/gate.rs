//! Size budgets and growth as findings: pure functions from a cell's
//! [`Size`], the matrix's [`SizePolicy`] and the baseline's figures to
//! `size-budget` and `size-growth` findings, and [`apply`], which decides
//! them for every cell of a report (again: a merged report's shards may
//! have decided them already, so earlier size findings are replaced).
use std::collections::BTreeMap;

use crate::model::{
    CellOutcome, Finding, FindingKind, Growth, Limit, Measure, Report, SizeExcess, SizePolicy,
    Status, Totals, grouped,
};

/// `64K`, `90%` as the policy wrote them (for messages).
fn limit_text(l: Limit) -> String {
    match l {
        Limit::Bytes(b) => format!("{} B", grouped(b)),
        Limit::Share(h) => percent(h),
    }
}

/// Hundredths of a percent as `2%`, `0.5%`.
pub(crate) fn percent(hundredths: u32) -> String {
    let whole = hundredths / 100;
    match hundredths % 100 {
        0 => format!("{whole}%"),
        f if f % 10 == 0 => format!("{whole}.{}%", f / 10),
        f => format!("{whole}.{f:02}%"),
    }
}

fn finding(kind: FindingKind, excess: SizeExcess, message: String) -> Finding {
    let mut f = Finding::message(kind, message);
    f.size = Some(excess);
    f
}

/// `size-budget` findings: each measure over its `policy.size.max`. A
/// share (`90%`) is of the total length of the image's regions of the
/// measure's kind; with no such region known, the budget cannot be
/// checked, and that is a finding too (a gate that cannot check must not
/// pass).
pub(crate) fn budget(size: &crate::model::Size, policy: &SizePolicy) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in Measure::BOTH {
        let Some(limit) = policy.max(m) else { continue };
        let bytes = size.totals().get(m);
        let max = match limit {
            Limit::Bytes(b) => Some(b),
            Limit::Share(h) => size
                .capacity(m.region_kind())
                .map(|cap| (u128::from(cap) * u128::from(h) / 10_000) as u64),
        };
        let Some(max) = max else {
            out.push(finding(
                FindingKind::SizeBudget,
                SizeExcess {
                    measure: m,
                    bytes,
                    limit: None,
                    baseline: None,
                },
                format!(
                    "policy.size.max.{m} is {} of the image's {m} regions, and no {m} region is known for it (no MEMORY in its linker script): give the budget in bytes",
                    limit_text(limit)
                ),
            ));
            continue;
        };
        if bytes > max {
            let of = match limit {
                Limit::Bytes(_) => String::new(),
                Limit::Share(_) => format!(", {} of its {m} regions", limit_text(limit)),
            };
            out.push(finding(
                FindingKind::SizeBudget,
                SizeExcess {
                    measure: m,
                    bytes,
                    limit: Some(max),
                    baseline: None,
                },
                format!(
                    "{m} {} B is over the budget of {} B{of} by {} B",
                    grouped(bytes),
                    grouped(max),
                    grouped(bytes - max)
                ),
            ));
        }
    }
    out
}

/// `size-growth` findings: each measure that grew from the baseline's
/// figure by more than `policy.size.max-growth` (bytes, or a share of the
/// baseline's figure, rounded down).
pub(crate) fn growth(now: Totals, before: Totals, policy: &SizePolicy) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in Measure::BOTH {
        let Some(g) = policy.growth(m) else { continue };
        let (b, n) = (before.get(m), now.get(m));
        let (allowed, text) = match g {
            Growth::Bytes(x) => (x, format!("{} B", grouped(x))),
            Growth::Percent(h) => ((u128::from(b) * u128::from(h) / 10_000) as u64, percent(h)),
        };
        let max = b.saturating_add(allowed);
        if n > max {
            let rel = if b == 0 {
                String::new()
            } else {
                format!(", {:+.2}%", (n - b) as f64 * 100.0 / b as f64)
            };
            out.push(finding(
                FindingKind::SizeGrowth,
                SizeExcess {
                    measure: m,
                    bytes: n,
                    limit: Some(max),
                    baseline: Some(b),
                },
                format!(
                    "{m} grew from {} B to {} B (+{} B{rel}), more than the {text} policy.size.max-growth allows",
                    grouped(b),
                    grouped(n),
                    grouped(n - b)
                ),
            ));
        }
    }
    out
}

/// Whether a finding is one [`apply`] decides.
fn is_size(f: &Finding) -> bool {
    matches!(f.kind, FindingKind::SizeBudget | FindingKind::SizeGrowth)
}

/// Decide the size findings of one cell that ran (earlier ones replaced),
/// record the baseline's figures in its size, and set its status from
/// its findings.
fn apply_cell(c: &mut CellOutcome, policy: &SizePolicy, before: Option<Totals>) {
    if !matches!(c.status, Status::Pass | Status::Fail) {
        return;
    }
    let Some(size) = c.size.as_mut() else { return };
    size.before = before;
    c.findings.retain(|f| !is_size(f));
    let mut found = budget(size, policy);
    if let Some(b) = before {
        found.extend(growth(size.totals(), b, policy));
    }
    c.findings.extend(found);
    c.status = Status::of(&c.findings);
}

/// Decide every cell's size findings against `policy` and the baseline's
/// figures (cell id → flash and RAM), and recount the summary.
pub(crate) fn apply(r: &mut Report, policy: &SizePolicy, baseline: &BTreeMap<String, Totals>) {
    for c in &mut r.cells {
        let before = baseline.get(&c.id).copied();
        apply_cell(c, policy, before);
    }
    let root = r.root.take();
    let mut fresh = Report::new(r.config.clone(), std::mem::take(&mut r.cells));
    fresh.root = root;
    fresh.size_policy = r.size_policy.take();
    fresh.shards = std::mem::take(&mut r.shards);
    *r = fresh;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Region, RegionKind, Size};

    fn size(flash: u64, ram: u64) -> Size {
        Size {
            flash,
            ram,
            ..Size::default()
        }
    }

    #[test]
    fn a_budget_below_the_size_fails_and_one_above_passes() {
        let p = SizePolicy {
            max_flash: Some(Limit::Bytes(64 << 10)),
            max_ram: Some(Limit::Bytes(16 << 10)),
            ..SizePolicy::default()
        };
        assert!(budget(&size(64 << 10, 16 << 10), &p).is_empty());
        let f = budget(&size(70_000, 100), &p);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::SizeBudget);
        let x = f[0].size.as_ref().unwrap();
        assert_eq!(
            (x.measure, x.bytes, x.limit),
            (Measure::Flash, 70_000, Some(65_536))
        );
        assert_eq!(
            f[0].message.as_deref(),
            Some("flash 70,000 B is over the budget of 65,536 B by 4,464 B")
        );
    }

    #[test]
    fn a_share_is_of_the_regions_and_without_them_cannot_pass() {
        let p = SizePolicy {
            max_ram: Some(Limit::Share(9000)),
            ..SizePolicy::default()
        };
        let mut s = size(0, 950);
        assert_eq!(budget(&s, &p).len(), 1, "no RAM region known");
        assert!(
            budget(&s, &p)[0]
                .message
                .as_deref()
                .unwrap()
                .contains("no ram region")
        );
        s.regions = vec![Region {
            name: "RAM".to_owned(),
            origin: 0,
            length: 1000,
            kind: RegionKind::Ram,
            used: 950,
        }];
        let f = budget(&s, &p);
        assert_eq!(f[0].size.as_ref().unwrap().limit, Some(900));
        s.ram = 900;
        assert!(budget(&s, &p).is_empty());
    }

    #[test]
    fn growth_past_the_share_of_the_baseline_fails() {
        let p = SizePolicy {
            growth_flash: Some(Growth::Percent(200)),
            growth_ram: Some(Growth::Bytes(64)),
            ..SizePolicy::default()
        };
        let before = Totals {
            flash: 10_000,
            ram: 1_000,
        };
        let ok = Totals {
            flash: 10_200,
            ram: 1_064,
        };
        assert!(growth(ok, before, &p).is_empty());
        let grown = Totals {
            flash: 10_201,
            ram: 1_065,
        };
        let f = growth(grown, before, &p);
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0].message.as_deref(),
            Some(
                "flash grew from 10,000 B to 10,201 B (+201 B, +2.01%), more than the 2% policy.size.max-growth allows"
            )
        );
        assert_eq!(f[1].size.as_ref().unwrap().baseline, Some(1_000));
        // Shrinking is never growth.
        assert!(growth(Totals::default(), before, &p).is_empty());
    }

    #[test]
    fn percents_read_as_written() {
        assert_eq!(percent(200), "2%");
        assert_eq!(percent(50), "0.5%");
        assert_eq!(percent(125), "1.25%");
        assert_eq!(percent(9000), "90%");
    }

    #[test]
    fn applying_twice_gives_the_same_report() {
        let cell = |id: &str, flash| CellOutcome {
            id: id.to_owned(),
            target: "t".to_owned(),
            options: BTreeMap::new(),
            features: Vec::new(),
            settings: crate::model::Settings::default(),
            profile: "release".to_owned(),
            status: Status::Pass,
            duration_ms: 0,
            cached_duration_ms: None,
            reproduce: String::new(),
            findings: Vec::new(),
            error: None,
            error_kind: None,
            cached: false,
            size: Some(size(flash, 0)),
        };
        let p = SizePolicy {
            max_flash: Some(Limit::Bytes(100)),
            growth_flash: Some(Growth::Bytes(0)),
            ..SizePolicy::default()
        };
        let mut r = Report::new("m.yaml".to_owned(), vec![cell("a", 50), cell("b", 150)]);
        let base = BTreeMap::from([("a".to_owned(), Totals { flash: 40, ram: 0 })]);
        apply(&mut r, &p, &base);
        let once = r.clone();
        apply(&mut r, &p, &base);
        assert_eq!(r, once);
        assert_eq!(r.summary.fail, 2);
        let kinds =
            |i: usize| -> Vec<FindingKind> { r.cells[i].findings.iter().map(|f| f.kind).collect() };
        assert_eq!(kinds(0), [FindingKind::SizeGrowth]);
        assert_eq!(kinds(1), [FindingKind::SizeBudget]);
        assert_eq!(
            r.cells[0].size.as_ref().unwrap().before,
            Some(Totals { flash: 40, ram: 0 })
        );
    }
}
