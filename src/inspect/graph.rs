//! The reference graph of a set of objects: functions and data objects as
//! nodes, relocations as edges, undefined symbols as leaves; each
//! undefined symbol's chain from the roots by breadth-first search. The
//! questions asked of a built graph (every chain to a symbol, reachable
//! functions) are `chains`'.
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use anyhow::{Context, Result};
use object::{
    Object, ObjectKind, ObjectSection, ObjectSymbol, RelocationTarget, SectionIndex, SectionKind,
    SymbolIndex, SymbolKind,
};

use super::dwarf::{Dwarf, Located, dwarf, locate};
use super::{Unit, demangle, parse, pretty};
use crate::model::{Analysis, Edge, Func, Reference, Undefined};

/// An undefined symbol while references are collected: name, weak only,
/// (reference, referencing function, inlined frames).
type PendingUndef = (String, bool, Vec<(Reference, usize, Located)>);

/// Per section: (address, size, function id), sorted by address.
type SectionFuncs = HashMap<SectionIndex, Vec<(u64, u64, usize)>>;

/// Where a relocation is: (unit, section, offset in the section).
type Site = (usize, SectionIndex, u64);

/// Analyse `units` together. `roots` are the symbols references are
/// followed from (entry point, exported functions); with none, every
/// global defined function is a root.
pub(crate) fn analyze(units: &[Unit<'_>], roots: &[String]) -> Result<Analysis> {
    analyze_with_origins(units, roots, &HashMap::new())
}

/// Like [`analyze`]; `origins` names, per raw function symbol, the object
/// it came from before linking (an archive member), for reports on linked
/// images.
///
/// In passes: the nodes (functions and data objects) of every unit; the
/// relocations as edges, unresolved targets as undefined symbols with
/// their references; undefined symbols no relocation mentions; then the
/// chains from the roots by breadth-first search.
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
    let mut a = Analysis::default();
    let g = Parsed::new(units, files, origins, &mut a)?;
    let mut pending = Pending::default();
    for ui in 0..g.files.len() {
        g.references(ui, &mut a, &mut pending);
    }
    g.unreferenced_undefined(&a, &mut pending)?;
    a.undef_names.clone_from(&pending.undef_ids);
    a.roots = root_nodes(&a, roots);
    let parent = bfs(&a.roots, &a.edges, a.funcs.len());
    for u in std::mem::take(&mut pending.undefs) {
        let found = g.undefined(&a, &pending.edge_sites, &parent, u);
        a.undefined.push(found);
    }
    a.undefined.sort_by(|x, y| x.symbol.cmp(&y.symbol));
    Ok(a)
}

/// The units being analysed, parsed, with what the first pass found in
/// each.
struct Parsed<'d, 'u> {
    units: &'u [Unit<'d>],
    files: Vec<object::File<'d>>,
    /// Per unit: the symbols that are nodes, by symbol index.
    sym_func: Vec<HashMap<SymbolIndex, usize>>,
    /// Per unit, per section: (address, size, node) sorted by address.
    sec_funcs: Vec<SectionFuncs>,
    /// Per unit: its DWARF, if it has some, read when a reference in the
    /// unit is first located (an archive's members without one are never
    /// read).
    dws: Vec<OnceCell<Option<Dwarf<'d>>>>,
    /// Per raw function symbol, the object it came from before linking.
    origins: &'u HashMap<String, String>,
}

/// What the references pass collects besides the edges.
#[derive(Default)]
struct Pending {
    /// Undefined symbol name to its index in `undefs`.
    undef_ids: HashMap<String, usize>,
    undefs: Vec<PendingUndef>,
    /// Where each call edge is first made, to find the call site in the
    /// caller's code later.
    edge_sites: HashMap<(usize, usize), Site>,
    /// What is already recorded, so that 80,000 callers of one symbol (or
    /// one function calling 80,000) cost a lookup each, not a scan.
    seen_refs: HashSet<(usize, usize)>,
    seen_edges: HashSet<(usize, bool, usize)>,
}

