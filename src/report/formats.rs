//! Machine formats rendered from one [`Report`]: JUnit XML, SARIF 2.1.0,
//! GitHub workflow commands, Markdown. Pure functions from a report to
//! bytes; nothing here writes files.
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::model::{CellOutcome, Finding, FindingKind, Reference, Report, Status, escape_controls};

/// One line about a finding: its kind and what it is about, control
/// characters escaped: `undefined-symbol flush_tlb_kernel_range`,
/// `region-overflow FLASH by 2312 bytes (.text)`, `missing-input library
/// -lsensorfw`.
pub(crate) fn headline(f: &Finding) -> String {
    match f.subject() {
        Some(s) => format!("{} {s}", f.kind),
        None => f.kind.to_string(),
    }
}

/// Where a finding is, for people: `referenced by f at file:line`, or for
/// a build error `compiling krate at file:line`, a relocation overflow
/// `in f at file:line` (names escaped).
pub(crate) fn where_line(f: &Finding, r: &Reference) -> String {
    let what = match f.kind {
        FindingKind::BuildError => "compiling",
        FindingKind::RelocationOverflow => "in",
        _ => "referenced by",
    };
    let function = if r.function.is_empty() {
        "?"
    } else {
        &r.function
    };
    format!(
        "{what} {}{}",
        escape_controls(function),
        escape_controls(&r.at())
    )
}

/// A finding's chain, for people: `a -> b -> c`, names escaped.
pub(crate) fn chain_line(f: &Finding, arrow: &str) -> String {
    f.chain
        .iter()
        .map(|c| escape_controls(c))
        .collect::<Vec<_>>()
        .join(arrow)
}

/// Several lines about a finding: where, the kind's details, the chain,
/// the tool's words.
pub(crate) fn details(f: &Finding) -> String {
    let mut s = String::new();
    for r in &f.referenced_by {
        let _ = writeln!(s, "{}", where_line(f, r));
    }
    for l in f.detail_lines() {
        let _ = writeln!(s, "{l}");
    }
    if !f.chain.is_empty() {
        let _ = writeln!(s, "chain: {}", chain_line(f, " -> "));
    }
    if let Some(m) = &f.message {
        s.push_str(m);
        s.push('\n');
    }
    s
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

fn secs(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// JUnit XML: one testcase per cell; failures carry the findings.
pub(crate) fn junit(r: &Report) -> String {
    let total_ms: u64 = r.cells.iter().map(|c| c.duration_ms).sum();
    let s = &r.summary;
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"linkmatrix\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        s.cells,
        s.fail,
        s.error,
        s.skipped,
        secs(total_ms)
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        xml(&r.config),
        s.cells,
        s.fail,
        s.error,
        s.skipped,
        secs(total_ms)
    );
    for c in &r.cells {
        let _ = write!(
            x,
            "    <testcase classname=\"linkmatrix.{}\" name=\"{}\" time=\"{}\">",
            xml(&c.target),
            xml(&c.id),
            secs(c.duration_ms)
        );
        match c.status {
            Status::Fail => {
                for f in c.findings.iter().filter(|f| !f.baseline && !f.is_warning()) {
                    let _ = write!(
                        x,
                        "\n      <failure type=\"{}\" message=\"{}\">{}</failure>",
                        f.kind,
                        xml(&headline(f)),
                        xml(&details(f))
                    );
                }
            }
            Status::Error => {
                let msg = c.error.as_deref().unwrap_or("error");
                let first = msg.lines().next().unwrap_or(msg);
                let _ = write!(
                    x,
                    "\n      <error type=\"error\" message=\"{}\">{}</error>",
                    xml(first),
                    xml(msg)
                );
            }
            Status::Skipped => x.push_str("\n      <skipped/>"),
            Status::Pass => {}
        }
        let _ = write!(
            x,
            "\n      <system-out>reproduce: {}</system-out>\n    </testcase>\n",
            xml(&c.reproduce)
        );
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

fn uri(path: &str) -> String {
    let encoded: String = path
        .chars()
        .map(|c| match c {
            ' ' => "%20".to_owned(),
            '%' => "%25".to_owned(),
            '#' => "%23".to_owned(),
            '?' => "%3F".to_owned(),
            c => c.to_string(),
        })
        .collect();
    if path.starts_with('/') {
        format!("file://{encoded}")
    } else {
        encoded
    }
}

/// SARIF 2.1.0: one result per finding, at the referencing file:line;
/// rule ids are the finding kinds.
pub(crate) fn sarif(r: &Report) -> Value {
    let rules: Vec<Value> = FindingKind::ALL
        .iter()
        .map(|k| {
            json!({
                "id": k.as_str(),
                "shortDescription": {"text": k.description()},
                "defaultConfiguration": {"level": "error"},
            })
        })
        .collect();
    let mut results = Vec::new();
    for c in &r.cells {
        for f in &c.findings {
            let rule_index = f.kind.index();
            let mut text = format!("{} in cell {}", headline(f), c.id);
            if !f.chain.is_empty() {
                let _ = write!(text, " (chain: {})", chain_line(f, " -> "));
            }
            let logical = f.referenced_by.first().map(|rf| {
                let kind = if f.kind == FindingKind::BuildError {
                    "module"
                } else {
                    "function"
                };
                json!([{"fullyQualifiedName": rf.function, "kind": kind}])
            });
            let mut loc = match annotated(f) {
                Some((file, line)) => json!({"physicalLocation": physical(&file, line)}),
                None => json!({"physicalLocation": {"artifactLocation": {"uri": uri(&r.config)}}}),
            };
            if let Some(l) = logical {
                loc["logicalLocations"] = l;
            }
            let locations = vec![loc];
            // The dependency's own line, when the annotation is the user's
            // call into it.
            let references = f
                .referenced_by
                .iter()
                .filter(|_| f.at.is_some())
                .filter_map(|rf| Some((rf.file.clone()?, rf.line, "the reference")));
            // Every definition of a duplicate symbol.
            let definitions = f
                .definitions
                .iter()
                .filter_map(|d| Some((d.file.clone()?, d.line, "a definition")));
            let related: Vec<Value> = references
                .chain(definitions)
                .enumerate()
                .map(|(i, (file, line, what))| {
                    json!({"id": i, "physicalLocation": physical(&file, line), "message": {"text": what}})
                })
                .collect();
            let mut res = json!({
                "ruleId": f.kind.as_str(),
                "ruleIndex": rule_index,
                "level": if f.baseline { "note" } else if f.is_warning() { "warning" } else { "error" },
                "message": {"text": text},
                "locations": locations,
                "relatedLocations": related,
                "partialFingerprints": {"linkmatrix/v1": crate::report::baseline::signature(c, f)},
                "properties": {"cell": c.id, "target": c.target, "chain": f.chain, "reproduce": c.reproduce},
            });
            if f.baseline {
                res["baselineState"] = json!("unchanged");
            }
            results.push(res);
        }
    }
    let mut out = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "linkmatrix",
                "version": r.tool_version,
                "informationUri": "https://github.com/linkmatrix/linkmatrix",
                "rules": rules,
            }},
            "results": results,
        }],
    });
    if let Some(root) = &r.root {
        // Relative locations are relative to the project root.
        out["runs"][0]["originalUriBaseIds"] = json!({
            "%SRCROOT%": {"uri": format!("{}/", uri(root).trim_end_matches('/'))}
        });
    }
    out
}

