//! Covering plans: a few cells instead of the full product.
//!
//! Strength T (`cover: 2`): every combination of T values of different
//! axes that some allowed configuration has appears in at least one cell
//! (a covering array of strength T with constraints). Built one cell at a
//! time, greedily, as AETG (Cohen et al. 1997) and PICT do: a cell starts
//! from the first combination not yet covered, then gives each other axis
//! the value that covers the most uncovered combinations with the values
//! already chosen, keeping only values [`Space::solve`] shows can be
//! completed into an allowed configuration; of a few such candidates (axis
//! orders from a fixed seed) the one covering most is kept. A combination
//! the rules rule out is found so when it would start a cell, and is not
//! required. Deterministic: the same matrix gives the same cells.
//!
//! `cover: each`: per `arch` and `profile`, the cell with every option at
//! its default, and one cell per other axis value with the rest as near
//! their defaults as the rules allow.
//!
//! Pure: no I/O.
use std::collections::HashSet;

use super::space::{Axis, Prefer, Solved, Space};
use crate::model::Value;

/// Combinations a plan may have to cover, at most (one byte of state
/// each): past it the matrix asks for a lower strength.
pub(super) const MAX_TUPLES: u128 = 50_000_000;
/// Candidate cells built per cell kept, at most.
const CANDIDATES: usize = 8;
/// Tuple look-ups one cell's candidates may take together, roughly: past
/// it fewer candidates are built (large matrices at strength 3).
const WORK_PER_CELL: usize = 4_000_000;

/// The state of one combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Covered,
    /// The rules allow no configuration with it.
    Impossible,
    /// The search for a configuration with it ran out of budget.
    Undecided,
}

/// Every combination of `t` values of different axes, by index.
struct Tuples {
    t: usize,
    sizes: Vec<usize>,
    /// `binom[n][r]` for r ≤ t.
    binom: Vec<[usize; 4]>,
    /// Where each axis subset's combinations start, by colex rank.
    offsets: Vec<usize>,
    state: Vec<State>,
}

impl Tuples {
    fn new(t: usize, sizes: Vec<usize>) -> Self {
        let k = sizes.len();
        let binom: Vec<[usize; 4]> = (0..=k)
            .map(|n| [0, 1, 2, 3].map(|r| binom_of(n, r)))
            .collect();
        let mut counts = vec![0usize; binom[k][t]];
        let mut tuples = Self {
            t,
            sizes,
            binom,
            offsets: Vec::new(),
            state: Vec::new(),
        };
        for_each_subset(k, t, &mut |s| {
            counts[tuples.rank(s)] = s.iter().map(|&a| tuples.sizes[a]).product();
        });
        let mut offsets = Vec::with_capacity(counts.len() + 1);
        let mut sum = 0;
        for c in counts {
            offsets.push(sum);
            sum += c;
        }
        offsets.push(sum);
        tuples.offsets = offsets;
        tuples.state = vec![State::Open; sum];
        tuples
    }

    /// The colex rank of a sorted subset.
    fn rank(&self, s: &[usize]) -> usize {
        s.iter()
            .enumerate()
            .map(|(m, &a)| self.binom[a][m + 1])
            .sum()
    }

    /// The index of values `v` (domain indices) on sorted axes `s`.
    fn index(&self, s: &[usize], v: &[usize]) -> usize {
        let mut i = 0;
        for (&a, &x) in s.iter().zip(v) {
            i = i * self.sizes[a] + x;
        }
        self.offsets[self.rank(s)] + i
    }

    /// The axes and values of combination `index`.
    fn decode(&self, index: usize) -> (Vec<usize>, Vec<usize>) {
        let r = self.offsets.partition_point(|&o| o <= index) - 1;
        // Unrank the colex subset: the largest axis first.
        let mut s = vec![0; self.t];
        let mut rest = r;
        let mut top = self.sizes.len();
        for m in (1..=self.t).rev() {
            let mut a = top - 1;
            while self.binom[a][m] > rest {
                a -= 1;
            }
            s[m - 1] = a;
            rest -= self.binom[a][m];
            top = a;
        }
        let mut within = index - self.offsets[r];
        let mut v = vec![0; self.t];
        for m in (0..self.t).rev() {
            v[m] = within % self.sizes[s[m]];
            within /= self.sizes[s[m]];
        }
        (s, v)
    }