impl<'d, 'u> Parsed<'d, 'u> {
    /// The first pass over `files` (parsed from `units`): every unit's
    /// nodes and global definitions go into `a`.
    fn new(
        units: &'u [Unit<'d>],
        files: Vec<object::File<'d>>,
        origins: &'u HashMap<String, String>,
        a: &mut Analysis,
    ) -> Result<Self> {
        let mut sym_func = Vec::with_capacity(files.len());
        let mut sec_funcs = Vec::with_capacity(files.len());
        for (u, f) in units.iter().zip(&files) {
            let (sf, by_sec) = nodes(f, u.name, a)?;
            sym_func.push(sf);
            sec_funcs.push(by_sec);
        }
        let dws = files.iter().map(|_| OnceCell::new()).collect();
        Ok(Self {
            units,
            files,
            sym_func,
            sec_funcs,
            dws,
            origins,
        })
    }

    /// Unit `ui`'s DWARF, read on first use.
    fn dwarf_of(&self, ui: usize) -> Option<&Dwarf<'d>> {
        self.dws[ui].get_or_init(|| dwarf(&self.files[ui])).as_ref()
    }

    /// The second pass over unit `ui`: its relocations become edges in
    /// `a`; unresolved targets are undefined symbols.
    fn references(&self, ui: usize, a: &mut Analysis, pending: &mut Pending) {
        let f = &self.files[ui];
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
            let funcs = self.sec_funcs[ui].get(&sec.index());
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
                let site = (ui, sec.index(), off);
                let Some(edge) = self.edge(site, from, &sym, &rel, a, pending) else {
                    continue;
                };
                if let Edge::Func(to) = edge {
                    pending.edge_sites.entry((from, to)).or_insert(site);
                }
                let key = match edge {
                    Edge::Func(x) => (from, true, x),
                    Edge::Undef(x) => (from, false, x),
                };
                if pending.seen_edges.insert(key) {
                    a.edges[from].push(edge);
                }
            }
        }
    }

    /// The edge a relocation `rel` at `site`, in node `from`, against
    /// `sym` makes: to a node, or to an undefined symbol (its reference
    /// recorded); none for a target that is neither.
    fn edge(
        &self,
        site: Site,
        from: usize,
        sym: &object::Symbol<'d, '_>,
        rel: &object::Relocation,
        a: &Analysis,
        pending: &mut Pending,
    ) -> Option<Edge> {
        let ui = site.0;
        if sym.is_undefined() {
            let name = sym_name(sym, self.units[ui].name, "symbol").unwrap_or_default();
            let name = &*name;
            if name.is_empty() {
                return None;
            }
            if let Some(&id) = a.by_name.get(name) {
                return Some(Edge::Func(id));
            }
            if a.defined.contains(name) {
                return None; // defined as data elsewhere
            }
            let id = self.undefined_ref(site, from, (name, sym.is_weak()), a, pending);
            return Some(Edge::Undef(id));
        }
        if let Some(&id) = self.sym_func[ui].get(&sym.index()) {
            return Some(Edge::Func(id));
        }
        if sym.kind() != SymbolKind::Section {
            return None;
        }
        let funcs = sym
            .section_index()
            .and_then(|s| self.sec_funcs[ui].get(&s))?;
        section_target(funcs, sym.address(), rel).map(Edge::Func)
    }

    /// Record that node `from` references the undefined symbol `name`
    /// (`weak`: by a weak symbol) at `site`, with what DWARF says there;
    /// the symbol's index.
    fn undefined_ref(
        &self,
        site: Site,
        from: usize,
        (name, weak): (&str, bool),
        a: &Analysis,
        pending: &mut Pending,
    ) -> usize {
        let (ui, sec, off) = site;
        let id = *pending.undef_ids.entry(name.to_owned()).or_insert_with(|| {
            pending.undefs.push((name.to_owned(), true, Vec::new()));
            pending.undefs.len() - 1
        });
        if !weak {
            pending.undefs[id].1 = false;
        }
        if pending.seen_refs.insert((id, from)) {
            let func = &a.funcs[from].name;
            let located = self
                .dwarf_of(ui)
                .map(|d| locate(d, sec, off, func))
                .unwrap_or_default();
            let object = self
                .origins
                .get(func)
                .cloned()
                .unwrap_or_else(|| self.units[ui].name.to_owned());
            let reference = Reference {
                function: pretty(func),
                object: Some(object),
                file: located.file.clone(),
                line: located.line,
            };
            pending.undefs[id].2.push((reference, from, located));
        }
        id
    }

    /// Undefined symbols that no relocation we follow mentions (e.g. from
    /// debug sections) are still undefined.
    fn unreferenced_undefined(&self, a: &Analysis, pending: &mut Pending) -> Result<()> {
        for (u, f) in self.units.iter().zip(&self.files) {
            for sym in f.symbols() {
                if !sym.is_undefined() {
                    continue;
                }
                let name = sym_name(&sym, u.name, "symbol")?;
                let name = &*name;
                if name.is_empty() || a.defined.contains(name) {
                    continue;
                }
                if let Some(&id) = pending.undef_ids.get(name) {
                    if !sym.is_weak() {
                        pending.undefs[id].1 = false;
                    }
                } else {
                    pending
                        .undef_ids
                        .insert(name.to_owned(), pending.undefs.len());
                    pending
                        .undefs
                        .push((name.to_owned(), sym.is_weak(), Vec::new()));
                }
            }
        }
        Ok(())
    }

    /// An undefined symbol with what references it: every reference, the
    /// chain from a root to the first reached referrer (else just the
    /// first referrer) with its call sites, and each referrer's inlined
    /// callees between it and the reference.
    fn undefined(
        &self,
        a: &Analysis,
        edge_sites: &HashMap<(usize, usize), Site>,
        parent: &[Option<usize>],
        (name, weak, refs): PendingUndef,
    ) -> Undefined {
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
                let path = path_to(parent, *from);
                sites.clone_from(&located.sites);
                sites.extend(self.path_sites(a, edge_sites, &path));
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
        Undefined {
            demangled: demangle(&name),
            symbol: name,
            weak,
            dynamic: false,
            referenced_by,
            chain,
            sites,
            inlined: inlined_by,
        }
    }

    /// The call sites along a path, from its end back to its root: where
    /// each caller calls the next function (with that call's inlined
    /// frames).
    fn path_sites(
        &self,
        a: &Analysis,
        edge_sites: &HashMap<(usize, usize), Site>,
        path: &[usize],
    ) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        for w in path.windows(2).rev() {
            let Some(&(ui, sec, off)) = edge_sites.get(&(w[0], w[1])) else {
                continue;
            };
            if let Some(d) = self.dwarf_of(ui) {
                out.extend(locate(d, sec, off, &a.funcs[w[0]].name).sites);
            }
        }
        out
    }
}

