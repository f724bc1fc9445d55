//! The client port's protocol: one request per line, one reply per line,
//! matched by the request id.
//!
//! ```text
//! request                      reply
//! R <id> lease                 <id> OK <value> <index> lease|index    (a read; the lease if it covers it)
//! R <id> index                 <id> OK <value> <index> index          (a read that always runs ReadIndex)
//! W <id> <value>               <id> OK <value> <index> write
//! T <id> <node>                <id> OK 0 0 transfer                   (leadership transfer to node)
//! S <id>                       <id> STATUS <json>                     (role, term, counters)
//! any                          <id> NOTLEADER <leader or 0>           (refused: certainly no effect)
//! any                          <id> TIMEOUT                           (gave up: a write may still apply)
//! any                          <id> ERR <reason>                      (refused: certainly no effect)
//! ```
//!
//! `index` is the log index of the write whose value is returned (0 for the
//! initial value); the checkers use it to order versions. Lines are capped
//! at [`LINE_LIMIT`] bytes; a longer one is refused and the connection closed.

use std::fmt;

/// Longest accepted line, newline included.
pub const LINE_LIMIT: usize = 4096;

/// How a read asks to be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// Under the lease when it covers the read, ReadIndex otherwise.
    Lease,
    /// Always a ReadIndex round (the benchmark's baseline).
    Index,
}

/// A client request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A read of the register.
    Read {
        /// Request id.
        id: u64,
        /// How to serve it.
        kind: ReadKind,
    },
    /// A write of a unique value.
    Write {
        /// Request id.
        id: u64,
        /// The value.
        value: u64,
    },
    /// Ask the leader to hand leadership to `to`.
    Transfer {
        /// Request id.
        id: u64,
        /// Target node.
        to: u64,
    },
    /// The node's status and counters.
    Status {
        /// Request id.
        id: u64,
    },
}

impl Request {
    /// The request id.
    pub fn id(&self) -> u64 {
        match *self {
            Request::Read { id, .. }
            | Request::Write { id, .. }
            | Request::Transfer { id, .. }
            | Request::Status { id } => id,
        }
    }

    /// Parses one line (without its newline).
    ///
    /// # Errors
    ///
    /// A description of what is wrong.
    pub fn parse(line: &str) -> Result<Request, String> {
        let mut it = line.split_ascii_whitespace();
        let verb = it.next().ok_or("empty request")?;
        let num = |s: Option<&str>, what: &str| -> Result<u64, String> {
            s.ok_or_else(|| format!("missing {what}"))?
                .parse()
                .map_err(|_| format!("bad {what}"))
        };
        let id = num(it.next(), "id")?;
        let req = match verb {
            "R" => Request::Read {
                id,
                kind: match it.next() {
                    Some("lease") => ReadKind::Lease,
                    Some("index") => ReadKind::Index,
                    _ => return Err("read kind must be lease or index".into()),
                },
            },
            "W" => Request::Write {
                id,
                value: num(it.next(), "value")?,
            },
            "T" => Request::Transfer {
                id,
                to: num(it.next(), "node")?,
            },
            "S" => Request::Status { id },
            _ => return Err(format!("unknown verb {verb:?}")),
        };
        if it.next().is_some() {
            return Err("trailing words".into());
        }
        Ok(req)
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Request::Read { id, kind } => {
                let k = match kind {
                    ReadKind::Lease => "lease",
                    ReadKind::Index => "index",
                };
                write!(f, "R {id} {k}")
            }
            Request::Write { id, value } => write!(f, "W {id} {value}"),
            Request::Transfer { id, to } => write!(f, "T {id} {to}"),
            Request::Status { id } => write!(f, "S {id}"),
        }
    }
}

