//! Print the full decision for one message given on the command line.
//!
//! ```sh
//! cargo run --release --example explain -- "my husband is slurring his words"
//! ```

use portal_triage::Triage;

fn main() {
    let text = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let started = std::time::Instant::now();
    let triage = Triage::builtin().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let built = started.elapsed();
    let decision = triage.classify(&text);
    println!(
        "{}",
        serde_json::to_string_pretty(&decision).unwrap_or_default()
    );
    eprintln!("rule set built in {built:?}");
}
