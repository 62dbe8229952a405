//! The smallest condition, in option values, that holds exactly in the
//! observed cells where a finding appears: an or of ands (a two-level
//! minimization over the cells that ran, every unobserved configuration a
//! don't-care). Each and names at most [`MAX_LITERALS`] option values; the
//! or has at most [`MAX_TERMS`] ands. Pure functions over values; it runs
//! nothing and says nothing about configurations it was not shown.
//!
//! The method is the classic one (Quine–McCluskey's prime implicants, then
//! the cover of the minterms): every and of up to three `option=value` (or
//! `option!=value` for options with three or more values) that holds in no
//! cell outside the set is an implicant; the ones with no smaller implicant
//! inside them are prime; an exact branch-and-bound search picks the fewest
//! primes that cover every cell of the set, then the fewest literals. Ties
//! are broken by the literals' order, so the answer is the same every run.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::Value;

/// The most option values in one and.
pub(crate) const MAX_LITERALS: usize = 3;
/// The most ands in one condition: past this a condition reads worse than
/// the list of cells.
pub(crate) const MAX_TERMS: usize = 6;
/// Search nodes before the exact cover gives way to the greedy one (the
/// condition is still exact over the cells, perhaps not the smallest).
const NODE_BUDGET: usize = 200_000;
/// Candidate ands examined at most (literals³/6): past it, ands of two.
const TERM_BUDGET: usize = 5_000_000;

/// One `option=value` or `option!=value`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Literal {
    /// The option (or `arch`, `profile`).
    pub(crate) option: String,
    /// The value compared with.
    pub(crate) value: Value,
    /// `=` when true, `!=` when false.
    pub(crate) equal: bool,
}

impl Literal {
    fn holds(&self, point: &BTreeMap<String, Value>) -> bool {
        (point.get(&self.option) == Some(&self.value)) == self.equal
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.equal { "=" } else { "!=" };
        write!(f, "`{}{op}{}`", self.option, self.value)
    }
}

/// An or of ands, each and sorted, the ands sorted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Condition {
    /// The ands.
    pub(crate) terms: Vec<Vec<Literal>>,
}

impl Condition {
    /// Whether the condition holds for these option values.
    pub(crate) fn holds(&self, point: &BTreeMap<String, Value>) -> bool {
        self.terms.iter().any(|t| t.iter().all(|l| l.holds(point)))
    }

    fn literals(&self) -> usize {
        self.terms.iter().map(Vec::len).sum()
    }
}

/// For people, with the literals every and shares said once:
/// "`a=true` and `b=false` and (`c=true` or `d=true`)".
impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let and = |lits: &[&Literal]| {
            lits.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let common: Vec<&Literal> = match self.terms.as_slice() {
            [] => return f.write_str("always"),
            [one] => return f.write_str(&and(&one.iter().collect::<Vec<_>>())),
            [first, rest @ ..] => first
                .iter()
                .filter(|l| rest.iter().all(|t| t.contains(l)))
                .collect(),
        };
        let rests: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let own: Vec<&Literal> = t.iter().filter(|l| !common.contains(l)).collect();
                if own.len() > 1 {
                    format!("({})", and(&own))
                } else {
                    and(&own)
                }
            })
            .collect();
        let or = rests.join(" or ");
        if common.is_empty() {
            f.write_str(&or)
        } else {
            write!(f, "{} and ({or})", and(&common))
        }
    }
}

/// What the observed cells say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// In every observed cell.
    Always,
    /// The smallest conditions, best first (the others cost the same).
    Exactly(Vec<Condition>),
    /// Two cells with the same option values disagree: no condition in
    /// options separates them (the ids of one such pair).
    Conflict(String, String),
    /// No condition within [`MAX_TERMS`] ands of [`MAX_LITERALS`] values.
    TooComplex,
    /// In no observed cell.
    Never,
}

