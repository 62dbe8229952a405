//! The HTML report: one self-contained file (no network assets). A small
//! matrix as a grid — a row per arch, a column per option set — coloured
//! by status; a larger one as a table of cells × the option values that
//! differ between them, failing cells first, sortable by any column, with
//! a filter box (`fail smp=true`); either view on a button. Selecting a
//! cell shows its options, findings, chains and reproduce command; the
//! view, sort, filter and cell are kept in the address's `#fragment`. The
//! report's JSON is embedded whole and rendered by a small script, so the
//! file works offline and from `file://`. Nothing here writes files.
use serde_json::json;

use crate::model::Report;
use crate::report::formats;

const TEMPLATE: &str = include_str!("../../templates/report.html");

/// Render the page.
pub(crate) fn render(r: &Report) -> String {
    let data = script_json(&serde_json::to_string(r).unwrap_or_else(|_| "{}".to_owned()));
    // What the page shows that the report's JSON does not say in words,
    // worded as the other formats word it (names demangled, control
    // characters escaped): each cell's findings in one line, and per
    // finding what it is about, its lines (references, definitions, the
    // region's image, the relocation, the script line) and its chain.
    let per_finding = |each: &dyn Fn(&crate::model::Finding) -> serde_json::Value| {
        r.cells
            .iter()
            .map(|c| c.findings.iter().map(each).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let view = json!({
        "summaries": r.cells.iter().map(formats::cell_summary).collect::<Vec<_>>(),
        "subjects": per_finding(&|f| json!(f.subject())),
        "lines": per_finding(&|f| {
            let mut lines: Vec<String> =
                f.referenced_by.iter().map(|rf| formats::where_line(f, rf)).collect();
            lines.extend(f.detail_lines());
            json!(lines)
        }),
        "chains": per_finding(&|f| json!(formats::chain_line(f, " → "))),
    });
    let title = format!(
        "linkmatrix: {} — {} pass, {} fail, {} error",
        r.config, r.summary.pass, r.summary.fail, r.summary.error
    );
    fill(
        TEMPLATE,
        &[
            ("{{title}}", &escape(&title)),
            ("{{view}}", &script_json(&view.to_string())),
            ("{{data}}", &data),
        ],
    )
}

/// The template with each placeholder replaced, in one pass over the
/// template: a value that holds a placeholder's text is left as it is.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some((at, key, value)) = values
        .iter()
        .filter_map(|(k, v)| rest.find(k).map(|at| (at, *k, *v)))
        .min_by_key(|(at, _, _)| *at)
    {
        out.push_str(&rest[..at]);
        out.push_str(value);
        rest = &rest[at + key.len()..];
    }
    out.push_str(rest);
    out
}

/// JSON made safe inside `<script>` and still JSON: `<`, `>` and `&` occur
/// only in strings, where `\u003c` … mean the same characters, so no
/// `</script>` or `<!--` can end or change the element.
fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix path holding `{{data}}` once had the report pasted into
    /// the page's title.
    #[test]
    fn placeholders_inside_values_stay_text() {
        let page = fill(
            "<title>{{title}}</title><p>{{data}}</p>",
            &[("{{title}}", "m-{{data}}.yaml"), ("{{data}}", "D")],
        );
        assert_eq!(page, "<title>m-{{data}}.yaml</title><p>D</p>");
    }
}
