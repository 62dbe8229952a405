//! The reference graph of a set of objects: functions and data objects as
//! nodes, relocations as edges, undefined symbols as leaves; chains from
//! the roots by breadth-first search, and every chain to a symbol for
//! `why`.
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use anyhow::{Context, Result};
use object::{
    Object, ObjectKind, ObjectSection, ObjectSymbol, RelocationTarget, SectionIndex, SectionKind,
    SymbolIndex, SymbolKind,
};

use super::dwarf::{Located, dwarf, locate};
use super::{Unit, demangle, parse, pretty};
use crate::model::{Analysis, Edge, Func, Reached, Reference, Undefined};

/// An undefined symbol while references are collected: name, weak only,
/// (reference, referencing function, inlined frames).
type PendingUndef = (String, bool, Vec<(Reference, usize, Located)>);

/// Per section: (address, size, function id), sorted by address.
type SectionFuncs = HashMap<SectionIndex, Vec<(u64, u64, usize)>>;

/// Analyse `units` together. `roots` are the symbols references are
/// followed from (entry point, exported functions); with none, every
/// global defined function is a root.
pub(crate) fn analyze(units: &[Unit<'_>], roots: &[String]) -> Result<Analysis> {
    analyze_with_origins(units, roots, &HashMap::new())
}

/// Like [`analyze`]; `origins` names, per raw function symbol, the object
/// it came from before linking (an archive member), for reports on linked
/// images.
pub(crate) fn analyze_with_origins(
    units: &[Unit<'_>],
    roots: &[String],
    origins: &HashMap<String, String>,
) -> Result<Analysis> {
    let files: Vec<object::File<'_>> = units.iter().map(parse).collect::<Result<_>>()?;
    if let [f] = files.as_slice()
        && only_dynamic(f)
    {
        return dynamic_imports(f, units[0].name);
    }

    // Pass 1: functions and globally defined names.
    let mut a = Analysis::default();
    let mut sym_func: Vec<HashMap<SymbolIndex, usize>> = Vec::with_capacity(files.len());
    // Per unit, per section: (address, size, func) sorted by address.
    let mut sec_funcs: Vec<SectionFuncs> = Vec::new();
    for (ui, f) in files.iter().enumerate() {
        let mut sf = HashMap::new();
        let mut by_sec: SectionFuncs = HashMap::new();
        for s in f.symbols() {
            let name = sym_name(&s, units[ui].name, "symbol")?;
            let name = &*name;
            if s.is_undefined() {
                continue;
            }
            if s.is_global() && !name.is_empty() {
                a.defined.insert(name.to_owned());
            }
            // Functions, and data objects (tables of function pointers
            // reference code too): both are nodes of the reference graph.
            if !matches!(s.kind(), SymbolKind::Text | SymbolKind::Data) || name.is_empty() {
                continue;
            }
            let Some(sec) = s.section_index() else {
                continue;
            };
            let id = a.funcs.len();
            a.funcs.push(Func {
                name: name.to_owned(),
            });
            a.edges.push(Vec::new());
            if s.is_global() {
                a.by_name.entry(name.to_owned()).or_insert(id);
            }
            sf.insert(s.index(), id);
            by_sec
                .entry(sec)
                .or_default()
                .push((s.address(), s.size(), id));
        }
        for v in by_sec.values_mut() {
            v.sort_unstable_by_key(|&(addr, size, _)| (addr, std::cmp::Reverse(size)));
        }
        sym_func.push(sf);
        sec_funcs.push(by_sec);
    }

    // Pass 2: relocations become edges; unresolved targets are undefined.
    let mut undef_ids: HashMap<String, usize> = HashMap::new();
    let mut undefs: Vec<PendingUndef> = Vec::new();
    // Where each call edge is first made: (unit, address), to find the
    // call site in the caller's code later.
    let mut edge_sites: HashMap<(usize, usize), (usize, object::SectionIndex, u64)> =
        HashMap::new();
    // What is already recorded, so that 80,000 callers of one symbol (or
    // one function calling 80,000) cost a lookup each, not a scan.
    let mut seen_refs: std::collections::HashSet<(usize, usize)> = std::collections::HashSet::new();
    let mut seen_edges: std::collections::HashSet<(usize, bool, usize)> =
        std::collections::HashSet::new();
    let dws: Vec<_> = files.iter().map(dwarf).collect();
    for (ui, f) in files.iter().enumerate() {
        let dw = &dws[ui];
        let object_name = units[ui].name;
        for sec in f.sections() {
            if !matches!(
                sec.kind(),
                SectionKind::Text
                    | SectionKind::Data
                    | SectionKind::ReadOnlyData
                    | SectionKind::ReadOnlyDataWithRel
                    | SectionKind::Tls
            ) {
                continue;
            }
            let funcs = sec_funcs[ui].get(&sec.index());
            for (off, rel) in sec.relocations() {
                let RelocationTarget::Symbol(si) = rel.target() else {
                    continue;
                };
                let Ok(sym) = f.symbol_by_index(si) else {
                    continue;
                };
                let Some(from) = funcs.and_then(|v| containing(v, off)) else {
                    continue;
                };
                let name = sym_name(&sym, units[ui].name, "symbol").unwrap_or_default();
                let name = &*name;
                let edge = if sym.is_undefined() {
                    if name.is_empty() {
                        continue;
                    }
                    if let Some(&id) = a.by_name.get(name) {
                        Edge::Func(id)
                    } else if a.defined.contains(name) {
                        continue; // defined as data elsewhere
                    } else {
                        let id = *undef_ids.entry(name.to_owned()).or_insert_with(|| {
                            undefs.push((name.to_owned(), true, Vec::new()));
                            undefs.len() - 1
                        });
                        if !sym.is_weak() {
                            undefs[id].1 = false;
                        }
                        let refs = &mut undefs[id].2;
                        if seen_refs.insert((id, from)) {
                            let located = dw
                                .as_ref()
                                .map(|d| locate(d, sec.index(), off, &a.funcs[from].name))
                                .unwrap_or_default();
                            let (file, line) = (located.file.clone(), located.line);
                            refs.push((
                                Reference {
                                    function: pretty(&a.funcs[from].name),
                                    object: Some(
                                        origins
                                            .get(&a.funcs[from].name)
                                            .cloned()
                                            .unwrap_or_else(|| object_name.to_owned()),
                                    ),
                                    file,
                                    line,
                                },
                                from,
                                located,
                            ));
                        }
                        Edge::Undef(id)
                    }
                } else if let Some(&id) = sym_func[ui].get(&si) {
                    Edge::Func(id)
                } else if sym.kind() == SymbolKind::Section {
                    match sym.section_index().and_then(|s| sec_funcs[ui].get(&s)) {
                        Some(v) if v.len() == 1 => Edge::Func(v[0].2),
                        // A section holding several functions (a linked
                        // image's `.text`): the addend says which. A
                        // PC-relative one is biased by the field's size.
                        Some(v) if !rel.has_implicit_addend() => {
                            let at = sym.address().wrapping_add_signed(rel.addend());
                            let hit = containing(v, at).or_else(|| {
                                (rel.kind() == object::RelocationKind::Relative)
                                    .then(|| {
                                        containing(v, at.wrapping_add(u64::from(rel.size() / 8)))
                                    })
                                    .flatten()
                            });
                            match hit {
                                Some(id) => Edge::Func(id),
                                None => continue,
                            }
                        }
                        _ => continue,
                    }
                } else {
                    continue;
                };
                if let Edge::Func(to) = edge {
                    edge_sites
                        .entry((from, to))
                        .or_insert((ui, sec.index(), off));
                }
                let key = match edge {
                    Edge::Func(x) => (from, true, x),
                    Edge::Undef(x) => (from, false, x),
                };
                if seen_edges.insert(key) {
                    a.edges[from].push(edge);
                }
            }
        }
    }

    // Undefined symbols that no relocation we follow mentions (e.g. from
    // debug sections) are still undefined.
    for (ui, f) in files.iter().enumerate() {
        for sym in f.symbols() {
            if !sym.is_undefined() {
                continue;
            }
            let name = sym_name(&sym, units[ui].name, "symbol")?;
            let name = &*name;
            if name.is_empty() || a.defined.contains(name) {
                continue;
            }
            if let Some(&id) = undef_ids.get(name) {
                if !sym.is_weak() {
                    undefs[id].1 = false;
                }
            } else {
                undef_ids.insert(name.to_owned(), undefs.len());
                undefs.push((name.to_owned(), sym.is_weak(), Vec::new()));
            }
        }
    }

    a.undef_names.clone_from(&undef_ids);

    // Roots, then chains by breadth-first search.
    a.roots = if roots.is_empty() {
        let mut r: Vec<usize> = a.by_name.values().copied().collect();
        r.sort_unstable();
        r
    } else {
        roots
            .iter()
            .filter_map(|r| a.by_name.get(r).copied())
            .collect()
    };
    let parent = bfs(&a.roots, &a.edges, a.funcs.len());
    // The call sites along a path, from its end back to its root: where
    // each caller calls the next function (with that call's inlined frames).
    let path_sites = |path: &[usize]| -> Vec<(String, u32)> {
        let mut out = Vec::new();
        for w in path.windows(2).rev() {
            let Some(&(ui, sec, off)) = edge_sites.get(&(w[0], w[1])) else {
                continue;
            };
            if let Some(d) = &dws[ui] {
                out.extend(locate(d, sec, off, &a.funcs[w[0]].name).sites);
            }
        }
        out
    };
    for (name, weak, refs) in undefs {
        let mut referenced_by: Vec<Reference> = Vec::new();
        let mut chain = Vec::new();
        let mut sites = Vec::new();
        let mut inlined_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (r, from, located) in &refs {
            let frames: Vec<String> = located
                .inlined
                .iter()
                .skip(1)
                .filter(|n| !n.is_empty() && **n != r.function)
                .cloned()
                .collect();
            if !frames.is_empty() {
                inlined_by.insert(a.funcs[*from].name.clone(), frames);
            }
            if chain.is_empty() && parent[*from].is_some() {
                let path = path_to(&parent, *from);
                sites.clone_from(&located.sites);
                sites.extend(path_sites(&path));
                chain = path.iter().map(|&i| pretty(&a.funcs[i].name)).collect();
                // Inlined callees between the function and the reference.
                if let Some(frames) = inlined_by.get(&a.funcs[*from].name) {
                    chain.extend(frames.iter().cloned());
                }
                chain.push(name.clone());
            }
            referenced_by.push(r.clone());
        }
        if chain.is_empty()
            && let Some((r, _, located)) = refs.first()
        {
            chain = vec![r.function.clone(), name.clone()];
            sites.clone_from(&located.sites);
        }
        referenced_by.sort();
        a.undefined.push(Undefined {
            demangled: demangle(&name),
            symbol: name,
            weak,
            dynamic: false,
            referenced_by,
            chain,
            sites,
            inlined: inlined_by,
        });
    }
    a.undefined.sort_by(|x, y| x.symbol.cmp(&y.symbol));
    Ok(a)
}

/// Undefined symbols from the symbol tables alone (what `nm -u` lists,
/// resolved across the units): what no unit defines, sorted by name.
///
/// Names are compared as bytes and read only where the answer needs them:
/// first every undefined symbol's, then the global definitions' (which
/// may resolve one). A local definition resolves nothing and its name is
/// never read; in a large image's `.symtab` the locals are most of the
/// entries and of the string table (librustc_driver: 145,000 of 166,000
/// symbols, 19 MB of names). Reading them all, and collecting every global
/// name into a set, once a shared object with a `.symtab` was read by that
/// table rather than its `.dynsym`, made `inspect --symbols-only` on
/// librustc_driver slower than `nm -D -u`.
pub(crate) fn undefined_only(units: &[Unit<'_>]) -> Result<Vec<Undefined>> {
    let files: Vec<object::File<'_>> = units.iter().map(parse).collect::<Result<_>>()?;
    if let [f] = files.as_slice()
        && only_dynamic(f)
    {
        return dynamic_imports(f, units[0].name).map(|a| a.undefined);
    }
    let mut undefined: BTreeMap<&[u8], bool> = BTreeMap::new();
    let mut defined: Vec<&[u8]> = Vec::new();
    for (u, f) in units.iter().zip(&files) {
        for s in f.symbols() {
            if s.is_undefined() {
                let n = name_bytes(&s, u.name, "symbol")?;
                if !n.is_empty() {
                    *undefined.entry(n).or_insert(true) &= s.is_weak();
                }
            } else if s.is_global() {
                defined.push(name_bytes(&s, u.name, "symbol")?);
            }
        }
    }
    for n in defined {
        undefined.remove(n);
    }
    let mut out: Vec<Undefined> = undefined
        .into_iter()
        .map(|(n, weak)| {
            let symbol = escaped(n).into_owned();
            Undefined {
                demangled: demangle(&symbol),
                symbol,
                weak,
                dynamic: false,
                referenced_by: Vec::new(),
                chain: Vec::new(),
                sites: Vec::new(),
                inlined: BTreeMap::new(),
            }
        })
        .collect();
    out.sort_by(|x, y| x.symbol.cmp(&y.symbol));
    Ok(out)
}

/// The tables follow what the file has, not its type: `.symtab` (and the
/// relocations `--emit-relocs` keeps) when present — a PIE is `ET_DYN`
/// like a shared object but is analysed like any image — else the dynamic
/// symbol table (a stripped executable or shared object).
fn only_dynamic(f: &object::File<'_>) -> bool {
    f.kind() != ObjectKind::Relocatable
        && f.symbol_table().is_none()
        && f.dynamic_symbol_table().is_some()
}

/// A shared object or stripped executable: its undefined symbols are the
/// dynamic symbol table's
/// imports (what `nm -D -u` lists). Its references go through the PLT and
/// GOT, so there are no per-function relocations to attribute them to.
fn dynamic_imports(f: &object::File<'_>, name: &str) -> Result<Analysis> {
    let mut a = Analysis::default();
    for s in f.dynamic_symbols() {
        let n = sym_name(&s, name, "dynamic symbol")?;
        let n = &*n;
        if n.is_empty() {
            continue;
        }
        if s.is_undefined() {
            a.undefined.push(Undefined {
                symbol: n.to_owned(),
                demangled: demangle(n),
                weak: s.is_weak(),
                dynamic: true,
                referenced_by: Vec::new(),
                chain: Vec::new(),
                sites: Vec::new(),
                inlined: BTreeMap::new(),
            });
        } else if s.is_global() {
            a.defined.insert(n.to_owned());
        }
    }
    a.undefined.sort_by(|x, y| x.symbol.cmp(&y.symbol));
    a.undefined.dedup_by(|x, y| x.symbol == y.symbol);
    Ok(a)
}

/// A symbol's name; bytes that are not UTF-8 are shown as `\xNN` (as nm
/// prints them raw) instead of failing the whole file. A name outside the
/// string table is still an error naming the file.
fn sym_name<'d>(
    s: &impl ObjectSymbol<'d>,
    file: &str,
    what: &str,
) -> Result<std::borrow::Cow<'d, str>> {
    name_bytes(s, file, what).map(escaped)
}

/// A symbol's name as bytes; one outside the string table is an error
/// naming the file.
fn name_bytes<'d>(s: &impl ObjectSymbol<'d>, file: &str, what: &str) -> Result<&'d [u8]> {
    s.name_bytes()
        .with_context(|| format!("{file}: {what} {} has an unreadable name", s.index().0))
}

