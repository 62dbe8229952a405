//! `explain` on the small logs of fixtures/logs/cases/ (one fault each,
//! written in the exact shape a real linker or robot prints; the answers
//! are its README's table). Every one shows a failed link, so every one
//! exits 1; where the log does not say a function, file or line, none is
//! invented.
use serde_json::Value;

use crate::util::{linkmatrix, repo, stdout};

/// The JSON of `explain` on case `n`, and its human output; both exit 1.
fn case(n: u32) -> (Value, String) {
    let dir = repo().join("fixtures/logs/cases");
    let log = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{n:02}-"))
        })
        .unwrap();
    let run = |format: &str| {
        let o = linkmatrix(&repo())
            .args(["explain", "--format", format])
            .arg(&log)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}: {}",
            log.display(),
            stdout(&o)
        );
        stdout(&o)
    };
    let v: Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(v["failed"], true, "{v:#}");
    (v, run("human"))
}

fn findings(v: &Value) -> &Vec<Value> {
    v["findings"].as_array().unwrap()
}

/// The finding about `symbol`.
fn about<'a>(v: &'a Value, symbol: &str) -> &'a Value {
    findings(v)
        .iter()
        .find(|f| f["symbol"] == symbol)
        .unwrap_or_else(|| panic!("no finding for {symbol:?} in {v:#}"))
}

