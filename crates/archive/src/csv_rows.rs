//! CSV rows cut out of a stream line by line, so that a damaged row never
//! swallows the rows after it.
//!
//! A row is read one physical line at a time (a line ends at `\n`, `\r\n`
//! or a lone `\r`), tracking whether a quoted field is still open at the end
//! of each line; only then does the row go on to the next line. When a
//! quoted field never closes properly (the input ends inside it, it would
//! span more than [`MAX_CSV_ROW_LINES`] lines or [`MAX_RECORD_BYTES`] bytes,
//! or the quote that ends it is followed by more text on a later line, the
//! mark of a stray quote), the row is taken to be its first line alone and
//! every line after it is read again as ordinary rows.
//!
//! Memory stays bounded: the lines of the row being read are capped in
//! count and bytes, and so are the lines pushed back. Time stays linear: a
//! line is pushed back at most once, because a row that starts on a
//! pushed-back line and would carry its open quote into the next one is
//! known to fail the same way (from that line on, the quoted field reads
//! exactly as it did the first time) and is cut at once.
//!
//! Cells follow RFC 4180 (`""` inside quotes is one quote), read leniently:
//! a quote inside an unquoted field is kept as a character and text after a
//! closing quote is kept as part of the field; both are reported as damage.

use crate::input::{MAX_CSV_ROW_LINES, MAX_RECORD_BYTES};
use std::collections::VecDeque;
use std::io::{self, BufRead};

/// One physical line.
struct Line {
    /// The bytes without the line break.
    content: Vec<u8>,
    /// The line break (`\n`, `\r\n`, `\r`, or nothing at the end of input).
    end: &'static [u8],
    /// Its number in the input (1-based).
    number: u64,
    /// It was longer than the byte limit and was cut.
    cut: bool,
}

/// Why an opening quote counts as never closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unclosed {
    /// The input ends inside the quoted field.
    EndOfInput,
    /// The quoted field would span more than this many lines.
    TooManyLines(u64),
    /// The row would be longer than this many bytes.
    TooManyBytes(usize),
    /// The quote that ends the field, on this line, is followed by more
    /// text: most likely the quote was stray and the field ran over rows.
    ClosedMidField(u64),
}

/// What is odd about a row (the first thing found).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// An opening quote was never closed: the row is its first line only,
    /// and the lines after it were read again as rows.
    Unclosed(Unclosed),
    /// Text after the closing quote of a field (kept as part of it).
    TextAfterQuote,
    /// A quote inside an unquoted field (kept as a character).
    QuoteInUnquoted,
    /// A NUL byte.
    Nul,
}

/// One CSV row; its cells are read with [`RowCutter::cell`] until the next
/// row is cut.
pub struct Row {
    /// The line the row starts on.
    pub line: u64,
    /// How many cells it has.
    pub width: usize,
    /// What is odd about it, if anything.
    pub damage: Option<Damage>,
    /// A line of it was longer than the byte limit and was cut.
    pub cut: bool,
    /// Its size in bytes (for batching).
    pub bytes: usize,
}

/// Cuts rows out of a line stream; see the module documentation.
pub struct RowCutter {
    reader: Box<dyn BufRead + Send>,
    /// Lines to read again before any new one, in order.
    pending: VecDeque<Line>,
    /// Lines read from the stream so far.
    read: u64,
    /// A quoted field still open when it enters a line up to this one is
    /// known to be unclosed, for this reason.
    runaway: Option<(u64, Unclosed)>,
    max_lines: u64,
    max_bytes: usize,
    /// Bytes handed to the cell splitter so far (re-reading included).
    fed: u64,
    /// The cells of the current row.
    split: Splitter,
    /// A line buffer to reuse.
    spare: Vec<u8>,
}

impl RowCutter {
    /// Rows of `reader` with the default limits.
    pub fn new(reader: Box<dyn BufRead + Send>) -> RowCutter {
        RowCutter::with_limits(reader, MAX_CSV_ROW_LINES, MAX_RECORD_BYTES)
    }

