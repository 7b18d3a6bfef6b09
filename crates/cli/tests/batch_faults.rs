//! `portal-triage score` under faults: input cut mid-record, a single line
//! of 100 MB, output that fills up, and the same output whatever the number
//! of threads. (A closed output pipe and `-o /dev/full` are covered in
//! `tests/score_cli.rs`.)

mod common;

use proptest::prelude::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pt-faults-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

fn records(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is one JSON record"))
        .collect()
}

#[test]
fn input_cut_mid_record_still_yields_every_record() {
    let input = b"{\"id\": \"a\", \"text\": \"refill please\"}\n{\"id\": \"b\", \"text\": \"crushing chest pain right n";
    let (code, out, err) = common::run_cli(&["score"], input);
    assert_eq!(code, 1, "{err}");
    let r = records(&out);
    assert_eq!(r.len(), 2);
    assert_eq!(
        (r[1]["id"].as_str(), r[1]["line"].as_u64()),
        (Some("b"), Some(2))
    );
    assert!(r[1]["error"].as_str().unwrap().starts_with("bad JSON"));
    // Scored on what was recovered: the emergency is not lost.
    assert_eq!(r[1]["route"], "call-911");
    assert!(
        !err.contains("chest"),
        "errors never quote message text: {err}"
    );
}

#[test]
fn a_100_mb_line_is_one_flagged_record_and_the_rest_follows() {
    let dir = tempdir("long-line");
    let path = dir.join("big.jsonl");
    let mut data = Vec::with_capacity(101 << 20);
    data.extend_from_slice(
        b"{\"id\": \"before\", \"text\": \"no fever\"}\n{\"id\": \"huge\", \"text\": \"",
    );
    while data.len() < 100 << 20 {
        data.extend_from_slice(b"refill please ");
    }
    data.extend_from_slice(
        b"\"}\n{\"id\": \"after\", \"text\": \"my face is drooping right now\"}\n",
    );
    std::fs::write(&path, &data).unwrap();
    drop(data);
    let (code, out, err) = common::run_cli(&["score", path.to_str().unwrap()], b"");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 1, "{err}");
    let r = records(&out);
    let ids: Vec<&str> = r.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["before", "huge", "after"]);
    assert!(
        r[1]["error"].as_str().unwrap().contains("longer than"),
        "{}",
        r[1]
    );
    assert_eq!(r[2]["route"], "call-911");
    assert!(err.contains(":2:"), "names the line: {err}");
}

/// A CSV quote that never closes, followed by more than the 64 MiB a row
/// may hold: the row is cut back to its first line (flagged) and every line
/// after it is its own record; it used to stop the run with exit 2.
#[test]
fn a_csv_row_past_64_mib_gives_back_every_line_after_it() {
    let dir = tempdir("csv-64mib");
    let path = dir.join("runaway.csv");
    let mut data = Vec::with_capacity(72 << 20);
    data.extend_from_slice(b"id,text\nbefore,no fever\nopen,\"refill please\n");
    let lines = 70;
    for i in 0..lines {
        data.extend_from_slice(format!("x{i},").as_bytes());
        data.extend(std::iter::repeat_n(b'x', 1 << 20));
        data.push(b'\n');
    }
    data.extend_from_slice(b"after,my face is drooping right now\n");
    std::fs::write(&path, &data).unwrap();
    drop(data);
    let (code, out, err) = common::run_cli(&["score", path.to_str().unwrap()], b"");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 1, "{err}");
    let r = records(&out);
    assert_eq!(
        r.len(),
        2 + lines + 1,
        "one record per line after the damage"
    );
    assert_eq!(r[1]["id"], "open");
    assert_eq!(r[1]["line"], 3);
    let error = r[1]["error"].as_str().unwrap();
    assert!(
        error.contains("never closed") && error.contains("64 MiB"),
        "{error}"
    );
    assert_eq!(r[2]["id"], "x0");
    assert!(r[2].get("error").is_none(), "{}", r[2]);
    assert_eq!(r[2 + lines]["id"], "after");
    assert_eq!(r[2 + lines]["route"], "call-911");
}

