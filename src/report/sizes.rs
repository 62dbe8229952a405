//! The flash and RAM a report shows per cell: the summary's and
//! Markdown's columns, with the change against the baseline, and for a
//! report too large for a row per cell the cells whose flash changed most.
use crate::model::{Report, Size, grouped, signed};

/// A cell's figure for a summary table: `67,541`, with the change
/// against the baseline when it has one: `67,541 (+120)`, `67,541 (±0)`.
pub(crate) fn figure(now: u64, before: Option<u64>) -> String {
    match before {
        None => grouped(now),
        Some(b) if b == now => format!("{} (±0)", grouped(now)),
        Some(b) => {
            let d = i128::from(now) - i128::from(b);
            let d = i64::try_from(d).unwrap_or(i64::MAX);
            format!("{} ({})", grouped(now), signed(d))
        }
    }
}

/// The flash and RAM cells of a summary row (empty without a size).
pub(crate) fn figures(size: Option<&Size>) -> (String, String) {
    match size {
        None => (String::new(), String::new()),
        Some(s) => {
            let before = s.before;
            (
                figure(s.flash, before.map(|b| b.flash)),
                figure(s.ram, before.map(|b| b.ram)),
            )
        }
    }
}

/// For a report too large for a row per cell: a Markdown table of the
/// `n` cells whose flash changed most against the baseline (else the
/// largest), with their RAM; nothing when no cell has a size.
pub(crate) fn markdown_sizes(r: &Report, n: usize) -> String {
    use std::fmt::Write as _;
    let mut sized: Vec<(&str, &Size)> = r
        .cells
        .iter()
        .filter_map(|c| Some((c.id.as_str(), c.size.as_ref()?)))
        .collect();
    if sized.is_empty() {
        return String::new();
    }
    let changed = sized.iter().any(|(_, s)| s.before.is_some());
    let key = |s: &Size| match s.before {
        Some(b) => s.flash.abs_diff(b.flash),
        None if changed => 0,
        None => s.flash,
    };
    sized.sort_by(|a, b| key(b.1).cmp(&key(a.1)).then_with(|| a.0.cmp(b.0)));
    let what = if changed {
        "whose flash changed most against the baseline"
    } else {
        "with the most flash"
    };
    let mut out = format!(
        "\n### Flash and RAM\n\nThe {} cells {what}.\n\n| cell | flash | ram |\n|---|--:|--:|\n",
        n.min(sized.len())
    );
    for (id, s) in sized.iter().take(n) {
        let (flash, ram) = figures(Some(s));
        let _ = writeln!(out, "| `{id}` | {flash} | {ram} |");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_show_the_change_against_the_baseline() {
        assert_eq!(figure(67_541, None), "67,541");
        assert_eq!(figure(67_541, Some(67_421)), "67,541 (+120)");
        assert_eq!(figure(100, Some(2_100)), "100 (-2,000)");
        assert_eq!(figure(5, Some(5)), "5 (±0)");
    }
}
