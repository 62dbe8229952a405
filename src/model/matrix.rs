//! The validated matrix and what it is made of: options, rules, targets,
//! policy, and the cells `plan` expands it into.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::Expr;

/// A value an option (or `arch`, `profile`) takes in one cell.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Value {
    /// A bool option.
    Bool(bool),
    /// A choice option, `arch` or `profile`.
    Str(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

/// How a cell is linked and checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Mode {
    /// Startup + platform + crate linked into one executable image.
    #[default]
    Image,
    /// The crate as a relocatable module, checked against the exports of the
    /// linked platform image (as modpost checks a `.ko`).
    Module,
    /// The crate's binary, linked by cargo with the crate's own linker
    /// configuration (firmware: `memory.x`, `link.x`, `.cargo/config.toml`).
    Bin,
}

/// What an option value sets besides a cargo feature: environment
/// variables, rustc flags (`cfg:` entries become `--cfg` flags here), and
/// extra cargo arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Settings {
    /// Environment of the cargo build.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) env: BTreeMap<String, String>,
    /// Flags for every rustc of the build (after linkmatrix's own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) rustflags: Vec<String>,
    /// Arguments for cargo.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) cargo_args: Vec<String>,
}

impl Settings {
    /// Add `other` after these (validation makes env names unique).
    pub(crate) fn extend(&mut self, other: &Settings) {
        self.env
            .extend(other.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.rustflags.extend(other.rustflags.iter().cloned());
        self.cargo_args.extend(other.cargo_args.iter().cloned());
    }
}

/// One configuration of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cell {
    /// Stable, readable id, e.g. `arm-smp-nommu-release`.
    pub(crate) id: String,
    /// Name of the target file (the `arch` value).
    pub(crate) arch: String,
    /// The Rust target triple.
    pub(crate) target: String,
    /// Every option's effective value after rules, `arch` first.
    pub(crate) options: BTreeMap<String, Value>,
    /// Cargo features the options turn on, sorted.
    pub(crate) features: Vec<String>,
    /// Cargo profile name (`dev`, `release`, or a custom one).
    pub(crate) profile: String,
    /// What the options' values set besides features.
    #[serde(default, flatten)]
    pub(crate) settings: Settings,
}

/// A validated matrix file with its resolved targets; `plan` expands it
/// into cells.
#[derive(Clone, Debug)]
pub(crate) struct Matrix {
    /// The matrix file.
    pub(crate) path: PathBuf,
    /// The project root paths are shown relative to (the crate's workspace
    /// root, or the matrix file's directory).
    pub(crate) root: PathBuf,
    /// The crate's manifest.
    pub(crate) manifest: PathBuf,
    /// The cargo package name.
    pub(crate) package: String,
    /// The crate's features (without `default`) and what each turns on, as
    /// in `[features]` (`"b"`, `"dep:x"`, `"x/f"`, `"x?/f"`), with the
    /// implicit feature of each optional dependency: what makes two cells'
    /// feature sets equal after implication (one build).
    pub(crate) crate_features: BTreeMap<String, Vec<String>>,
    /// The crate's `default` features. Every cell builds with
    /// `--no-default-features`; those no option controls are added back
    /// unless the matrix says `default-features: false`.
    pub(crate) crate_defaults: Vec<String>,
    /// `default-features` of the matrix file (default true).
    pub(crate) keep_defaults: bool,
    /// Image, module or bin.
    pub(crate) mode: Mode,
    /// `mode: bin`: the binary target (else the package's only one).
    pub(crate) bin: Option<String>,
    /// A non-cargo build, instead of the crate's.
    pub(crate) build: Option<CommandBuild>,
    /// The axes in file order, each with its values (`arch` and `profile`
    /// always present).
    pub(crate) axes: Vec<(String, Vec<Value>)>,
    /// The option rules (`depends-on`, defaults, features, labels).
    pub(crate) rules: Rules,
    /// Extra cells.
    pub(crate) include: Vec<Assignment>,
    /// Cells left out.
    pub(crate) exclude: Vec<Assignment>,
    /// `cover:`: a covering plan instead of the full product (the default
    /// is the full product).
    pub(crate) cover: Cover,
    /// The targets the cells use, by `arch` name.
    pub(crate) targets: BTreeMap<String, Target>,
    /// Symbol policy.
    pub(crate) policy: Policy,
    /// Extra roots to follow references from: symbols, demangled paths,
    /// or globs over either.
    pub(crate) roots: Vec<glob::Pattern>,
}

