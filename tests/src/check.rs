//! The checkers: stale reads, full linearizability of short histories, and
//! lease overlap (accounted inside the simulation, see `sim.rs`).

use std::collections::HashSet;

/// What an operation of the register history did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Wrote a unique value.
    Write,
    /// Read a value.
    Read,
}

/// How a read was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Locally, under the lease.
    Lease,
    /// Through a ReadIndex round.
    Quorum,
    /// Not served (yet).
    None,
}

/// One client operation, in true time (nanoseconds).
#[derive(Debug, Clone)]
pub struct Op {
    /// The client that issued it.
    pub client: usize,
    /// Read or write.
    pub kind: Kind,
    /// When the client sent it.
    pub invoke: u64,
    /// When the client received the successful answer; `None` if it never
    /// did (timed out or refused).
    pub complete: Option<u64>,
    /// Written value, or the value read.
    pub value: u64,
    /// Log index of the write (for a write: where it committed, if known;
    /// for a read: the index of the last write the read reflects, 0 = initial).
    pub version: u64,
    /// How a read was served.
    pub via: Via,
    /// The request was refused (never proposed), so it certainly had no effect.
    pub refused: bool,
}

/// Stale reads: completed reads whose version is older than a write that
/// completed before the read was invoked. Returns their indices.
pub fn stale_reads(ops: &[Op]) -> Vec<usize> {
    let mut writes: Vec<(u64, u64)> = ops
        .iter()
        .filter(|o| o.kind == Kind::Write)
        .filter_map(|o| o.complete.map(|c| (c, o.version)))
        .collect();
    writes.sort_unstable();
    let mut prefix_max = Vec::with_capacity(writes.len());
    let mut m = 0;
    for &(_, v) in &writes {
        m = m.max(v);
        prefix_max.push(m);
    }
    let mut stale = Vec::new();
    for (i, o) in ops.iter().enumerate() {
        if o.kind != Kind::Read || o.complete.is_none() {
            continue;
        }
        // writes completed strictly before the read started
        let n = writes.partition_point(|&(c, _)| c < o.invoke);
        if n > 0 && prefix_max[n - 1] > o.version {
            stale.push(i);
        }
    }
    stale
}

/// Result of the linearizability search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lin {
    /// A linearization exists.
    Ok,
    /// None exists.
    Violation,
    /// The search exceeded its budget.
    Unknown,
}

