//! A `mode: bin` cell: cargo builds and links the crate's binary (in the
//! cell's shared build directory, its turn held), the ELF is copied out,
//! and what the link left undefined, what the policy forbids and the
//! image's size become the outcome.
use std::collections::HashMap;
use std::path::Path;

use super::cell::{SharedBuild, policy_roots};
use super::findings::{allowed, explained, policy_findings, symbol_finding};
use crate::build::{self, BuildFailure, Linked, RustSetup};
use crate::inspect::{self, Unit};
use crate::model::{Finding, FindingKind, ImageSize, Inspected, Matrix, Status};
use crate::process::Cmd;

/// What a bin cell found: its findings (or why the tool could not
/// finish), and the linked image's size.
pub(super) struct BinResult {
    pub(super) findings: Result<Vec<Finding>, String>,
    pub(super) size: Option<ImageSize>,
    /// What `why` and `diff` read later.
    pub(super) inspected: Option<Inspected>,
}

/// Build and link `cell`'s binary and inspect it. A failed build (not the
/// link) comes back as the `BuildFailure`.
pub(super) fn run(
    m: &Matrix,
    cell: &crate::model::Cell,
    setup: &RustSetup,
    dir: &Path,
    shared: &SharedBuild<'_>,
    timeout: Option<std::time::Duration>,
    log: &dyn Fn(&Cmd),
) -> Result<BinResult, BuildFailure> {
    // The shared directory is one cell's at a time: its build, then the
    // copy of its ELF out of it.
    let linked = {
        let _own = shared
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let linked = build::build_bin(
            setup,
            &m.manifest,
            cell,
            m.bin.as_deref(),
            shared.dir,
            timeout,
            log,
        )?;
        match linked {
            Linked::Ok { elf } => Linked::Ok {
                elf: build::copy_into(&elf, dir)?,
            },
            Linked::Failed {
                linker,
                diagnostics,
                image,
            } => Linked::Failed {
                linker,
                diagnostics,
                image: image.map(|i| build::copy_into(&i, dir)).transpose()?,
            },
        }
    };
    let (image, diagnostics) = match &linked {
        Linked::Ok { elf } => (Some(elf), None),
        Linked::Failed {
            image, diagnostics, ..
        } => (image.as_ref(), Some(diagnostics.as_str())),
    };
    let mut out = Vec::new();
    let mut size = None;
    let mut inspected = None;
    if let Some(img) = image {
        // Read once: the findings and the size come from the same bytes.
        let data = match inspect::read_file(img) {
            Ok(d) => d,
            Err(e) => {
                return Ok(BinResult {
                    findings: Err(format!("{e:#}")),
                    size: None,
                    inspected: None,
                });
            }
        };
        match inspect_image(m, img, &data, diagnostics) {
            Ok((found, roots)) => {
                out = found;
                inspected = Some(Inspected {
                    image: Some(img.clone()),
                    roots,
                });
            }
            Err(e) => {
                return Ok(BinResult {
                    findings: Err(e),
                    size: None,
                    inspected: None,
                });
            }
        }
        if matches!(linked, Linked::Ok { .. }) {
            size = inspect::image_size(&data).ok();
        }
    }
    if let Linked::Failed {
        linker,
        diagnostics,
        ..
    } = &linked
    {
        // The firmware did not link: that fails the cell even when every
        // symbol the linker named is allowed (the policy cannot make a
        // binary exist).
        let failing = Status::of(&out) == Status::Fail;
        if image.is_none() || !failing || !explained(m, diagnostics, &out) {
            out.push(Finding::message(
                FindingKind::LinkError,
                format!("linking with `{linker}` failed\n{diagnostics}"),
            ));
        }
    }
    Ok(BinResult {
        findings: Ok(out),
        size,
        inspected,
    })
}

/// A linked image's reference graph, rooted at its entry point and the
/// `policy.roots` it defines; and those roots.
pub(super) fn image_analysis(
    m: &Matrix,
    img: &Path,
    data: &[u8],
) -> Result<(crate::model::Analysis, Vec<String>), String> {
    let name = img.display().to_string();
    let globals = {
        use object::{Object, ObjectSymbol};
        let f = object::File::parse(data).map_err(|e| format!("{name}: {e}"))?;
        // As for image cells: global functions and data can be roots.
        f.symbols()
            .filter(|s| {
                s.is_global()
                    && !s.is_undefined()
                    && matches!(
                        s.kind(),
                        object::SymbolKind::Text | object::SymbolKind::Data
                    )
            })
            .filter_map(|s| s.name().ok().map(str::to_owned))
            .collect()
    };
    let mut roots: Vec<String> = inspect::entry_symbol(data).into_iter().collect();
    roots.extend(policy_roots(m, &globals));
    roots.dedup();
    let a = inspect::analyze_with_origins(&[Unit { name: &name, data }], &roots, &HashMap::new())
        .map_err(|e| format!("{e:#}"))?;
    Ok((a, roots))
}

/// Undefined and forbidden symbols in a linked (or permissively linked)
/// binary, chains from its entry point and `policy.roots`; and those roots.
fn inspect_image(
    m: &Matrix,
    img: &Path,
    data: &[u8],
    diagnostics: Option<&str>,
) -> Result<(Vec<Finding>, Vec<String>), String> {
    let (a, roots) = image_analysis(m, img, data)?;
    let mut out = Vec::new();
    for u in &a.undefined {
        if u.weak || allowed(m, &u.symbol) {
            continue;
        }
        out.push(symbol_finding(
            m,
            FindingKind::UndefinedSymbol,
            u,
            diagnostics,
        ));
    }
    policy_findings(m, &a, &mut out);
    Ok((out, roots))
}
