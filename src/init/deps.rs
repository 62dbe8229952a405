//! Features through dependencies: what each of the crate's features turns
//! on in the whole build (`mock-driver = ["embassy-time/mock-driver"]`
//! reaches `embassy-time-driver/tick-hz-1_000_000` two crates down), so
//! `init` sees implications a crate forwards, and the `compile_error!`
//! guards of the dependencies it reaches (`defmt` with `log` in
//! embassy-time), lifted to the crate's own features, and which features
//! turn on a `std` that links the standard library (a bare-metal target
//! has none).
//!
//! Asks `cargo metadata` (with dependencies: offline first, then as cargo
//! would) and reads the reached dependencies' sources; builds nothing.
//! Where cargo cannot resolve the crate, `None`: `init` then uses the
//! crate's own `[features]` and sources alone.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, Package as MetaPackage};

use super::guards::{self, Guards};

/// A package (index into the metadata's packages) and one of its
/// features, or `""` for "the package is built" (`dep:x`).
type Atom = (usize, String);

/// What the crate's features reach through its dependencies.
#[derive(Clone, Debug, Default)]
pub(crate) struct Deep {
    /// Each feature of the crate → the crate's features whose whole
    /// effect on the dependencies it has without turning them on
    /// (`mock-driver` → `tick-hz-1_000_000`, both forwarded).
    pub(crate) forwarded: BTreeMap<String, BTreeSet<String>>,
    /// The dependencies' guards, as sets of the crate's features.
    pub(crate) guards: Guards,
    /// The crate's features that turn on a `std` feature that links the
    /// standard library, each with the packages whose `std` it is.
    pub(crate) needs_std: BTreeMap<String, BTreeSet<String>>,
}

/// The metadata with every feature on, so the resolve holds every
/// optional dependency a feature may turn on.
fn metadata(manifest: &Path) -> Option<Metadata> {
    let mut cmd = MetadataCommand::new();
    cmd.manifest_path(manifest)
        .features(cargo_metadata::CargoOpt::AllFeatures);
    let offline = cmd
        .clone()
        .other_options(vec!["--offline".to_owned()])
        .clone();
    crate::process::cargo_metadata(&offline)
        .or_else(|_| crate::process::cargo_metadata(&cmd))
        .ok()
}

/// The packages and how each one's dependency names resolve.
struct Graph<'m> {
    packages: &'m [MetaPackage],
    /// (package, the name its `[features]` use for a dependency) →
    /// package, and whether its default features come with it.
    deps: HashMap<(usize, String), (usize, bool)>,
    /// The packages built for the target: reached from the crate through
    /// normal dependencies for every platform, not through a build
    /// dependency or a proc macro (those build for the host) nor a
    /// `[target.'cfg(…)'.dependencies]` entry (bare-metal targets rarely
    /// match one).
    on_target: HashSet<usize>,
}

impl<'m> Graph<'m> {
    fn new(meta: &'m Metadata, root: usize) -> Option<Self> {
        let index: HashMap<&cargo_metadata::PackageId, usize> = meta
            .packages
            .iter()
            .enumerate()
            .map(|(i, p)| (&p.id, i))
            .collect();
        let resolve = meta.resolve.as_ref()?;
        let mut deps = HashMap::new();
        let mut edges: HashMap<usize, Vec<usize>> = HashMap::new();
        for node in &resolve.nodes {
            let Some(&p) = index.get(&node.id) else {
                continue;
            };
            for d in &meta.packages[p].dependencies {
                let key = d.rename.clone().unwrap_or_else(|| d.name.clone());
                let lib = key.replace('-', "_");
                let hit = node.deps.iter().find(|nd| {
                    index.get(&nd.pkg).is_some_and(|&q| {
                        meta.packages[q].name.as_str() == d.name
                            && (d.rename.is_none() || nd.name == lib)
                    })
                });
                if let Some(&q) = hit.and_then(|nd| index.get(&nd.pkg)) {
                    deps.insert((p, key), (q, d.uses_default_features));
                    let host = d.kind != DependencyKind::Normal
                        || d.target.is_some()
                        || meta.packages[q]
                            .targets
                            .iter()
                            .any(cargo_metadata::Target::is_proc_macro);
                    if !host {
                        edges.entry(p).or_default().push(q);
                    }
                }
            }
        }
        let mut on_target = HashSet::from([root]);
        let mut todo = vec![root];
        while let Some(p) = todo.pop() {
            for &q in edges.get(&p).into_iter().flatten() {
                if on_target.insert(q) {
                    todo.push(q);
                }
            }
        }
        Some(Self {
            packages: &meta.packages,
            deps,
            on_target,
        })
    }

