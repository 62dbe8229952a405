//! Option costs over hand-made cells: medians over pairs, min and max,
//! the crates that moved, options that follow, and options no pair
//! isolates.
#![allow(clippy::float_cmp)] // medians of integers are exact halves
use std::collections::BTreeMap;

use super::*;
use crate::model::CrateSize;

/// A cell with these option values and crates `(name, flash, ram)`.
fn cell(id: &str, arch: &str, opts: &[(&str, Value)], crates: &[(&str, u64, u64)]) -> CellOutcome {
    let mut options: BTreeMap<String, Value> = opts
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    options.insert("arch".to_owned(), Value::Str(arch.to_owned()));
    let crates: Vec<CrateSize> = crates
        .iter()
        .map(|(n, f, r)| CrateSize {
            name: (*n).to_owned(),
            flash: *f,
            ram: *r,
        })
        .collect();
    CellOutcome {
        target: format!("{arch}-none"),
        options,
        size: Some(Size {
            flash: crates.iter().map(|c| c.flash).sum(),
            ram: crates.iter().map(|c| c.ram).sum(),
            crates,
            ..Size::default()
        }),
        ..CellOutcome::passing(id)
    }
}

fn b(v: bool) -> Value {
    Value::Bool(v)
}

/// `b` is `a` with `option` changed and nothing else but `derived`.
fn differs_alone(a: &CellOutcome, b: &CellOutcome, option: &str) -> bool {
    let derived = ["percpu-km"];
    a.options.get(option) != b.options.get(option)
        && a.options.iter().all(|(k, v)| {
            k == option || derived.contains(&k.as_str()) || b.options.get(k) == Some(v)
        })
}

fn bool_subject(name: &str) -> Subject {
    Subject {
        option: name.to_owned(),
        values: vec![b(false), b(true)],
    }
}

fn matrix() -> Vec<CellOutcome> {
    vec![
        cell(
            "arm-up-mmu",
            "arm",
            &[("smp", b(false)), ("mmu", b(true)), ("percpu-km", b(false))],
            &[("kalloc", 1000, 100), ("core", 200, 0)],
        ),
        cell(
            "arm-smp-mmu",
            "arm",
            &[("smp", b(true)), ("mmu", b(true)), ("percpu-km", b(false))],
            &[("kalloc", 1100, 140), ("core", 200, 0)],
        ),
        cell(
            "arm-up-nommu",
            "arm",
            &[("smp", b(false)), ("mmu", b(false)), ("percpu-km", b(true))],
            &[("kalloc", 800, 100), ("core", 150, 0)],
        ),
        cell(
            "arm-smp-nommu",
            "arm",
            &[("smp", b(true)), ("mmu", b(false)), ("percpu-km", b(true))],
            &[("kalloc", 1100, 160), ("core", 150, 0), ("[C]", 10, 0)],
        ),
        cell(
            "x86-up-mmu",
            "x86",
            &[("smp", b(false)), ("mmu", b(true)), ("percpu-km", b(false))],
            &[("kalloc", 900, 100)],
        ),
    ]
}

#[test]
fn an_options_cost_is_the_median_over_the_pairs_that_differ_in_it_alone() {
    let c = costs(&matrix(), &[bool_subject("smp")], &differs_alone);
    let smp = &c.options[0];
    assert_eq!(
        (smp.option.as_str(), smp.arch.as_str(), smp.pairs),
        ("smp", "arm", 2)
    );
    // Pairs: mmu +100 flash +40 ram; nommu +310 flash +60 ram.
    assert_eq!(
        smp.flash,
        Stat {
            median: 205.0,
            min: 100,
            max: 310
        }
    );
    assert_eq!(
        smp.ram,
        Stat {
            median: 50.0,
            min: 40,
            max: 60
        }
    );
    // kalloc: +100 and +300; [C]: 0 and +10.
    let crates: Vec<(&str, f64)> = smp
        .crates
        .iter()
        .map(|k| (k.name.as_str(), k.flash))
        .collect();
    assert_eq!(crates, [("kalloc", 200.0), ("[C]", 5.0)]);
    // x86 has one cell: no pair there.
    assert_eq!(c.unpaired, ["smp@x86"]);
    assert_eq!(c.cells.len(), 5);
}

#[test]
fn derived_options_may_follow_but_an_option_they_follow_alone_is_unpaired() {
    let c = costs(
        &matrix(),
        &[bool_subject("mmu"), bool_subject("percpu-km")],
        &differs_alone,
    );
    let mmu = c.options.iter().find(|o| o.option == "mmu").unwrap();
    assert_eq!(mmu.follow, ["percpu-km"]);
    assert_eq!(mmu.pairs, 2);
    // mmu on: +250 (up) and +40 (smp) flash.
    assert_eq!(
        mmu.flash,
        Stat {
            median: 145.0,
            min: 40,
            max: 250
        }
    );
    // percpu-km never changes without mmu.
    assert!(
        c.unpaired.contains(&"percpu-km@arm".to_owned()),
        "{:?}",
        c.unpaired
    );
}

#[test]
fn a_choice_is_measured_against_its_first_value() {
    let cells = vec![
        cell(
            "a-slab",
            "arm",
            &[("alloc", Value::Str("slab".into()))],
            &[("k", 100, 10)],
        ),
        cell(
            "a-slob",
            "arm",
            &[("alloc", Value::Str("slob".into()))],
            &[("k", 70, 10)],
        ),
    ];
    let s = Subject {
        option: "alloc".to_owned(),
        values: vec![Value::Str("slab".into()), Value::Str("slob".into())],
    };
    let c = costs(&cells, &[s], &differs_alone);
    assert_eq!(c.options[0].value, Value::Str("slob".into()));
    assert_eq!(c.options[0].flash.median, -30.0);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(
        json["options"][0]["flash"]["median"],
        serde_json::json!(-30)
    );
    assert_eq!(json["options"][0]["pairs"], 1);
    let mut out = Vec::new();
    print(&c, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("alloc   slob (vs slab)  arm     -30    0      1          k -30"),
        "{text}"
    );
}

#[test]
fn medians_of_even_counts_are_the_mean_of_the_middle_two() {
    assert_eq!(median(&mut [3, 1, 2]), 2.0);
    assert_eq!(median(&mut [4, 1, 2, 3]), 2.5);
    assert_eq!(show_median(2.5), "+2.5");
    assert_eq!(show_median(-0.5), "-0.5");
    assert_eq!(show_median(-1500.0), "-1,500");
}

#[test]
fn a_cell_without_a_size_is_named_as_left_out_not_as_an_unpaired_option() {
    let mut cells = vec![
        cell("a-off", "a", &[("x", b(false))], &[("k", 100, 10)]),
        cell("a-on", "a", &[("x", b(true))], &[("k", 150, 10)]),
    ];
    // The link of the "on" cell failed: no size, so no pair.
    cells[1].size = None;
    let c = costs(&cells, &[bool_subject("x")], &differs_alone);
    assert_eq!(c.unsized_cells, ["a-on"]);
    assert_eq!(c.unpaired, ["x@a"]);
    let mut out = Vec::new();
    print(&c, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(
            "1 cell without a size (a failed link or an error) left out of these figures: a-on"
        ),
        "{text}"
    );
}
