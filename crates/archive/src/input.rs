//! Opening inputs for `score`: files or standard input, gzip read
//! transparently, the format chosen from the extension and the content, and
//! the records cut out of the stream (lines or CSV rows) without parsing
//! them further; parsing happens on the scoring threads.

use crate::csv_rows::{Damage, RowCutter};
use crate::fields::Fields;
use flate2::read::MultiGzDecoder;
use serde_json::Value;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// How many bytes of each input are looked at to choose its format and check
/// the field names.
const SNIFF_BYTES: usize = 1 << 16;

/// A quoted CSV field still open after this many lines counts as an
/// unclosed quote: the row is cut back to its first line and the lines after
/// it are read again as rows.
pub const MAX_CSV_ROW_LINES: u64 = 1000;

/// A record longer than this is cut (and flagged); it keeps memory bounded
/// when an input has no line breaks. A multi-line CSV row that would grow
/// past it counts as an unclosed quote.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// The `--format` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum FormatArg {
    /// From the extension (`.jsonl`, `.ndjson`, `.json`, `.csv`, `.txt`,
    /// after stripping `.gz`), else from the content.
    Auto,
    /// JSON Lines: one JSON object per line.
    Jsonl,
    /// CSV with a header row (or none, with --no-header); quoted fields
    /// may span lines.
    Csv,
    /// Plain text: one message per line, the line number is the id.
    Text,
    /// FHIR R4 Bulk Data NDJSON of `Communication` resources.
    Fhir,
}

/// The name of a `--format` choice.
pub fn format_arg_name(arg: FormatArg) -> &'static str {
    match arg {
        FormatArg::Auto => "auto",
        FormatArg::Jsonl => "jsonl",
        FormatArg::Csv => "csv",
        FormatArg::Text => "text",
        FormatArg::Fhir => "fhir",
    }
}

/// The format of one input, once decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON Lines.
    Jsonl,
    /// CSV with a header row.
    Csv,
    /// One message per line.
    Text,
    /// NDJSON of FHIR `Communication` resources.
    Fhir,
}

impl Format {
    /// The name used in `--format` and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Text => "text",
            Format::Fhir => "fhir",
        }
    }
}

/// Byte counters shared by the reader and the progress display.
#[derive(Clone, Default)]
pub struct Counters {
    /// Bytes read from the files or standard input (compressed size for
    /// `.gz`).
    pub read: Arc<AtomicU64>,
    /// Bytes after decompression.
    pub decoded: Arc<AtomicU64>,
    /// Some input was gzip.
    pub gzip: Arc<AtomicBool>,
}

struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The CSV columns `score` reads, by index from 0.
#[derive(Debug, Clone)]
pub struct CsvColumns {
    /// The id column (None: the line number is the id).
    pub id: Option<usize>,
    /// The text column.
    pub text: usize,
    /// One entry per `--keep-fields` name or number.
    pub keep: Vec<usize>,
    /// How many cells a row should have: the header's count, or with
    /// `--no-header` the first row's (None until it is read).
    pub width: Option<usize>,
    /// There is a header row (the width is the header's).
    pub header: bool,
}

/// Where the records of one input come from.
pub enum Body {
    /// Line-oriented formats (JSON Lines, FHIR NDJSON, text).
    Lines(Box<dyn BufRead + Send>),
    /// CSV rows after the header.
    Csv(Box<RowCutter>, CsvColumns),
}

/// One opened input, its format decided.
pub struct Input {
    /// The path as given, or `<stdin>`.
    pub name: String,
    /// The format.
    pub format: Format,
    /// The size on disk when it is a regular file.
    pub size: Option<u64>,
    /// The record stream.
    pub body: Body,
}

/// An input checked up front (it opens, its format is decided, its fields
/// exist) and opened again when the reader reaches it, so that thousands of
/// files never hold thousands of open files and buffers at once.
pub enum Planned {
    /// Standard input, a pipe or a device, kept open (it cannot be read
    /// twice).
    Open(Input),
    /// A file to open when its turn comes.
    Later {
        /// The path.
        path: PathBuf,
        /// The path as shown.
        name: String,
        /// The format decided when it was checked.
        format: Format,
        /// The size on disk when it is a regular file.
        size: Option<u64>,
    },
}

