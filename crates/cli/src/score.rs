//! `portal-triage score`: message archives in (JSON Lines, CSV, plain text,
//! FHIR NDJSON; gzip or not; files or standard input), one scored record out
//! per input record, in input order, on all cores.

mod pipeline;
mod progress;

use super::{EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, RuleArgs};
use pipeline::{Failure, Report, Shared};
use portal_triage::Route;
use portal_triage_archive::fields::{Columns, Fields};
use portal_triage_archive::input::{self, Counters, Format, FormatArg, Planned};
use portal_triage_archive::output::{Layout, OutputFormat, Sink};
use portal_triage_archive::record::Problem;
use progress::Progress;
use std::io::ErrorKind;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
#[command(after_help = "\
Input formats (--format auto picks one per input: from the extension after
stripping .gz — .jsonl/.ndjson/.json, .csv, .txt — else from the content):
  jsonl  one JSON object per line; --id-field / --text-field name the keys,
         dotted paths reach nested ones (message.body, notes.0.text)
  csv    a header row, then one message per row; quoted fields may span lines.
         A file without a header row: --no-header --text-column N
         [--id-column N] (columns numbered from 1; --keep-fields then takes
         column numbers too; without --id-column the id is the line number)
  text   one message per line; the id is the line number
  fhir   FHIR R4 Bulk Data NDJSON of Communication resources: the id is the
         resource id, the text is every payload[].contentString joined
gzip input (.gz, or gzip content) is read transparently. Blank lines are not
records. Several inputs are scored one after the other into one output.

Output: one record per input record, in input order, whatever --threads is:
  {\"id\", \"route\", \"score\", \"rules\"} (+ \"flags\" when the text is odd,
  + \"priority\" routine/urgent/stat for FHIR, + the --keep-fields,
  + \"findings\", \"suppressed\", \"readings\", \"advice\", \"summary\" with --explain,
  + \"file\" when several inputs are given, + \"error\" and \"line\" when malformed).
A malformed record (bad JSON or CSV row, invalid UTF-8, no text, empty text,
no id, an id or text key given twice) is still scored on whatever text could
be recovered (a repeated text key: on all of its values). Messages on
stderr name files, line numbers and ids, never message text.
A damaged CSV row never swallows the rows after it: when an opening quote is
never closed (the input ends inside it, it would span more than 1000 lines
or 64 MiB, or the quote closing it is followed by more text), the row is
scored on its first line alone, flagged bad-csv-row, and every line after it
is read again as rows of their own. Other damage (a quote inside an unquoted
field, text after a closing quote, a NUL byte, too few or too many fields)
is flagged on its row.

A summary goes to stderr at the end (records per route, malformed records
by kind, bytes, time, throughput); a progress bar when stderr is a
terminal. --quiet silences both; --progress forces progress lines.

Exit codes: 0 all records scored; 1 some records were malformed or damaged
(each was still scored; the output is complete: one record per input record,
every row recovered after a damaged CSV row included);
2 usage, rule or I/O error: a missing or unreadable file, UTF-16 text, a JSON
array or pretty-printed JSON instead of JSON Lines, an unknown --text-field,
a CSV first row without the text or id column, a CSV header with an unclosed
quote, rules that do not load (all before any output), or a failed read or
write (what was written holds whole records only). A closed output pipe ends
quietly (exit 0).

Examples:
  portal-triage score inbox.jsonl > scored.jsonl
  portal-triage score --threads 8 export-2019.csv.gz export-2020.csv.gz -o scored.csv
  portal-triage score --format csv --id-field msg_id --text-field body --keep-fields clinic,sent_at - < export.csv
  portal-triage score --no-header --id-column 1 --text-column 3 --keep-fields 2 headerless.csv
  portal-triage score Communication.ndjson.gz --explain | jq 'select(.priority == \"stat\")'")]
pub struct Args {
    /// Files to score (standard input when none, or `-`).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    #[command(flatten)]
    rules: RuleArgs,
    /// Include the full decision (findings with spans, suppressed mentions,
    /// readings, advice, summary).
    #[arg(long)]
    explain: bool,
    /// The id field: JSON key or dotted path, or CSV column [default: id].
    #[arg(long, value_name = "FIELD")]
    id_field: Option<String>,
    /// The text field: JSON key or dotted path, or CSV column [default: text;
    /// for FHIR payload.contentString].
    #[arg(long, value_name = "FIELD")]
    text_field: Option<String>,
    /// Input fields to copy into each output record (comma-separated; JSON
    /// keys or dotted paths, or CSV columns; with --no-header, column
    /// numbers).
    #[arg(long, value_name = "FIELD,...", value_delimiter = ',')]
    keep_fields: Vec<String>,
    /// The CSV input has no header row: every row is a message. Name the
    /// columns by number with --text-column (and --id-column).
    #[arg(long, requires = "text_column", conflicts_with_all = ["id_field", "text_field"])]
    no_header: bool,
    /// With --no-header: the number of the text column (from 1).
    #[arg(long, value_name = "N", requires = "no_header", value_parser = clap::value_parser!(u32).range(1..))]
    text_column: Option<u32>,
    /// With --no-header: the number of the id column (from 1) [default: the
    /// line number is the id].
    #[arg(long, value_name = "N", requires = "no_header", value_parser = clap::value_parser!(u32).range(1..))]
    id_column: Option<u32>,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output format [default: csv when -o ends in .csv, else jsonl].
    #[arg(long, value_enum)]
    output_format: Option<OutputFormat>,
    /// Scoring threads [default: all cores].
    #[arg(long, short = 'j', value_name = "N")]
    threads: Option<NonZeroUsize>,
    /// Show progress on stderr even when it is not a terminal.
    #[arg(long, conflicts_with = "quiet")]
    progress: bool,
    /// No progress and no summary on stderr (errors are still reported).
    #[arg(long, short)]
    quiet: bool,
}

/// Run `score`; returns the exit code.
pub fn run(args: Args) -> i32 {
    match score(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("portal-triage: {message}");
            EXIT_ERROR
        }
    }
}

