//! Validating a target file: triple, C compiler and flags, linker and its
//! script, platform sources, exports; and finding the file a target name
//! means (the matrix's `targets/`, the project's, then the bundled ones).
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use super::diag::{Pos, Span, Validator, pos, whole};
use super::names::{contained, did_you_mean, project_root, valid_name, valid_symbol, valid_triple};
use super::parse::{parse_file, parse_str};
use super::raw::{RawCc, RawLinker, RawPlatform, RawTarget};
use crate::bundle;
use crate::model::{ConfigError, Exports, LinkerFlavor, Target};
use crate::toolchain::hosted;

/// A bundled target by name alone (for `doctor` and `setup` outside a
/// matrix), validated like any other.
pub(crate) fn bundled_target(name: &str) -> Result<Target, ConfigError> {
    target_in(name, None)
}

/// Target `name` as a matrix in directory `dir` would find it (its
/// `targets/<name>.yaml` first, then the bundled ones), or as bundled when
/// `dir` is `None`; validated like any other. Errors: the file's problems.
pub(crate) fn target_in(name: &str, dir: Option<&Path>) -> Result<Target, ConfigError> {
    let fail = |message: String| ConfigError {
        problems: vec![whole(Path::new(&format!("target `{name}`")), message)],
    };
    let (dir, root) = if let Some(d) = dir {
        (d.to_path_buf(), project_root(d))
    } else {
        let b = bundle::root().map_err(|e| fail(format!("{e:#}")))?;
        (b.clone(), b)
    };
    let mut v = Validator {
        file: PathBuf::from(format!("target `{name}`")),
        dir,
        root,
        problems: Vec::new(),
    };
    match v.target(name, Pos::FILE) {
        Some(t) => Ok(t),
        None => Err(ConfigError {
            problems: v.problems,
        }),
    }
}