impl Planned {
    /// Check one input (None: standard input). A regular file is closed
    /// again after the check.
    pub fn check(
        path: Option<&Path>,
        format: FormatArg,
        fields: &Fields,
        counters: &Counters,
    ) -> Result<Planned, String> {
        // Only a regular file can be read twice; a pipe (`<(zcat ...)`), a
        // FIFO or a device stays open from the check on.
        let regular = path.is_some_and(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()));
        match path {
            Some(p) if regular => {
                // Count nothing yet: the bytes are read again later.
                let input = open(Some(p), format, fields, &Counters::default())?;
                Ok(Planned::Later {
                    path: p.to_path_buf(),
                    name: input.name,
                    format: input.format,
                    size: input.size,
                })
            }
            _ => Ok(Planned::Open(open(path, format, fields, counters)?)),
        }
    }

    /// The input's name.
    pub fn name(&self) -> &str {
        match self {
            Planned::Open(i) => &i.name,
            Planned::Later { name, .. } => name,
        }
    }

    /// The input's format.
    pub fn format(&self) -> Format {
        match self {
            Planned::Open(i) => i.format,
            Planned::Later { format, .. } => *format,
        }
    }

    /// The input's size when it is a regular file.
    pub fn size(&self) -> Option<u64> {
        match self {
            Planned::Open(i) => i.size,
            Planned::Later { size, .. } => *size,
        }
    }

    /// Open it for reading.
    pub fn open(self, fields: &Fields, counters: &Counters) -> Result<Input, String> {
        match self {
            Planned::Open(input) => Ok(input),
            Planned::Later { path, format, .. } => {
                let forced = match format {
                    Format::Jsonl => FormatArg::Jsonl,
                    Format::Csv => FormatArg::Csv,
                    Format::Text => FormatArg::Text,
                    Format::Fhir => FormatArg::Fhir,
                };
                open(Some(&path), forced, fields, counters)
            }
        }
    }
}

/// One record as cut from its input, not yet parsed.
pub struct Raw {
    /// Index of the input in the command line.
    pub source: u32,
    /// The line number where the record starts (1-based).
    pub line: u64,
    /// The format of its input.
    pub format: Format,
    /// The record was longer than [`MAX_RECORD_BYTES`] and was cut.
    pub cut: bool,
    /// The bytes.
    pub data: RawData,
}

/// The bytes of one record.
pub enum RawData {
    /// A line without its line break.
    Line(Vec<u8>),
    /// A CSV row: the cells `score` reads.
    Csv(CsvRow),
}

/// The cells of one CSV row that `score` reads (None: the row is too short).
pub struct CsvRow {
    /// The id cell.
    pub id: Option<Vec<u8>>,
    /// There is no id column: the line number is the id.
    pub id_is_line: bool,
    /// The text cell.
    pub text: Option<Vec<u8>>,
    /// The `--keep-fields` cells.
    pub keep: Vec<Option<Vec<u8>>>,
    /// How many cells the row has.
    pub width: usize,
    /// How many cells it should have.
    pub expected_width: usize,
    /// The expected width is the header's (else the first row's).
    pub header: bool,
    /// What is odd about the row's CSV, if anything.
    pub damage: Option<Damage>,
    /// All cells joined by spaces, kept only when the row is too short to
    /// have a text cell (so something can still be scored).
    pub all: Option<Vec<u8>>,
}

