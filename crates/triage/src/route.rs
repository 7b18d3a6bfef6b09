//! The three routes a message can take.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How fast a human must act on a message, least severe first.
///
/// `Route` is ordered: `NonUrgent < NeedsCall < Call911`, so the route of a
/// message is the maximum of the routes its findings earn.
///
/// ```
/// use portal_triage::Route;
/// assert!(Route::Call911 > Route::NeedsCall);
/// assert_eq!("needs-call".parse::<Route>().unwrap(), Route::NeedsCall);
/// assert_eq!(Route::Call911.to_string(), "call-911");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Route {
    /// The normal inbox, answered within 1-3 business days.
    #[serde(rename = "non-urgent")]
    NonUrgent,
    /// A clinician phones the patient the same day.
    #[serde(rename = "needs-call")]
    NeedsCall,
    /// An emergency is happening: the patient must call 911 now.
    #[serde(rename = "call-911")]
    Call911,
}

impl Route {
    /// All routes, most severe first (the order of reports).
    pub const MOST_SEVERE_FIRST: [Route; 3] = [Route::Call911, Route::NeedsCall, Route::NonUrgent];

    /// The route's name as written in files and JSON.
    ///
    /// ```
    /// assert_eq!(portal_triage::Route::NonUrgent.as_str(), "non-urgent");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Route::NonUrgent => "non-urgent",
            Route::NeedsCall => "needs-call",
            Route::Call911 => "call-911",
        }
    }

    /// One level less severe, but never below `NeedsCall`: the route of a
    /// finding that happened recently and has resolved.
    ///
    /// ```
    /// use portal_triage::Route;
    /// assert_eq!(Route::Call911.resolved(), Route::NeedsCall);
    /// assert_eq!(Route::NeedsCall.resolved(), Route::NeedsCall);
    /// assert_eq!(Route::NonUrgent.resolved(), Route::NonUrgent);
    /// ```
    pub fn resolved(self) -> Route {
        match self {
            Route::Call911 | Route::NeedsCall => Route::NeedsCall,
            Route::NonUrgent => Route::NonUrgent,
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a string that names no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseRouteError(());

impl fmt::Display for ParseRouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected one of `non-urgent`, `needs-call`, `call-911`")
    }
}

impl std::error::Error for ParseRouteError {}

impl FromStr for Route {
    type Err = ParseRouteError;
    fn from_str(s: &str) -> Result<Route, ParseRouteError> {
        match s {
            "non-urgent" => Ok(Route::NonUrgent),
            "needs-call" => Ok(Route::NeedsCall),
            "call-911" => Ok(Route::Call911),
            _ => Err(ParseRouteError(())),
        }
    }
}
