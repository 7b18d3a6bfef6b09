//! The demo compose page end to end in headless Chromium: the real service,
//! and `crates/cli/tests/browser/e2e.mjs` (Node + playwright-core driving Debian's
//! `/usr/bin/chromium`), keyboard only. It types an emergency and a routine
//! message (and text with accents and emoji, a self-harm message, and a
//! failing service) and checks what the page shows and announces.
//!
//! Skips with a visible notice (`SKIPPED: ...` on stderr) when Chromium, Node or `crates/cli/tests/browser/node_modules`
//! is missing, unless `PORTAL_TRIAGE_REQUIRE_BROWSER=1` (CI), then fails.
//! The screenshot of the emergency warning goes to
//! `$PORTAL_TRIAGE_SCREENSHOT`, else `target/compose-emergency.png`.

mod common;

use common::server::Server;
use std::path::{Path, PathBuf};
use std::process::Command;

fn missing_requirement(dir: &Path) -> Option<String> {
    let chromium = std::env::var("PORTAL_TRIAGE_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is absent (apt-get install chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is absent".into());
    }
    if !dir.join("node_modules/playwright-core").is_dir() {
        return Some(format!(
            "{} is absent (run `npm ci` in crates/cli/tests/browser)",
            dir.join("node_modules/playwright-core").display()
        ));
    }
    None
}

#[test]
fn compose_page_warns_about_an_emergency_in_chromium() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/browser");
    if let Some(why) = missing_requirement(&dir) {
        if std::env::var("PORTAL_TRIAGE_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("browser test: {why} and PORTAL_TRIAGE_REQUIRE_BROWSER=1");
        }
        common::skip_notice(
            "compose_page_warns_about_an_emergency_in_chromium",
            &why,
            "PORTAL_TRIAGE_REQUIRE_BROWSER",
        );
        return;
    }
    let screenshot = std::env::var_os("PORTAL_TRIAGE_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compose-emergency.png")
        });
    if let Some(parent) = screenshot.parent() {
        std::fs::create_dir_all(parent).expect("the screenshot folder can be made");
    }
    let server = Server::start(&[]);
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("e2e.mjs")
        .arg(format!("{}/", server.url()))
        .arg(&screenshot)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all browser checks passed"), "{stdout}");
    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    // The page's requests were logged without the typed text.
    let log = server.log_text();
    assert!(log.contains("POST /v1/triage 200"), "{log}");
    assert!(
        !log.contains("lisinopril") && !log.contains("crushing"),
        "{log}"
    );
}
