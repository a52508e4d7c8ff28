//! Backups off the node: the chunked encryption of archives ([`crypt`]), the bucket they are
//! kept in ([`store`]), and taking, reading back and checking them ([`pipeline`]).
//!
//! Nodes hold no storage credentials: a node streams its archive over the SSH session it is
//! managed through, and the control plane seals and uploads it.

pub mod crypt;
pub mod pipeline;
pub mod store;