/// The first pass over one unit (`file` in messages): its functions and
/// data objects become nodes of `a` (tables of function pointers
/// reference code too), its global definitions `a.defined`. Its nodes by
/// symbol index, and by section sorted by address.
fn nodes(
    f: &object::File<'_>,
    file: &str,
    a: &mut Analysis,
) -> Result<(HashMap<SymbolIndex, usize>, SectionFuncs)> {
    let mut sf = HashMap::new();
    let mut by_sec: SectionFuncs = HashMap::new();
    for s in f.symbols() {
        let name = sym_name(&s, file, "symbol")?;
        let name = &*name;
        if s.is_undefined() {
            continue;
        }
        if s.is_global() && !name.is_empty() {
            a.defined.insert(name.to_owned());
        }
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
    Ok((sf, by_sec))
}

/// The node a relocation `rel` against a section symbol (the section at
/// `base`, holding `funcs`) points into: the section's only node, or in a
/// section holding several (a linked image's `.text`) the one the addend
/// says. A PC-relative one is biased by the field's size.
fn section_target(
    funcs: &[(u64, u64, usize)],
    base: u64,
    rel: &object::Relocation,
) -> Option<usize> {
    if let [only] = funcs {
        return Some(only.2);
    }
    if rel.has_implicit_addend() {
        return None;
    }
    let at = base.wrapping_add_signed(rel.addend());
    containing(funcs, at).or_else(|| {
        (rel.kind() == object::RelocationKind::Relative)
            .then(|| containing(funcs, at.wrapping_add(u64::from(rel.size() / 8))))
            .flatten()
    })
}

/// The nodes chains start from: `roots` by name (those defined), or with
/// none every global defined node.
fn root_nodes(a: &Analysis, roots: &[String]) -> Vec<usize> {
    if roots.is_empty() {
        let mut r: Vec<usize> = a.by_name.values().copied().collect();
        r.sort_unstable();
        r
    } else {
        roots
            .iter()
            .filter_map(|r| a.by_name.get(r).copied())
            .collect()
    }
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

pub(super) fn bfs(roots: &[usize], edges: &[Vec<Edge>], n: usize) -> Vec<Option<usize>> {
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

pub(super) fn path_to(parent: &[Option<usize>], mut x: usize) -> Vec<usize> {
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
