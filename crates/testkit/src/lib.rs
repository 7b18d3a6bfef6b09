//! Test support shared by the portal-triage crates (not published): where
//! the shared corpus folder is, how a test that cannot run says so, and
//! text generators for property tests.

#![forbid(unsafe_code)]

pub mod text;

use std::path::PathBuf;

/// The shared folder (`../shared` beside the repository, or
/// `$PORTAL_TRIAGE_SHARED`), if present.
///
/// When it is absent the calling test prints a visible notice (see
/// [`skip_notice`]) and skips, unless `PORTAL_TRIAGE_REQUIRE_SHARED=1`, in
/// which case it fails.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("PORTAL_TRIAGE_SHARED")
        .map_or_else(|| repo_root().join("../shared"), PathBuf::from);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("PORTAL_TRIAGE_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!(
            "{test}: the shared folder is absent and PORTAL_TRIAGE_REQUIRE_SHARED=1 (expected at {})",
            dir.display()
        );
    }
    skip_notice(
        test,
        &format!(
            "the shared folder is absent (expected at {})",
            dir.display()
        ),
        "PORTAL_TRIAGE_REQUIRE_SHARED",
    );
    None
}

/// The repository (workspace) root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Say that `test` skipped, and why, where a plain `cargo test` shows it.
///
/// The test harness captures `println!`/`eprintln!` of a passing test, so a
/// notice written with them is seen only with `--nocapture`; a write to the
/// standard error handle itself is not captured and shows up in the normal
/// output, next to the test's `ok`.
pub fn skip_notice(test: &str, why: &str, require_var: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED: {test}: {why} (set {require_var}=1 to fail instead)"
    );
}
