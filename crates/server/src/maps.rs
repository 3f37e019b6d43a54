//! The hash maps on the per-message path (mailbox counters, deferred acks, unacked copies,
//! the hub's connections, each connection's ids in flight, pending copies by mailbox): std's
//! map with foldhash instead of SipHash. Their keys are 16- and 32-byte ids hashed several
//! times per message, where SipHash was about 3 % of the server's CPU on one message at a
//! time (BENCHMARKS.md, "Frames read in one pass"). foldhash is seeded per process and per
//! map, though not from the operating system's random source (address-space layout, the
//! time, an allocation's address), and resists only simple collision attacks. So these
//! maps hold ids the server chose, or, where a client chose them (the message ids of a
//! connection's messages in flight), at most a delivery window of them. The other maps
//! keyed by ids a client names (pending sends by id, shared by every sender; remembered
//! routes; typing's per-friend buckets) keep std's hasher.

pub use foldhash::{HashMap, HashMapExt};