/// What a covering plan holds (`cover: 2`, `cover: each`,
/// `cover: [each, 2]`); the default, neither, is the full product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cover {
    /// Every combination of this many axis values (1, 2 or 3) in some
    /// cell, where the rules allow it.
    pub(crate) strength: Option<u8>,
    /// One cell per option value with every other option at its default,
    /// on every `arch` and `profile`.
    pub(crate) each: bool,
}

impl Cover {
    /// The full product, not a covering plan.
    pub(crate) fn is_full(self) -> bool {
        self == Cover::default()
    }

    /// Parse the words of `2`, `each`, `[each, 2]`, `full`, as `cover:`
    /// and `--cover` take them; the error says what is accepted.
    pub(crate) fn parse(words: &[&str]) -> Result<Cover, String> {
        let mut c = Cover::default();
        for w in words {
            match w.trim() {
                "each" => c.each = true,
                "full" if words.len() == 1 => return Ok(c),
                t @ ("1" | "2" | "3") if c.strength.is_none() => {
                    c.strength = t.parse().ok();
                }
                other => {
                    return Err(format!(
                        "`{other}`: expected 1, 2 or 3 (every combination of that many axis values), `each` (each option value alone), both (`[each, 2]`), or `full`"
                    ));
                }
            }
        }
        if c.is_full() {
            return Err("expected 1, 2, 3, `each` or `full`".to_owned());
        }
        Ok(c)
    }
}

impl fmt::Display for Cover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.each, self.strength) {
            (true, Some(t)) => write!(f, "[each, {t}]"),
            (true, None) => f.write_str("each"),
            (false, Some(t)) => write!(f, "{t}"),
            (false, None) => f.write_str("full"),
        }
    }
}

/// Symbols that must never appear, and symbols that may stay undefined.
#[derive(Clone, Debug, Default)]
pub(crate) struct Policy {
    /// Glob patterns of symbols that must not be referenced.
    pub(crate) forbidden: Vec<glob::Pattern>,
    /// Glob patterns of symbols allowed to stay undefined.
    pub(crate) allow_undefined: Vec<glob::Pattern>,
    /// Size budgets and growth.
    pub(crate) size: crate::model::SizePolicy,
}

/// A validated target file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// The `arch` name.
    pub(crate) name: String,
    /// The file it came from (a path, or `bundled:targets/x.yaml`).
    pub(crate) source: String,
    /// Its bytes, for the cache key.
    pub(crate) digest_input: String,
    /// Rust target triple.
    pub(crate) triple: String,
    /// C compiler candidates, first found wins.
    pub(crate) cc: Vec<String>,
    /// `--target=` for the C compiler, when the target file names one
    /// (else the `cc` crate's for the Rust triple).
    pub(crate) cc_triple: Option<String>,
    /// C flags.
    pub(crate) cflags: Vec<String>,
    /// Linker candidates, first found wins.
    pub(crate) linker: Vec<String>,
    /// Linker flags, in the linker's flavour.
    pub(crate) ldflags: Vec<String>,
    /// How the linker takes linker options: directly (`ld.lld`, `ld`) or
    /// through a C compiler driver (`cc`, `gcc`, `clang`: `-Wl,…`).
    pub(crate) flavor: LinkerFlavor,
    /// Link the native libraries rustc says the staticlib needs
    /// (`native-static-libs`: `-lc`, `-lgcc_s`, …) after the crate: a
    /// hosted target's image.
    pub(crate) native_libs: bool,
    /// The linker script template, resolved.
    pub(crate) script: Option<PathBuf>,
    /// Values substituted into the script template.
    pub(crate) script_vars: BTreeMap<String, String>,
    /// Entry symbol.
    pub(crate) entry: String,
    /// Platform sources, resolved.
    pub(crate) sources: Vec<PathBuf>,
    /// Include directories, resolved.
    pub(crate) include: Vec<PathBuf>,
    /// How the platform exports symbols to modules.
    pub(crate) exports: Exports,
    /// Debian packages that provide the C compiler and linker.
    pub(crate) apt: Vec<String>,
    /// Where `cc.compiler` is written (`file:line:col`), for messages.
    pub(crate) cc_at: String,
    /// Where `linker.program` is written.
    pub(crate) linker_at: String,
}

