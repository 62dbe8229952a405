//! Readying a target once for all its cells: its toolchain found, its
//! sysroot built (build-std providers), its C compiler and linker. A
//! target that cannot be readied is every one of its cells' error.
//!
//! It must not build or link a cell.
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use super::CheckOptions;
use super::context::{CellCtx, test_panic};
use super::error::CellError;
use super::progress::Event;
use crate::build::RustSetup;
use crate::model::Target;
use crate::toolchain::{self, StdProvider, Tool, Toolchains};

/// How long the cc crate may take to tell how to compile C for a triple.
const CC_DETECTION_LIMIT: Duration = Duration::from_secs(30);

/// How long rustc may take to print a target's spec.
const SPEC_LIMIT: Duration = Duration::from_secs(60);

/// The cc crate's compile flags for a triple, asked once.
type CcArgs = OnceLock<Result<Vec<String>, CellError>>;

/// A target ready to build: toolchain, sysroot, C compiler, linker.
#[derive(Clone, Debug)]
pub(super) struct Prepared {
    /// How the crate is compiled.
    pub(super) setup: RustSetup,
    /// The C compiler, and the `cc` crate's flags for the triple, asked
    /// by the first cell that compiles C (off the path to the first
    /// build) and shared.
    cc: Option<(Tool, CcArgs)>,
    /// The linker.
    pub(super) linker: Tool,
}

impl Prepared {
    /// The C compiler with the cc crate's flags for `target`'s triple
    /// (asked once per target, within the asking cell's time); `None`
    /// when the target compiles no C.
    pub(super) fn cc(
        &self,
        ctx: &CellCtx<'_>,
        target: &Target,
    ) -> Result<Option<(Tool, Vec<String>)>, CellError> {
        let Some((tool, args)) = &self.cc else {
            return Ok(None);
        };
        let args = args.get_or_init(|| {
            // cc runs the compiler itself, beyond our process module: a
            // compiler that leaves a child holding cc's pipe would hold it
            // to the cell's timeout. Detection takes well under a second;
            // this bounds it.
            let limit = Some(ctx.remaining().min(CC_DETECTION_LIMIT));
            toolchain::cc_args(tool, &target.triple, limit)
                .map_err(|e| CellError::chain(&e, CellError::Toolchain))
        });
        args.clone().map(|a| Some((tool.clone(), a)))
    }
}

/// Ready target `t` (progress lines for a first sysroot build go to `tx`).
pub(super) fn prepare(
    t: &Target,
    chains: &Toolchains,
    opts: &CheckOptions,
    tx: &mpsc::Sender<Event>,
) -> Result<Prepared, CellError> {
    test_panic("prepare", &t.name);
    let tools = chains.for_target(t);
    let fixes = tools.fixes();
    if !fixes.is_empty() {
        return Err(CellError::MissingTool {
            what: format!("missing toolchain for {} ({})", t.name, t.triple),
            fix: Some(fixes.join("; ")),
        });
    }
    let (Ok(cc), Ok(linker)) = (tools.cc, tools.linker) else {
        return Err(CellError::MissingTool {
            what: format!("missing C compiler or linker for {}", t.name),
            fix: None,
        });
    };
    let mut setup = match tools.std {
        StdProvider::Prebuilt(rust) => RustSetup {
            // A hosted target for another machine links with its cross
            // compiler, not rustc's default `cc` (the crate's own
            // `linker` still wins).
            linker: (t.native_libs && !t.triple.starts_with(std::env::consts::ARCH))
                .then(|| linker.path.clone()),
            rust,
            sysroot: None,
            flavor: None,
            default_linker: None,
            native_libs: t.native_libs,
        },
        StdProvider::BuildStd { rust, src } => {
            let sysroot = sysroot(t, &rust, &src, opts, tx)?;
            RustSetup {
                rust,
                sysroot: Some(sysroot),
                // A built sysroot has no `rust-lld` beside it: bare-metal
                // targets, whose default linker that is, get the one
                // linkmatrix found (hosted targets keep their C driver).
                linker: t.triple.contains("-none").then(|| linker.path.clone()),
                flavor: None,
                default_linker: None,
                native_libs: t.native_libs,
            }
        }
        StdProvider::Missing { fix } => {
            return Err(CellError::MissingTool {
                what: format!("no Rust std for {}", t.triple),
                fix: Some(fix),
            });
        }
    };
    // rustc's default linker, and how it takes linkmatrix's link arguments.
    if let Some((flavor, linker)) = toolchain::hosted::spec_linker(
        &setup.rust,
        &t.triple,
        setup.sysroot.as_deref(),
        Some(SPEC_LIMIT),
    ) {
        setup.flavor = Some(flavor);
        setup.default_linker = Some(linker);
    }
    let cc = cc
        .filter(|_| !t.sources.is_empty())
        .map(|cc| (cc, OnceLock::new()));
    Ok(Prepared { setup, cc, linker })
}

/// `t`'s sysroot built with `rust` from `src` (once per toolchain and
/// triple; every later run and cell shares it), saying so the first time.
fn sysroot(
    t: &Target,
    rust: &toolchain::Rust,
    src: &std::path::Path,
    opts: &CheckOptions,
    tx: &mpsc::Sender<Event>,
) -> Result<std::path::PathBuf, CellError> {
    let began = std::cell::Cell::new(None);
    let sysroot = toolchain::ensure_sysroot(
        rust,
        src,
        &t.triple,
        Some(opts.timeout),
        &|lock| {
            let _ = tx.send(Event::Log(format!(
                "waiting for lock {} (another linkmatrix is building core for {})",
                lock.display(),
                t.triple
            )));
        },
        &|| {
            began.set(Some(Instant::now()));
            if !opts.quiet {
                let _ = tx.send(Event::Log(format!(
                    "building core+alloc for {} with {} (first use of this target with this toolchain; once)",
                    t.triple,
                    rust.version.lines().next().unwrap_or_default()
                )));
            }
        },
    )
    .map_err(|e| CellError::chain(&e, CellError::Toolchain))?;
    if let Some(b) = began.get()
        && !opts.quiet
    {
        let _ = tx.send(Event::Log(format!(
            "built core+alloc for {} in {:.0} s",
            t.triple,
            b.elapsed().as_secs_f64()
        )));
    }
    Ok(sysroot)
}
