//! The HTML report: one self-contained file (no network assets). The
//! matrix as a grid — a row per arch, a column per option set — coloured
//! by status; selecting a cell shows its options, findings, chains and
//! reproduce command. The report's JSON is embedded and rendered by a
//! small script, so the file works offline and from `file://`.
use crate::model::Report;

const TEMPLATE: &str = include_str!("../../templates/report.html");

/// Render the page.
pub(crate) fn render(r: &Report) -> String {
    // Safe inside <script> and still JSON: `<`, `>` and `&` occur only in
    // strings, where `\u003c` … mean the same characters, so no `</script>`
    // or `<!--` can end or change the element.
    let data = serde_json::to_string(r)
        .unwrap_or_else(|_| "{}".to_owned())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let title = format!(
        "linkmatrix: {} — {} pass, {} fail, {} error",
        r.config, r.summary.pass, r.summary.fail, r.summary.error
    );
    TEMPLATE
        .replace("{{title}}", &escape(&title))
        .replace("{{data}}", &data)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