/// How a linker takes the options linkmatrix adds (`--emit-relocs`,
/// `--entry=`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkerFlavor {
    /// The linker itself (`ld.lld`, `rust-lld`, GNU `ld`): as they are.
    Ld,
    /// A C compiler driver (`cc`, `gcc`, `clang`): each as `-Wl,…`.
    Cc,
}

impl LinkerFlavor {
    /// The flavour rustc's `-C linker-flavor` value (or a target spec's
    /// `linker-flavor`) names: `gcc`, `gnu-cc`, `gnu-lld-cc`, `darwin-cc`
    /// … are a C driver; `ld`, `gnu`, `gnu-lld`, `ld.lld` … the linker.
    pub(crate) fn of_rustc(flavor: &str) -> Self {
        if flavor == "gcc" || flavor == "em" || flavor.ends_with("-cc") {
            LinkerFlavor::Cc
        } else {
            LinkerFlavor::Ld
        }
    }

    /// The flavour a linker program's name says, as rustc infers it
    /// (`arm-none-eabi-gcc`, `clang`, `cc` → C driver; `ld`, `ld.lld`,
    /// `rust-lld`, `arm-none-eabi-ld` → linker); `None` for a name that
    /// says neither (`flip-link`).
    pub(crate) fn of_program(program: &str) -> Option<Self> {
        let stem = std::path::Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = stem.strip_suffix(".exe").unwrap_or(&stem);
        // `gcc-12`, `clang-19`: a version after the name.
        let base = stem
            .rsplit_once('-')
            .filter(|(_, v)| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .map_or(stem, |(b, _)| b);
        let cc = ["gcc", "g++", "clang", "clang++", "cc", "c++"];
        let ld = [
            "ld", "lld", "ld.lld", "ld.bfd", "ld.gold", "ld.mold", "mold", "rust-lld",
        ];
        let last = base.rsplit('-').next().unwrap_or(base);
        if cc.contains(&base) || cc.contains(&last) {
            Some(LinkerFlavor::Cc)
        } else if ld.contains(&base) || ld.contains(&last) || base.ends_with("-ld") {
            Some(LinkerFlavor::Ld)
        } else {
            None
        }
    }

    /// Linker options `args` (as `ld` takes them) in this flavour: for a
    /// C driver, each as `-Wl,…` (`-z X` as `-Wl,-z,X`).
    pub(crate) fn own<S: AsRef<str>>(self, args: &[S]) -> Vec<String> {
        match self {
            LinkerFlavor::Ld => args.iter().map(|a| a.as_ref().to_owned()).collect(),
            LinkerFlavor::Cc => {
                let mut out = Vec::with_capacity(args.len());
                let mut it = args.iter().map(AsRef::as_ref);
                while let Some(a) = it.next() {
                    if a == "-z"
                        && let Some(v) = it.next()
                    {
                        out.push(format!("-Wl,-z,{v}"));
                    } else {
                        out.push(format!("-Wl,{a}"));
                    }
                }
                out
            }
        }
    }
}

/// How a platform image says which symbols modules may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Exports {
    /// Every global defined symbol.
    All,
    /// NUL-separated names in this section.
    Section(String),
}

/// One option's rules, from the matrix file.
#[derive(Clone, Debug)]
pub(crate) struct OptionRule {
    /// The option.
    pub(crate) name: String,
    /// The values of a choice; `None` for bool.
    pub(crate) choices: Option<Vec<String>>,
    /// Value (`true` for bool) to cargo feature.
    pub(crate) features: BTreeMap<String, String>,
    /// Id labels for false and true (bool only).
    pub(crate) labels: Option<[String; 2]>,
    /// The option is forced off when this is false.
    pub(crate) depends_on: Option<Expr>,
    /// Defaults, first match wins; `None` condition always matches.
    pub(crate) defaults: Vec<(Option<Expr>, Value)>,
    /// Value (`true`/`false` for bool) to what it sets besides a feature.
    pub(crate) settings: BTreeMap<String, Settings>,
    /// The Kconfig symbol it sets, without `CONFIG_` (`build:` matrices).
    pub(crate) kconfig: Option<String>,
}

