//! Questions asked of an analysed reference graph: every chain from a
//! root to a symbol (`why`), and the reachable functions matching a
//! pattern (the matrix's forbidden functions). Reads only the
//! [`Analysis`] that `graph` built; no bytes, no I/O.
use std::collections::BTreeSet;

use super::graph::{bfs, path_to};
use super::pretty;
use crate::model::{Analysis, Edge, Reached};

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