/// Open one input (None or `-`: standard input) and decide its format.
///
/// Errors are complete sentences that name the input; they never quote
/// message text.
pub fn open(
    path: Option<&Path>,
    format: FormatArg,
    fields: &Fields,
    counters: &Counters,
) -> Result<Input, String> {
    let (name, raw, size): (String, Box<dyn Read + Send>, Option<u64>) = match path {
        None => ("<stdin>".to_string(), Box::new(io::stdin()), None),
        Some(p) => {
            let file = std::fs::File::open(p).map_err(|e| open_error(p, &e))?;
            let meta = file.metadata().map_err(|e| open_error(p, &e))?;
            if meta.is_dir() {
                return Err(format!(
                    "{}: is a directory; give the files to score (e.g. {}/*.jsonl)",
                    p.display(),
                    p.display()
                ));
            }
            let size = meta.is_file().then_some(meta.len());
            (p.display().to_string(), Box::new(file), size)
        }
    };
    let mut raw = BufReader::with_capacity(
        1 << 16,
        Counting {
            inner: raw,
            count: counters.read.clone(),
        },
    );
    let read_error = |e: io::Error| format!("{name}: cannot read: {e}");
    let lower = name.to_ascii_lowercase();
    let gz_name = lower.ends_with(".gz");
    let gz_magic = raw
        .fill_buf()
        .map_err(read_error)?
        .starts_with(&[0x1f, 0x8b]);
    let decoded: Box<dyn Read + Send> = if gz_magic {
        counters.gzip.store(true, Ordering::Relaxed);
        Box::new(MultiGzDecoder::new(raw))
    } else if gz_name && !raw.fill_buf().map_err(read_error)?.is_empty() {
        return Err(format!(
            "{name}: named .gz but not gzip data; rename it or decompress it first"
        ));
    } else {
        Box::new(raw)
    };
    let mut decoded = Counting {
        inner: decoded,
        count: counters.decoded.clone(),
    };
    // Read the head for sniffing, then put it back in front of the rest.
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut decoded)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| {
            if gz_magic {
                format!("{name}: cannot decompress: {e}")
            } else {
                read_error(e)
            }
        })?;
    let at_eof = head.len() < SNIFF_BYTES;
    if head.starts_with(b"\xef\xbb\xbf") {
        head.drain(..3);
    }
    if head.starts_with(b"\xff\xfe") || head.starts_with(b"\xfe\xff") {
        return Err(format!(
            "{name}: is UTF-16 text (as some exports write it); convert it to UTF-8 first, e.g. iconv -f UTF-16 -t UTF-8"
        ));
    }
    let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
    let format = decide_format(format, stem, &head, at_eof, fields, &name)?;
    let stream: Box<dyn Read + Send> = Box::new(Cursor::new(head).chain(decoded));
    let body = match format {
        Format::Csv => {
            let mut rows = RowCutter::new(Box::new(BufReader::with_capacity(1 << 16, stream)));
            let columns = match fields.columns() {
                Some(c) => CsvColumns {
                    id: c.id,
                    text: c.text,
                    keep: c.keep.clone(),
                    width: None,
                    header: false,
                },
                None => match rows.next_row().map_err(read_error)? {
                    // No header and no rows: nothing to score.
                    None => CsvColumns {
                        id: Some(0),
                        text: 0,
                        keep: Vec::new(),
                        width: None,
                        header: true,
                    },
                    Some(header) => {
                        if let Some(Damage::Unclosed(_)) = header.damage {
                            return Err(format!(
                                "{name}: cannot read the CSV header (line {}): an opening quote in it is never closed; fix the header row",
                                header.line
                            ));
                        }
                        let cells: Vec<&[u8]> =
                            (0..header.width).filter_map(|i| rows.cell(i)).collect();
                        csv_columns(&cells, fields, &name)?
                    }
                },
            };
            Body::Csv(Box::new(rows), columns)
        }
        _ => Body::Lines(Box::new(BufReader::with_capacity(1 << 16, stream))),
    };
    Ok(Input {
        name,
        format,
        size,
        body,
    })
}

fn open_error(p: &Path, e: &io::Error) -> String {
    let hint = match e.kind() {
        io::ErrorKind::NotFound => "check the path",
        io::ErrorKind::PermissionDenied => "check the file's permissions",
        _ => "check the path and the file",
    };
    format!("cannot open {}: {e}; {hint}", p.display())
}