/// A build that is not cargo's: commands with `{{var}}` templates run in
/// the source tree, and the ELF they make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CommandBuild {
    /// The source tree.
    pub(crate) source: PathBuf,
    /// Where `setup` gets it, when it unpacks it.
    pub(crate) unpack: Option<SourcePackage>,
    /// Debian packages the commands need.
    pub(crate) packages: Vec<String>,
    /// Configuration commands, in order (after the fragment is written).
    pub(crate) config: Vec<Vec<String>>,
    /// The configuration they leave, verified against the fragment.
    pub(crate) config_file: String,
    /// The build command.
    pub(crate) command: Vec<String>,
    /// The ELF it makes.
    pub(crate) elf: String,
    /// C compilers run through ccache when it is installed.
    pub(crate) ccache: bool,
}

/// A source tree `setup` makes: a Debian package's source archive,
/// unpacked, with patches applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SourcePackage {
    /// The package that installs the archive (`linux-source-6.1`).
    pub(crate) package: String,
    /// Patches applied with `patch -p1`, in order.
    pub(crate) patches: Vec<PathBuf>,
}

impl CommandBuild {
    /// `word` with each `{{var}}` (spaces inside allowed) replaced by
    /// `value(var)`, or kept as written when that is `None`.
    pub(crate) fn fill(word: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
        let mut out = String::with_capacity(word.len());
        let mut rest = word;
        while let Some(i) = rest.find("{{") {
            let Some(j) = rest[i..].find("}}") else {
                break;
            };
            out.push_str(&rest[..i]);
            match value(rest[i + 2..i + j].trim()) {
                Some(v) => out.push_str(&v),
                None => out.push_str(&rest[i..i + j + 2]),
            }
            rest = &rest[i + j + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// All option rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rules {
    /// In declaration order.
    pub(crate) options: Vec<OptionRule>,
}

impl Rules {
    /// An evaluation order in which every rule's inputs come first, or the
    /// names that form a cycle.
    pub(crate) fn order(&self) -> Result<Vec<usize>, Vec<String>> {
        let index: HashMap<&str, usize> = self
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name.as_str(), i))
            .collect();
        let deps: Vec<Vec<usize>> = self
            .options
            .iter()
            .map(|o| {
                let mut names = BTreeSet::new();
                o.depends_on.iter().for_each(|e| e.idents(&mut names));
                o.defaults
                    .iter()
                    .filter_map(|(c, _)| c.as_ref())
                    .for_each(|e| e.idents(&mut names));
                names
                    .iter()
                    .filter_map(|n| index.get(n.as_str()).copied())
                    .collect()
            })
            .collect();
        // Iterative DFS with colours; a grey node reached again is a cycle.
        let n = self.options.len();
        let mut colour = vec![0u8; n];
        let mut order = Vec::with_capacity(n);
        for start in 0..n {
            if colour[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, 0usize)];
            colour[start] = 1;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&dep) = deps[node].get(*next) {
                    *next += 1;
                    match colour[dep] {
                        0 => {
                            colour[dep] = 1;
                            stack.push((dep, 0));
                        }
                        1 => {
                            let pos = stack.iter().position(|&(x, _)| x == dep).unwrap_or(0);
                            let mut cycle: Vec<String> = stack[pos..]
                                .iter()
                                .map(|&(x, _)| self.options[x].name.clone())
                                .collect();
                            cycle.push(self.options[dep].name.clone());
                            return Err(cycle);
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = 2;
                    order.push(node);
                    stack.pop();
                }
            }
        }
        Ok(order)
    }
}

/// Values written in an `include` or `exclude` entry.
#[derive(Clone, Debug)]
pub(crate) struct Assignment {
    /// Option (or `arch`, `profile`) to value.
    pub(crate) values: BTreeMap<String, Value>,
    /// An explicit cell id (include only).
    pub(crate) id: Option<String>,
    /// Where the entry is.
    pub(crate) line: u64,
    /// Where the entry is.
    pub(crate) col: u64,
}

/// A matrix and the cells `plan` expanded it into.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// The validated matrix.
    pub(crate) matrix: Matrix,
    /// Cells after axes, rules, include and exclude, in plan order.
    pub(crate) cells: Vec<Cell>,
}
