//! Unit tests of the feature model: families from guards and names,
//! implications, excludes and their conditions.
use super::*;

fn pkg(features: &[(&str, &[&str])], defaults: &[&str]) -> Package {
    let feature_map: BTreeMap<String, Vec<String>> = features
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
        .collect();
    Package {
        features: feature_map.keys().cloned().collect(),
        feature_map,
        defaults: defaults.iter().map(|s| (*s).to_owned()).collect(),
        ..Package::default()
    }
}

fn conflict(a: &str, b: &str) -> (BTreeSet<String>, String) {
    (
        BTreeSet::from([a.to_owned(), b.to_owned()]),
        "src/lib.rs:1".to_owned(),
    )
}

#[test]
fn guarded_cliques_become_choices_and_odd_edges_excludes() {
    let p = pkg(
        &[
            ("rtc-a", &[]),
            ("rtc-b", &[]),
            ("rtc-c", &[]),
            ("x", &[]),
            ("y", &["x"]),
        ],
        &[],
    );
    let g = Guards {
        conflicts: vec![
            conflict("rtc-a", "rtc-b"),
            conflict("rtc-a", "rtc-c"),
            conflict("rtc-b", "rtc-c"),
            conflict("rtc-c", "y"),
        ],
        required: vec![(
            BTreeSet::from(["rtc-a".to_owned(), "rtc-b".to_owned(), "rtc-c".to_owned()]),
            "src/lib.rs:9".to_owned(),
        )],
        needs: Vec::new(),
    };
    let m = model(&p, &g, &BTreeMap::new());
    assert_eq!(m.families.len(), 1);
    let f = &m.families[0];
    assert_eq!(f.name, "rtc");
    assert_eq!(f.axis, ["a", "b", "c"], "one is required: no `none`");
    assert_eq!(f.default, "a");
    assert_eq!(m.bools, ["x", "y"]);
    assert_eq!(m.depends["y"][0].0, "x");
    assert_eq!(
        m.excludes[0].0,
        [
            ("rtc".to_owned(), "c".to_owned()),
            ("y".to_owned(), "true".to_owned())
        ]
    );
}

#[test]
fn a_large_name_family_samples_its_axis() {
    let mut feats: Vec<(String, Vec<&str>)> = (1..=40)
        .map(|i| (format!("tick-hz-{i}_000"), Vec::new()))
        .collect();
    feats.push(("mock".to_owned(), vec!["tick-hz-7_000"]));
    feats.push(("std".to_owned(), Vec::new()));
    let owned: Vec<(&str, &[&str])> = feats
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let m = model(&pkg(&owned, &[]), &Guards::default(), &BTreeMap::new());
    let f = &m.families[0];
    assert_eq!(f.name, "tick-hz");
    assert_eq!(f.members.len(), 40);
    assert_eq!(f.members[0].0, "1_000");
    assert_eq!(f.axis, ["none", "1_000", "7_000", "40_000"]);
    assert_eq!(m.depends["mock"][0].0, "tick-hz == 7_000");
    assert_eq!(m.bools, ["mock", "std"]);
}

#[test]
fn one_required_of_bools_excludes_the_cell_with_none_on() {
    let p = pkg(&[("ipv4", &[]), ("ipv6", &[]), ("dns", &["ipv4"])], &[]);
    let g = Guards {
        required: vec![(
            BTreeSet::from(["ipv4".to_owned(), "ipv6".to_owned()]),
            "src/lib.rs:3".to_owned(),
        )],
        ..Guards::default()
    };
    let m = model(&p, &g, &BTreeMap::new());
    assert!(m.families.is_empty());
    assert_eq!(
        m.excludes,
        [(
            vec![
                ("ipv4".to_owned(), "false".to_owned()),
                ("ipv6".to_owned(), "false".to_owned())
            ],
            "src/lib.rs:3".to_owned()
        )]
    );
}

#[test]
fn name_families_take_the_longest_shared_prefix() {
    let p = pkg(
        &[
            ("arch-avr", &[]),
            ("arch-cortex-m", &[]),
            ("arch-riscv32", &[]),
            ("iface-max-addr-count-1", &[]),
            ("iface-max-addr-count-2", &[]),
            ("iface-max-addr-count-4", &[]),
            ("iface-max-route-count-1", &[]),
            ("iface-max-route-count-2", &[]),
            ("iface-max-route-count-4", &[]),
            ("proto-ipv4", &[]),
            ("proto-ipv6", &[]),
            ("proto-dns", &[]),
        ],
        &["proto-ipv4", "proto-ipv6"],
    );
    let m = model(&p, &Guards::default(), &BTreeMap::new());
    let names: Vec<&str> = m.families.iter().map(|f| f.name.as_str()).collect();
    // `arch` is the matrix's own axis.
    assert_eq!(
        names,
        [
            "arch-family",
            "iface-max-addr-count",
            "iface-max-route-count"
        ]
    );
    assert_eq!(m.families[0].axis, ["none", "avr", "cortex-m", "riscv32"]);
    // Two default features of one prefix may be on together: bools.
    assert_eq!(m.bools, ["proto-dns", "proto-ipv4", "proto-ipv6"]);
}

#[test]
fn the_prefix_s_own_feature_is_the_family_s_plain_value() {
    let p = pkg(
        &[
            ("defmt-timestamp-uptime", &["defmt"]),
            ("defmt-timestamp-uptime-ms", &["defmt"]),
            ("defmt-timestamp-uptime-s", &["defmt"]),
            ("defmt-timestamp-uptime-us", &["defmt"]),
            ("defmt", &[]),
        ],
        &[],
    );
    let m = model(&p, &Guards::default(), &BTreeMap::new());
    let f = &m.families[0];
    assert_eq!(f.name, "defmt-timestamp");
    let values: Vec<&str> = f.members.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(values, ["uptime", "uptime-ms", "uptime-s", "uptime-us"]);
    assert!(
        f.why
            .contains("4 features `defmt-timestamp-uptime`, `defmt-timestamp-uptime-*`")
    );
}

#[test]
fn implication_cycles_are_left_out() {
    let m = model(
        &pkg(&[("a", &["b"]), ("b", &["a"])], &[]),
        &Guards::default(),
        &BTreeMap::new(),
    );
    assert_eq!(m.depends.len(), 1, "{:?}", m.depends);
}