/// Name bytes as text, bytes that are not UTF-8 as `\xNN`.
fn escaped(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    if let Ok(n) = std::str::from_utf8(bytes) {
        return std::borrow::Cow::Borrowed(n);
    }
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    std::borrow::Cow::Owned(out)
}

fn containing(funcs: &[(u64, u64, usize)], off: u64) -> Option<usize> {
    let i = funcs.partition_point(|&(addr, _, _)| addr <= off);
    funcs[..i]
        .iter()
        .rev()
        .take(8)
        .find(|&&(addr, size, _)| off < addr + size.max(1))
        .map(|&(_, _, id)| id)
}

fn bfs(roots: &[usize], edges: &[Vec<Edge>], n: usize) -> Vec<Option<usize>> {
    let mut parent: Vec<Option<usize>> = vec![None; n];
    let mut q = VecDeque::new();
    for &r in roots {
        if parent[r].is_none() {
            parent[r] = Some(r);
            q.push_back(r);
        }
    }
    while let Some(x) = q.pop_front() {
        for e in &edges[x] {
            if let Edge::Func(y) = *e
                && parent[y].is_none()
            {
                parent[y] = Some(x);
                q.push_back(y);
            }
        }
    }
    parent
}

fn path_to(parent: &[Option<usize>], mut x: usize) -> Vec<usize> {
    let mut out = vec![x];
    while let Some(p) = parent[x] {
        if p == x || out.len() > parent.len() {
            break;
        }
        out.push(p);
        x = p;
    }
    out.reverse();
    out
}

