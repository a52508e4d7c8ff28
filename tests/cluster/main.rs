//! Scale-out tests: Berth as a fleet of single-role processes, on the 3-node JetStream cluster
//! and the PostgreSQL streaming replica that `deploy/cluster` runs on loopback (the tests start
//! it themselves if it is not running), next to the `deploy/dev` services that the end-to-end
//! tests use (`DATABASE_URL`, `NATS_URL`).
//!
//! They stop, kill and pause processes: only the test's own children and the cluster's NATS
//! nodes. The tests that disturb what they all share (NATS nodes, the replica's replay, the
//! PostgreSQL server's feed horizon) or time it take turns ([`fleet::exclusive`]).

// The end-to-end tests' world (a database and a stream per test); this target uses part of it.
#[path = "../e2e/common.rs"]
#[allow(dead_code, reason = "shared with the e2e target, which uses the rest")]
mod common;
mod failover;
mod fleet;
mod load;
mod replica;
mod roles;
mod stall;
