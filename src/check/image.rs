//! The `image` and `module` runners: build the crate as a staticlib (in
//! the cell's shared build directory, its turn held, the archive copied
//! out) and the target's platform sources, read the link inputs, link with
//! the target's linker, inspect, and hand the evidence to `findings`.
//!
//! It must not decide findings itself.
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::context::{CellCtx, Found, build_failed, global_symbols, measure, policy_roots};
use super::error::CellError;
use super::findings::{self, Evidence, LinkFailure, UndefinedRule};
use super::places;
use super::prepare::Prepared;
use crate::build;
use crate::inspect::{self, Unit};
use crate::link::LinkInputs;
use crate::model::{Analysis, Exports, Mode, ObjectCrates, Target};

/// Run an `image` or `module` cell (the matrix's mode says which).
pub(super) fn run(ctx: &CellCtx<'_>, p: &Prepared) -> Result<Found, CellError> {
    let (m, cell) = (ctx.m, ctx.cell);
    let target = ctx.target()?;
    let dir = ctx.cell_dir()?;
    let built = ctx.in_turn(|shared| {
        build::build_crate(
            &p.setup,
            &m.manifest,
            &m.package,
            cell,
            shared,
            Some(ctx.remaining()),
            ctx.log,
        )
        .and_then(|b| b.copied_to(&dir))
    });
    let built = match built {
        Ok(b) => b,
        Err(f) => return build_failed(ctx, f),
    };
    let cc = p.cc(ctx, target)?;
    let objs = match build::build_platform(
        target,
        cc.as_ref(),
        cell,
        &dir.join("platform"),
        Some(ctx.remaining()),
        ctx.log,
    ) {
        Ok(o) => o,
        Err(f) => return build_failed(ctx, f),
    };
    let InputSymbols {
        mut roots,
        origins,
        globals,
        objects,
    } = input_symbols(&objs, &built.staticlib, &built.crate_name)
        .map_err(|e| CellError::inspection(&e))?;
    roots.extend(policy_roots(m, &globals));
    roots.sort();
    roots.dedup();
    if roots.is_empty() {
        // Without a root nothing of the crate is linked: a pass would lie.
        return Err(CellError::Configuration(format!(
            "`{}` exports no #[no_mangle] function and policy.roots is empty: there is nothing to follow references from",
            m.package
        )));
    }
    let inputs = LinkInputs {
        linker: &p.linker,
        target,
        platform: &objs,
        staticlib: &built.staticlib,
        roots: &roots,
        dir: &dir,
        timeout: Some(ctx.remaining()),
        scripts: &built.link,
        native: &built.native,
    };
    match m.mode {
        Mode::Module => module(ctx, target, &inputs, &origins, &objects),
        Mode::Image | Mode::Bin => image(ctx, &inputs, &origins, &objects),
    }
}