/// (function, file, line, object) of each reference; `""`/0 when absent.
fn refs(f: &Value) -> Vec<(String, String, u64, String)> {
    let s = |x: &Value| x.as_str().unwrap_or("").to_owned();
    f["referenced_by"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        s(&r["function"]),
                        s(&r["file"]),
                        r["line"].as_u64().unwrap_or(0),
                        s(&r["object"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn r(function: &str, file: &str, line: u64, object: &str) -> (String, String, u64, String) {
    (function.into(), file.into(), line, object.into())
}

/// (object, file, line, function) of each definition.
fn defs(f: &Value) -> Vec<(String, String, u64, String)> {
    let s = |x: &Value| x.as_str().unwrap_or("").to_owned();
    f["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                s(&d["object"]),
                s(&d["file"]),
                d["line"].as_u64().unwrap_or(0),
                s(&d["function"]),
            )
        })
        .collect()
}

#[test]
fn old_bfd_in_function_names_the_function_and_no_line() {
    let (v, _) = case(1);
    assert_eq!(findings(&v).len(), 2);
    for s in ["board_irq_claim", "board_irq_enable"] {
        assert_eq!(
            refs(about(&v, s)),
            [r("sensor_setup", "core.c", 0, "drivers/sensor/core.o")]
        );
    }
}

#[test]
fn robot_markers_are_read_through() {
    let (v, _) = case(2);
    assert_eq!(
        refs(about(&v, "ring_pages")),
        [r("ring_reserve", "kernel/ring.c", 212, "vmlinux.o")]
    );
    assert_eq!(
        refs(about(&v, "ring_limit")),
        [r("ring_reserve", "kernel/ring.c", 230, "vmlinux.o")]
    );
}

#[test]
fn file_and_line_come_apart_in_json() {
    let (v, _) = case(3);
    let f = about(&v, "blk_sync_range");
    assert_eq!(f["referenced_by"][0]["file"], "fs/blob.c");
    assert_eq!(f["referenced_by"][0]["line"], 146);
    assert_eq!(refs(f), [r("blob_flush", "fs/blob.c", 146, "fs/blob.o")]);
}

#[test]
fn an_offset_alone_is_no_file() {
    let (v, human) = case(4);
    assert_eq!(
        refs(about(&v, "hal_tick_now")),
        [r("app_tick", "", 0, "app.o")]
    );
    assert!(!human.contains("at (.text"), "{human}");
}

#[test]
fn no_function_is_carried_onto_a_line_that_names_its_own_object() {
    let (v, _) = case(5);
    assert_eq!(refs(about(&v, "uart_putc")), [r("start", "a.c", 0, "a.o")]);
    assert_eq!(
        refs(about(&v, "__aeabi_unwind_cpp_pr0")),
        [r("", "", 0, "a.o"), r("", "", 0, "b.o")]
    );
}

#[test]
fn modpost_behind_robot_markers() {
    let (v, _) = case(6);
    assert_eq!(findings(&v).len(), 2);
    for s in ["ring_export_ops", "ring_bus_lock"] {
        assert_eq!(refs(about(&v, s)), [r("", "", 0, "drivers/net/ringdev.ko")]);
    }
}

#[test]
fn gold_forms_give_object_file_and_function() {
    let (v, _) = case(7);
    for s in ["gl_push_state", "gl_pop_state"] {
        assert_eq!(
            refs(about(&v, s)),
            [r("view_draw", "src/view.c", 0, "lib/libview.a(view.o)")]
        );
    }
}

#[test]
fn mold_1_names_the_object_not_a_function() {
    let (v, _) = case(8);
    assert_eq!(
        refs(about(&v, "codec_open(char const*)")),
        [r("", "", 0, "src/app/main.cpp.o")]
    );
    assert_eq!(
        refs(about(&v, "zz_inflate_init")),
        [r("", "", 0, "third_party/libzz.a(zz_read.o)")]
    );
}

#[test]
fn msvc_names_are_readable_without_quotes_or_msbuild_prefixes() {
    let (v, human) = case(9);
    let f = about(&v, "?Read@Meter@@QEBAHXZ");
    assert_eq!(f["demangled"], "Meter::Read(void)const");
    assert_eq!(refs(f), [r("Poll(void)", "", 0, "main.obj")]);
    assert_eq!(findings(&v).len(), 1, "LNK1120 is a summary");
    assert!(human.contains("Meter::Read(void)const"), "{human}");
    assert!(!human.contains("1>") && !human.contains('"'), "{human}");
}

#[test]
fn two_references_that_only_offsets_tell_apart_stay_two() {
    let (v, _) = case(10);
    assert_eq!(
        refs(about(&v, "net_send_frame")),
        [r("", "", 0, "link.o"), r("", "", 0, "link.o")]
    );
}

#[test]
fn a_name_cut_off_by_a_truncated_log_is_no_function() {
    let (v, _) = case(11);
    assert_eq!(
        refs(about(&v, "ring_flush")),
        [r("ring_commit", "src/ring.c", 40, "libring.a(ring.o)")]
    );
    assert_eq!(refs(about(&v, "ring_wait")), [r("", "src/ring.c", 52, "")]);
}

#[test]
fn a_codegen_unit_is_not_a_source_file() {
    let (v, human) = case(12);
    let rs = refs(about(&v, "DMA2_CH7"));
    assert_eq!(rs.len(), 1);
    let (function, file, line, object) = &rs[0];
    assert_eq!(
        (function.as_str(), file.as_str(), *line),
        ("__INTERRUPTS", "", 0)
    );
    assert!(
        object.ends_with("libboardpac-0c1d2e3f4a5b6c7d.rlib(boardpac-0c1d2e3f4a5b6c7d.boardpac.7f3a21c9e0d4b6a2-cgu.0.rcgu.o)"),
        "{object}"
    );
    assert!(!human.contains("at boardpac"), "{human}");
}

#[test]
fn gnu_duplicates_name_every_definition() {
    let (v, _) = case(13);
    assert_eq!(findings(&v).len(), 2, "{v:#}");
    let s = |x: &str| x.to_owned();
    let table = about(&v, "LOOKUP_TABLE");
    assert_eq!(table["kind"], "duplicate-symbol");
    assert_eq!(
        defs(table),
        [
            (s("build/obj/table.o"), s(""), 0, s("")),
            (s("build/obj/main.o"), s(""), 0, s(""))
        ]
    );
    assert_eq!(
        defs(about(&v, "table_init")),
        [
            (s("build/obj/table.o"), s("table.c"), 0, s("table_init")),
            (s("build/obj/init.o"), s("init.c"), 0, s(""))
        ]
    );
}

#[test]
fn lld_duplicates_give_file_and_line_of_each_definition() {
    let (v, human) = case(14);
    let s = |x: &str| x.to_owned();
    assert_eq!(
        defs(about(&v, "gpio_lock")),
        [
            (s("libdrivers.a(gpio.o)"), s("drivers/gpio.c"), 31, s("")),
            (s("board.o"), s("board/board.c"), 12, s(""))
        ]
    );
    assert!(
        human.contains("gpio_lock: duplicate-symbol (2 definitions)"),
        "{human}"
    );
}

#[test]
fn ld64_duplicates_list_their_objects() {
    let (v, _) = case(15);
    assert_eq!(findings(&v).len(), 1);
    let objects: Vec<String> = defs(about(&v, "clock_hz"))
        .into_iter()
        .map(|d| d.0)
        .collect();
    assert_eq!(objects, ["/tmp/build/timer.o", "/tmp/build/rtc.o"]);
}

#[test]
fn gnu_region_overflow_is_one_finding_with_its_bytes() {
    let (v, human) = case(16);
    assert_eq!(findings(&v).len(), 1, "{v:#}");
    let r = &findings(&v)[0]["region"];
    assert_eq!(findings(&v)[0]["kind"], "region-overflow");
    assert_eq!(r["name"], "FLASH");
    assert_eq!(r["overflow_bytes"], 2312);
    assert_eq!(r["sections"][0]["name"], ".text");
    assert_eq!(r["output"], "build/fw.elf");
    assert!(
        human.contains("region-overflow: FLASH by 2312 bytes (.text)"),
        "{human}"
    );
}

#[test]
fn lld_region_overflow_through_rustc_lists_each_section() {
    let (v, _) = case(17);
    assert_eq!(findings(&v).len(), 1, "one finding per region: {v:#}");
    let r = &findings(&v)[0]["region"];
    assert_eq!(r["name"], "FLASH");
    assert_eq!(r["overflow_bytes"], 1288);
    let sections: Vec<(String, u64)> = r["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["overflow_bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sections,
        [(".text".to_owned(), 904), (".rodata".to_owned(), 1288)]
    );
}

#[test]
fn gnu_relocation_truncated_names_target_type_and_function() {
    let (v, _) = case(18);
    let f = about(&v, "ram_main");
    assert_eq!(f["kind"], "relocation-overflow");
    assert_eq!(f["relocation"]["type"], "R_ARM_THM_CALL");
    assert_eq!(f["relocation"]["target_object"], "ram.o");
    assert_eq!(f["relocation"]["target_section"], ".ramfunc");
    assert_eq!(refs(f), [r("reset_handler", "", 0, "boot.o")]);
}

#[test]
fn lld_relocation_out_of_range_names_target_type_and_line() {
    let (v, _) = case(19);
    let f = about(&v, "far_entry");
    assert_eq!(f["kind"], "relocation-overflow");
    assert_eq!(f["relocation"]["type"], "R_RISCV_JAL");
    assert_eq!(f["relocation"]["target_object"], "far.o");
    assert_eq!(refs(f), [r("", "start.S", 12, "start.o")]);
}

#[test]
fn a_missing_linker_script_names_who_included_it() {
    let (v, human) = case(20);
    assert_eq!(findings(&v).len(), 1);
    let f = &findings(&v)[0];
    assert_eq!(f["kind"], "missing-input");
    assert_eq!(f["input"]["kind"], "linker-script");
    assert_eq!(f["input"]["name"], "device.x");
    assert_eq!(f["input"]["statement"], "INCLUDE device.x");
    assert!(
        f["script"]["file"]
            .as_str()
            .unwrap()
            .ends_with("/out/link.x")
    );
    assert_eq!(f["script"]["line"], 261);
    assert!(human.contains("link.x:261"), "{human}");
}

#[test]
fn a_linker_script_assertion_keeps_its_message_lines() {
    let (v, _) = case(21);
    assert_eq!(findings(&v).len(), 1);
    let f = &findings(&v)[0];
    assert_eq!(f["kind"], "linker-script-assertion");
    let m = f["message"].as_str().unwrap();
    let lines: Vec<&str> = m.lines().collect();
    assert_eq!(
        lines[0],
        "ERROR(cortex-m-rt): The interrupt vectors are missing."
    );
    assert!(m.contains("Possible solutions") && m.contains("- Link to a svd2rust"));
}

#[test]
fn a_missing_library_names_its_flag() {
    let (v, human) = case(22);
    assert_eq!(findings(&v).len(), 1);
    let f = &findings(&v)[0];
    assert_eq!(f["kind"], "missing-input");
    assert_eq!(f["input"]["kind"], "library");
    assert_eq!(f["input"]["name"], "sensorfw");
    assert_eq!(f["input"]["flag"], "-lsensorfw");
    assert!(
        human.contains("missing-input: library -lsensorfw"),
        "{human}"
    );
}

#[test]
fn a_name_that_begins_with_a_newline_is_one_finding_escaped_in_text() {
    let (v, human) = case(23);
    assert_eq!(findings(&v).len(), 1, "{v:#}");
    let f = about(&v, "\nerror(no-panic): a panicking branch is reachable");
    let rs = refs(f);
    assert_eq!(rs.len(), 1);
    assert_eq!(
        (rs[0].0.as_str(), rs[0].1.as_str(), rs[0].2),
        ("rust_begin_unwind", "src/lib.rs", 54)
    );
    assert!(rs[0].3.starts_with("libguard.rlib(") && rs[0].3.ends_with(".rcgu.o)"));
    assert!(human.contains("\\nerror(no-panic)"), "{human}");
    assert!(
        !human.lines().any(|l| l.starts_with("error(no-panic)")),
        "a raw newline split the line: {human}"
    );
}