impl Validator {
    /// `memory:` of the matrix: overrides of the targets' script vars of the
    /// same name (`origin`, `size`), checked, and part of each changed
    /// target's digest so its cells miss the cache.
    pub(super) fn memory(
        &mut self,
        memory: &indexmap::IndexMap<Spanned<String>, Spanned<String>>,
        targets: &mut std::collections::BTreeMap<String, Target>,
    ) {
        use std::fmt::Write as _;
        for (k, val) in memory {
            let known = ["origin", "size"];
            if !known.contains(&k.value.as_str()) {
                self.error(
                    k,
                    format!("memory: `{}` is not one of origin, size", k.value),
                );
                continue;
            }
            let x = val.value.trim();
            let ok = {
                let digits = x.trim_end_matches(['K', 'M', 'k', 'm']);
                x.strip_prefix("0x")
                    .or_else(|| x.strip_prefix("0X"))
                    .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
                    || (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
            };
            if !ok {
                self.error(
                    val,
                    format!(
                        "memory.{}: `{}` is not an address or size (0x08000000, 512K, 1M)",
                        k.value, val.value
                    ),
                );
                continue;
            }
            for t in targets.values_mut() {
                if t.script_vars.contains_key(&k.value) {
                    t.script_vars.insert(k.value.clone(), x.to_owned());
                    let _ = write!(t.digest_input, "\n# memory.{}: {x}", k.value);
                }
            }
        }
    }

    /// The target `name` (written at `at`) means, validated: found from
    /// this file's directory, parsed, and checked in a validator of its
    /// own file, whose problems join these.
    pub(super) fn target(&mut self, name: &str, at: Pos) -> Option<Target> {
        let (path, parsed, default_name) = match find_target(name, &self.dir, &self.root) {
            Ok(Located::File(p)) => {
                let parsed = parse_file::<RawTarget>(&p);
                (p, parsed, None)
            }
            Ok(Located::Hosted { template, text }) => {
                let parsed = parse_str::<RawTarget>(&template, &text).map(|r| (r, text));
                (template, parsed, Some(name.to_owned()))
            }
            Err(e) => {
                self.error(at, e);
                return None;
            }
        };
        let (raw, text): (RawTarget, String) = match parsed {
            Ok(x) => x,
            Err(p) => {
                self.push(p);
                return None;
            }
        };
        // Paths in a target file stay inside its own project: the matrix's,
        // the bundle's, or the repository that holds it.
        let mut tv = Validator::new(&path, &self.root);
        tv.root = match bundle::root() {
            _ if path.starts_with(&self.root) => self.root.clone(),
            Ok(b) if path.starts_with(&b) => b,
            _ => project_root(&tv.dir),
        };
        let name = raw.name.as_ref().map_or_else(
            || {
                default_name.unwrap_or_else(|| {
                    path.file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default()
                })
            },
            |n| n.value.clone(),
        );
        let target = raw.validate(&mut tv, name, text);
        self.problems.append(&mut tv.problems);
        target
    }

    /// Program names (`flags`: false) or flags, each one checked.
    fn words(&mut self, list: &[Spanned<String>], what: &str, flags: bool) -> Vec<String> {
        list.iter()
            .filter_map(|w| {
                let ok = if flags {
                    !w.value.is_empty() && !w.value.contains('\0')
                } else {
                    valid_program(&w.value)
                };
                if ok {
                    Some(w.value.clone())
                } else {
                    self.error(w, format!("{what} `{}` is not valid", w.value));
                    None
                }
            })
            .collect()
    }

    /// Paths written in the file, each inside the project and existing.
    fn paths(&mut self, list: &[Spanned<String>]) -> Vec<PathBuf> {
        list.iter()
            .filter_map(|s| match contained(&self.dir, &s.value, &self.root) {
                Ok(p) if p.exists() => Some(p),
                Ok(p) => {
                    self.error(s, format!("`{}` does not exist ({})", s.value, p.display()));
                    None
                }
                Err(e) => {
                    self.error(s, e);
                    None
                }
            })
            .collect()
    }
}

impl RawTarget {
    /// The target `name` of this file (its `text` is the target's digest
    /// input), its problems recorded in `v` (the target file's); `None`
    /// when it has any.
    fn validate(&self, v: &mut Validator, name: String, text: String) -> Option<Target> {
        if !valid_name(&name) {
            let at = self.name.as_ref().map_or(Pos::FILE, Span::pos);
            v.error(at, format!("target name `{name}` is not valid"));
        }
        if !valid_triple(&self.triple.value) {
            v.error(
                &self.triple,
                format!(
                    "`{}` is not a target triple (letters, digits, `-`, `_`, `.`)",
                    self.triple.value
                ),
            );
        }
        let (cc, cflags) = self.cc.programs(v);
        let (linker, ldflags) = self.linker.programs(v);
        let sources = v.paths(&self.platform.sources);
        let include = v.paths(&self.platform.include);
        let script = self
            .linker
            .script
            .as_ref()
            .and_then(|s| v.paths(std::slice::from_ref(s)).pop());
        let cc_triple = self.cc.triple(v);
        let exports = self.platform.exports(v);
        // Without startup code there is no entry symbol: the image's entry
        // is then a root of the crate (and every root is kept).
        let entry = self.linker.entry(v, !self.platform.sources.is_empty());
        let flavor = self.linker.flavor(v, &linker);
        if cc.is_empty() && v.problems.is_empty() {
            v.error(Pos::FILE, "cc.compiler lists no compiler");
        }
        if linker.is_empty() && v.problems.is_empty() {
            v.error(Pos::FILE, "linker.program lists no linker");
        }
        if !v.problems.is_empty() {
            return None;
        }
        Some(Target {
            name,
            source: v.file.display().to_string(),
            digest_input: text,
            triple: self.triple.value.clone(),
            cc,
            cc_triple,
            cflags,
            linker,
            ldflags,
            flavor,
            native_libs: self.linker.native_libs,
            script,
            script_vars: self.linker.vars.clone(),
            entry,
            sources,
            include,
            exports,
            apt: self.toolchain.apt.clone(),
            cc_at: place(&v.file, self.cc.compiler.first()),
            linker_at: place(&v.file, self.linker.program.first()),
        })
    }
}

impl RawCc {
    /// The C compiler (program and arguments) and its flags, paths in
    /// them anchored at the target file.
    fn programs(&self, v: &mut Validator) -> (Vec<String>, Vec<String>) {
        let cc = v.words(&self.compiler, "C compiler", false);
        let flags = v.words(&self.flags, "C flag", true);
        let cflags = anchor_paths(
            flags,
            &v.dir,
            &["-I", "-isystem", "-include", "-iquote"],
            &[],
        );
        (cc, cflags)
    }