/// Link the image (startup + platform + crate) and inspect it.
fn image(
    ctx: &CellCtx<'_>,
    inputs: &LinkInputs<'_>,
    origins: &HashMap<String, String>,
    objects: &ObjectCrates,
) -> Result<Found, CellError> {
    let (real, image) = inputs.image(ctx.log)?;
    // Each region that overflowed, relinked large enough (best effort).
    let mut relinked: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    if !real.success {
        for (region, over) in places::overflowed(&real.diagnostics) {
            let rdir = places::relink_dir(inputs.dir, &region);
            if let Some(img) = inputs.relink_enlarged(&region, over, &rdir, ctx.log)? {
                relinked.push((region, rdir, img));
            }
        }
    }
    // A region's relink is the image when the failed link left none.
    let image = image.or_else(|| relinked.first().map(|(_, _, img)| img.clone()));
    let entry = &inputs.target.entry;
    let mut all_roots = vec![entry.clone()];
    all_roots.extend(inputs.roots.iter().cloned());
    // Read once: the analysis, the imports, the places and the size come
    // from the same bytes.
    let data = image
        .as_deref()
        .map(|img| inspect::read_file(img).map_err(|e| CellError::inspection(&e)))
        .transpose()?;
    let analysis = match (&image, &data) {
        (Some(img), Some(bytes)) => Some(analyze_data(img, bytes, &all_roots, origins)?),
        _ => None,
    };
    let imports = data.as_deref().and_then(inspect::dynamic_imports);
    // A size is the real image's: a permissive relink leaves out what the
    // failed link could not resolve.
    let script = inputs.dir.join("link.ld");
    let script = inputs.target.script.is_some().then_some(&*script);
    let size = data
        .as_deref()
        .filter(|_| real.success)
        .and_then(|bytes| measure(ctx.m, bytes, script, objects));
    let mut kept = objects.clone();
    if let Some(bytes) = &data {
        kept.keep_for(bytes);
    }
    let places = if real.success {
        None
    } else {
        let mut found = places::duplicates(&real.diagnostics, data.as_deref());
        for (region, rdir, img) in &relinked {
            places::fill(&mut found, region, rdir, img, objects);
        }
        Some(found)
    };
    let failure = (!real.success).then(|| LinkFailure {
        finding: findings::link_error(&real.command, &real.diagnostics),
        diagnostics: &real.diagnostics,
        despite_policy: false,
    });
    let findings = findings::decide(
        &ctx.rules(),
        Evidence {
            analysis: analysis.as_ref(),
            undefined: UndefinedRule::All,
            diagnostics: Some(&real.diagnostics),
            link_failure: failure,
            imports: imports.as_ref(),
            places: places.as_ref(),
        },
    );
    // What `why` and `diff` follow later: the entry point too.
    let roots = if entry.is_empty() {
        inputs.roots.to_vec()
    } else {
        all_roots
    };
    Ok(Found {
        findings,
        image,
        roots,
        size,
        objects: kept,
    })
}

/// Link the platform alone and the crate as a module, and check the
/// module's undefined symbols against what the platform exports.
fn module(
    ctx: &CellCtx<'_>,
    t: &Target,
    inputs: &LinkInputs<'_>,
    origins: &HashMap<String, String>,
    objects: &ObjectCrates,
) -> Result<Found, CellError> {
    let (platform, module, insp) = inputs.module(ctx.log)?;
    let failed = |r: &crate::link::LinkResult| {
        let finding = findings::link_error(&r.command, &r.diagnostics);
        Ok(Found::findings(findings::decide(
            &ctx.rules(),
            Evidence {
                analysis: None,
                undefined: UndefinedRule::All,
                diagnostics: None,
                link_failure: Some(LinkFailure {
                    finding,
                    diagnostics: &r.diagnostics,
                    despite_policy: false,
                }),
                imports: None,
                places: None,
            },
        )))
    };
    let Some(plat) = platform.output.as_ref().filter(|_| platform.success) else {
        return failed(&platform);
    };
    if !module.success {
        return failed(&module);
    }
    let (exported, defined) = platform_symbols(t, plat).map_err(|e| CellError::inspection(&e))?;
    let Some(insp) = insp else {
        return Err(CellError::Link(
            "the module could not be linked for inspection".to_owned(),
        ));
    };
    let a = analyze_file(&insp, inputs.roots, origins)?;
    // The module's own sections: the relocatable object it is loaded as.
    let own = module
        .output
        .as_deref()
        .map(|m| inspect::read_file(m).map_err(|e| CellError::inspection(&e)))
        .transpose()?;
    let size = own
        .as_deref()
        .and_then(|d| measure(ctx.m, d, None, objects));
    let mut kept = objects.clone();
    if let Some(d) = &own {
        kept.keep_for(d);
    }
    let findings = findings::decide(
        &ctx.rules(),
        Evidence {
            analysis: Some(&a),
            undefined: UndefinedRule::Module {
                exported: &exported,
                defined: &defined,
            },
            diagnostics: None,
            link_failure: None,
            imports: None,
            places: None,
        },
    );
    Ok(Found {
        findings,
        image: Some(insp),
        roots: inputs.roots.to_vec(),
        size,
        objects: kept,
    })
}

