//! Reading (optionally) labeled JSON Lines for `eval` and `diff`:
//! `{"id", "text", "route"?, "tags"?}` per line.

use portal_triage::Route;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// One message, with its label when it has one.
pub struct Record {
    /// The id, as written (numbers as their JSON text).
    pub id: String,
    /// The message text.
    pub text: String,
    /// The true route, when labeled.
    pub route: Option<Route>,
    /// Tags, for per-tag recall.
    pub tags: Vec<String>,
}

/// A line that could not be used, located by file, line and id; never the
/// message text.
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The record's id, when it could be read.
    pub id: Option<String>,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ", self.path.display(), self.line)?;
        if let Some(id) = &self.id {
            write!(f, "record {id}: ")?;
        }
        f.write_str(&self.what)
    }
}

/// Every record of `paths` (`-` is standard input) in order, and the lines
/// that could not be used. Blank lines are not records. With
/// `need_route`, a record without a valid `route` is a problem.
pub fn read(paths: &[PathBuf], need_route: bool) -> Result<(Vec<Record>, Vec<Problem>), String> {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(BufReader::new(std::io::stdin().lock()))
        } else {
            let f = std::fs::File::open(path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            Box::new(BufReader::with_capacity(1 << 16, f))
        };
        read_one(path, reader, need_route, &mut records, &mut problems)?;
    }
    Ok((records, problems))
}

fn read_one(
    path: &Path,
    mut reader: Box<dyn BufRead>,
    need_route: bool,
    records: &mut Vec<Record>,
    problems: &mut Vec<Problem>,
) -> Result<(), String> {
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("read error in {} after line {line}: {e}", path.display()))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let problem = |id: Option<String>, what: String| Problem {
            path: path.to_path_buf(),
            line,
            id,
            what,
        };
        let Ok(s) = std::str::from_utf8(&buf) else {
            problems.push(problem(
                None,
                "invalid UTF-8: fix the file's encoding".into(),
            ));
            continue;
        };
        let obj = match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                problems.push(problem(None, "not a JSON object".into()));
                continue;
            }
            Err(e) => {
                let msg = e.to_string();
                let msg = msg.split(" at line").next().unwrap_or("syntax error");
                problems.push(problem(None, format!("bad JSON: {msg}")));
                continue;
            }
        };
        let id = match obj.get("id") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let Some(id) = id else {
            problems.push(problem(None, "missing id (a string or a number)".into()));
            continue;
        };
        let Some(Value::String(text)) = obj.get("text") else {
            problems.push(problem(Some(id), "missing text (a string)".into()));
            continue;
        };
        let route = match obj.get("route") {
            Some(Value::String(r)) => match r.parse::<Route>() {
                Ok(r) => Some(r),
                Err(_) => {
                    // A label-like value is shown so a typo can be found;
                    // anything else could be message text in the wrong
                    // column, and is only described.
                    let label_like = r.len() <= 24
                        && r.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                    let what = if label_like {
                        format!("route `{r}`")
                    } else {
                        format!("the route (a string of {} characters)", r.chars().count())
                    };
                    problems.push(problem(
                        Some(id),
                        format!("{what} is not one of call-911, needs-call, non-urgent"),
                    ));
                    continue;
                }
            },
            None | Some(Value::Null) if !need_route => None,
            _ => {
                problems.push(problem(
                    Some(id),
                    "missing route label (call-911, needs-call or non-urgent)".into(),
                ));
                continue;
            }
        };
        let tags = match obj.get("tags") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        records.push(Record {
            id,
            text: text.clone(),
            route,
            tags,
        });
    }
}
