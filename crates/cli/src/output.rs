//! Writing a subcommand's report to standard output.

use std::io::{ErrorKind, Write};

/// Write `text` to standard output and flush. A closed pipe (`... | head`)
/// is not an error: the reader has what it wanted. Any other write error
/// is reported on standard error and returns `Err(exit code)`.
pub fn emit(text: &str) -> Result<(), i32> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            eprintln!("portal-triage: write error: {e}");
            Err(super::EXIT_ERROR)
        }
    }
}
