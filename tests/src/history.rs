//! Histories as data: every run's client operations can be written as one
//! JSON document that an outside linearizability checker (Knossos, Porcupine,
//! elle) can read. The format, `leasehold-history/1`:
//!
//! ```json
//! {
//!   "format": "leasehold-history/1",
//!   "model": "register",
//!   "initial": 0,
//!   "ops": [
//!     {"client": 0, "f": "write", "value": 7, "call": 1000, "return": 2500, "outcome": "ok", "index": 12},
//!     {"client": 1, "f": "read", "value": 7, "call": 3000, "return": 3100, "outcome": "ok", "index": 12, "via": "lease"},
//!     {"client": 2, "f": "write", "value": 9, "call": 4000, "return": null, "outcome": "unknown"}
//!   ]
//! }
//! ```
//!
//! One register, initial value 0, every written value unique. Times are
//! nanoseconds of true (simulated) time. `outcome` is `ok` (completed;
//! `return` is set), `fail` (refused before it was proposed: it certainly
//! had no effect) or `unknown` (timed out: a write may or may not have taken
//! effect, at any time after `call`). A read's `value` is what it returned
//! (`null` unless `ok`); `index` is the log index of the write a value came
//! from (0 for the initial value); `via` says how a read was served
//! (`lease` or `read-index`).

use serde::{Deserialize, Serialize};

use crate::check::{Kind, Op, Via};

/// The format tag.
pub const FORMAT: &str = "leasehold-history/1";

/// A whole history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always `register`.
    pub model: String,
    /// The register's initial value.
    pub initial: u64,
    /// The operations, in invocation order.
    pub ops: Vec<HistoryOp>,
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryOp {
    /// The client (a sequential process).
    pub client: usize,
    /// `read` or `write`.
    pub f: String,
    /// Written value, or the value read.
    pub value: Option<u64>,
    /// Invocation time, ns.
    pub call: u64,
    /// Completion time, ns, if it completed.
    #[serde(rename = "return")]
    pub ret: Option<u64>,
    /// `ok`, `fail` or `unknown`.
    pub outcome: String,
    /// Log index of the value, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub index: Option<u64>,
    /// `lease` or `read-index`, for completed reads.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub via: Option<String>,
}

impl History {
    /// The history of a run's operations.
    pub fn from_ops(ops: &[Op]) -> History {
        let mut ops: Vec<HistoryOp> = ops
            .iter()
            .map(|o| {
                let outcome = match (o.complete, o.refused) {
                    (Some(_), _) => "ok",
                    (None, true) => "fail",
                    (None, false) => "unknown",
                };
                let read = o.kind == Kind::Read;
                HistoryOp {
                    client: o.client,
                    f: if read { "read" } else { "write" }.into(),
                    value: if read && o.complete.is_none() {
                        None
                    } else {
                        Some(o.value)
                    },
                    call: o.invoke,
                    ret: o.complete,
                    outcome: outcome.into(),
                    index: o.complete.map(|_| o.version),
                    via: match (read, o.complete, o.via) {
                        (true, Some(_), Via::Lease) => Some("lease".into()),
                        (true, Some(_), _) => Some("read-index".into()),
                        _ => None,
                    },
                }
            })
            .collect();
        ops.sort_by_key(|o| o.call);
        History {
            format: FORMAT.into(),
            model: "register".into(),
            initial: 0,
            ops,
        }
    }

    /// The operations again, for the project's own checkers.
    pub fn to_ops(&self) -> Vec<Op> {
        self.ops
            .iter()
            .map(|h| Op {
                client: h.client,
                kind: if h.f == "read" {
                    Kind::Read
                } else {
                    Kind::Write
                },
                invoke: h.call,
                complete: h.ret,
                value: h.value.unwrap_or(0),
                version: h.index.unwrap_or(0),
                via: match h.via.as_deref() {
                    Some("lease") => Via::Lease,
                    Some(_) => Via::Quorum,
                    None => Via::None,
                },
                refused: h.outcome == "fail",
            })
            .collect()
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a history serialises")
    }

    /// Parses [`to_json`](Self::to_json) output.
    ///
    /// # Errors
    ///
    /// Malformed JSON or a different format tag.
    pub fn from_json(s: &str) -> Result<History, String> {
        let h: History = serde_json::from_str(s).map_err(|e| e.to_string())?;
        if h.format != FORMAT {
            return Err(format!("format {:?}, expected {FORMAT:?}", h.format));
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{linearizable, Lin};

    #[test]
    fn round_trip_keeps_the_verdict() {
        let ops = vec![
            Op {
                client: 0,
                kind: Kind::Write,
                invoke: 0,
                complete: Some(10),
                value: 7,
                version: 3,
                via: Via::None,
                refused: false,
            },
            Op {
                client: 1,
                kind: Kind::Read,
                invoke: 11,
                complete: Some(12),
                value: 0,
                version: 0,
                via: Via::Lease,
                refused: false,
            },
            Op {
                client: 2,
                kind: Kind::Write,
                invoke: 5,
                complete: None,
                value: 9,
                version: 0,
                via: Via::None,
                refused: true,
            },
        ];
        let h = History::from_ops(&ops);
        let json = h.to_json();
        assert!(json.contains("\"return\": null"));
        assert!(json.contains("\"outcome\": \"fail\""));
        let back = History::from_json(&json).unwrap();
        assert_eq!(back, h);
        assert_eq!(linearizable(&back.to_ops(), 1000), Lin::Violation);
        assert!(History::from_json("{}").is_err());
    }
}
