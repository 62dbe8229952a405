//! The condition search on made-up observations: an or, a single and,
//! choices, conflicts, no small answer, and random small matrices checked
//! by brute force.
use super::*;

fn b(v: bool) -> Value {
    Value::Bool(v)
}

/// Every combination of `names` (bools), in id order.
fn product(names: &[&str]) -> Vec<BTreeMap<String, Value>> {
    (0..1u32 << names.len())
        .map(|bits| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| ((*n).to_owned(), b(bits >> i & 1 == 1)))
                .collect()
        })
        .collect()
}

fn observe(
    points: &[BTreeMap<String, Value>],
    inside: impl Fn(&BTreeMap<String, Value>) -> bool,
) -> Vec<(String, BTreeMap<String, Value>, bool)> {
    points
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("c{i}"), p.clone(), inside(p)))
        .collect()
}

fn found(obs: &[(String, BTreeMap<String, Value>, bool)]) -> Found {
    let cells: Vec<Observed<'_>> = obs
        .iter()
        .map(|(id, values, inside)| Observed {
            id,
            values: values.clone(),
            inside: *inside,
        })
        .collect();
    smallest(&cells)
}

fn on(p: &BTreeMap<String, Value>, k: &str) -> bool {
    p.get(k) == Some(&b(true))
}

/// The Linux 6.1 shape: a driver calls into regmap-i2c when syscon is
/// on, through either of two drivers, unless tsc2004 selects it.
#[test]
fn a_condition_needing_an_or_factors_the_shared_values() {
    let pts = product(&["hideep", "hycon", "syscon", "tsc2004"]);
    let obs = observe(&pts, |p| {
        on(p, "syscon") && !on(p, "tsc2004") && (on(p, "hideep") || on(p, "hycon"))
    });
    let Found::Exactly(conds) = found(&obs) else {
        panic!("{:?}", found(&obs))
    };
    assert_eq!(
        conds[0].to_string(),
        "`syscon=true` and `tsc2004=false` and (`hideep=true` or `hycon=true`)"
    );
    assert_eq!(conds.len(), 1, "the only smallest one: {conds:?}");
}

#[test]
fn a_single_and_is_found_with_its_equals() {
    let pts = product(&["a", "b", "c"]);
    let obs = observe(&pts, |p| on(p, "a") && !on(p, "c"));
    assert_eq!(
        found(&obs),
        Found::Exactly(vec![Condition {
            terms: vec![vec![
                Literal {
                    option: "a".into(),
                    value: b(true),
                    equal: true
                },
                Literal {
                    option: "c".into(),
                    value: b(false),
                    equal: true
                },
            ]]
        }])
    );
}

#[test]
fn a_choice_of_three_values_is_excluded_by_not_equal() {
    let pts: Vec<BTreeMap<String, Value>> = ["none", "tim2", "rtc"]
        .iter()
        .flat_map(|t| {
            [false, true].map(|x| {
                BTreeMap::from([
                    ("timer".to_owned(), Value::Str((*t).to_owned())),
                    ("x".to_owned(), b(x)),
                ])
            })
        })
        .collect();
    let obs = observe(&pts, |p| p["timer"] != Value::Str("none".into()));
    let Found::Exactly(conds) = found(&obs) else {
        panic!()
    };
    assert_eq!(conds[0].to_string(), "`timer!=none`");
}

#[test]
fn same_values_with_different_outcomes_are_a_conflict_and_all_is_always() {
    let pts = product(&["a"]);
    let mut obs = observe(&pts, |p| on(p, "a"));
    obs.push(("again".to_owned(), pts[1].clone(), false));
    assert_eq!(found(&obs), Found::Conflict("c1".into(), "again".into()));
    let obs = observe(&pts, |_| true);
    assert_eq!(found(&obs), Found::Always);
}