    /// `cc.target`: cc knows the C compiler's target for the Rust triple;
    /// a target file may still name another.
    fn triple(&self, v: &mut Validator) -> Option<String> {
        let t = self.target.as_ref()?;
        if !valid_triple(&t.value) {
            v.error(t, format!("`{}` is not a target triple", t.value));
        }
        Some(t.value.clone())
    }
}

impl RawLinker {
    /// The linker (program and arguments) and its flags, paths in them
    /// anchored at the target file.
    fn programs(&self, v: &mut Validator) -> (Vec<String>, Vec<String>) {
        let linker = v.words(&self.program, "linker", false);
        let flags = v.words(&self.flags, "linker flag", true);
        let ldflags = anchor_paths(
            flags,
            &v.dir,
            &["-L", "-T", "--library-path", "--script"],
            &["--library-path=", "--script="],
        );
        (linker, ldflags)
    }

    /// `entry:`, by default `_start` when the target has startup code
    /// and none (empty) without.
    fn entry(&self, v: &mut Validator, startup: bool) -> String {
        let entry = match &self.entry {
            Some(e) => e.value.clone(),
            None if !startup => String::new(),
            None => "_start".to_owned(),
        };
        if !entry.is_empty() && !valid_symbol(&entry) {
            let at = self.entry.as_ref().map_or(Pos::FILE, Span::pos);
            v.error(at, format!("entry `{entry}` is not a symbol name"));
        }
        entry
    }