    /// Package `p`'s `std` feature links the standard library: it is built
    /// for the target and its library root names `feature = "std"`
    /// (`#![cfg_attr(not(feature = "std"), no_std)]`, `#[cfg(feature =
    /// "std")] extern crate std;`). A `std = []` the sources never read
    /// (libc's) does not.
    fn std_links(&self, p: usize) -> bool {
        self.on_target.contains(&p)
            && self.packages[p]
                .targets
                .iter()
                .filter(|t| t.is_lib() || t.is_rlib())
                .any(|t| {
                    std::fs::read_to_string(&t.src_path).is_ok_and(|text| {
                        let flat: String = text.split_whitespace().collect();
                        flat.contains("feature=\"std\"")
                    })
                })
    }

    /// Dependency `dep` of package `p` built (with its default features
    /// when its declaration keeps them); the dependency's package.
    fn enable(&self, p: usize, dep: &str, out: &mut BTreeSet<Atom>) -> Option<usize> {
        let &(q, defaults) = self.deps.get(&(p, dep.to_owned()))?;
        if out.insert((q, String::new())) && defaults {
            self.atoms(q, "default", out);
        }
        Some(q)
    }

    /// Every atom feature `f` of package `p` turns on (`x?/f` is left
    /// out: it turns nothing on by itself).
    fn atoms(&self, p: usize, f: &str, out: &mut BTreeSet<Atom>) {
        if !out.insert((p, f.to_owned())) {
            return;
        }
        let Some(entries) = self.packages[p].features.get(f) else {
            return;
        };
        for e in entries {
            if let Some(dep) = e.strip_prefix("dep:") {
                self.enable(p, dep, out);
            } else if let Some((dep, g)) = e.split_once('/') {
                if dep.ends_with('?') {
                    continue;
                }
                if let Some(q) = self.enable(p, dep, out) {
                    self.atoms(q, g, out);
                }
                if self.packages[p].features.contains_key(dep) {
                    self.atoms(p, dep, out);
                }
            } else {
                self.atoms(p, e, out);
            }
        }
    }
}