/// Wing-Gong style search (with Lowe's memoisation of visited
/// (linearized set, register value) states) for a linearization of a
/// single register history with unique written values, initial value 0.
/// Pending writes may take effect at any point after their invocation or
/// not at all; pending reads and refused operations are dropped.
pub fn linearizable(ops: &[Op], budget: usize) -> Lin {
    let read_values: HashSet<u64> = ops
        .iter()
        .filter(|o| o.kind == Kind::Read && o.complete.is_some())
        .map(|o| o.value)
        .collect();
    // (invoke, complete or MAX, kind, value)
    let mut h: Vec<(u64, u64, Kind, u64)> = ops
        .iter()
        .filter(|o| !o.refused)
        .filter(|o| match (o.kind, o.complete) {
            (_, Some(_)) => true,
            // a pending write matters only if someone read its value
            (Kind::Write, None) => read_values.contains(&o.value),
            (Kind::Read, None) => false,
        })
        .map(|o| (o.invoke, o.complete.unwrap_or(u64::MAX), o.kind, o.value))
        .collect();
    h.sort_unstable_by_key(|e| (e.0, e.1));
    let n = h.len();
    let words = n.div_ceil(64).max(1);
    let mut done = vec![0u64; words];
    // must-linearize count: completed ops
    let mut left: usize = h.iter().filter(|e| e.1 != u64::MAX).count();
    if left == 0 {
        return Lin::Ok;
    }
    let is_done = |d: &[u64], i: usize| d[i / 64] >> (i % 64) & 1 == 1;
    // candidates: not done, invoked no later than the earliest completion
    // among the ops not done
    let candidates = |d: &[u64]| -> Vec<usize> {
        let first = d.iter().position(|w| *w != u64::MAX).map_or(n, |w| w * 64);
        let mut min_complete = u64::MAX;
        let mut c = Vec::new();
        for (i, e) in h.iter().enumerate().skip(first) {
            if is_done(d, i) {
                continue;
            }
            if e.0 > min_complete {
                break;
            }
            min_complete = min_complete.min(e.1);
            c.push(i);
        }
        c.retain(|&i| h[i].0 <= min_complete);
        c
    };
    let key = |d: &[u64], v: u64| -> (u64, u64) {
        let (mut a, mut b) = (
            0xcbf2_9ce4_8422_2325u64 ^ v,
            0x9e37_79b9_7f4a_7c15u64 ^ v.rotate_left(17),
        );
        for w in d {
            a = (a ^ w).wrapping_mul(0x100_0000_01b3);
            b = (b ^ w.rotate_left(29)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        }
        (a, b)
    };
    struct Frame {
        cands: Vec<usize>,
        next: usize,
        chosen: Option<usize>,
        prev_value: u64,
    }
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut value = 0u64;
    let mut stack = vec![Frame {
        cands: candidates(&done),
        next: 0,
        chosen: None,
        prev_value: 0,
    }];
    let mut steps = 0usize;
    while let Some(top) = stack.last_mut() {
        if let Some(i) = top.chosen.take() {
            done[i / 64] &= !(1 << (i % 64));
            value = top.prev_value;
            if h[i].1 != u64::MAX {
                left += 1;
            }
        }
        let mut pick = None;
        while top.next < top.cands.len() {
            let i = top.cands[top.next];
            top.next += 1;
            if h[i].2 == Kind::Write || h[i].3 == value {
                pick = Some(i);
                break;
            }
        }
        let Some(i) = pick else {
            stack.pop();
            continue;
        };
        top.chosen = Some(i);
        top.prev_value = value;
        done[i / 64] |= 1 << (i % 64);
        if h[i].2 == Kind::Write {
            value = h[i].3;
        }
        if h[i].1 != u64::MAX {
            left -= 1;
        }
        if left == 0 {
            return Lin::Ok;
        }
        steps += 1;
        if steps > budget {
            return Lin::Unknown;
        }
        if !seen.insert(key(&done, value)) {
            continue;
        }
        let cands = candidates(&done);
        stack.push(Frame {
            cands,
            next: 0,
            chosen: None,
            prev_value: value,
        });
    }
    Lin::Violation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(invoke: u64, complete: Option<u64>, value: u64, version: u64) -> Op {
        Op {
            client: 0,
            kind: Kind::Write,
            invoke,
            complete,
            value,
            version,
            via: Via::None,
            refused: false,
        }
    }
    fn r(invoke: u64, complete: u64, value: u64, version: u64) -> Op {
        Op {
            client: 1,
            kind: Kind::Read,
            invoke,
            complete: Some(complete),
            value,
            version,
            via: Via::Lease,
            refused: false,
        }
    }

    #[test]
    fn fresh_read_is_fine_stale_read_is_caught() {
        let ok = vec![w(0, Some(10), 7, 1), r(11, 12, 7, 1)];
        assert!(stale_reads(&ok).is_empty());
        assert_eq!(linearizable(&ok, 1000), Lin::Ok);
        let stale = vec![w(0, Some(10), 7, 1), r(11, 12, 0, 0)];
        assert_eq!(stale_reads(&stale), vec![1]);
        assert_eq!(linearizable(&stale, 1000), Lin::Violation);
    }

    #[test]
    fn concurrent_read_may_see_either() {
        let h = vec![w(0, Some(10), 7, 1), r(5, 12, 0, 0), r(6, 13, 7, 1)];
        assert!(stale_reads(&h).is_empty());
        assert_eq!(linearizable(&h, 1000), Lin::Ok);
    }

    #[test]
    fn pending_write_may_be_seen_and_reads_may_not_go_back() {
        let h = vec![w(0, None, 7, 1), r(5, 12, 7, 1), r(13, 14, 0, 0)];
        // not stale by the completed-writes rule, but not linearizable
        assert!(stale_reads(&h).is_empty());
        assert_eq!(linearizable(&h, 1000), Lin::Violation);
        let h = vec![w(0, None, 7, 1), r(5, 12, 7, 1), r(13, 14, 7, 1)];
        assert_eq!(linearizable(&h, 1000), Lin::Ok);
    }
}