    /// Rows of `reader`: a row may span at most `max_lines` lines and
    /// `max_bytes` bytes (a line longer than that is cut).
    pub fn with_limits(
        reader: Box<dyn BufRead + Send>,
        max_lines: u64,
        max_bytes: usize,
    ) -> RowCutter {
        RowCutter {
            reader,
            pending: VecDeque::new(),
            read: 0,
            runaway: None,
            max_lines: max_lines.max(1),
            max_bytes: max_bytes.max(1),
            fed: 0,
            split: Splitter::default(),
            spare: Vec::new(),
        }
    }

    /// The last line number read from the stream.
    pub fn line(&self) -> u64 {
        self.read
    }

    fn next_line(&mut self) -> io::Result<Option<Line>> {
        if let Some(line) = self.pending.pop_front() {
            return Ok(Some(line));
        }
        let mut content = std::mem::take(&mut self.spare);
        content.clear();
        let (n, end, cut) = read_line(self.reader.as_mut(), &mut content, self.max_bytes)?;
        if n == 0 {
            return Ok(None);
        }
        self.read += 1;
        Ok(Some(Line {
            content,
            end,
            number: self.read,
            cut,
        }))
    }

    /// Cell `i` of the row last returned by [`RowCutter::next_row`].
    pub fn cell(&self, i: usize) -> Option<&[u8]> {
        self.split.cell(i)
    }

