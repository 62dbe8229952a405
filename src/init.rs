//! `linkmatrix init`: a starting matrix file for the crate in the current
//! directory, from its cargo features (via `cargo metadata`) and the
//! targets the user names. It writes text; it builds nothing.
use anyhow::{Result, bail};
use std::fmt::Write as _;

use crate::config::Package;

/// The text of a starting `linkmatrix.yaml` for `pkg`, which the file
/// names as `krate` (a path relative to the file, or a package name).
pub(crate) fn render(
    pkg: &Package,
    krate: &str,
    targets: &[String],
    mode: &str,
    why: Option<&str>,
) -> Result<String> {
    if !matches!(mode, "image" | "module" | "bin") {
        bail!("--mode {mode}: expected image, module or bin");
    }
    for t in targets {
        if !crate::config::valid_name(t) {
            bail!("--target {t}: not a target name");
        }
    }
    let features: Vec<&str> = pkg.features.iter().map(String::as_str).collect();
    let defaults: Vec<&str> = pkg.defaults.iter().map(String::as_str).collect();

    let mut y = String::new();
    let _ = writeln!(
        y,
        "# linkmatrix matrix for `{}` (written by `linkmatrix init`; edit freely).",
        pkg.name
    );
    let _ = writeln!(
        y,
        "# Run `linkmatrix plan` to see the cells, `linkmatrix check` to build them."
    );
    let _ = writeln!(y, "crate: {krate}");
    if mode == "bin" {
        let _ = writeln!(
            y,
            "# bin: cargo links the binary with the crate's own linker configuration"
        );
        let _ = writeln!(
            y,
            "# (.cargo/config.toml rustflags, memory.x); each cell's verdict is that link's."
        );
    }
    let _ = writeln!(y, "mode: {mode}");
    if mode == "bin" && pkg.bins.len() > 1 {
        let _ = writeln!(
            y,
            "# The binary to link (the package has: {}).",
            pkg.bins.join(", ")
        );
        let _ = writeln!(y, "bin: {}", pkg.bins[0]);
    }
    if let Some(why) = why {
        let _ = writeln!(y, "# Targets: {why}.");
    }
    let _ = writeln!(y, "targets: [{}]", targets.join(", "));
    let _ = writeln!(
        y,
        "# Every cell builds with --no-default-features plus the features its"
    );
    let _ = writeln!(
        y,
        "# options turn on; default features no option controls are added back"
    );
    let _ = writeln!(y, "# (false: leave them off too).");
    let _ = writeln!(y, "default-features: true");
    let _ = writeln!(y);
    let _ = writeln!(
        y,
        "# One option per cargo feature. Add `depends-on: \"expr\"` and"
    );
    let _ = writeln!(
        y,
        "# `default: \"expr\"` rules over options, `arch` and `profile`."
    );
    if features.is_empty() {
        let _ = writeln!(y, "options: {{}}");
    } else {
        let _ = writeln!(y, "options:");
        for f in &features {
            let _ = writeln!(y, "  {f}:");
            let _ = writeln!(y, "    feature: {f}");
            if defaults.contains(f) {
                let _ = writeln!(
                    y,
                    "    help: a default feature; the {f}=false cells build without it"
                );
            }
        }
    }
    let _ = writeln!(y);
    let _ = writeln!(y, "# Every combination of axis values is a cell.");
    let _ = writeln!(y, "axes:");
    let _ = writeln!(y, "  arch: [{}]", targets.join(", "));
    for f in &features {
        let _ = writeln!(y, "  {f}: [false, true]");
    }
    let _ = writeln!(y, "  profile: [release]");
    let _ = writeln!(y);
    let _ = writeln!(y, "exclude: []");
    let _ = writeln!(y, "policy:");
    let _ = writeln!(
        y,
        "  # Symbols that must never be referenced (globs), e.g. the panic machinery:"
    );
    let _ = writeln!(y, "  forbidden: []");
    let _ = writeln!(
        y,
        "  # Undefined symbols the platform will provide at run time:"
    );
    let _ = writeln!(y, "  allow-undefined: []");
    let _ = writeln!(
        y,
        "  # Extra symbols to follow references from ({}):",
        if mode == "bin" {
            "the entry point is a root"
        } else {
            "every #[no_mangle] function is a root"
        }
    );
    let _ = writeln!(y, "  roots: []");
    Ok(y)
}