/// What the linked platform image exports (its export section, or every
/// global) and defines.
fn platform_symbols(t: &Target, plat: &Path) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
    let data = inspect::read_file(plat)?;
    let name = plat.display().to_string();
    let section = match &t.exports {
        Exports::All => None,
        Exports::Section(s) => Some(s.as_str()),
    };
    let exported = inspect::exports(&data, &name, section)?;
    let defined = inspect::analyze(
        &[Unit {
            name: &name,
            data: &data,
        }],
        &[],
    )?
    .defined;
    Ok((exported, defined))
}

/// Analyse a linked image, naming for each function where it came from.
fn analyze_file(
    path: &Path,
    roots: &[String],
    origins: &HashMap<String, String>,
) -> Result<Analysis, CellError> {
    let data = inspect::read_file(path).map_err(|e| CellError::inspection(&e))?;
    analyze_data(path, &data, roots, origins)
}

/// Analyse a linked image's bytes (`path` names it).
fn analyze_data(
    path: &Path,
    data: &[u8],
    roots: &[String],
    origins: &HashMap<String, String>,
) -> Result<Analysis, CellError> {
    let name = path.display().to_string();
    inspect::analyze_with_origins(&[Unit { name: &name, data }], roots, origins)
        .map_err(|e| CellError::inspection(&e))
}

/// What the link inputs define.
struct InputSymbols {
    /// The crate's `#[no_mangle]` functions.
    roots: Vec<String>,
    /// Function → the object (or `archive(member)`) defining it.
    origins: HashMap<String, String>,
    /// Every global function and data object.
    globals: BTreeSet<String>,
    /// The crates of the staticlib's objects.
    objects: ObjectCrates,
}

/// Read the link inputs once: the crate's exported (`#[no_mangle]`)
/// functions, which are the roots, and for every function symbol the input
/// object (archive member, platform object) it comes from.
fn input_symbols(platform: &[PathBuf], staticlib: &Path, crate_name: &str) -> Result<InputSymbols> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for p in platform.iter().map(PathBuf::as_path).chain([staticlib]) {
        let name = p
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        files.push((name, inspect::read_file(p)?));
    }
    let mut parts = Vec::new();
    for (name, data) in &files {
        parts.extend(inspect::units(name, data)?);
    }
    let units: Vec<Unit<'_>> = parts
        .iter()
        .map(|(n, d)| Unit { name: n, data: d })
        .collect();
    let origins = inspect::origins(&units);
    let objects = super::context::measuring(|| {
        ObjectCrates::of_archives(files.last().map(|(_, d)| d.as_slice()))
    });
    let lib = files.last().map_or("", |(n, _)| n.as_str());
    let prefix = format!("{lib}({crate_name}-");
    let globals: BTreeSet<String> = units
        .iter()
        .filter_map(|u| global_symbols(u.data).ok())
        .flatten()
        .collect();
    use object::{Object, ObjectSymbol};
    let mut roots = BTreeSet::new();
    for u in units.iter().filter(|u| u.name.starts_with(&prefix)) {
        let f =
            object::File::parse(u.data).with_context(|| format!("{}: not an object", u.name))?;
        for s in f.symbols() {
            if s.is_global()
                && !s.is_undefined()
                && s.kind() == object::SymbolKind::Text
                && let Ok(n) = s.name()
                && !n.starts_with("_ZN")
                && !n.starts_with("_R")
                && !n.is_empty()
            {
                roots.insert(n.to_owned());
            }
        }
    }
    Ok(InputSymbols {
        roots: roots.into_iter().collect(),
        origins,
        globals,
        objects,
    })
}