/// Output that cannot grow past a limit (RLIMIT_FSIZE, as a full disk
/// would): exit 2 with a clear error, and the file holds whole records
/// only.
#[cfg(target_os = "linux")]
#[test]
fn a_full_output_keeps_whole_records_only() {
    let dir = tempdir("full");
    let input = dir.join("in.jsonl");
    let output = dir.join("out.jsonl");
    let mut lines = String::new();
    for i in 0..6000 {
        lines.push_str(&format!(
            "{{\"id\": {i}, \"text\": \"message {i}: my chest hurts a little since this morning, no fever\"}}\n"
        ));
    }
    std::fs::write(&input, lines).unwrap();
    // `ulimit -f` is in 512- or 1024-byte blocks depending on the shell:
    // either way far less than the ~600 KB of output.
    let status = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 400; exec \"$0\" score --threads 2 \"$1\" -o \"$2\"")
        .arg(env!("CARGO_BIN_EXE_portal-triage"))
        .arg(&input)
        .arg(&output)
        .output()
        .expect("sh runs");
    let written = std::fs::read(&output).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write"), "{err}");
    assert!(!written.is_empty() && written.len() < 600_000);
    assert_eq!(written.last(), Some(&b'\n'), "ends with a whole record");
    let text = String::from_utf8(written).unwrap();
    let r = records(&text);
    for (i, rec) in r.iter().enumerate() {
        assert_eq!(rec["id"].as_u64(), Some(i as u64), "in order, none torn");
    }
}

/// One input line: a valid record, a broken one, a blank line, invalid
/// UTF-8, or a record without text.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let text = prop::sample::select(
        &[
            "crushing chest pain right now",
            "refill please",
            "no fever, my husband is slurring his words",
            "sugar 45 and shaky",
            "passed out yesterday, fine now",
            "",
        ][..],
    );
    prop_oneof![
        4 => (0u32..1000, text.clone()).prop_map(|(i, t)| format!("{{\"id\": {i}, \"text\": \"{t}\"}}").into_bytes()),
        1 => (0u32..1000, text.clone()).prop_map(|(i, t)| format!("{{\"id\": {i}, \"text\": \"{t}").into_bytes()),
        1 => Just(Vec::new()),
        1 => Just(b"{\"id\": 7, \"text\": \"caf\xe9 chest pain\"}".to_vec()),
        1 => (0u32..1000).prop_map(|i| format!("{{\"id\": {i}}}").into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// The same batch scored with one thread and with several gives the
    /// same bytes, record for record.
    #[test]
    fn one_thread_and_many_give_identical_output(
        lines in prop::collection::vec(line(), 0..700),
    ) {
        let mut input = Vec::new();
        for l in &lines {
            input.extend_from_slice(l);
            input.push(b'\n');
        }
        let one = common::run_cli(&["score", "--threads", "1", "--quiet"], &input);
        let many = common::run_cli(&["score", "--threads", "4", "--quiet"], &input);
        prop_assert_eq!(one.0, many.0);
        prop_assert_eq!(&one.1, &many.1);
        if one.0 == 2 {
            // A usage error, by design: no well-formed record at the head of
            // the input has the text field, so `--text-field` is probably
            // wrong ({"id": 7} alone, say). Nothing is scored.
            let has_text = |l: &Vec<u8>| {
                serde_json::from_slice::<Value>(l).is_ok_and(|v| v.get("text").is_some())
            };
            prop_assert!(one.1.is_empty());
            prop_assert!(input.len() < 1 << 16 && !lines.iter().any(has_text));
        } else {
            let expected = lines.iter().filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count();
            prop_assert_eq!(one.1.lines().count(), expected);
        }
    }
}
