//! The `bin` runner: cargo builds and links the crate's binary (in the
//! cell's shared build directory, its turn held), the ELF is copied out,
//! and the image's undefined and forbidden symbols, the failed link and
//! the image's size become what the cell found.
//!
//! It must not decide findings itself.
use std::collections::HashMap;
use std::path::Path;

use super::context::{CellCtx, Found, build_failed, global_symbols, policy_roots};
use super::error::CellError;
use super::findings::{self, Evidence, LinkFailure, UndefinedRule};
use super::prepare::Prepared;
use crate::build::{self, BuildFailure, Linked};
use crate::inspect::{self, Unit};
use crate::model::{Analysis, Finding, FindingKind, Matrix};

/// Run a `bin` cell.
pub(super) fn run(ctx: &CellCtx<'_>, p: &Prepared) -> Result<Found, CellError> {
    let m = ctx.m;
    let dir = ctx.cell_dir()?;
    let linked = ctx.in_turn(|shared| -> Result<Linked, BuildFailure> {
        let linked = build::build_bin(
            &p.setup,
            &m.manifest,
            ctx.cell,
            m.bin.as_deref(),
            shared,
            Some(ctx.remaining()),
            ctx.log,
        )?;
        Ok(match linked {
            Linked::Ok { elf } => Linked::Ok {
                elf: build::copy_into(&elf, &dir)?,
            },
            Linked::Failed {
                linker,
                diagnostics,
                image,
            } => Linked::Failed {
                linker,
                diagnostics,
                image: image.map(|i| build::copy_into(&i, &dir)).transpose()?,
            },
        })
    });
    let linked = match linked {
        Ok(l) => l,
        Err(f) => return build_failed(ctx, f),
    };
    // A failure linkmatrix caused (a link argument of its own refused) is
    // the tool's error, not the crate's finding.
    if let Linked::Failed {
        linker,
        diagnostics,
        ..
    } = &linked
        && let Some(line) = crate::link::refused_own_option(diagnostics)
    {
        return Err(CellError::Link(crate::link::refusal(
            &format!("linking with `{linker}` (cargo rustc)"),
            line,
        )));
    }
    let (image, failure) = match &linked {
        Linked::Ok { elf } => (Some(elf), None),
        Linked::Failed {
            linker,
            diagnostics,
            image,
        } => (
            image.as_ref(),
            Some(LinkFailure {
                finding: Finding::message(
                    FindingKind::LinkError,
                    format!("linking with `{linker}` failed\n{diagnostics}"),
                ),
                diagnostics: diagnostics.as_str(),
                // The policy cannot make a binary exist.
                despite_policy: true,
            }),
        ),
    };
    let mut found = Found::default();
    let mut analysis = None;
    let mut imports = None;
    if let Some(img) = image {
        // Read once: the findings and the size come from the same bytes.
        let data = inspect::read_file(img).map_err(|e| CellError::inspection(&e))?;
        let (a, roots) = image_analysis(m, img, &data)?;
        analysis = Some(a);
        imports = inspect::dynamic_imports(&data);
        found.image = Some(img.clone());
        found.roots = roots;
        if failure.is_none() {
            found.size = inspect::image_size(&data).ok();
        }
    }
    let diagnostics = failure.as_ref().map(|f| f.diagnostics);
    found.findings = findings::decide(
        &ctx.rules(),
        Evidence {
            analysis: analysis.as_ref(),
            undefined: UndefinedRule::All,
            diagnostics,
            link_failure: failure,
            imports: imports.as_ref(),
        },
    );
    Ok(found)
}

/// A linked image's reference graph, rooted at its entry point and the
/// `policy.roots` it defines; and those roots.
pub(super) fn image_analysis(
    m: &Matrix,
    img: &Path,
    data: &[u8],
) -> Result<(Analysis, Vec<String>), CellError> {
    let name = img.display().to_string();
    let globals =
        global_symbols(data).map_err(|e| CellError::Inspection(format!("{name}: {e}")))?;
    let mut roots: Vec<String> = inspect::entry_symbol(data).into_iter().collect();
    roots.extend(policy_roots(m, &globals));
    roots.dedup();
    let a = inspect::analyze_with_origins(&[Unit { name: &name, data }], &roots, &HashMap::new())
        .map_err(|e| CellError::inspection(&e))?;
    Ok((a, roots))
}