    /// Mark every combination of a cell's values covered (axes whose
    /// value is `None` take no part).
    fn cover(&mut self, row: &[Option<usize>]) {
        let k = self.sizes.len();
        let mut vals = Vec::with_capacity(self.t);
        let mut hits = Vec::new();
        for_each_subset(k, self.t, &mut |s| {
            vals.clear();
            for &a in s {
                match row[a] {
                    Some(v) => vals.push(v),
                    None => return,
                }
            }
            hits.push(self.index(s, &vals));
        });
        for h in hits {
            if self.state[h] == State::Open {
                self.state[h] = State::Covered;
            }
        }
    }

    /// Per value `x` of axis `a`: the open combinations with `x` on `a`
    /// and, on the other axes, the values `row` has already chosen.
    fn gains(&self, row: &[Option<usize>], a: usize) -> Vec<usize> {
        let chosen: Vec<usize> = (0..row.len())
            .filter(|&b| b != a && row[b].is_some())
            .collect();
        let mut n = vec![0; self.sizes[a]];
        let mut s = Vec::with_capacity(self.t);
        let mut vals = Vec::with_capacity(self.t);
        for_each_subset(chosen.len(), self.t - 1, &mut |pick| {
            s.clear();
            s.extend(pick.iter().map(|&i| chosen[i]));
            s.push(a);
            s.sort_unstable();
            vals.clear();
            vals.extend(
                s.iter()
                    .map(|&b| if b == a { 0 } else { row[b].unwrap_or(0) }),
            );
            // `a`'s place in the mixed radix: the sizes after it.
            let stride: usize = s
                .iter()
                .skip_while(|&&b| b != a)
                .skip(1)
                .map(|&b| self.sizes[b])
                .product();
            let base = self.index(&s, &vals);
            for (x, count) in n.iter_mut().enumerate() {
                if self.state[base + x * stride] == State::Open {
                    *count += 1;
                }
            }
        });
        n
    }

    fn count(&self, state: State) -> usize {
        self.state.iter().filter(|&&s| s == state).count()
    }
}

fn binom_of(n: usize, r: usize) -> usize {
    if r > n {
        return 0;
    }
    (0..r).fold(1usize, |acc, i| acc.saturating_mul(n - i) / (i + 1))
}

/// Call `f` with every sorted `t`-subset of `0..k`, in lexicographic order.
fn for_each_subset(k: usize, t: usize, visit: &mut dyn FnMut(&[usize])) {
    if t > k {
        return;
    }
    let mut subset: Vec<usize> = (0..t).collect();
    loop {
        visit(&subset);
        // Advance: the rightmost position that can move.
        let Some(i) = (0..t).rev().find(|&i| subset[i] < k - t + i) else {
            return;
        };
        subset[i] += 1;
        for j in i + 1..t {
            subset[j] = subset[j - 1] + 1;
        }
    }
}

/// What a covering plan holds, besides its cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Coverage {
    /// T.
    pub(crate) strength: u8,
    /// Axes with more than one possible value (the others are constant).
    pub(crate) axes: usize,
    /// Combinations of T values the cells hold: every one the rules allow.
    pub(crate) covered: usize,
    /// Combinations the rules rule out (not required).
    pub(crate) impossible: usize,
    /// Combinations the search could not decide within its budget (not
    /// covered; said in `plan`).
    pub(crate) undecided: usize,
}

/// The axes that vary.
fn varying<'s>(space: &'s Space<'_>) -> Vec<&'s Axis> {
    space.axes.iter().filter(|a| a.values.len() > 1).collect()
}

/// A configuration's value index on each varying axis (`None` where its
/// value is none of the axis's).
fn indices(axes: &[&Axis], found: &[Value]) -> Vec<Option<usize>> {
    axes.iter()
        .map(|a| a.values.iter().position(|v| *v == found[a.var]))
        .collect()
}

