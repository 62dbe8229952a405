//! Covering plans over random small matrices with rules, checked against
//! brute force: every combination of T axis values some allowed
//! configuration has is in a cell, no cell is a configuration the rules
//! forbid, and the same matrix gives the same plan.
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::{Limits, expand_planned};
use crate::model::{Assignment, Cell, Cover, Expr, Matrix, Mode, OptionRule, Policy, Rules, Value};

fn word(v: &str) -> Value {
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        s => Value::Str(s.to_owned()),
    }
}

fn matrix(
    rules: Vec<OptionRule>,
    axes: Vec<(String, Vec<Value>)>,
    exclude: Vec<Assignment>,
) -> Matrix {
    Matrix {
        path: PathBuf::from("linkmatrix.yaml"),
        root: PathBuf::from("."),
        manifest: PathBuf::from("Cargo.toml"),
        package: "p".to_owned(),
        crate_features: BTreeMap::new(),
        crate_defaults: Vec::new(),
        keep_defaults: true,
        mode: Mode::Image,
        bin: None,
        build: None,
        axes,
        rules: Rules { options: rules },
        include: Vec::new(),
        exclude,
        cover: Cover::default(),
        targets: BTreeMap::new(),
        policy: Policy::default(),
        roots: Vec::new(),
    }
}

