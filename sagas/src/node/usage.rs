//! The `usage` verb: what each site on a node uses (see [`crate::usage`] for the sampler).

use super::contract::{NodeRequest, NodeVerb};
use super::reply::UsageReport;

/// `usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage;

impl NodeVerb for Usage {
    type Reply = UsageReport;
    fn request(&self) -> NodeRequest {
        NodeRequest::Usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_takes_no_arguments_and_its_answer_reads_as_samples() {
        assert_eq!(Usage.request().argv(), ["usage"]);
        let answer = r#"{"sites":[{"site":"0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d","disk_bytes":4096,"database_bytes":16384,"served_bytes":12}]}"#;
        let report: UsageReport = serde_json::from_str(answer).unwrap();
        assert_eq!(report.sites[0].database_bytes, 16_384);
        assert_eq!(report.sites[0].served_bytes, 12);
    }
}