impl Analysis {
    /// Every chain (up to `limit`) from a root to `symbol`: an undefined
    /// symbol, or a defined function (raw or demangled name). Chains are
    /// simple paths, shortest first.
    pub(crate) fn chains_to(&self, symbol: &str, limit: usize) -> Vec<Vec<String>> {
        let undef = self
            .undefined
            .iter()
            .position(|u| u.symbol == symbol || u.demangled.as_deref() == Some(symbol));
        let target_fn: BTreeSet<usize> = self
            .funcs
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name == symbol || pretty(&f.name) == symbol)
            .map(|(i, _)| i)
            .collect();
        let hits = |x: usize| {
            self.edges[x].iter().any(|e| match *e {
                Edge::Undef(u) => {
                    Some(u) == undef.and_then(|i| self.undef_index(&self.undefined[i].symbol))
                }
                Edge::Func(_) => false,
            })
        };
        let mut out: Vec<Vec<usize>> = Vec::new();
        let mut budget: usize = 2_000_000;
        for &r in &self.roots {
            let mut path = vec![r];
            let mut on = vec![false; self.funcs.len()];
            on[r] = true;
            self.dfs(
                &mut path,
                &mut on,
                &target_fn,
                &hits,
                &mut out,
                limit,
                &mut budget,
            );
            if out.len() >= limit || budget == 0 {
                break;
            }
        }
        out.sort_by_key(Vec::len);
        out.into_iter()
            .map(|p| {
                let mut names: Vec<String> =
                    p.iter().map(|&i| pretty(&self.funcs[i].name)).collect();
                if let Some(u) = undef.map(|i| &self.undefined[i])
                    && let Some(&last) = p.last()
                    && !target_fn.contains(&last)
                {
                    // As `check` shows it: the inlined callees between the
                    // function and the reference, then the symbol.
                    if let Some(frames) = u.inlined.get(&self.funcs[last].name) {
                        names.extend(frames.iter().cloned());
                    }
                    names.push(symbol.to_owned());
                }
                names
            })
            .collect()
    }

    fn undef_index(&self, name: &str) -> Option<usize> {
        self.undef_names.get(name).copied()
    }

    #[allow(clippy::too_many_arguments)]
    fn dfs(
        &self,
        path: &mut Vec<usize>,
        on: &mut [bool],
        target_fn: &BTreeSet<usize>,
        hits: &dyn Fn(usize) -> bool,
        out: &mut Vec<Vec<usize>>,
        limit: usize,
        budget: &mut usize,
    ) {
        let Some(&x) = path.last() else { return };
        if *budget == 0 || out.len() >= limit || path.len() > 64 {
            return;
        }
        *budget -= 1;
        if target_fn.contains(&x) || hits(x) {
            out.push(path.clone());
            if target_fn.contains(&x) {
                return;
            }
        }
        for e in &self.edges[x] {
            if let Edge::Func(y) = *e
                && !on[y]
            {
                on[y] = true;
                path.push(y);
                self.dfs(path, on, target_fn, hits, out, limit, budget);
                path.pop();
                on[y] = false;
            }
        }
    }

    /// Reachable defined functions whose name (raw or demangled) matches
    /// one of `patterns`, each with a chain from a root.
    pub(crate) fn reached(&self, patterns: &[glob::Pattern]) -> Vec<Reached> {
        if patterns.is_empty() {
            return Vec::new();
        }
        let parent = bfs(&self.roots, &self.edges, self.funcs.len());
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, f) in self.funcs.iter().enumerate() {
            let pretty_name = pretty(&f.name);
            if parent[i].is_none()
                || !patterns
                    .iter()
                    .any(|p| p.matches(&f.name) || p.matches(&pretty_name))
            {
                continue;
            }
            if seen.insert(f.name.clone()) {
                out.push(Reached {
                    symbol: f.name.clone(),
                    chain: path_to(&parent, i)
                        .into_iter()
                        .map(|j| pretty(&self.funcs[j].name))
                        .collect(),
                });
            }
        }
        out
    }
}