fn rule(name: &str, choices: Option<&[&str]>) -> OptionRule {
    let choices = choices.map(|c| c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    let features = match &choices {
        None => BTreeMap::from([("true".to_owned(), name.to_owned())]),
        Some(c) => c
            .iter()
            .map(|v| (v.clone(), format!("{name}-{v}")))
            .collect(),
    };
    OptionRule {
        name: name.to_owned(),
        choices,
        features,
        labels: None,
        depends_on: None,
        defaults: Vec::new(),
        settings: BTreeMap::new(),
        kconfig: None,
    }
}

/// A condition over earlier options `o0..o{i}`.
fn condition(rng: &mut fastrand::Rng, earlier: &[OptionRule]) -> String {
    let atom = |rng: &mut fastrand::Rng| {
        let o = &earlier[rng.usize(..earlier.len())];
        match &o.choices {
            None if rng.bool() => o.name.clone(),
            None => format!("!{}", o.name),
            Some(c) => format!("{} == {}", o.name, c[rng.usize(..c.len())]),
        }
    };
    match rng.usize(..4) {
        0 => format!("{} && {}", atom(rng), atom(rng)),
        1 => format!("{} || {}", atom(rng), atom(rng)),
        2 => "arch == a1".to_owned(),
        _ => atom(rng),
    }
}

/// A random matrix: 3-6 options (bool or 3-valued choice), some with a
/// `depends-on` or a conditional default, most on an axis; 1-2 arches, 1-2
/// profiles; 0-2 exclude entries.
fn random_matrix(seed: u64) -> Matrix {
    let mut rng = fastrand::Rng::with_seed(seed);
    let n = rng.usize(3..=6);
    let mut rules: Vec<OptionRule> = Vec::new();
    let mut axes = vec![(
        "arch".to_owned(),
        (1..=rng.usize(1..=2))
            .map(|i| word(&format!("a{i}")))
            .collect(),
    )];
    for i in 0..n {
        let name = format!("o{i}");
        let choice = rng.usize(..3) == 0;
        let mut r = rule(&name, choice.then_some(&["x", "y", "z"][..]));
        if i > 0 && rng.usize(..3) == 0 {
            r.depends_on = Expr::parse(&condition(&mut rng, &rules)).ok();
        }
        let on_axis = rng.usize(..5) != 0;
        if i > 0 && rng.usize(..3) == 0 {
            let value = if choice { word("y") } else { word("true") };
            r.defaults
                .push((Expr::parse(&condition(&mut rng, &rules)).ok(), value));
        }
        if on_axis {
            let vals: Vec<Value> = match &r.choices {
                None => vec![word("false"), word("true")],
                Some(c) => c.iter().take(rng.usize(2..=3)).map(|v| word(v)).collect(),
            };
            axes.push((name, vals));
        }
        rules.push(r);
    }
    let profiles = if rng.bool() {
        vec!["release"]
    } else {
        vec!["dev", "release"]
    };
    axes.push((
        "profile".to_owned(),
        profiles.into_iter().map(word).collect(),
    ));
    let mut exclude = Vec::new();
    for _ in 0..rng.usize(..=2) {
        let mut values = BTreeMap::new();
        for _ in 0..rng.usize(1..=2) {
            let (k, vals) = &axes[rng.usize(..axes.len())];
            values.insert(k.clone(), vals[rng.usize(..vals.len())].clone());
        }
        exclude.push(Assignment {
            values,
            id: None,
            line: 1,
            col: 1,
        });
    }
    matrix(rules, axes, exclude)
}

/// A cell's value on each axis.
fn axis_values(m: &Matrix, c: &Cell) -> Vec<Value> {
    m.axes
        .iter()
        .map(|(k, _)| match k.as_str() {
            "profile" => Value::Str(c.profile.clone()),
            _ => c.options[k].clone(),
        })
        .collect()
}

/// Every configuration the full product allows, as axis values.
fn allowed(m: &Matrix) -> BTreeSet<Vec<Value>> {
    let mut full = m.clone();
    full.cover = Cover::default();
    let plan = expand_planned(
        full,
        Limits {
            max_cells: usize::MAX,
            ..Limits::default()
        },
    )
    .expect("the full product expands")
    .plan;
    plan.cells.iter().map(|c| axis_values(m, c)).collect()
}

/// Every combination of `t` (axis index, value) pairs in `configs`.
fn combinations(configs: &BTreeSet<Vec<Value>>, t: usize) -> BTreeSet<Vec<(usize, Value)>> {
    let mut out = BTreeSet::new();
    for c in configs {
        let k = c.len();
        let mut subsets: Vec<Vec<usize>> = vec![Vec::new()];
        for a in 0..k {
            let mut more = Vec::new();
            for s in &subsets {
                if s.len() < t {
                    let mut s2 = s.clone();
                    s2.push(a);
                    more.push(s2);
                }
            }
            subsets.extend(more);
        }
        for s in subsets.into_iter().filter(|s| s.len() == t.min(k)) {
            out.insert(s.iter().map(|&a| (a, c[a].clone())).collect());
        }
    }
    out
}

fn planned_cells(m: &Matrix, cover: Cover) -> Vec<Cell> {
    let limits = Limits {
        cover: Some(cover),
        ..Limits::default()
    };
    expand_planned(m.clone(), limits)
        .expect("the plan expands")
        .plan
        .cells
}

#[test]
fn covering_plans_hold_every_allowed_combination_and_nothing_forbidden() {
    for seed in 0..300 {
        let m = random_matrix(seed);
        let ok = allowed(&m);
        for t in 1..=3u8 {
            let cover = Cover {
                strength: Some(t),
                each: false,
            };
            let cells = planned_cells(&m, cover);
            let got: BTreeSet<Vec<Value>> = cells.iter().map(|c| axis_values(&m, c)).collect();
            for g in &got {
                assert!(ok.contains(g), "seed {seed} t={t}: a forbidden cell {g:?}");
            }
            let want = combinations(&ok, usize::from(t));
            let have = combinations(&got, usize::from(t));
            let missing: Vec<_> = want.difference(&have).collect();
            assert!(
                missing.is_empty(),
                "seed {seed} t={t}: not covered {missing:?}"
            );
            assert!(
                got.len() <= ok.len(),
                "seed {seed}: more cells than the product"
            );
            assert_eq!(
                cells,
                planned_cells(&m, cover),
                "seed {seed} t={t}: not deterministic"
            );
        }
    }
}

#[test]
fn each_holds_every_option_value_that_can_be_on_its_own() {
    for seed in 0..200 {
        let m = random_matrix(seed);
        let ok = allowed(&m);
        let cells = planned_cells(
            &m,
            Cover {
                strength: None,
                each: true,
            },
        );
        let got: BTreeSet<Vec<Value>> = cells.iter().map(|c| axis_values(&m, c)).collect();
        assert!(got.is_subset(&ok), "seed {seed}: a forbidden cell");
        // Every value written on an axis that some allowed configuration
        // has is in a cell.
        let want: BTreeSet<Vec<(usize, Value)>> = combinations(&ok, 1)
            .into_iter()
            .filter(|c| m.axes[c[0].0].1.contains(&c[0].1))
            .collect();
        let have = combinations(&got, 1);
        assert!(
            want.is_subset(&have),
            "seed {seed}: {:?}",
            want.difference(&have).collect::<Vec<_>>()
        );
    }
}

#[test]
fn each_turns_one_option_on_with_the_rest_at_their_defaults() {
    let rules: Vec<OptionRule> = (0..4).map(|i| rule(&format!("o{i}"), None)).collect();
    let mut axes = vec![("arch".to_owned(), vec![word("a1")])];
    axes.extend((0..4).map(|i| (format!("o{i}"), vec![word("false"), word("true")])));
    axes.push(("profile".to_owned(), vec![word("release")]));
    let m = matrix(rules, axes, Vec::new());
    let cells = planned_cells(
        &m,
        Cover {
            strength: None,
            each: true,
        },
    );
    let on: Vec<Vec<&str>> = cells
        .iter()
        .map(|c| {
            c.options
                .iter()
                .filter(|(_, v)| **v == Value::Bool(true))
                .map(|(k, _)| k.as_str())
                .collect()
        })
        .collect();
    assert_eq!(on, [vec![], vec!["o0"], vec!["o1"], vec!["o2"], vec!["o3"]]);
}

#[test]
fn include_cells_count_toward_what_a_covering_plan_holds() {
    let rules: Vec<OptionRule> = (0..3).map(|i| rule(&format!("o{i}"), None)).collect();
    let mut axes = vec![("arch".to_owned(), vec![word("a1")])];
    axes.extend((0..3).map(|i| (format!("o{i}"), vec![word("false"), word("true")])));
    axes.push(("profile".to_owned(), vec![word("release")]));
    let mut m = matrix(rules, axes, Vec::new());
    let plain = planned_cells(
        &m,
        Cover {
            strength: Some(2),
            each: false,
        },
    );
    m.include.push(Assignment {
        values: BTreeMap::from([
            ("arch".to_owned(), word("a1")),
            ("o0".to_owned(), word("true")),
            ("o1".to_owned(), word("true")),
            ("o2".to_owned(), word("true")),
        ]),
        id: None,
        line: 1,
        col: 1,
    });
    let with = planned_cells(
        &m,
        Cover {
            strength: Some(2),
            each: false,
        },
    );
    let last = with.last().expect("cells");
    assert!(
        last.options
            .values()
            .filter(|v| **v == Value::Bool(true))
            .count()
            == 3
    );
    let ok = allowed(&m);
    let got: BTreeSet<Vec<Value>> = with.iter().map(|c| axis_values(&m, c)).collect();
    assert!(combinations(&ok, 2).is_subset(&combinations(&got, 2)));
    assert!(
        with.len() <= plain.len() + 1,
        "{} vs {}",
        with.len(),
        plain.len()
    );
}