fn score(args: Args) -> Result<i32, String> {
    for k in &args.keep_fields {
        if portal_triage_archive::output::RESERVED.contains(&k.as_str()) {
            return Err(format!(
                "--keep-fields {k}: `{k}` is already an output field; keep the other fields, or rename the column in the input"
            ));
        }
        if k.is_empty() {
            return Err("--keep-fields: an empty field name (check the commas)".to_string());
        }
    }
    let columns = no_header_columns(&args)?;
    let engine = args.rules.engine().map_err(|e| e.to_string())?;
    let mut fields = Fields::new(
        args.id_field.as_deref(),
        args.text_field.as_deref(),
        &args.keep_fields,
    );
    if let Some(columns) = columns {
        fields = fields.with_columns(columns);
    }
    let counters = Counters::default();
    let reads_stdin = args.files.is_empty() || args.files.iter().any(|f| f.as_os_str() == "-");
    if reads_stdin && !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("portal-triage: reading messages from standard input (end with Ctrl-D)");
    }
    let mut inputs = Vec::new();
    for path in input::paths(&args.files)? {
        inputs.push(Planned::check(path, args.format, &fields, &counters)?);
    }
    if !args.keep_fields.is_empty() {
        if let Some(text) = inputs.iter().find(|i| i.format() == Format::Text) {
            return Err(format!(
                "--keep-fields: {} is plain text, which has no fields to keep",
                text.name()
            ));
        }
    }
    if let Some(out) = &args.output {
        refuse_overwriting_an_input(out, &args.files)?;
    }
    let format = args.output_format.unwrap_or_else(|| {
        let csv = args
            .output
            .as_ref()
            .and_then(|p| p.extension())
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if csv {
            OutputFormat::Csv
        } else {
            OutputFormat::Jsonl
        }
    });
    let layout = Layout {
        format,
        explain: args.explain,
        inputs: inputs.iter().map(|i| i.name().to_string()).collect(),
        any_fhir: inputs.iter().any(|i| i.format() == Format::Fhir),
        keep: args.keep_fields.clone(),
    };
    let total: Option<u64> = inputs.iter().map(Planned::size).sum();
    let summary_inputs: Vec<(String, Format)> = inputs
        .iter()
        .map(|i| (i.name().to_string(), i.format()))
        .collect();
    let mut sink = match &args.output {
        Some(p) => Sink::create(p)?,
        None => Sink::stdout(),
    };
    let threads = args
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get);
    let mut progress = Progress::new(args.progress, args.quiet, total);
    if let Err(e) = sink.write(&layout.header()) {
        return write_failure(&sink, e, 0);
    }
    let shared = Arc::new(Shared {
        engine,
        fields,
        layout,
    });
    let (outcome, report) =
        pipeline::run(inputs, shared, threads, &mut sink, &mut progress, &counters);
    progress.finish();
    match outcome {
        Ok(()) => {}
        Err(Failure::Write { error, records }) => return write_failure(&sink, error, records),
        Err(Failure::Read(message)) => {
            if !args.quiet {
                summary(&report, &summary_inputs, &counters, threads);
            }
            return Err(message);
        }
        Err(Failure::Internal) => {
            return Err(
                "a scoring thread stopped unexpectedly; the output is incomplete (please report this bug)"
                    .to_string(),
            );
        }
    }
    if !args.quiet {
        summary(&report, &summary_inputs, &counters, threads);
    }
    let malformed = report.tally.malformed();
    if malformed > 0 {
        if args.quiet {
            eprintln!(
                "portal-triage: {malformed} malformed record(s); each was still scored and carries an \"error\" field"
            );
        }
        Ok(EXIT_PROBLEMS)
    } else {
        Ok(EXIT_OK)
    }
}

