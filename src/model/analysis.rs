//! What inspecting an image found: its undefined symbols with their
//! referencing functions and chains, its defined symbols, and the reference
//! graph that chains are searched in (`inspect` builds and walks it). Also
//! what `check` keeps per cell for the triage verbs ([`Inspected`]).
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Reference;

/// An undefined symbol and what references it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Undefined {
    /// The symbol as the linker sees it (mangled).
    pub(crate) symbol: String,
    /// Demangled, when it is a Rust or C++ name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) demangled: Option<String>,
    /// Only weakly referenced (not an error for a linker).
    pub(crate) weak: bool,
    /// From the dynamic symbol table (a shared object's or stripped
    /// executable's imports, resolved at load time; no referencing
    /// functions).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) dynamic: bool,
    /// Referencing functions, one entry per function.
    pub(crate) referenced_by: Vec<Reference>,
    /// Root → … → referencing function → symbol.
    pub(crate) chain: Vec<String>,
    /// Source lines along the chain, from the reference back to the root:
    /// the reference and its inlined call sites, then each call that leads
    /// to it. A report's annotation is the first inside the project.
    #[serde(skip)]
    pub(crate) sites: Vec<(String, u32)>,
    /// Per referencing function (raw name): the inlined callees between it
    /// and the reference, outermost first.
    #[serde(skip)]
    pub(crate) inlined: BTreeMap<String, Vec<String>>,
}

/// A reachable defined function matching a pattern, with its chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reached {
    /// The symbol.
    pub(crate) symbol: String,
    /// Root → … → symbol.
    pub(crate) chain: Vec<String>,
}

/// The result of analysing a set of units.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    /// Undefined symbols, sorted by name.
    pub(crate) undefined: Vec<Undefined>,
    /// Every global symbol some unit defines.
    pub(crate) defined: BTreeSet<String>,
    /// Functions and data objects: the nodes of the reference graph.
    pub(crate) funcs: Vec<Func>,
    /// Per node, what it references.
    pub(crate) edges: Vec<Vec<Edge>>,
    /// Global name to node.
    pub(crate) by_name: HashMap<String, usize>,
    /// The nodes chains start from.
    pub(crate) roots: Vec<usize>,
    /// Undefined symbol name to its edge index.
    pub(crate) undef_names: HashMap<String, usize>,
}

/// A node of the reference graph.
#[derive(Debug, Clone)]
pub(crate) struct Func {
    /// Its symbol name, as written.
    pub(crate) name: String,
}

/// A reference from a node: to another node, or to an undefined symbol.
#[derive(Debug, Clone)]
pub(crate) enum Edge {
    /// To `funcs[i]`.
    Func(usize),
    /// To the `i`th undefined symbol.
    Undef(usize),
}

/// What a cell's inspection used, kept in its work directory for the
/// triage verbs.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Inspected {
    /// The linked (or permissively linked) image.
    pub(crate) image: Option<PathBuf>,
    /// The roots.
    pub(crate) roots: Vec<String>,
    /// What the link's inputs said of crates when the cell was measured
    /// (an entry written before it existed has none).
    #[serde(default)]
    pub(crate) objects: super::ObjectCrates,
}