    /// `flavor:` `ld` or `cc`; by default what the first program's name
    /// (in `linker`) says, else `ld`.
    fn flavor(&self, v: &mut Validator, linker: &[String]) -> LinkerFlavor {
        match self.flavor.as_ref() {
            Some(f) if f.value == "ld" => LinkerFlavor::Ld,
            Some(f) if f.value == "cc" => LinkerFlavor::Cc,
            Some(f) => {
                v.error(
                    f,
                    format!(
                        "linker.flavor `{}`: expected `ld` (the linker itself) or `cc` (a C compiler driver, `-Wl,…`)",
                        f.value
                    ),
                );
                LinkerFlavor::Ld
            }
            None => linker
                .first()
                .and_then(|l| LinkerFlavor::of_program(l))
                .unwrap_or(LinkerFlavor::Ld),
        }
    }
}

impl RawPlatform {
    /// `exports:` `all` (the default) or `section:<name>`.
    fn exports(&self, v: &mut Validator) -> Exports {
        let Some(e) = &self.exports else {
            return Exports::All;
        };
        match e.value.as_str() {
            "all" => Exports::All,
            s => match s.strip_prefix("section:") {
                Some(sec) if !sec.is_empty() => Exports::Section(sec.to_owned()),
                _ => {
                    v.error(
                        e,
                        format!("exports `{s}`: expected `all` or `section:<name>`"),
                    );
                    Exports::All
                }
            },
        }
    }
}

/// `file:line:col` of a value, for messages that point at the file.
fn place(path: &Path, v: Option<&Spanned<String>>) -> String {
    let shown = crate::model::display_path(path);
    match v {
        Some(v) => {
            let p = pos(&v.referenced);
            format!("{shown}:{}:{}", p.line, p.col)
        }
        None => shown,
    }
}

fn valid_program(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+'))
}

/// What a target name leads to.
enum Located {
    /// A target file.
    File(PathBuf),
    /// A hosted triple with a prebuilt std here: the bundled template's
    /// path (for messages) and its text for the triple.
    Hosted {
        /// The template.
        template: PathBuf,
        /// The target file's text.
        text: String,
    },
}

/// Where a target name or path leads: `<matrix dir>/targets/<name>.yaml`,
/// `<project>/targets/<name>.yaml`, the bundled targets, then a hosted
/// GNU/Linux triple whose prebuilt std is installed.
fn find_target(value: &str, dir: &Path, root: &Path) -> Result<Located, String> {
    if value.contains('/') || value.ends_with(".yaml") || value.ends_with(".yml") {
        let p = contained(dir, value, root)?;
        return if p.is_file() {
            Ok(Located::File(p))
        } else {
            Err(format!(
                "target file `{value}` does not exist ({})",
                p.display()
            ))
        };
    }
    if !valid_name(value) {
        return Err(format!("`{value}` is not a target name"));
    }
    let file = format!("{value}.yaml");
    let bundled = bundle::root().map_err(|e| format!("target `{value}`: {e:#}"))?;
    // Each place once: the matrix's directory, the project, the bundle.
    let mut searched = vec![dir.join("targets"), root.join("targets")];
    searched.dedup();
    searched.retain(|d| *d != bundled.join("targets"));
    for d in searched.iter().chain([&bundled.join("targets")]) {
        if d.join(&file).is_file() {
            return Ok(Located::File(d.join(file)));
        }
    }
    let linux_gnu = hosted::is_linux_gnu(value);
    if linux_gnu && let Some(sysroot) = hosted::prebuilt_std(value) {
        let template = bundled.join("templates/hosted-linux-gnu.yaml");
        let text = std::fs::read_to_string(&template)
            .map_err(|e| format!("reading {}: {e}", template.display()))?;
        let text = hosted::target_text(&text, value, &sysroot);
        return Ok(Located::Hosted { template, text });
    }
    let known = bundle::target_names(&bundled);
    let cands: Vec<&str> = known.iter().map(String::as_str).collect();
    let hint = did_you_mean(value, &cands);
    let places: Vec<String> = searched.iter().map(|d| d.display().to_string()).collect();
    let places = if places.is_empty() {
        " among".to_owned()
    } else {
        format!(" in {} or", places.join(", "))
    };
    let hosted = if linux_gnu {
        format!(
            "; a hosted triple works by name once its prebuilt std is installed (`rustup target add {value}`)"
        )
    } else {
        String::new()
    };
    Err(format!(
        "no target file `{file}`{places} the bundled targets ({}){hint}{hosted}",
        known.join(", ")
    ))
}

/// Paths in flags are relative to the target file, not to wherever
/// linkmatrix runs: `-L link`, `-Llink`, `-T x.ld`, `--script=x.ld`,
/// `-I inc` become absolute when that file or directory exists next to
/// the target file. Others stay as written (`-Tdefmt.x` is found on the
/// search path a build script adds; `-Ttext=0x0` is no path).
fn anchor_paths(flags: Vec<String>, dir: &Path, split: &[&str], joined: &[&str]) -> Vec<String> {
    let anchor = |p: &str| -> Option<String> {
        let rel = Path::new(p);
        if p.is_empty() || rel.is_absolute() {
            return None;
        }
        let abs = dir.join(rel);
        abs.exists().then(|| abs.display().to_string())
    };
    let mut out = Vec::with_capacity(flags.len());
    let mut next_is_path = false;
    for f in flags {
        if std::mem::take(&mut next_is_path) {
            out.push(anchor(&f).unwrap_or(f));
            continue;
        }
        if split.contains(&f.as_str()) {
            next_is_path = true;
            out.push(f);
            continue;
        }
        let prefixes = joined
            .iter()
            .chain(split.iter().filter(|s| !s.starts_with("--")));
        let rewritten = prefixes.into_iter().find_map(|pre| {
            let rest = f.strip_prefix(pre)?;
            anchor(rest).map(|a| format!("{pre}{a}"))
        });
        out.push(rewritten.unwrap_or(f));
    }
    out
}