/// Choose the format: the flag, else the extension, else the content.
fn decide_format(
    arg: FormatArg,
    stem: &str,
    head: &[u8],
    at_eof: bool,
    fields: &Fields,
    name: &str,
) -> Result<Format, String> {
    let ext = Path::new(stem)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    // JSON Lines whose first object has a `resourceType` is FHIR.
    let json_family = |head: &[u8]| {
        let objects = head_objects(head, at_eof);
        match objects.first() {
            Some(o) if o.contains_key("resourceType") => Format::Fhir,
            _ => Format::Jsonl,
        }
    };
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    if arg == FormatArg::Auto && first == Some(&b'[') {
        return Err(format!(
            "{name}: looks like one JSON array; score reads JSON Lines (one object per line): convert it, e.g. with jq -c '.[]', or force a format with --format"
        ));
    }
    if fields.columns().is_some() {
        // --no-header: CSV whatever the content (a header cannot be sniffed).
        return match (arg, ext) {
            (FormatArg::Csv, _) => Ok(Format::Csv),
            (FormatArg::Auto, "jsonl" | "ndjson" | "json" | "txt" | "text") => Err(format!(
                "{name}: --no-header reads CSV, but the name ends in .{ext}; to read it as CSV anyway, add --format csv"
            )),
            (FormatArg::Auto, _) => Ok(Format::Csv),
            _ => Err("--no-header reads CSV only: use it with --format csv or auto".to_string()),
        };
    }
    let format = match arg {
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Csv => Format::Csv,
        FormatArg::Text => Format::Text,
        FormatArg::Fhir => Format::Fhir,
        FormatArg::Auto => match ext {
            "jsonl" | "ndjson" | "json" => json_family(head),
            "csv" => Format::Csv,
            "txt" | "text" => Format::Text,
            _ => {
                if first == Some(&b'{') {
                    json_family(head)
                } else if csv_header_has_text(head, fields) {
                    Format::Csv
                } else {
                    Format::Text
                }
            }
        },
    };
    if arg == FormatArg::Auto
        && matches!(format, Format::Jsonl | Format::Fhir)
        && first == Some(&b'{')
        && json_spread_over_lines(head, at_eof)
    {
        return Err(format!(
            "{name}: looks like JSON spread over several lines (a pretty-printed object, or several one after another); score reads JSON Lines (one object per line): convert it, e.g. with jq -c . {name}, or force a format with --format"
        ));
    }
    if matches!(format, Format::Jsonl | Format::Fhir) {
        check_json_fields(head, at_eof, format, fields, name)?;
    }
    Ok(format)
}

/// Does the head start with one JSON value written over several lines (a
/// pretty-printed object)? A JSON Lines file whose first line is broken is
/// not: its lines do not read on as one value. `at_eof`: the head is the
/// whole input.
fn json_spread_over_lines(head: &[u8], at_eof: bool) -> bool {
    let Some(start) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    let body = &head[start..];
    let Some(first_break) = body.iter().position(|&b| b == b'\n') else {
        return false;
    };
    // A lone `{` and then a key or `}`: the opening of a pretty object, even
    // when the rest is too long for the head or broken further on.
    if body[..first_break].trim_ascii() == b"{" {
        let next = body[first_break..]
            .iter()
            .find(|b| !b.is_ascii_whitespace());
        if matches!(next, Some(b'"' | b'}')) {
            return true;
        }
    }
    let mut values =
        serde_json::Deserializer::from_slice(body).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => values.byte_offset() > first_break,
        // Still one value at the end of a head cut from a longer input.
        Some(Err(e)) => e.is_eof() && !at_eof,
        None => false,
    }
}

/// The JSON objects among the complete lines of the head.
fn head_objects(head: &[u8], at_eof: bool) -> Vec<serde_json::Map<String, Value>> {
    let complete = if at_eof {
        head
    } else {
        match head.iter().rposition(|&b| b == b'\n') {
            Some(i) => &head[..i],
            None => &[],
        }
    };
    complete
        .split(|&b| b == b'\n')
        .filter_map(|l| match serde_json::from_slice::<Value>(l) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        })
        .collect()
}