/// Where to annotate a finding: its `at` (the first line inside the
/// project on the way to the reference), else the first referencing line,
/// else the first definition's line (a duplicate symbol), else the linker
/// script's line (an assertion, a missing input).
pub(crate) fn annotated(f: &Finding) -> Option<(String, Option<u32>)> {
    if let Some(at) = &f.at {
        return Some((at.file.clone(), Some(at.line)));
    }
    f.referenced_by
        .iter()
        .find_map(|rf| Some((rf.file.clone()?, rf.line)))
        .or_else(|| {
            f.definitions
                .iter()
                .find_map(|d| Some((d.file.clone()?, d.line)))
        })
        .or_else(|| f.script.as_ref().map(|s| (s.file.clone(), s.line)))
}

/// A SARIF physical location; a relative file is relative to `%SRCROOT%`.
fn physical(file: &str, line: Option<u32>) -> Value {
    let mut art = json!({"uri": uri(file)});
    if !file.starts_with('/') {
        art["uriBaseId"] = json!("%SRCROOT%");
    }
    let mut phys = json!({"artifactLocation": art});
    if let Some(l) = line.filter(|l| *l > 0) {
        phys["region"] = json!({"startLine": l});
    }
    phys
}

fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_prop(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub workflow commands: a `::group::` per cell with its details, an
/// `::error` per new finding at the referencing file:line.
pub(crate) fn github(r: &Report) -> String {
    let mut out = String::new();
    for c in &r.cells {
        let _ = writeln!(out, "::group::{}: {}", gh_data(&c.id), c.status);
        let _ = writeln!(out, "target {} features {}", c.target, c.features.join(","));
        if let Some(e) = &c.error {
            let _ = writeln!(out, "error: {e}");
        }
        for f in &c.findings {
            let _ = writeln!(
                out,
                "{}{}",
                headline(f),
                if f.baseline { " (baseline)" } else { "" }
            );
            for l in details(f).lines() {
                let _ = writeln!(out, "  {l}");
            }
        }
        let _ = writeln!(out, "reproduce: {}", c.reproduce);
        out.push_str("::endgroup::\n");
    }
    for c in &r.cells {
        if let Some(e) = &c.error {
            let _ = writeln!(
                out,
                "::error title={}::{}",
                gh_prop(&format!("linkmatrix {} error", c.id)),
                gh_data(e)
            );
        }
        for f in c.findings.iter().filter(|f| !f.baseline) {
            let command = if f.is_warning() { "warning" } else { "error" };
            let mut props = Vec::new();
            if let Some((file, line)) = annotated(f) {
                props.push(format!("file={}", gh_prop(&file)));
                if let Some(l) = line {
                    props.push(format!("line={l}"));
                }
            }
            props.push(format!(
                "title={}",
                gh_prop(&format!("{} ({})", headline(f), c.id))
            ));
            let msg = format!("{}\n{}reproduce: {}", headline(f), details(f), c.reproduce);
            let _ = writeln!(out, "::{command} {}::{}", props.join(","), gh_data(&msg));
        }
    }
    out
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_icon(s: Status) -> &'static str {
    match s {
        Status::Pass => "✅ pass",
        Status::Fail => "❌ fail",
        Status::Error => "⚠️ error",
        Status::Skipped => "⏭️ skipped",
    }
}

/// A Markdown summary (for `$GITHUB_STEP_SUMMARY` and pull requests): a
/// row per cell, or for a large report (see
/// [`grouped::at_scale`](super::grouped::at_scale)) a row per group of
/// cells with the same status and findings, each cell shown by the values
/// where it differs from most cells; then each failing cell's findings.
pub(crate) fn markdown(r: &Report) -> String {
    let s = &r.summary;
    let mut out = format!(
        "## linkmatrix: {} cells, {} pass, {} fail, {} error, {} skipped\n\n",
        s.cells, s.pass, s.fail, s.error, s.skipped
    );
    if !r.shards.is_empty() {
        out.push_str("| shard | cells | expected | took |\n|---|---|---|---|\n");
        for row in super::shard_rows(r) {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out.push('\n');
    }
    if super::grouped::at_scale(r) {
        markdown_grouped(r, &mut out);
        return out;
    }
    let sized = r.cells.iter().any(|c| c.size.is_some());
    if sized {
        out.push_str(
            "| cell | target | status | flash | ram | findings |\n|---|---|---|--:|--:|---|\n",
        );
    } else {
        out.push_str("| cell | target | status | findings |\n|---|---|---|---|\n");
    }
    for c in &r.cells {
        let what = cell_summary(c);
        let columns = if sized {
            let (flash, ram) = super::sizes::figures(c.size.as_ref());
            format!(" {flash} | {ram} |")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |{columns} {} |",
            c.id,
            c.target,
            md_icon(c.status),
            md(&what)
        );
    }
    for c in r.cells.iter().filter(|c| !c.findings.is_empty()) {
        let _ = writeln!(out, "\n### `{}`\n", c.id);
        md_findings(&mut out, c);
    }
    out
}

/// Cells listed in a table cell up to this many; past it, folded.
const MD_LISTED: usize = 8;

fn markdown_grouped(r: &Report, out: &mut String) {
    let v = super::grouped::Variation::of(r);
    let groups = super::grouped::groups(r);
    let common: Vec<String> = v.common_words().iter().map(|w| format!("`{w}`")).collect();
    let _ = writeln!(
        out,
        "Each cell is shown by the values where it differs from most cells ({}).\n",
        common.join(" ")
    );
    out.push_str("| status | cells | findings |\n|---|---|---|\n");
    for g in &groups {
        let labels: Vec<String> = g.cells.iter().map(|c| md(&v.label(c))).collect();
        let n = labels.len();
        let cells = if n <= MD_LISTED {
            labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join("<br>")
        } else {
            let listed: Vec<String> = labels
                .iter()
                .map(|l| format!("<code>{}</code>", html_text(l)))
                .collect();
            format!(
                "<details><summary>{n} cells</summary>{}</details>",
                listed.join("<br>")
            )
        };
        let _ = writeln!(out, "| {} | {cells} | {} |", md_icon(g.status), md(&g.what));
    }
    out.push_str(&super::sizes::markdown_sizes(r, MD_LISTED));
    for g in groups.iter().filter(|g| g.status != Status::Pass) {
        let Some(first) = g.cells.first().filter(|c| !c.findings.is_empty()) else {
            continue;
        };
        let _ = writeln!(out, "\n### `{}`\n", first.id);
        if g.cells.len() > 1 {
            let _ = writeln!(
                out,
                "The same findings in {} more cells (above).\n",
                g.cells.len() - 1
            );
        }
        md_findings(out, first);
    }
}

fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A cell's findings as a Markdown list, then its reproduce command.
fn md_findings(out: &mut String, c: &CellOutcome) {
    for f in &c.findings {
        let base = if f.baseline { " (baseline)" } else { "" };
        let _ = writeln!(out, "- **{}**{base}", md(&headline(f)));
        for rf in &f.referenced_by {
            let at = match (&rf.file, rf.line) {
                (Some(file), Some(l)) => format!(" at `{}:{l}`", md(&escape_controls(file))),
                _ => String::new(),
            };
            let function = escape_controls(&rf.function);
            let _ = writeln!(out, "  - referenced by `{}`{at}", md(&function));
        }
        for l in f.detail_lines() {
            let _ = writeln!(out, "  - {}", md(&l));
        }
        if !f.chain.is_empty() {
            let _ = writeln!(out, "  - chain: `{}`", md(&chain_line(f, " → ")));
        }
    }
    let _ = writeln!(out, "\n`{}`", c.reproduce);
}

/// Findings of a cell in one line.
pub(crate) fn cell_summary(c: &CellOutcome) -> String {
    if let Some(e) = &c.error {
        return e.lines().next().unwrap_or_default().to_owned();
    }
    c.findings
        .iter()
        .map(|f| {
            if f.baseline {
                format!("{} (baseline)", headline(f))
            } else {
                headline(f)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CellOutcome, Finding};

    /// Every finding kind has a SARIF rule, and each result points at the
    /// rule of its own kind.
    fn cell(findings: Vec<Finding>) -> CellOutcome {
        CellOutcome {
            id: "c".to_owned(),
            target: "t".to_owned(),
            options: std::collections::BTreeMap::new(),
            features: Vec::new(),
            settings: crate::model::Settings::default(),
            profile: "release".to_owned(),
            status: Status::Fail,
            duration_ms: 0,
            cached_duration_ms: None,
            reproduce: String::new(),
            findings,
            error: None,
            error_kind: None,
            cached: false,
            size: None,
        }
    }

    #[test]
    fn every_kind_has_its_sarif_rule() {
        let findings: Vec<Finding> = FindingKind::ALL
            .iter()
            .map(|k| Finding::symbol(*k, "sym"))
            .collect();
        let s = sarif(&Report::new("m.yaml".to_owned(), vec![cell(findings)]));
        let rules = s["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), FindingKind::ALL.len());
        let results = s["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), FindingKind::ALL.len());
        for (res, kind) in results.iter().zip(FindingKind::ALL) {
            let i = usize::try_from(res["ruleIndex"].as_u64().unwrap()).unwrap();
            assert_eq!(rules[i]["id"], kind.as_str());
            assert_eq!(res["ruleId"], kind.as_str());
            assert!(
                !rules[i]["shortDescription"]["text"]
                    .as_str()
                    .unwrap()
                    .is_empty()
            );
        }
    }

    /// A symbol named with a leading newline (`no-panic`'s) once split the
    /// table row, the Markdown list and the annotation: every text format
    /// shows it escaped, one line; the JSON keeps it exact.
    #[test]
    fn a_newline_in_a_name_is_escaped_in_every_text_format() {
        let mut f = Finding::symbol(
            FindingKind::UndefinedSymbol,
            "\nerror(no-panic): a panicking branch is reachable",
        );
        f.referenced_by.push(Reference {
            function: "rust_begin_unwind".to_owned(),
            object: None,
            file: Some("src/lib.rs".to_owned()),
            line: Some(54),
        });
        f.chain = vec!["main".to_owned(), f.symbol.clone().unwrap()];
        let r = Report::new("m.yaml".to_owned(), vec![cell(vec![f])]);
        let shown = "\\nerror(no-panic): a panicking branch is reachable";
        assert_eq!(
            headline(&r.cells[0].findings[0]),
            format!("undefined-symbol {shown}")
        );
        let md = markdown(&r);
        assert!(
            md.contains(&format!("**undefined-symbol {shown}**")),
            "{md}"
        );
        assert!(
            !md.lines().any(|l| l.starts_with("error(no-panic)")),
            "{md}"
        );
        let gh = github(&r);
        assert!(
            !gh.lines().any(|l| l.starts_with("error(no-panic)")),
            "{gh}"
        );
        let s = sarif(&r);
        let text = s["runs"][0]["results"][0]["message"]["text"]
            .as_str()
            .unwrap();
        assert!(!text.contains('\n') && text.contains(shown), "{text}");
        let junit = junit(&r);
        assert!(junit.contains(shown), "{junit}");
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(
            back.cells[0].findings[0].symbol,
            r.cells[0].findings[0].symbol
        );
    }
}