/// Configurations (as [`Space::solve`] gives them) that, with `seeded`
/// (cells the plan already has), hold every combination of `t` axis
/// values the rules allow; and what they cover.
/// How many combinations of `t` values of different axes with these
/// numbers of values there are (the elementary symmetric polynomial).
fn count_tuples(t: usize, sizes: &[usize]) -> u128 {
    let mut e = vec![0u128; t + 1];
    e[0] = 1;
    for &n in sizes {
        for j in (1..=t).rev() {
            e[j] = e[j].saturating_add(e[j - 1].saturating_mul(n as u128));
        }
    }
    e[t]
}

/// Too many combinations to cover: how many.
#[derive(Debug)]
pub(super) struct TooMany(pub(super) u128);

pub(super) fn covering(
    space: &Space<'_>,
    t: usize,
    seeded: &[Vec<Value>],
) -> Result<(Vec<Vec<Value>>, Coverage), TooMany> {
    let axes = varying(space);
    let t = t.min(axes.len());
    let mut rows: Vec<Vec<Value>> = Vec::new();
    if t == 0 {
        if seeded.is_empty()
            && let Solved::Found(row) = space.solve(&vec![None; space.len()], Prefer::Default)
        {
            rows.push(row);
        }
        return Ok((rows, Coverage::default()));
    }
    let sizes: Vec<usize> = axes.iter().map(|a| a.values.len()).collect();
    let total = count_tuples(t, &sizes);
    if total > MAX_TUPLES {
        return Err(TooMany(total));
    }
    let mut tuples = Tuples::new(t, sizes);
    for r in seeded {
        tuples.cover(&indices(&axes, r));
    }
    let per_candidate = axes.len() * binom_of(axes.len().saturating_sub(1), t - 1) * 2;
    let candidates = (WORK_PER_CELL / per_candidate.max(1)).clamp(1, CANDIDATES);
    let mut rng = fastrand::Rng::with_seed(0x6c69_6e6b_6d61_7478);
    let mut next = 0;
    while let Some(start) = (next..tuples.state.len()).find(|&i| tuples.state[i] == State::Open) {
        next = start;
        let (s, v) = tuples.decode(start);
        let mut fixed = vec![None; space.len()];
        for (&a, &x) in s.iter().zip(&v) {
            fixed[axes[a].var] = Some(axes[a].values[x].clone());
        }
        let witness = match space.solve(&fixed, Prefer::Default) {
            Solved::Found(w) => w,
            Solved::Impossible => {
                tuples.state[start] = State::Impossible;
                continue;
            }
            Solved::Unknown => {
                tuples.state[start] = State::Undecided;
                continue;
            }
        };
        let rest: Vec<usize> = (0..axes.len()).filter(|a| !s.contains(a)).collect();
        let mut best: Option<(usize, Vec<Value>)> = None;
        for c in 0..candidates {
            let mut order = rest.clone();
            if c > 0 {
                rng.shuffle(&mut order);
            }
            let row = grow(space, &axes, &tuples, &fixed, &order, witness.clone());
            let before = tuples.gain_of_row(&indices(&axes, &row));
            if best.as_ref().is_none_or(|(b, _)| before > *b) {
                best = Some((before, row));
            }
        }
        let Some((_, row)) = best else { break };
        tuples.cover(&indices(&axes, &row));
        if tuples.state[start] == State::Open {
            // The rules moved the start's values (cannot happen when the
            // search and the cell agree); never loop on it.
            tuples.state[start] = State::Undecided;
        }
        rows.push(row);
    }
    let coverage = Coverage {
        strength: t as u8,
        axes: axes.len(),
        covered: tuples.count(State::Covered),
        impossible: tuples.count(State::Impossible),
        undecided: tuples.count(State::Undecided),
    };
    Ok((rows, coverage))
}

impl Tuples {
    /// Open combinations a whole cell holds.
    fn gain_of_row(&self, row: &[Option<usize>]) -> usize {
        let mut n = 0;
        let mut vals = Vec::with_capacity(self.t);
        for_each_subset(self.sizes.len(), self.t, &mut |s| {
            vals.clear();
            for &a in s {
                match row[a] {
                    Some(v) => vals.push(v),
                    None => return,
                }
            }
            if self.state[self.index(s, &vals)] == State::Open {
                n += 1;
            }
        });
        n
    }
}

