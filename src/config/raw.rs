//! The matrix and target files as written: serde types, kebab-case, unknown
//! keys are errors, every scalar with its place in the file.
use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A matrix file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawConfig {
    #[serde(rename = "crate", default)]
    pub(super) krate: Option<Spanned<String>>,
    /// A build that is not cargo's (make/Kbuild, any command making an
    /// ELF).
    #[serde(default)]
    pub(super) build: Option<Spanned<RawBuild>>,
    #[serde(default)]
    pub(super) mode: Option<Spanned<String>>,
    /// `mode: bin`: the binary target cargo links (default: the package's
    /// only one).
    #[serde(default)]
    pub(super) bin: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) targets: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) options: IndexMap<Spanned<String>, Spanned<RawOption>>,
    #[serde(default)]
    pub(super) axes: IndexMap<Spanned<String>, Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) include: Vec<Spanned<IndexMap<Spanned<String>, Spanned<String>>>>,
    #[serde(default)]
    pub(super) exclude: Vec<Spanned<IndexMap<Spanned<String>, Spanned<String>>>>,
    #[serde(default)]
    pub(super) policy: RawPolicy,
    /// Whether the crate's default features that no option controls stay
    /// on (default true); options always control their own features.
    #[serde(default)]
    pub(super) default_features: Option<bool>,
    /// A covering plan instead of the full product: `2`, `each`,
    /// `[each, 2]`.
    #[serde(default)]
    pub(super) cover: Option<Spanned<RawCover>>,
    /// Overrides of the targets' linker-script vars (`origin`, `size` of
    /// the generic bare-metal targets' memory region).
    #[serde(default)]
    pub(super) memory: IndexMap<Spanned<String>, Spanned<String>>,
}

/// `cover:` as written: one word or number, or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawCover {
    /// `2`.
    Number(u64),
    /// `each`, `full`.
    Word(String),
    /// `[each, 2]`.
    List(Vec<RawCoverItem>),
}

/// One item of a `cover:` list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawCoverItem {
    /// `2`.
    Number(u64),
    /// `each`.
    Word(String),
}

impl RawCoverItem {
    /// As written.
    pub(super) fn text(&self) -> String {
        match self {
            RawCoverItem::Number(n) => n.to_string(),
            RawCoverItem::Word(w) => w.clone(),
        }
    }
}

/// `build:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawBuild {
    /// The source tree, a path; or `package`, a Debian source package
    /// `setup` installs and unpacks (with `patches` applied).
    #[serde(default)]
    pub(super) source: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) package: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) patches: Vec<Spanned<String>>,
    /// Debian packages the commands need (`setup` installs them).
    #[serde(default)]
    pub(super) packages: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) config: Vec<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) config_file: Option<Spanned<String>>,
    pub(super) command: Vec<Spanned<String>>,
    pub(super) elf: Spanned<String>,
    /// Compile through ccache when it is installed (default true).
    #[serde(default)]
    pub(super) ccache: Option<Spanned<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawOption {
    #[serde(default, rename = "type")]
    pub(super) kind: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) values: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) feature: Option<Spanned<String>>,
    /// The Kconfig symbol a bool option sets (`build:` matrices).
    #[serde(default)]
    pub(super) kconfig: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) features: IndexMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub(super) depends_on: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) default: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) defaults: Vec<RawDefault>,
    #[serde(default)]
    pub(super) labels: Vec<Spanned<String>>,
    /// Value (`true`/`false` for a bool) to the environment, rustc flags,
    /// cfgs and cargo arguments it sets.
    #[serde(default)]
    pub(super) when: IndexMap<Spanned<String>, Spanned<RawSettings>>,
    /// Documentation for people reading the file.
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) help: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSettings {
    #[serde(default)]
    pub(super) env: IndexMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub(super) rustflags: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) cfg: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) cargo_args: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawDefault {
    #[serde(rename = "if")]
    pub(super) cond: Spanned<String>,
    pub(super) value: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawPolicy {
    #[serde(default)]
    pub(super) forbidden: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) allow_undefined: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) roots: Vec<Spanned<String>>,
    /// Size budgets and growth (`size: {max: {flash: 64K}, max-growth: 2%}`).
    #[serde(default)]
    pub(super) size: Option<RawSize>,
}

/// `policy.size` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSize {
    #[serde(default)]
    pub(super) max: RawMeasures,
    /// Growth against the baseline allowed in flash and in RAM.
    #[serde(default)]
    pub(super) max_growth: Option<Spanned<String>>,
}

/// A figure per measure, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawMeasures {
    #[serde(default)]
    pub(super) flash: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) ram: Option<Spanned<String>>,
}

/// A target file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawTarget {
    #[serde(default)]
    pub(super) name: Option<Spanned<String>>,
    pub(super) triple: Spanned<String>,
    /// Documentation for people reading the file.
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) description: Option<String>,
    pub(super) cc: RawCc,
    pub(super) linker: RawLinker,
    #[serde(default)]
    pub(super) platform: RawPlatform,
    #[serde(default)]
    pub(super) toolchain: RawToolchain,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawCc {
    pub(super) compiler: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) target: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) flags: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawLinker {
    pub(super) program: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) flags: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) script: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) vars: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) entry: Option<Spanned<String>>,
    /// `ld` or `cc` (default: what the first program's name says, else
    /// `ld`).
    #[serde(default)]
    pub(super) flavor: Option<Spanned<String>>,
    /// Link rustc's `native-static-libs` after the crate (hosted targets).
    #[serde(default)]
    pub(super) native_libs: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawPlatform {
    #[serde(default)]
    pub(super) sources: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) include: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) exports: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawToolchain {
    #[serde(default)]
    pub(super) apt: Vec<String>,
}
