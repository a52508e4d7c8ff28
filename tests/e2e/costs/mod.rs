//! Cost and capacity: usage sampled from the nodes, the cost model and its tables, the capacity
//! forecast, and the metrics they export.

mod capacity;
mod fleet;
mod harness;
mod listener;
mod prometheus;
mod report;
mod usage;