/// How a successful operation was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// A read under the lease.
    Lease,
    /// A read through ReadIndex (raft-rs `Safe`, or raft-rs's own
    /// `LeaseBased` answer in the control).
    Index,
    /// A committed write.
    Write,
    /// A transfer was started.
    Transfer,
}

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Done: the register's value and its index.
    Ok {
        /// Request id.
        id: u64,
        /// Value read or written.
        value: u64,
        /// Log index of that value's write.
        index: u64,
        /// How.
        served: Served,
    },
    /// Not the leader; the leader it knows of (0: none).
    NotLeader {
        /// Request id.
        id: u64,
        /// Leader hint.
        leader: u64,
    },
    /// The node gave up waiting; a write may still take effect.
    Timeout {
        /// Request id.
        id: u64,
    },
    /// Refused before it had any effect.
    Err {
        /// Request id.
        id: u64,
        /// Why.
        reason: String,
    },
    /// The status document (one line of JSON).
    Status {
        /// Request id.
        id: u64,
        /// JSON object.
        json: String,
    },
}

impl Reply {
    /// The id of the request answered.
    pub fn id(&self) -> u64 {
        match self {
            Reply::Ok { id, .. }
            | Reply::NotLeader { id, .. }
            | Reply::Timeout { id }
            | Reply::Err { id, .. }
            | Reply::Status { id, .. } => *id,
        }
    }

    /// Parses one reply line.
    ///
    /// # Errors
    ///
    /// A description of what is wrong.
    pub fn parse(line: &str) -> Result<Reply, String> {
        let (id, rest) = line.split_once(' ').ok_or("short reply")?;
        let id: u64 = id.parse().map_err(|_| "bad id")?;
        let (word, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut it = rest.split_ascii_whitespace();
        let mut num = || -> Result<u64, String> {
            it.next()
                .ok_or("missing number")?
                .parse()
                .map_err(|_| "bad number".to_string())
        };
        Ok(match word {
            "OK" => {
                let value = num()?;
                let index = num()?;
                let served = match rest.rsplit(' ').next() {
                    Some("lease") => Served::Lease,
                    Some("index") => Served::Index,
                    Some("write") => Served::Write,
                    Some("transfer") => Served::Transfer,
                    _ => return Err("bad served".into()),
                };
                Reply::Ok {
                    id,
                    value,
                    index,
                    served,
                }
            }
            "NOTLEADER" => Reply::NotLeader { id, leader: num()? },
            "TIMEOUT" => Reply::Timeout { id },
            "ERR" => Reply::Err {
                id,
                reason: rest.to_string(),
            },
            "STATUS" => Reply::Status {
                id,
                json: rest.to_string(),
            },
            _ => return Err(format!("unknown reply {word:?}")),
        })
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Ok {
                id,
                value,
                index,
                served,
            } => {
                let s = match served {
                    Served::Lease => "lease",
                    Served::Index => "index",
                    Served::Write => "write",
                    Served::Transfer => "transfer",
                };
                write!(f, "{id} OK {value} {index} {s}")
            }
            Reply::NotLeader { id, leader } => write!(f, "{id} NOTLEADER {leader}"),
            Reply::Timeout { id } => write!(f, "{id} TIMEOUT"),
            Reply::Err { id, reason } => write!(f, "{id} ERR {reason}"),
            Reply::Status { id, json } => write!(f, "{id} STATUS {json}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip_and_garbage_is_an_error() {
        for r in [
            Request::Read {
                id: 1,
                kind: ReadKind::Lease,
            },
            Request::Read {
                id: 2,
                kind: ReadKind::Index,
            },
            Request::Write { id: 3, value: 9 },
            Request::Transfer { id: 4, to: 2 },
            Request::Status { id: 5 },
        ] {
            assert_eq!(Request::parse(&r.to_string()), Ok(r));
        }
        for r in [
            Reply::Ok {
                id: 1,
                value: 7,
                index: 12,
                served: Served::Lease,
            },
            Reply::NotLeader { id: 2, leader: 3 },
            Reply::Timeout { id: 3 },
            Reply::Err {
                id: 4,
                reason: "proposal dropped".into(),
            },
            Reply::Status {
                id: 5,
                json: "{\"a\": 1}".into(),
            },
        ] {
            assert_eq!(Reply::parse(&r.to_string()), Ok(r));
        }
        for bad in ["", "R", "R x lease", "R 1 maybe", "W 1", "Q 1", "S 1 2"] {
            assert!(Request::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Reply::parse("1 OK 2").is_err());
    }
}