/// What the features of the package at `manifest` reach; `None` when
/// cargo cannot resolve it.
pub(crate) fn deep(manifest: &Path) -> Option<Deep> {
    let meta = metadata(manifest)?;
    let root = meta
        .packages
        .iter()
        .position(|p| same_file(p.manifest_path.as_std_path(), manifest))?;
    let graph = Graph::new(&meta, root)?;
    let features: Vec<&String> = meta.packages[root]
        .features
        .keys()
        .filter(|f| *f != "default")
        .collect();
    let atoms: BTreeMap<String, BTreeSet<Atom>> = features
        .iter()
        .map(|f| {
            let mut out = BTreeSet::new();
            graph.atoms(root, f, &mut out);
            ((*f).clone(), out)
        })
        .collect();
    let forwarded = forwarded(root, &atoms);
    let guards = lifted_guards(&graph, root, &atoms, meta.workspace_root.as_std_path());
    let mut links: HashMap<usize, bool> = HashMap::new();
    let needs_std = atoms
        .iter()
        .filter_map(|(f, a)| {
            let whose: BTreeSet<String> = a
                .iter()
                .filter(|(p, g)| {
                    g == "std" && *links.entry(*p).or_insert_with(|| graph.std_links(*p))
                })
                .map(|(p, _)| graph.packages[*p].name.to_string())
                .collect();
            (!whose.is_empty()).then(|| (f.clone(), whose))
        })
        .collect();
    Some(Deep {
        forwarded,
        guards,
        needs_std,
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Feature `b` has the whole effect of `t` on the build's dependencies
/// without turning `t` itself on: everything `t` turns on besides itself
/// (something, at least) `b` turns on too, but not `t`.
fn forwarded(
    root: usize,
    atoms: &BTreeMap<String, BTreeSet<Atom>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let effect = |t: &str| -> BTreeSet<Atom> {
        let mut e = atoms.get(t).cloned().unwrap_or_default();
        e.remove(&(root, t.to_owned()));
        e
    };
    let mut out = BTreeMap::new();
    for (b, on) in atoms {
        let reached: BTreeSet<String> = atoms
            .keys()
            .filter(|t| *t != b && !on.contains(&(root, (*t).clone())))
            .filter(|t| {
                let e = effect(t);
                !e.is_empty() && e.is_subset(on)
            })
            .cloned()
            .collect();
        if !reached.is_empty() {
            out.insert(b.clone(), reached);
        }
    }
    out
}

/// The guards of the dependencies the crate's features reach, each pair
/// `{a, b}` of a package's features as the pairs of the crate's features
/// that turn on `a` and `b` (not both by one feature).
fn lifted_guards(
    graph: &Graph<'_>,
    root: usize,
    atoms: &BTreeMap<String, BTreeSet<Atom>>,
    base: &Path,
) -> Guards {
    let reached: BTreeSet<usize> = atoms
        .values()
        .flatten()
        .map(|(p, _)| *p)
        .filter(|p| *p != root)
        .collect();
    let mut out = Guards::default();
    for q in reached {
        let pkg = &graph.packages[q];
        let roots: Vec<PathBuf> = pkg
            .targets
            .iter()
            .filter(|t| t.is_lib() || t.is_proc_macro() || t.is_rlib())
            .map(|t| t.src_path.clone().into_std_path_buf())
            .collect();
        let dir = pkg
            .manifest_path
            .parent()
            .map_or_else(|| base.to_path_buf(), |d| d.as_std_path().to_path_buf());
        let found = guards::scan(&roots, &dir);
        for (set, place) in &found.conflicts {
            let [a, b] = set.iter().collect::<Vec<_>>()[..] else {
                continue;
            };
            let on = |f: &str| -> BTreeSet<&String> {
                atoms
                    .iter()
                    .filter(|(_, at)| at.contains(&(q, f.to_owned())))
                    .map(|(k, _)| k)
                    .collect()
            };
            let (xs, ys) = (on(a), on(b));
            let shown = format!("{} {}: {place}", pkg.name, pkg.version);
            for &x in &xs {
                for &y in ys
                    .iter()
                    .filter(|&&y| y != x && !xs.contains(y) && !ys.contains(x))
                {
                    let pair = BTreeSet::from([x.clone(), y.clone()]);
                    if !out.conflicts.iter().any(|(s, _)| *s == pair) {
                        out.conflicts.push((pair, shown.clone()));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atoms(list: &[(&str, &[(usize, &str)])]) -> BTreeMap<String, BTreeSet<Atom>> {
        list.iter()
            .map(|(f, a)| {
                let mut set: BTreeSet<Atom> =
                    a.iter().map(|(p, x)| (*p, (*x).to_owned())).collect();
                set.insert((0, (*f).to_owned()));
                ((*f).to_owned(), set)
            })
            .collect()
    }

    #[test]
    fn a_feature_with_a_members_whole_effect_forwards_it() {
        // Package 0 is the crate, 1 its dependency, 2 the driver below.
        let a = atoms(&[
            ("mock", &[(1, "mock"), (1, "hz-1m"), (2, "hz-1m")]),
            ("hz-1m", &[(1, "hz-1m"), (2, "hz-1m")]),
            ("hz-32k", &[(1, "hz-32k"), (2, "hz-32k")]),
            ("local", &[]),
        ]);
        let f = forwarded(0, &a);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f["mock"], BTreeSet::from(["hz-1m".to_owned()]));
    }
}