/// Five values each needing its own three-value and: more than
/// MAX_TERMS ands is no answer, not a wrong one.
#[test]
fn parity_has_no_small_condition() {
    let pts = product(&["a", "b", "c", "d"]);
    let obs = observe(&pts, |p| {
        ["a", "b", "c", "d"].iter().filter(|k| on(p, k)).count() % 2 == 1
    });
    assert_eq!(found(&obs), Found::TooComplex);
}

/// Every and of up to three literals over `lits` (distinct options).
fn all_terms(lits: &[Literal]) -> Vec<Vec<Literal>> {
    let mut out: Vec<Vec<Literal>> = Vec::new();
    for i in 0..lits.len() {
        out.push(vec![lits[i].clone()]);
        for j in i + 1..lits.len() {
            if lits[j].option == lits[i].option {
                continue;
            }
            out.push(vec![lits[i].clone(), lits[j].clone()]);
            for k in j + 1..lits.len() {
                if lits[k].option != lits[i].option && lits[k].option != lits[j].option {
                    out.push(vec![lits[i].clone(), lits[j].clone(), lits[k].clone()]);
                }
            }
        }
    }
    out
}

/// Random small matrices, a random subset of cells run, a random
/// finding: the answer holds exactly in the cells run, no condition
/// with fewer ands does (brute force), and shuffling the cells changes
/// nothing.
#[test]
fn conditions_are_exact_smallest_and_deterministic_over_random_matrices() {
    let mut rng = fastrand::Rng::with_seed(24);
    for round in 0..300 {
        let opts = rng.usize(2..=4);
        let arity: Vec<usize> = (0..opts).map(|_| rng.usize(2..=3)).collect();
        let mut pts: Vec<BTreeMap<String, Value>> = vec![BTreeMap::new()];
        for (o, &n) in arity.iter().enumerate() {
            pts = pts
                .into_iter()
                .flat_map(|p| {
                    (0..n).map(move |v| {
                        let mut p = p.clone();
                        let val = if n == 2 {
                            b(v == 1)
                        } else {
                            Value::Str(format!("v{v}"))
                        };
                        p.insert(format!("o{o}"), val);
                        p
                    })
                })
                .collect();
        }
        pts.retain(|_| rng.u8(..) < 200);
        let obs: Vec<(String, BTreeMap<String, Value>, bool)> = pts
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("c{i}"), p.clone(), rng.bool()))
            .collect();
        let got = found(&obs);
        let mut shuffled = obs.clone();
        rng.shuffle(&mut shuffled);
        assert_eq!(found(&shuffled), got, "round {round}: order matters");
        let Found::Exactly(conds) = got else {
            continue;
        };
        for c in &conds {
            for (id, p, inside) in &obs {
                assert_eq!(c.holds(p), *inside, "round {round}: {c} at {id}");
            }
        }
        // No condition of fewer ands is exact: the ands that hold in
        // no outside cell, taken k-1 at a time, miss an inside cell.
        let k = conds[0].terms.len();
        let lits = literals(&obs.iter().map(|o| &o.1).collect::<Vec<_>>());
        let implicants: Vec<Vec<Literal>> = all_terms(&lits)
            .into_iter()
            .filter(|t| {
                obs.iter()
                    .all(|(_, p, inside)| *inside || !t.iter().all(|l| l.holds(p)))
            })
            .collect();
        let covers = |terms: &[&Vec<Literal>]| {
            obs.iter().all(|(_, p, inside)| {
                !*inside || terms.iter().any(|t| t.iter().all(|l| l.holds(p)))
            })
        };
        if k == 2 {
            assert!(!implicants.iter().any(|t| covers(&[t])), "round {round}");
        }
        if k == 3 {
            for (i, t) in implicants.iter().enumerate() {
                for u in &implicants[i + 1..] {
                    assert!(
                        !covers(&[t, u]),
                        "round {round}: {:?} {:?} vs {}",
                        t,
                        u,
                        conds[0]
                    );
                }
            }
        }
    }
}