/// `--no-header`: the columns by number (given from 1, kept from 0).
fn no_header_columns(args: &Args) -> Result<Option<Columns>, String> {
    if !args.no_header {
        return Ok(None);
    }
    if !matches!(args.format, FormatArg::Auto | FormatArg::Csv) {
        return Err(format!(
            "--no-header reads CSV, not --format {}; drop one of them",
            input::format_arg_name(args.format)
        ));
    }
    let index = |n: u32| n as usize - 1;
    let Some(text) = args.text_column else {
        return Err("--no-header needs --text-column N (the text column's number, from 1)".into());
    };
    let keep = args
        .keep_fields
        .iter()
        .map(|k| match k.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Ok(index(n)),
            _ => Err(format!(
                "--keep-fields {k}: with --no-header, name the columns to keep by number (from 1), e.g. --keep-fields 3,4"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Columns {
        id: args.id_column.map(index),
        text: index(text),
        keep,
    }))
}

/// A closed pipe ends quietly (exit 0); any other write error is exit 2.
fn write_failure(sink: &Sink, error: std::io::Error, records: u64) -> Result<i32, String> {
    if error.kind() == ErrorKind::BrokenPipe {
        return Ok(EXIT_OK);
    }
    Err(format!(
        "cannot write to {}: {error}; stopped after {records} whole records ({})",
        sink.name(),
        sink.hint()
    ))
}

fn refuse_overwriting_an_input(out: &std::path::Path, files: &[PathBuf]) -> Result<(), String> {
    let Ok(out_real) = std::fs::canonicalize(out) else {
        return Ok(()); // does not exist yet
    };
    for f in files {
        if std::fs::canonicalize(f).is_ok_and(|p| p == out_real) {
            return Err(format!(
                "-o {}: is also an input; write the output to another file",
                out.display()
            ));
        }
    }
    Ok(())
}

fn summary(report: &Report, inputs: &[(String, Format)], counters: &Counters, threads: usize) {
    use std::sync::atomic::Ordering;
    let t = &report.tally;
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let read = counters.read.load(Ordering::Relaxed);
    let decoded = counters.decoded.load(Ordering::Relaxed);
    let mut formats: Vec<&str> = Vec::new();
    for (_, f) in inputs {
        if !formats.contains(&f.as_str()) {
            formats.push(f.as_str());
        }
    }
    let bytes = if counters.gzip.load(Ordering::Relaxed) {
        format!("{} read ({} decompressed)", mb(read), mb(decoded))
    } else {
        format!("{} read", mb(read))
    };
    eprintln!(
        "portal-triage: scored {} records from {} input(s) ({}) in {:.1} s: {}, {} records/s, {:.2} MB/s",
        t.records,
        inputs.len(),
        formats.join(", "),
        secs,
        bytes,
        rate(t.records as f64 / secs),
        decoded as f64 / 1e6 / secs
    );
    let routes: Vec<String> = Route::MOST_SEVERE_FIRST
        .iter()
        .zip(t.routes)
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    eprintln!("  routes: {}", routes.join(", "));
    let malformed = t.malformed();
    if malformed > 0 {
        let kinds: Vec<String> = Problem::ALL
            .iter()
            .zip(t.problems)
            .filter(|(_, n)| *n > 0)
            .map(|(p, n)| format!("{} {n}", p.name()))
            .collect();
        eprintln!(
            "  malformed: {malformed} ({}); each was still scored and carries an \"error\" field",
            kinds.join(", ")
        );
        for note in &t.notes {
            eprintln!("    {note}");
        }
        if malformed > t.notes.len() as u64 {
            eprintln!(
                "    ... and {} more (select the records with an \"error\" field)",
                malformed - t.notes.len() as u64
            );
        }
    }
    eprintln!(
        "  time: classify {:.2} s, parse+encode {:.2} s (summed over {threads} scoring thread(s)); read {:.2} s; write {:.2} s",
        t.timing.classify.as_secs_f64(),
        t.timing.other.as_secs_f64(),
        report.read.as_secs_f64(),
        report.write.as_secs_f64()
    );
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// A rate with the precision it deserves: "0.2" for a few huge records
/// rather than "0", whole numbers otherwise.
fn rate(r: f64) -> String {
    if !r.is_finite() {
        "-".to_string()
    } else if r < 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.0}")
    }
}