/// One candidate cell: from the start's `fixed` values and a
/// configuration that has them (`witness`), each axis of `order` in turn
/// takes the value that covers the most open combinations with the values
/// chosen so far, among those an allowed configuration can have.
fn grow(
    space: &Space<'_>,
    axes: &[&Axis],
    tuples: &Tuples,
    fixed: &[Option<Value>],
    order: &[usize],
    mut witness: Vec<Value>,
) -> Vec<Value> {
    let mut fixed = fixed.to_vec();
    let mut row: Vec<Option<usize>> = axes
        .iter()
        .map(|a| {
            fixed[a.var]
                .as_ref()
                .and_then(|f| a.values.iter().position(|v| v == f))
        })
        .collect();
    for &a in order {
        let this = axes[a];
        let current = this.values.iter().position(|v| *v == witness[this.var]);
        let mut ranked: Vec<(usize, bool, usize)> = tuples
            .gains(&row, a)
            .into_iter()
            .enumerate()
            .map(|(x, g)| (g, Some(x) == current, x))
            .collect();
        ranked.sort_by(|p, q| q.0.cmp(&p.0).then(q.1.cmp(&p.1)).then(p.2.cmp(&q.2)));
        for (_, is_current, x) in ranked {
            let value = this.values[x].clone();
            if !is_current {
                fixed[this.var] = Some(value.clone());
                let found = space.repair(&witness, this.var, &fixed).or_else(|| {
                    match space.solve(&fixed, Prefer::Near(&witness)) {
                        Solved::Found(w) => Some(w),
                        Solved::Impossible | Solved::Unknown => None,
                    }
                });
                let Some(w) = found else {
                    fixed[this.var] = None;
                    continue;
                };
                witness = w;
            }
            fixed[this.var] = Some(value);
            row[a] = Some(x);
            break;
        }
    }
    witness
}

/// `cover: each`: per `arch` and `profile` value, the configuration with
/// every option at its default, then one per other axis value (the
/// written ones) that it does not have, the other options as near their
/// defaults as the rules allow. Duplicates are dropped.
pub(super) fn each(space: &Space<'_>) -> Vec<Vec<Value>> {
    let written = |name: &str| {
        space
            .axes
            .iter()
            .find(|a| a.name == name)
            .map(|a| (a.var, a.written.clone()))
    };
    let (Some((arch_var, arches)), Some((profile_var, profiles))) =
        (written("arch"), written("profile"))
    else {
        return Vec::new();
    };
    let mut seen: HashSet<Vec<Value>> = HashSet::new();
    let mut rows = Vec::new();
    let mut keep = |row: Vec<Value>| {
        if seen.insert(row.clone()) {
            rows.push(row);
        }
    };
    for arch in &arches {
        for profile in &profiles {
            let mut fixed = vec![None; space.len()];
            fixed[arch_var] = Some(arch.clone());
            fixed[profile_var] = Some(profile.clone());
            let base = match space.solve(&fixed, Prefer::Default) {
                Solved::Found(b) => {
                    keep(b.clone());
                    Some(b)
                }
                Solved::Impossible | Solved::Unknown => None,
            };
            for axis in space
                .axes
                .iter()
                .filter(|a| a.var != arch_var && a.var != profile_var)
            {
                for v in &axis.written {
                    if base.as_ref().is_some_and(|b| b[axis.var] == *v) {
                        continue;
                    }
                    let mut one = fixed.clone();
                    one[axis.var] = Some(v.clone());
                    if let Solved::Found(row) = space.solve(&one, Prefer::Default) {
                        keep(row);
                    }
                }
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_counts_match_the_index_space() {
        for t in 1..=3 {
            let sizes = vec![2, 3, 2, 4, 2];
            let n = count_tuples(t, &sizes);
            assert_eq!(n, Tuples::new(t, sizes).state.len() as u128, "t={t}");
        }
        assert_eq!(count_tuples(3, &[2; 200]), 1_313_400 * 8);
    }

    #[test]
    fn tuple_indices_round_trip() {
        for t in 1..=3 {
            let tuples = Tuples::new(t, vec![2, 3, 2, 4, 2]);
            for i in 0..tuples.state.len() {
                let (s, v) = tuples.decode(i);
                assert_eq!(tuples.index(&s, &v), i, "t={t} s={s:?} v={v:?}");
            }
        }
    }
}
