//! The hash maps and sets on the per-message path (mailbox counters, pending sends,
//! deferred acks, routes, the hub's connections, each connection's ids in flight): std's
//! maps with foldhash instead of SipHash. Their keys are 16- and 32-byte ids hashed several
//! times per message, where SipHash was about 3 % of the server's CPU on one message at a
//! time (BENCHMARKS.md, "Frames read in one pass"). foldhash is seeded at random per map,
//! as std's is, so keys chosen by clients (message ids) cannot be picked to collide without
//! the seed; and every one of these maps is bounded. Maps off that path keep std's.

pub use foldhash::{HashMap, HashMapExt};