/// One observed cell: its id, option values (with `profile`), and whether
/// the finding is in it.
#[derive(Clone, Debug)]
pub(crate) struct Observed<'a> {
    /// The cell id (for a conflict).
    pub(crate) id: &'a str,
    /// Every option's value, `arch` and `profile` included.
    pub(crate) values: BTreeMap<String, Value>,
    /// Whether the finding appears.
    pub(crate) inside: bool,
}

/// A set of observed points, as bits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn has(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn and(&self, o: &Bits) -> Bits {
        Bits(self.0.iter().zip(&o.0).map(|(a, b)| a & b).collect())
    }
    fn minus(&self, o: &Bits) -> Bits {
        Bits(self.0.iter().zip(&o.0).map(|(a, b)| a & !b).collect())
    }
    fn meets(&self, o: &Bits) -> bool {
        self.0.iter().zip(&o.0).any(|(a, b)| a & b != 0)
    }
    fn within(&self, o: &Bits) -> bool {
        self.0.iter().zip(&o.0).all(|(a, b)| a & !b == 0)
    }
    fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

/// The smallest conditions over `cells` (see the module docs).
pub(crate) fn smallest(cells: &[Observed<'_>]) -> Found {
    // One point per distinct configuration.
    let mut points: Vec<(&BTreeMap<String, Value>, bool, &str)> = Vec::new();
    let mut seen: BTreeMap<&BTreeMap<String, Value>, usize> = BTreeMap::new();
    for c in cells {
        match seen.get(&c.values) {
            Some(&i) if points[i].1 != c.inside => {
                let (a, b) = if c.inside {
                    (c.id, points[i].2)
                } else {
                    (points[i].2, c.id)
                };
                return Found::Conflict(a.to_owned(), b.to_owned());
            }
            Some(_) => {}
            None => {
                seen.insert(&c.values, points.len());
                points.push((&c.values, c.inside, c.id));
            }
        }
    }
    if points.iter().all(|(_, inside, _)| *inside) {
        return Found::Always;
    }
    let n = points.len();
    let mut inside = Bits::new(n);
    for (i, (_, yes, _)) in points.iter().enumerate() {
        if *yes {
            inside.set(i);
        }
    }
    if inside.is_empty() {
        return Found::Never;
    }
    let literals = literals(&points.iter().map(|(v, _, _)| *v).collect::<Vec<_>>());
    let covers: Vec<Bits> = literals
        .iter()
        .map(|l| {
            let mut b = Bits::new(n);
            for (i, (v, _, _)) in points.iter().enumerate() {
                if l.holds(v) {
                    b.set(i);
                }
            }
            b
        })
        .collect();
    let groups = groups(prime_implicants(&literals, &covers, &inside));
    let Some(solutions) = cover(&groups, &inside, n) else {
        return Found::TooComplex;
    };
    let mut conditions: Vec<Condition> = Vec::new();
    for sol in solutions {
        // Every choice of representative per group is as small; take
        // a few combinations (first representative of all but one).
        let base: Vec<&Vec<usize>> = sol.iter().map(|&g| &groups[g].terms[0]).collect();
        let mut make = |terms: Vec<&Vec<usize>>| {
            let mut t: Vec<Vec<Literal>> = terms
                .iter()
                .map(|ix| ix.iter().map(|&i| literals[i].clone()).collect())
                .collect();
            t.sort();
            let c = Condition { terms: t };
            if !conditions.contains(&c) {
                conditions.push(c);
            }
        };
        make(base.clone());
        for (k, &g) in sol.iter().enumerate() {
            for alt in groups[g].terms.iter().skip(1).take(3) {
                let mut terms = base.clone();
                terms[k] = alt;
                make(terms);
            }
        }
    }
    conditions.sort_by_key(|c| (c.terms.len(), c.literals()));
    let best = conditions
        .first()
        .map(|c| (c.terms.len(), c.literals()))
        .unwrap_or_default();
    conditions.retain(|c| (c.terms.len(), c.literals()) == best);
    conditions.sort();
    Found::Exactly(conditions)
}

/// Every `option=value` observed for an option whose value varies, and
/// `option!=value` for options with three or more values; sorted.
fn literals(points: &[&BTreeMap<String, Value>]) -> Vec<Literal> {
    let mut values: BTreeMap<&String, BTreeSet<&Value>> = BTreeMap::new();
    for p in points {
        for (k, v) in *p {
            values.entry(k).or_default().insert(v);
        }
    }
    let mut out = Vec::new();
    for (k, vs) in values {
        // An option some point lacks still varies (absent differs).
        let everywhere = points.iter().all(|p| p.contains_key(k));
        if vs.len() < 2 && everywhere {
            continue;
        }
        for equal in [true, false] {
            if !equal && vs.len() < 3 {
                continue;
            }
            for v in &vs {
                out.push(Literal {
                    option: k.clone(),
                    value: (*v).clone(),
                    equal,
                });
            }
        }
    }
    out.sort();
    out
}

/// Ands of up to [`MAX_LITERALS`] literals (distinct options) that hold
/// in some inside point and in no outside point, with no smaller such and
/// inside them: each as sorted literal indices, with the inside points it
/// covers.
fn prime_implicants(
    literals: &[Literal],
    covers: &[Bits],
    inside: &Bits,
) -> Vec<(Vec<usize>, Bits)> {
    let n = literals.len();
    let max = if n.saturating_pow(3) / 6 > TERM_BUDGET {
        MAX_LITERALS.min(2)
    } else {
        MAX_LITERALS
    };
    let implicant = |ix: &mut dyn Iterator<Item = usize>| {
        let first = ix.next().map(|i| covers[i].clone());
        first.is_some_and(|b| ix.fold(b, |b, i| b.and(&covers[i])).within(inside))
    };
    let mut primes = Vec::new();
    // Depth first in literal order: an and that is an implicant is not
    // extended (anything longer holding it is not prime).
    let mut stack: Vec<(Vec<usize>, Bits)> =
        (0..n).rev().map(|i| (vec![i], covers[i].clone())).collect();
    while let Some((term, cov)) = stack.pop() {
        if !cov.meets(inside) {
            continue;
        }
        if cov.within(inside) {
            let smaller = term.len() > 1
                && (0..term.len()).any(|skip| {
                    implicant(
                        &mut term
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| *j != skip)
                            .map(|(_, &i)| i),
                    )
                });
            if !smaller {
                primes.push((term, cov));
            }
            continue;
        }
        if term.len() == max {
            continue;
        }
        let last = term[term.len() - 1];
        for j in (last + 1..n).rev() {
            if term
                .iter()
                .any(|&i| literals[i].option == literals[j].option)
            {
                continue;
            }
            let mut t = term.clone();
            t.push(j);
            let c = cov.and(&covers[j]);
            stack.push((t, c));
        }
    }
    primes
}

