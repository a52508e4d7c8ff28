//! Deployments from git against real nodes and a real local repository: pushes delivered as
//! GitHub signs them, releases switched in without a failed request, rollbacks, failed
//! builds, forged and repeated deliveries, and the input the repository routes refuse.

mod bad_input;
mod harness;
mod laravel;
mod limits;
mod push;
mod sftp;
mod sftp_api;
mod sftp_storage;
