//! Print how the engine reads each text given on the command line: the
//! words its rules match, and the corrections made.
//!
//! ```sh
//! cargo run --release --example read -- "my chest is real tight" "im havin a stoke"
//! ```
//!
//! With no arguments, it reads one text per line of standard input.

use portal_triage::Triage;

fn main() {
    let triage = Triage::builtin().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let mut texts: Vec<String> = std::env::args().skip(1).collect();
    if texts.is_empty() {
        // No arguments: one text per line of standard input.
        texts = std::io::stdin().lines().map_while(Result::ok).collect();
    }
    for text in texts {
        let (reading, corrections) = triage.read(&text);
        println!("{reading}");
        for c in corrections {
            println!(
                "  read '{}' as '{}' at {}..{}",
                c.written, c.read, c.start, c.end
            );
        }
    }
}
