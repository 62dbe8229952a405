//! The `bin` runner: cargo builds and links the crate's binary (in the
//! cell's shared build directory, its turn held), the ELF is copied out,
//! and the image's undefined and forbidden symbols, the failed link and
//! the image's size become what the cell found.
//!
//! It must not decide findings itself.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::context::{CellCtx, Found, build_failed, global_symbols, measure, policy_roots};
use super::error::CellError;
use super::findings::{self, Evidence, LinkFailure, UndefinedRule};
use super::places;
use super::prepare::Prepared;
use crate::build::{self, BuildFailure, Linked};
use crate::inspect::{self, Unit};
use crate::model::{Analysis, Finding, FindingKind, Matrix, ObjectCrates};

/// A region that overflowed, relinked with it made large enough.
struct Relinked {
    /// The region's name.
    region: String,
    /// The relink's directory (the enlarged script's record).
    dir: PathBuf,
    /// The relinked image, copied into that directory.
    image: PathBuf,
}

/// Run a `bin` cell.
pub(super) fn run(ctx: &CellCtx<'_>, p: &Prepared) -> Result<Found, CellError> {
    let dir = ctx.cell_dir()?;
    let (linked, relinked, objects) = match link(ctx, p, &dir) {
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
        Linked::Ok { elf, .. } => (Some(elf), None),
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
    // A region's relink is the image when the failed link left none: the
    // undefined symbols, chains, `why` and `diff` read it.
    let image = image.or_else(|| relinked.first().map(|r| &r.image));
    decide(ctx, image, failure, &relinked, objects)
}

/// Build and link the binary in the cell's shared build directory (its
/// turn held) and copy what linked into `dir` (with the `memory.x` the
/// link used), reading what the rlibs say of crates while they are this
/// cell's; on a failed link, each region that overflowed relinked large
/// enough, best effort (measured or not, the finding stands).
fn link(
    ctx: &CellCtx<'_>,
    p: &Prepared,
    dir: &Path,
) -> Result<(Linked, Vec<Relinked>, ObjectCrates), BuildFailure> {
    let m = ctx.m;
    ctx.in_turn(|shared| {
        let job = build::BinJob {
            setup: &p.setup,
            manifest: &m.manifest,
            cell: ctx.cell,
            bin: m.bin.as_deref(),
            target_dir: shared,
            timeout: Some(ctx.remaining()),
            log: ctx.log,
        };
        Ok(match job.build()? {
            Linked::Ok {
                elf,
                link_search,
                rlibs,
                krate,
            } => {
                // The memory map the link used, copied out with the ELF
                // while the build directory is this cell's (never the last
                // run's).
                let _ = std::fs::remove_file(dir.join("memory.x"));
                if let Some(x) = memory_x(&m.manifest, &link_search) {
                    build::copy_into(&x, dir)?;
                }
                let objects = rlib_crates(&rlibs, &krate);
                let linked = Linked::Ok {
                    elf: build::copy_into(&elf, dir)?,
                    link_search,
                    rlibs,
                    krate,
                };
                (linked, Vec::new(), objects)
            }
            Linked::Failed {
                linker,
                diagnostics,
                image,
            } => {
                let image = image.map(|i| build::copy_into(&i, dir)).transpose()?;
                let mut relinked = Vec::new();
                for (region, over) in places::overflowed(&diagnostics) {
                    let rdir = places::relink_dir(dir, &region);
                    if let Some(img) = job.relink_enlarged(&region, over, &rdir)
                        && std::fs::create_dir_all(&rdir).is_ok()
                        && let Ok(image) = build::copy_into(&img, &rdir)
                    {
                        relinked.push(Relinked {
                            region,
                            dir: rdir,
                            image,
                        });
                    }
                }
                let failed = Linked::Failed {
                    linker,
                    diagnostics,
                    image,
                };
                (failed, relinked, ObjectCrates::default())
            }
        })
    })
}

/// What the rlibs of a link say of crates (`krate`: the binary's, for
/// the hashed codegen units no rlib holds), timed as footprint's.
fn rlib_crates(rlibs: &[PathBuf], krate: &str) -> ObjectCrates {
    super::context::measuring(|| {
        // Mapped: the rlibs are megabytes, and no other build writes them
        // while the turn is this cell's.
        let read: Vec<inspect::Input> = rlibs
            .iter()
            .filter_map(|r| inspect::map_file(r).ok())
            .collect();
        let mut objects = ObjectCrates::of_archives(read.iter().map(|d| &**d));
        objects.own = (!krate.is_empty()).then(|| krate.to_owned());
        objects
    })
}

/// The cell's findings and size from what linked: `image` (the binary,
/// the permissive link's or a region's relink) read once, the failed
/// link's words, what each relink measured, and what the link's inputs
/// say of crates (`objects`).
fn decide(
    ctx: &CellCtx<'_>,
    image: Option<&PathBuf>,
    failure: Option<LinkFailure<'_>>,
    relinked: &[Relinked],
    mut objects: ObjectCrates,
) -> Result<Found, CellError> {
    let mut found = Found::default();
    let mut analysis = None;
    let mut imports = None;
    let mut data = None;
    if let Some(img) = image {
        // Read once: the findings and the size come from the same bytes.
        let bytes = inspect::read_file(img).map_err(|e| CellError::inspection(&e))?;
        let (a, roots) = image_analysis(ctx.m, img, &bytes)?;
        analysis = Some(a);
        imports = inspect::dynamic_imports(&bytes);
        found.image = Some(img.clone());
        found.roots = roots;
        if failure.is_none() {
            let memory = ctx.cell_dir()?.join("memory.x");
            let memory = memory.is_file().then_some(&*memory);
            found.size = measure(ctx.m, &bytes, memory, &objects);
        }
        objects.keep_for(&bytes);
        data = Some(bytes);
    }
    let diagnostics = failure.as_ref().map(|f| f.diagnostics);
    let places = diagnostics.map(|d| {
        let mut found = places::duplicates(d, data.as_deref());
        for r in relinked {
            places::fill(&mut found, &r.region, &r.dir, &r.image, &objects);
        }
        found
    });
    found.findings = findings::decide(
        &ctx.rules(),
        Evidence {
            analysis: analysis.as_ref(),
            undefined: UndefinedRule::All,
            diagnostics,
            link_failure: failure,
            imports: imports.as_ref(),
            places: places.as_ref(),
        },
    );
    found.objects = objects;
    Ok(found)
}

/// The `memory.x` a firmware link includes (cortex-m-rt's, riscv-rt's
/// `link.x` say `INCLUDE memory.x`): the package's own, else the first in
/// the directories the build scripts added to the link search (a device
/// crate may write one). A guess where several differ: the linker's
/// order of search is its own.
fn memory_x(manifest: &Path, search: &[PathBuf]) -> Option<PathBuf> {
    manifest
        .parent()
        .into_iter()
        .chain(search.iter().map(PathBuf::as_path))
        .map(|d| d.join("memory.x"))
        .find(|p| p.is_file())
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