/// Primes that cover the same inside points, as one choice: `terms` are
/// the fewest-literal ones, in literal order.
#[derive(Debug)]
struct Group {
    cover: Bits,
    cost: usize,
    terms: Vec<Vec<usize>>,
}

/// The primes grouped by cover, without the groups another covers at no
/// more cost; in a stable order (cost, then most points, then cover).
fn groups(primes: Vec<(Vec<usize>, Bits)>) -> Vec<Group> {
    let mut by_cover: BTreeMap<Bits, Group> = BTreeMap::new();
    for (term, cover) in primes {
        let cost = term.len();
        let g = by_cover.entry(cover.clone()).or_insert_with(|| Group {
            cover,
            cost,
            terms: Vec::new(),
        });
        if cost < g.cost {
            g.cost = cost;
            g.terms.clear();
        }
        if cost == g.cost {
            g.terms.push(term);
        }
    }
    let all: Vec<Group> = by_cover.into_values().collect();
    let dominated = |a: &Group| {
        all.iter()
            .any(|b| b.cover != a.cover && a.cover.within(&b.cover) && b.cost <= a.cost)
    };
    let keep: Vec<bool> = all.iter().map(|a| !dominated(a)).collect();
    let mut out: Vec<Group> = all
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(mut g, _)| {
            g.terms.sort();
            g
        })
        .collect();
    out.sort_by(|a, b| {
        (a.cost, std::cmp::Reverse(a.cover.count()), &a.terms).cmp(&(
            b.cost,
            std::cmp::Reverse(b.cover.count()),
            &b.terms,
        ))
    });
    out
}

