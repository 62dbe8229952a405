//! Validating `build:`, a build that is not cargo's (make/Kbuild, any
//! command making an ELF): where its source tree is (a directory in the
//! project, or a Debian source package `setup` unpacks and patches), the
//! packages it needs, its commands, and that every `{{var}}` in them is
//! one linkmatrix fills.
use std::collections::BTreeSet;

use serde_saphyr::Spanned;

use super::diag::{Pos, Validator};
use super::names::contained;
use super::raw::RawBuild;
use crate::model::{CommandBuild, SourcePackage};

/// The variables every command build has (options add theirs).
const FIXED: [&str; 7] = [
    "source", "out", "fragment", "arch", "triple", "profile", "jobs",
];

impl RawBuild {
    /// The command build, written at `at`: the source tree inside the
    /// project, commands that are not empty. `None` when its source is
    /// not known (the problem recorded).
    pub(super) fn validate(&self, v: &mut Validator, at: Pos) -> Option<CommandBuild> {
        let source = self.source_tree(v, at);
        let patches = self.patches(v);
        for p in &self.packages {
            if !valid_package(&p.value) {
                v.error(
                    p,
                    format!("build.packages: `{}` is not a Debian package name", p.value),
                );
            }
        }
        if self.command.is_empty() {
            v.error(at, "build.command is empty");
        }
        if self.config.iter().any(Vec::is_empty) {
            v.error(at, "build.config has an empty command");
        }
        let words = |v: &[Spanned<String>]| v.iter().map(|w| w.value.clone()).collect::<Vec<_>>();
        Some(CommandBuild {
            source: source?,
            unpack: self.package.as_ref().map(|p| SourcePackage {
                package: p.value.clone(),
                patches,
            }),
            packages: self.packages.iter().map(|p| p.value.clone()).collect(),
            config: self.config.iter().map(|c| words(c)).collect(),
            config_file: self
                .config_file
                .as_ref()
                .map_or_else(|| "{{out}}/.config".to_owned(), |c| c.value.clone()),
            command: words(&self.command),
            elf: self.elf.value.clone(),
            ccache: self.ccache.as_ref().is_none_or(|c| c.value),
        })
    }

    /// `source:` (a directory in the project) or `package:` (where `setup`
    /// unpacks it). A tree a setup step unpacks may not exist yet: the
    /// cells say so.
    fn source_tree(&self, v: &mut Validator, at: Pos) -> Option<std::path::PathBuf> {
        match (&self.source, &self.package) {
            (Some(src), None) => match contained(&v.dir, &src.value, &v.root) {
                Ok(p) if p.is_dir() || !p.exists() => Some(p),
                Ok(p) => {
                    v.error(
                        src,
                        format!("build.source: {} is not a directory", p.display()),
                    );
                    None
                }
                Err(e) => {
                    v.error(src, format!("build.source: {e}"));
                    None
                }
            },
            (None, Some(pkg)) if valid_package(&pkg.value) => {
                Some(crate::workdir::WorkDir::at(&v.root, &v.file).unpacked(&pkg.value))
            }
            (None, Some(pkg)) => {
                v.error(
                    pkg,
                    format!(
                        "build.package: `{}` is not a Debian package name",
                        pkg.value
                    ),
                );
                None
            }
            (Some(src), Some(_)) => {
                v.error(
                    src,
                    "build: `source` (a tree) and `package` (one `setup` unpacks) both say where the source is: keep one",
                );
                None
            }
            (None, None) => {
                v.error(
                    at,
                    "build: no `source` (the tree's path) and no `package` (a Debian source package `setup` unpacks)",
                );
                None
            }
        }
    }

    /// `patches:`, files in the project, for a `package`.
    fn patches(&self, v: &mut Validator) -> Vec<std::path::PathBuf> {
        let mut patches = Vec::new();
        for p in &self.patches {
            if self.package.is_none() {
                v.error(
                    p,
                    "build.patches apply to a `package` setup unpacks, not to a `source` tree",
                );
                break;
            }
            match contained(&v.dir, &p.value, &v.root) {
                Ok(path) if path.is_file() => patches.push(path),
                Ok(path) => v.error(
                    p,
                    format!("build.patches: {} is not a file", path.display()),
                ),
                Err(e) => v.error(p, format!("build.patches: {e}")),
            }
        }
        patches
    }

    /// Every `{{var}}` in the build (written at `at`) is one linkmatrix
    /// fills: `source`, `out`, `fragment`, `arch`, `triple`, `profile`,
    /// `jobs` or one of `options`; and no option hides one of those.
    pub(super) fn check_templates(&self, v: &mut Validator, at: Pos, options: &BTreeSet<String>) {
        for o in options {
            if FIXED.contains(&o.as_str()) && o != "arch" && o != "profile" {
                v.error(
                    at,
                    format!("option `{o}` would hide the build variable `{{{{{o}}}}}`: rename it"),
                );
            }
        }
        let all = self
            .config
            .iter()
            .flatten()
            .chain(&self.command)
            .chain([&self.elf])
            .chain(&self.config_file);
        for w in all {
            let mut unknown = Vec::new();
            CommandBuild::fill(&w.value, |var| {
                if !FIXED.contains(&var) && !options.contains(var) {
                    unknown.push(var.to_owned());
                }
                None
            });
            for var in unknown {
                v.error(
                    w,
                    format!("`{{{{{var}}}}}`: not a variable (source, out, fragment, arch, triple, profile, jobs, or an option)"),
                );
            }
        }
    }
}

/// A Debian package name: lower-case letters, digits, `+-.`, from two
/// characters, starting with a letter or digit.
fn valid_package(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}