/// An unknown `--text-field`: when the head holds objects and none of them
/// has the text field, stop and name the fields they do have.
fn check_json_fields(
    head: &[u8],
    at_eof: bool,
    format: Format,
    fields: &Fields,
    name: &str,
) -> Result<(), String> {
    let objects = head_objects(head, at_eof);
    let kind = objects
        .first()
        .and_then(|o| o.get("resourceType"))
        .and_then(Value::as_str);
    if let (Format::Fhir, Some(kind)) = (format, kind) {
        if kind != "Communication" {
            let kind: String = kind
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(40)
                .collect();
            return Err(format!(
                "{name}: holds FHIR {kind} resources; score reads Communication resources (text in payload[].contentString)"
            ));
        }
    }
    if format == Format::Fhir && !fields.text_given() {
        // A Communication may carry only attachments; not a usage error.
        return Ok(());
    }
    let text = fields.text(format);
    let Some(first) = objects.first() else {
        return Ok(());
    };
    if objects.iter().any(|o| text.has_in(o)) {
        return Ok(());
    }
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.truncate(40);
    Err(format!(
        "{name}: no record in the first {} has the text field `{}`; the fields of the first record are: {}; choose one with --text-field (dotted paths such as message.body reach nested fields)",
        objects.len(),
        text.as_str(),
        keys.join(", ")
    ))
}

/// Does the first row, read as a CSV header by the same row reader that
/// reads the header when the input is scored, name the text column?
fn csv_header_has_text(head: &[u8], fields: &Fields) -> bool {
    let mut rows = RowCutter::new(Box::new(Cursor::new(head.to_vec())));
    match rows.next_row() {
        Ok(Some(row)) => {
            let text = fields.text(Format::Csv).as_str().as_bytes();
            row.width > 1 && (0..row.width).any(|i| rows.cell(i) == Some(text))
        }
        _ => false,
    }
}

