//! Node loss against namespaced nodes and the real object storage: a dead node evacuated from
//! verified backups, a retired node's lost sites restored or deleted, a draining node evacuated
//! live, and sites that find no room staying where they are.

mod from_backup;
mod harness;
mod live;
