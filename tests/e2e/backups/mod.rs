//! Backups and restores against real nodes, MariaDB and the local s3s-fs.

mod bench;
mod faults;
mod gauges;
pub mod harness;
mod node_pipeline;
mod restore;
mod retention;
mod saga;
mod staging;
mod staging_faults;