/// The columns named by the fields, found in the header row. The header's
/// cells are never quoted in an error: a file without a header row would
/// show its first message.
fn csv_columns(header: &[&[u8]], fields: &Fields, name: &str) -> Result<CsvColumns, String> {
    let names: Vec<String> = header
        .iter()
        .map(|c| String::from_utf8_lossy(c).trim().to_string())
        .collect();
    let position = |col: &str| names.iter().position(|n| n == col);
    let how = "name the columns with --text-field and --id-field, or, if the file has no header row, score it with --no-header --text-column N (and --id-column N; columns are numbered from 1)";
    let text_name = fields.text(Format::Csv).as_str();
    let Some(text) = position(text_name) else {
        return Err(format!(
            "{name}: the first row does not look like a CSV header: it has {} column(s), none named `{text_name}` (the text column); {how}",
            names.len()
        ));
    };
    let id_name = fields.id(Format::Csv).as_str();
    let Some(id) = position(id_name) else {
        return Err(format!(
            "{name}: the CSV header has {} column(s), none named `{id_name}` (the id column); {how}",
            names.len()
        ));
    };
    let keep = fields
        .keep()
        .iter()
        .map(|k| {
            position(k.as_str()).ok_or_else(|| {
                format!(
                    "{name}: the CSV header has {} column(s), none named `{}` (--keep-fields); check the name and its case",
                    names.len(),
                    k.as_str()
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CsvColumns {
        id: Some(id),
        text,
        keep,
        width: Some(names.len()),
        header: true,
    })
}

/// Reads records one at a time from an [`Input`].
pub struct Records {
    source: u32,
    format: Format,
    body: Body,
    line: u64,
}

impl Records {
    /// Start reading `input`, the `source`-th input of the command line.
    pub fn new(input: Input, source: u32) -> Records {
        Records {
            source,
            format: input.format,
            body: input.body,
            line: 0,
        }
    }

    /// The line number reached so far.
    pub fn line(&self) -> u64 {
        match &self.body {
            Body::Csv(rows, _) => rows.line(),
            Body::Lines(_) => self.line,
        }
    }

    /// The next record and its size in bytes, or None at the end. Blank
    /// lines are not records.
    pub fn next_record(&mut self) -> io::Result<Option<(Raw, usize)>> {
        match &mut self.body {
            Body::Lines(reader) => loop {
                let mut buf = Vec::new();
                let (n, cut) = read_line_capped(reader.as_mut(), &mut buf, MAX_RECORD_BYTES)?;
                if n == 0 {
                    return Ok(None);
                }
                self.line += 1;
                while let [.., b'\n' | b'\r'] = buf.as_slice() {
                    buf.pop();
                }
                if buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let raw = Raw {
                    source: self.source,
                    line: self.line,
                    format: self.format,
                    cut,
                    data: RawData::Line(buf),
                };
                return Ok(Some((raw, n)));
            },
            Body::Csv(rows, cols) => {
                let Some(row) = rows.next_row()? else {
                    return Ok(None);
                };
                self.line = row.line;
                let expected_width = *cols.width.get_or_insert(row.width);
                let width = row.width;
                let all = (cols.text >= width).then(|| rows.joined());
                let cell = |i: usize| rows.cell(i).map(<[u8]>::to_vec);
                let id = cols.id.and_then(cell);
                let keep = cols.keep.iter().map(|&k| cell(k)).collect();
                let text = cell(cols.text);
                let raw = Raw {
                    source: self.source,
                    line: row.line,
                    format: Format::Csv,
                    cut: row.cut,
                    data: RawData::Csv(CsvRow {
                        id,
                        id_is_line: cols.id.is_none(),
                        text,
                        keep,
                        width,
                        expected_width,
                        header: cols.header,
                        damage: row.damage,
                        all,
                    }),
                };
                Ok(Some((raw, row.bytes)))
            }
        }
    }
}

/// Read one line (with its `\n`) into `buf`, keeping at most `cap` bytes
/// and skipping the rest of an overlong line. Returns the bytes consumed and
/// whether the line was cut.
fn read_line_capped(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut cut = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed, cut));
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room {
            cut = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let n = chunk.len();
        reader.consume(n);
        consumed += n;
        if done {
            return Ok((consumed, cut));
        }
    }
}

/// The inputs named on the command line; none (or `-`) means standard input.
pub fn paths(files: &[PathBuf]) -> Result<Vec<Option<&Path>>, String> {
    if files.is_empty() {
        return Ok(vec![None]);
    }
    let stdin_count = files.iter().filter(|p| p.as_os_str() == "-").count();
    if stdin_count > 1 {
        return Err("standard input (`-`) can be given only once".to_string());
    }
    Ok(files
        .iter()
        .map(|p| (p.as_os_str() != "-").then_some(p.as_path()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlong_lines_are_cut_and_the_rest_skipped() {
        let mut r = BufReader::with_capacity(4, &b"abcdefghij\nxy\n"[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line_capped(&mut r, &mut buf, 5).unwrap(), (11, true));
        assert_eq!(buf, b"abcde");
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 5).unwrap(), (3, false));
        assert_eq!(buf, b"xy\n");
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 5).unwrap(), (0, false));
    }

    fn auto(stem: &str, head: &[u8]) -> Result<Format, String> {
        let fields = Fields::new(None, None, &[]);
        decide_format(FormatArg::Auto, stem, head, true, &fields, "x")
    }

    #[test]
    fn the_extension_decides_then_the_content() {
        let jsonl = b"{\"id\": 1, \"text\": \"hi\"}\n";
        let fhir = b"{\"resourceType\": \"Communication\", \"id\": \"c\"}\n";
        let csv = b"id,text\n1,hi\n";
        assert_eq!(auto("a.jsonl", jsonl), Ok(Format::Jsonl));
        assert_eq!(auto("a.ndjson", fhir), Ok(Format::Fhir));
        assert_eq!(auto("a.csv", b"anything"), Ok(Format::Csv));
        assert_eq!(auto("a.txt", jsonl), Ok(Format::Text));
        assert_eq!(auto("export", csv), Ok(Format::Csv));
        assert_eq!(auto("export", fhir), Ok(Format::Fhir));
        assert_eq!(
            auto("<stdin>", b"  \n{\"id\": 1, \"text\": \"x\"}"),
            Ok(Format::Jsonl)
        );
        // A first line with commas but no text column is prose, not CSV.
        assert_eq!(
            auto("notes", b"hello, I need a refill, thanks\n"),
            Ok(Format::Text)
        );
        assert!(auto("a.json", b"[{\"id\": 1}]").is_err());
    }

    #[test]
    fn an_unclosed_csv_quote_is_cut_back_instead_of_filling_memory() {
        // A quote that never closes, then 1.6 MiB of lines: with a 64 KiB
        // row limit the row is cut back to its first line, memory holds at
        // most about two limits, and every line after it is a row.
        let limit = 64 << 10;
        let mut data = b"id,text\n1,fine\n2,\"never closed\n".to_vec();
        for i in 0..100 {
            data.extend_from_slice(format!("x{i},").as_bytes());
            data.extend(std::iter::repeat_n(b'x', 16 << 10));
            data.push(b'\n');
        }
        data.extend_from_slice(b"3,after\n");
        let reader = BufReader::with_capacity(4096, Cursor::new(data));
        let mut rows = RowCutter::with_limits(Box::new(reader), MAX_CSV_ROW_LINES, limit);
        let mut got = Vec::new();
        while let Some(row) = rows.next_row().unwrap() {
            assert!(row.bytes <= limit);
            got.push((row.line, row.damage));
        }
        assert_eq!(got.len(), 1 + 1 + 1 + 100 + 1);
        assert_eq!(got[2].0, 3);
        assert!(
            matches!(got[2].1, Some(Damage::Unclosed(_))),
            "{:?}",
            got[2]
        );
        assert!(got[3..].iter().all(|(_, d)| d.is_none()));
        assert_eq!(got.last().map(|r| r.0), Some(104));
    }

    #[test]
    fn pretty_printed_json_is_refused_but_a_broken_first_line_is_not() {
        let refused = |head: &[u8]| {
            auto("a.json", head)
                .err()
                .is_some_and(|e| e.contains("spread over several lines") && e.contains("jq -c ."))
        };
        assert!(refused(b"{\n  \"id\": 1,\n  \"text\": \"hi\"\n}\n"));
        assert!(refused(b"{\"id\": 1,\n \"text\": \"hi\"}\n"));
        // Several pretty objects one after the other.
        assert!(refused(b"{\n \"id\": 1\n}\n{\n \"id\": 2\n}\n"));
        // A lone `{` then a key, even if broken further on.
        assert!(refused(b"{\n  \"id\": 1,\n  \"text\": \"hi\n"));
        // A head cut from a longer pretty object.
        let fields = Fields::new(None, None, &[]);
        let long = b"{\"resourceType\": \"Bundle\",\n \"entry\": [\n {\"a\": 1},\n";
        assert!(decide_format(FormatArg::Auto, "b.json", long, false, &fields, "x").is_err());
        // JSON Lines whose first record is broken or truncated: scored.
        for head in [
            &b"{\"id\": 1, \"text\": \"chest pa\n{\"id\": 2, \"text\": \"ok\"}\n"[..],
            b"{\"id\": 1, \"text\": \n{\"id\": 2, \"text\": \"ok\"}\n",
            b"{\"id\": 1\n{\"id\": 2, \"text\": \"ok\"}\n",
            b"{\n{\"id\": 2, \"text\": \"ok\"}\n",
            b"{\"id\": 1, \"text\": \"a\"}\n{\"id\": 2, \"text\": \"b\"}\n",
        ] {
            assert_eq!(
                auto("a.jsonl", head),
                Ok(Format::Jsonl),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        // Only when the format is chosen automatically.
        assert_eq!(
            decide_format(
                FormatArg::Jsonl,
                "a.json",
                b"{\n \"id\": 1\n}\n",
                true,
                &fields,
                "x"
            ),
            Ok(Format::Jsonl)
        );
    }

    #[test]
    fn head_objects_ignore_an_incomplete_last_line() {
        let head = b"{\"a\":1}\n{\"b\":";
        assert_eq!(head_objects(head, false).len(), 1);
        assert_eq!(head_objects(b"{\"a\":1}", true).len(), 1);
    }
}