/// The exact cover search's state.
struct Search<'a> {
    groups: &'a [Group],
    /// For each point, the groups covering it.
    by_point: Vec<Vec<usize>>,
    /// The most points one group covers.
    widest: usize,
    chosen: Vec<usize>,
    best: Option<usize>,
    found: BTreeSet<Vec<usize>>,
    nodes: usize,
}

impl Search<'_> {
    fn run(&mut self, uncovered: &Bits, left: usize, cost: usize) {
        if uncovered.is_empty() {
            if self.best.is_some_and(|b| cost > b) {
                return;
            }
            if self.best != Some(cost) {
                self.found.clear();
            }
            self.best = Some(cost);
            let mut s = self.chosen.clone();
            s.sort_unstable();
            if self.found.len() < 16 {
                self.found.insert(s);
            }
            return;
        }
        self.nodes += 1;
        let need = uncovered.count().div_ceil(self.widest.max(1));
        if left == 0 || need > left || self.nodes > NODE_BUDGET {
            return;
        }
        if self.best.is_some_and(|b| cost + need > b) {
            return;
        }
        // Branch on the uncovered point with the fewest groups covering it.
        let Some(p) = (0..self.by_point.len())
            .filter(|&i| uncovered.has(i))
            .min_by_key(|&i| self.by_point[i].len())
        else {
            return;
        };
        for g in self.by_point[p].clone() {
            self.chosen.push(g);
            let rest = uncovered.minus(&self.groups[g].cover);
            self.run(&rest, left - 1, cost + self.groups[g].cost);
            self.chosen.pop();
        }
    }
}

/// The fewest groups covering every inside point, then the fewest
/// literals: such choices (as sorted group indices), a few. The greedy
/// cover when the exact search runs out of budget; `None` when more than
/// [`MAX_TERMS`] ands would be needed.
fn cover(groups: &[Group], inside: &Bits, points: usize) -> Option<Vec<Vec<usize>>> {
    let mut by_point = vec![Vec::new(); points];
    for (g, grp) in groups.iter().enumerate() {
        for (p, list) in by_point.iter_mut().enumerate() {
            if grp.cover.has(p) {
                list.push(g);
            }
        }
    }
    let mut s = Search {
        groups,
        by_point,
        widest: groups.iter().map(|g| g.cover.count()).max().unwrap_or(0),
        chosen: Vec::new(),
        best: None,
        found: BTreeSet::new(),
        nodes: 0,
    };
    for k in 1..=MAX_TERMS {
        s.run(inside, k, 0);
        if !s.found.is_empty() {
            return Some(s.found.into_iter().collect());
        }
        if s.nodes > NODE_BUDGET {
            break;
        }
    }
    if s.nodes <= NODE_BUDGET {
        return None;
    }
    // Greedy: the group covering most of what is left, cheapest first.
    let mut left = inside.clone();
    let mut pick = Vec::new();
    while !left.is_empty() && pick.len() < MAX_TERMS {
        let g = (0..groups.len()).max_by_key(|&g| {
            (
                groups[g].cover.and(&left).count(),
                std::cmp::Reverse(groups[g].cost),
                std::cmp::Reverse(g),
            )
        })?;
        if !groups[g].cover.meets(&left) {
            return None;
        }
        left = left.minus(&groups[g].cover);
        pick.push(g);
    }
    pick.sort_unstable();
    left.is_empty().then(|| vec![pick])
}

#[cfg(test)]
mod tests;