    /// The cells of the row last returned, joined by spaces.
    pub fn joined(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..self.split.ends.len() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(self.split.cell(i).unwrap_or_default());
        }
        out
    }

    /// The next row, or None at the end. Lines that are blank (empty or
    /// only whitespace) between rows are not rows.
    pub fn next_row(&mut self) -> io::Result<Option<Row>> {
        let first = loop {
            match self.next_line()? {
                None => return Ok(None),
                Some(l) if l.content.iter().all(u8::is_ascii_whitespace) => {
                    self.spare = l.content;
                }
                Some(l) => break l,
            }
        };
        self.split.reset();
        self.split.feed(&first.content);
        self.fed += first.content.len() as u64;
        let mut bytes = first.content.len();
        let mut lines = vec![first];
        while self.split.in_quotes() {
            let last = lines.last().map_or(0, |l| l.number);
            if let Some((until, why)) = self.runaway {
                if last < until {
                    return Ok(Some(self.recover(lines, why, false)));
                }
            }
            if lines.len() as u64 >= self.max_lines {
                let why = Unclosed::TooManyLines(self.max_lines);
                return Ok(Some(self.recover(lines, why, false)));
            }
            let Some(next) = self.next_line()? else {
                return Ok(Some(self.recover(lines, Unclosed::EndOfInput, false)));
            };
            if bytes + next.content.len() > self.max_bytes {
                lines.push(next);
                let why = Unclosed::TooManyBytes(self.max_bytes);
                return Ok(Some(self.recover(lines, why, true)));
            }
            bytes += next.content.len();
            self.split.line_break(lines.last().map_or(b"\n", |l| l.end));
            self.split.feed(&next.content);
            self.fed += next.content.len() as u64;
            let number = next.number;
            lines.push(next);
            if self.split.text_after_quote_on_later_line {
                let why = Unclosed::ClosedMidField(number);
                return Ok(Some(self.recover(lines, why, false)));
            }
        }
        let damage = self.split.finish();
        let row = Row {
            line: lines.first().map_or(0, |l| l.number),
            width: self.split.ends.len(),
            damage,
            cut: lines.iter().any(|l| l.cut),
            bytes,
        };
        if let Some(last) = lines.pop() {
            self.spare = last.content;
        }
        Ok(Some(row))
    }

    /// The row in `lines` is damaged: return its first line as a row of
    /// its own and push the other lines back to be read again. `last_unread`:
    /// the last line was not fed to the splitter (its fate is unknown).
    fn recover(&mut self, mut lines: Vec<Line>, why: Unclosed, last_unread: bool) -> Row {
        let fed = if last_unread {
            lines.len().saturating_sub(1)
        } else {
            lines.len()
        };
        if let Some(last_fed) = lines.get(fed.wrapping_sub(1)).map(|l| l.number) {
            let known = self.runaway.map_or(0, |(until, _)| until);
            if last_fed > known {
                self.runaway = Some((last_fed, why));
            }
        }
        let rest = lines.split_off(1.min(lines.len()));
        for line in rest.into_iter().rev() {
            self.pending.push_front(line);
        }
        let (line, content, cut) = match lines.pop() {
            Some(l) => (l.number, l.content, l.cut),
            None => (0, Vec::new(), false),
        };
        self.split.reset();
        self.split.feed(&content);
        self.fed += content.len() as u64;
        self.split.finish();
        Row {
            line,
            width: self.split.ends.len(),
            damage: Some(Damage::Unclosed(why)),
            cut,
            bytes: content.len(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: an escaped quote or the end.
    QuoteInQuoted,
    /// After the closing quote (and any spaces).
    AfterQuote,
}

/// Splits the lines of one row into cells.
#[derive(Default)]
struct Splitter {
    /// The cells' bytes, one after the other.
    data: Vec<u8>,
    /// Where each cell ends in `data`.
    ends: Vec<usize>,
    state: State,
    /// Lines fed so far, minus one.
    line: u64,
    /// The line the open quoted field started on.
    opened: u64,
    damage: Option<Damage>,
    text_after_quote_on_later_line: bool,
}

impl Splitter {
    fn note(&mut self, d: Damage) {
        self.damage.get_or_insert(d);
    }

    fn reset(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.state = State::FieldStart;
        self.line = 0;
        self.opened = 0;
        self.damage = None;
        self.text_after_quote_on_later_line = false;
    }

    fn cell(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.data.get(start..end)
    }

    fn end_field(&mut self) {
        self.ends.push(self.data.len());
        self.state = State::FieldStart;
    }

    fn feed(&mut self, bytes: &[u8]) {
        if bytes.contains(&0) {
            self.note(Damage::Nul);
        }
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match self.state {
                State::Quoted => {
                    // Copy up to the next quote at once.
                    let rest = &bytes[i..];
                    match rest.iter().position(|&c| c == b'"') {
                        Some(q) => {
                            self.data.extend_from_slice(&rest[..q]);
                            self.state = State::QuoteInQuoted;
                            i += q + 1;
                        }
                        None => {
                            self.data.extend_from_slice(rest);
                            i = bytes.len();
                        }
                    }
                    continue;
                }
                State::FieldStart => match b {
                    b'"' => {
                        self.state = State::Quoted;
                        self.opened = self.line;
                    }
                    b',' => self.end_field(),
                    _ => {
                        self.data.push(b);
                        self.state = State::Unquoted;
                    }
                },
                State::Unquoted if b != b',' && b != b'"' => {
                    // Copy up to the next comma or quote at once.
                    let rest = &bytes[i..];
                    let n = rest
                        .iter()
                        .position(|&c| c == b',' || c == b'"')
                        .unwrap_or(rest.len());
                    self.data.extend_from_slice(&rest[..n]);
                    i += n;
                    continue;
                }
                State::Unquoted => match b {
                    b',' => self.end_field(),
                    b'"' => {
                        self.note(Damage::QuoteInUnquoted);
                        self.data.push(b);
                    }
                    _ => self.data.push(b),
                },
                State::QuoteInQuoted => match b {
                    b'"' => {
                        self.data.push(b'"');
                        self.state = State::Quoted;
                    }
                    b',' => self.end_field(),
                    b' ' | b'\t' => self.state = State::AfterQuote,
                    _ => self.text_after_quote(b),
                },
                State::AfterQuote => match b {
                    b',' => self.end_field(),
                    b' ' | b'\t' => {}
                    _ => self.text_after_quote(b),
                },
            }
            i += 1;
        }
    }

    fn text_after_quote(&mut self, b: u8) {
        self.note(Damage::TextAfterQuote);
        if self.opened < self.line {
            self.text_after_quote_on_later_line = true;
        }
        self.data.push(b);
        self.state = State::Unquoted;
    }

    /// Is a quoted field open at the end of what was fed?
    fn in_quotes(&self) -> bool {
        self.state == State::Quoted
    }

    /// The line break inside an open quoted field.
    fn line_break(&mut self, end: &[u8]) {
        self.data
            .extend_from_slice(if end.is_empty() { b"\n" } else { end });
        self.line += 1;
    }

    /// End the row; what is odd about it.
    fn finish(&mut self) -> Option<Damage> {
        self.end_field();
        self.damage
    }
}

/// Read one line into `buf` without its line break, keeping at most `cap`
/// bytes and skipping the rest of a longer line. A line ends at `\n`,
/// `\r\n` or a lone `\r`. Returns the bytes consumed, the line break, and
/// whether the line was cut.
fn read_line(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<(usize, &'static [u8], bool)> {
    let mut consumed = 0;
    let mut cut = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed, b"", cut));
        }
        let stop = available.iter().position(|&b| b == b'\n' || b == b'\r');
        let chunk = &available[..stop.unwrap_or(available.len())];
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room {
            cut = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let Some(at) = stop else {
            let n = available.len();
            reader.consume(n);
            consumed += n;
            continue;
        };
        let lf = available[at] == b'\n';
        let crlf_here = !lf && available.get(at + 1) == Some(&b'\n');
        let cr_at_end = !lf && at + 1 == available.len();
        let n = at + if crlf_here { 2 } else { 1 };
        reader.consume(n);
        consumed += n;
        if lf {
            return Ok((consumed, b"\n", cut));
        }
        if crlf_here {
            return Ok((consumed, b"\r\n", cut));
        }
        if cr_at_end {
            // The `\n` of a `\r\n` may be in the next buffer.
            let next = loop {
                match reader.fill_buf() {
                    Ok(b) => break b.first().copied(),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if next == Some(b'\n') {
                reader.consume(1);
                return Ok((consumed + 1, b"\r\n", cut));
            }
        }
        return Ok((consumed, b"\r", cut));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    fn cutter(data: &[u8], max_lines: u64, max_bytes: usize) -> RowCutter {
        let reader = BufReader::with_capacity(7, Cursor::new(data.to_vec()));
        RowCutter::with_limits(Box::new(reader), max_lines, max_bytes)
    }

    /// (line, cells as text, damage) of every row.
    fn rows(
        data: &[u8],
        max_lines: u64,
        max_bytes: usize,
    ) -> Vec<(u64, Vec<String>, Option<Damage>)> {
        let mut c = cutter(data, max_lines, max_bytes);
        let mut out = Vec::new();
        while let Some(r) = c.next_row().unwrap() {
            let cells = (0..r.width)
                .map(|i| String::from_utf8_lossy(c.cell(i).unwrap()).into_owned())
                .collect();
            out.push((r.line, cells, r.damage));
        }
        out
    }

    fn cells(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn valid_rows_and_multi_line_quoted_fields() {
        let got = rows(
            b"id,text\r\n1,\"a \"\"b\"\"\nc\",x\n\n2,plain\r3,\"\" \n",
            1000,
            1 << 20,
        );
        assert_eq!(
            got,
            vec![
                (1, cells(&["id", "text"]), None),
                (2, cells(&["1", "a \"b\"\nc", "x"]), None),
                (5, cells(&["2", "plain"]), None),
                (6, cells(&["3", ""]), None),
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_at_the_end_gives_back_every_line_after_it() {
        let got = rows(
            b"id,text\n1,\"I said \"\"hi\"\" refill\n2,need appointment\n3,not breathing\n",
            1000,
            1 << 20,
        );
        let unclosed = Some(Damage::Unclosed(Unclosed::EndOfInput));
        assert_eq!(
            got,
            vec![
                (1, cells(&["id", "text"]), None),
                (2, cells(&["1", "I said \"hi\" refill"]), unclosed),
                (3, cells(&["2", "need appointment"]), None),
                (4, cells(&["3", "not breathing"]), None),
            ]
        );
    }

    #[test]
    fn a_stray_quote_closed_mid_field_rows_later_is_recovered() {
        let got = rows(
            b"1,\"stray\n2,b\n3,he said \"stop\" now\n4,d\n",
            1000,
            1 << 20,
        );
        assert_eq!(
            got.iter().map(|r| (r.0, r.2)).collect::<Vec<_>>(),
            vec![
                (1, Some(Damage::Unclosed(Unclosed::ClosedMidField(3)))),
                (2, None),
                (3, Some(Damage::QuoteInUnquoted)),
                (4, None),
            ]
        );
        assert_eq!(got[2].1, cells(&["3", "he said \"stop\" now"]));
    }

    #[test]
    fn limits_on_lines_and_bytes_recover_too() {
        let mut data = b"1,\"open\n".to_vec();
        for i in 2..=10 {
            data.extend_from_slice(format!("{i},row\n").as_bytes());
        }
        let got = rows(&data, 4, 1 << 20);
        assert_eq!(got.len(), 10);
        assert_eq!(got[0].2, Some(Damage::Unclosed(Unclosed::TooManyLines(4))));
        assert!(got[1..].iter().all(|r| r.2.is_none()));
        assert_eq!(got[9], (10, cells(&["10", "row"]), None));

        let got = rows(&data, 1000, 20);
        assert_eq!(got.len(), 10);
        assert_eq!(got[0].2, Some(Damage::Unclosed(Unclosed::TooManyBytes(20))));
        assert!(got[1..].iter().all(|r| r.2.is_none()));
    }

    #[test]
    fn odd_rows_are_one_row_each_and_flagged() {
        let got = rows(b"1,a\"b\n2,\"x\"y,z\n3,n\0l\n4,\"ok\"  ,w\n", 1000, 1 << 20);
        assert_eq!(
            got,
            vec![
                (1, cells(&["1", "a\"b"]), Some(Damage::QuoteInUnquoted)),
                (2, cells(&["2", "xy", "z"]), Some(Damage::TextAfterQuote)),
                (3, cells(&["3", "n\0l"]), Some(Damage::Nul)),
                (4, cells(&["4", "ok", "w"]), None),
            ]
        );
    }

    #[test]
    fn lone_cr_line_ends_split_rows_even_across_buffers() {
        for cap in 1..6 {
            let reader = BufReader::with_capacity(cap, Cursor::new(b"a,b\rc,d\r\ne,f".to_vec()));
            let mut c = RowCutter::with_limits(Box::new(reader), 10, 100);
            let mut lines = Vec::new();
            while let Some(r) = c.next_row().unwrap() {
                lines.push(r.line);
            }
            assert_eq!(lines, vec![1, 2, 3], "buffer {cap}");
        }
    }

    /// A quote opening on every line, or a stray quote every few lines:
    /// each line is read at most twice, so the work stays linear.
    #[test]
    fn recovery_stays_linear_on_pathological_inputs() {
        for every in [1usize, 2, 7, 500] {
            let mut data = Vec::new();
            let n = 20_000;
            for i in 1..=n {
                if i % every == 0 {
                    data.extend_from_slice(format!("{i},\"quote\n").as_bytes());
                } else {
                    data.extend_from_slice(format!("{i},plain\n").as_bytes());
                }
            }
            let mut c = RowCutter::with_limits(
                Box::new(BufReader::new(Cursor::new(data.clone()))),
                1000,
                1 << 20,
            );
            let mut seen = Vec::new();
            while let Some(r) = c.next_row().unwrap() {
                seen.push(r.line);
                assert!(c.pending.len() <= 1000);
            }
            let expected: Vec<u64> = (1..=n as u64).collect();
            assert_eq!(seen, expected, "every {every}: one row per line");
            // Each line once, again when pushed back, and a damaged first
            // line once more on its own.
            let fed = c.fed;
            assert!(
                fed <= 3 * data.len() as u64,
                "every {every}: {fed} bytes fed"
            );
        }
    }

    #[test]
    fn a_line_is_pushed_back_at_most_once() {
        // A quote that stays open through 999 lines, then EOF: the lines
        // are read twice, the rows after the damage never again.
        let mut data = b"1,\"open\n".to_vec();
        for i in 2..=5000 {
            let q = if i % 3 == 0 { "\"\"" } else { "" };
            data.extend_from_slice(format!("{i},row{q}\n").as_bytes());
        }
        let mut c =
            RowCutter::with_limits(Box::new(BufReader::new(Cursor::new(data))), 1000, 1 << 20);
        let mut count = 0;
        let mut max_pending = 0;
        while let Some(_r) = c.next_row().unwrap() {
            count += 1;
            max_pending = max_pending.max(c.pending.len());
        }
        assert_eq!(count, 5000);
        assert!(max_pending < 1000);
        assert!(c.fed < 2 * 5000 * 12, "{}", c.fed);
    }
}
