//! Footprint across the matrix, from the sizes `inspect::size` measured:
//! one image's breakdown for people ([`print_size`]), what each option
//! costs ([`cost`]), and size budgets and growth against a baseline as
//! findings ([`gate`]). The report's size columns are `report::sizes`'.
//!
//! Pure functions over sizes and reports, except [`run`] (the
//! `footprint` verb, which runs cells through `check` and measures the
//! images that lack a size); printers write to the `&mut dyn Write` they
//! are given. Nothing here parses ELF: that is `inspect::size`.
pub(crate) mod cost;
pub(crate) mod gate;
pub(crate) mod run;

use std::io::Write;

use crate::model::{RegionKind, Size, grouped};

/// A table: a header row, then rows; columns whose header is in `right`
/// are right-aligned (numbers), two spaces between columns.
pub(crate) fn table(
    out: &mut dyn Write,
    header: &[&str],
    right: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = (usize, &str)>| {
        let mut s = String::new();
        for (i, c) in cells {
            if i > 0 {
                s.push_str("  ");
            }
            let pad = widths[i].saturating_sub(c.chars().count());
            if right.contains(&header[i]) {
                s.extend(std::iter::repeat_n(' ', pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(&mut header.iter().copied().enumerate()))?;
    for r in rows {
        writeln!(
            out,
            "{}",
            line(&mut r.iter().map(String::as_str).enumerate())
        )?;
    }
    Ok(())
}

/// `12.3%` of `whole`, or `-` when there is no whole.
pub(crate) fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn kind_word(k: RegionKind) -> &'static str {
    match k {
        RegionKind::Flash => "flash",
        RegionKind::Ram => "ram",
        RegionKind::Unknown => "?",
    }
}

/// One image's footprint for people: the totals, the regions, the
/// sections, the crates and the largest symbols.
pub(crate) fn print_size(s: &Size, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "flash {} B, ram {} B (text {}, data {}, bss {})",
        grouped(s.flash),
        grouped(s.ram),
        grouped(s.text),
        grouped(s.data),
        grouped(s.bss)
    )?;
    if !s.regions.is_empty() {
        writeln!(out)?;
        let rows: Vec<Vec<String>> = s
            .regions
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    kind_word(r.kind).to_owned(),
                    grouped(r.used),
                    grouped(r.length),
                    share(r.used, r.length),
                ]
            })
            .collect();
        let h = ["REGION", "KIND", "USED", "LENGTH", "USE"];
        table(out, &h, &["USED", "LENGTH", "USE"], &rows)?;
    }
    writeln!(out)?;
    let rows: Vec<Vec<String>> = s
        .sections
        .iter()
        .map(|x| {
            let region = match (&x.region, &x.load_region) {
                (Some(r), Some(l)) => format!("{r} (loaded from {l})"),
                (Some(r), None) => r.clone(),
                (None, _) => String::new(),
            };
            vec![
                x.name.clone(),
                grouped(x.bytes),
                grouped(x.flash),
                grouped(x.ram),
                region,
            ]
        })
        .collect();
    let h = ["SECTION", "BYTES", "FLASH", "RAM", "REGION"];
    table(out, &h, &["BYTES", "FLASH", "RAM"], &rows)?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = s
        .crates
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                grouped(c.flash),
                share(c.flash, s.flash),
                grouped(c.ram),
                share(c.ram, s.ram),
            ]
        })
        .collect();
    let h = ["CRATE", "FLASH", "%FLASH", "RAM", "%RAM"];
    table(out, &h, &["FLASH", "%FLASH", "RAM", "%RAM"], &rows)?;
    if !s.symbols.is_empty() {
        writeln!(out)?;
        let rows: Vec<Vec<String>> = s
            .symbols
            .iter()
            .map(|x| {
                vec![
                    grouped(x.bytes),
                    x.section.clone(),
                    x.krate.clone(),
                    x.name.clone(),
                ]
            })
            .collect();
        table(
            out,
            &["BYTES", "SECTION", "CRATE", "SYMBOL"],
            &["BYTES"],
            &rows,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_numbers_right_and_text_left() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["a".to_owned(), "1".to_owned()],
            vec!["long".to_owned(), "1,000".to_owned()],
        ];
        table(&mut out, &["NAME", "BYTES"], &["BYTES"], &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME  BYTES\na         1\nlong  1,000\n"
        );
    }
}
