//! Looking names up: TXT records (a custom domain's verification token) and addresses (does a
//! site's domain point at its node?), asked of one configured DNS server over UDP. The server
//! is a setting (`dns.resolver`): a recursive resolver in production, PowerDNS in tests.
//!
//! No cache: a check must see a record the moment it is set, and a cached "no such name"
//! would hide it for its negative TTL.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::future::BoxFuture;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The name is not a DNS name.
    #[error("`{0}` is not a DNS name")]
    BadName(String),
    /// The server would not answer for the name (it serves other zones, or none to us).
    #[error("the resolver at {0} refused to answer for {1}")]
    Refused(SocketAddr, String),
    /// The server did not answer in time, or answered with a server failure.
    #[error("the resolver at {0} did not answer: {1}")]
    NoAnswer(SocketAddr, String),
}

/// Something that looks names up.
pub trait Resolver: Send + Sync + 'static {
    /// The texts of the TXT records at `name` (each record's strings joined); none when the
    /// name does not exist.
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, ResolveError>>;

    /// The IPv4 and IPv6 addresses `name` resolves to (through CNAMEs the server follows).
    fn addresses<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>>;
}

/// Asks one DNS server over UDP: two tries, two seconds each.
pub struct UdpResolver {
    server: SocketAddr,
}

impl UdpResolver {
    /// A resolver asking `server`.
    pub fn new(server: SocketAddr) -> Self {
        Self { server }
    }

    async fn ask(&self, name: &str, rtype: RecordType) -> Result<Message, ResolveError> {
        let fqdn = Name::from_ascii(format!("{}.", name.trim_end_matches('.')))
            .map_err(|_| ResolveError::BadName(name.to_owned()))?;
        let mut last = String::new();
        for _ in 0..2 {
            let id: u16 = rand::random();
            let mut query = Message::new(id, MessageType::Query, OpCode::Query);
            query.metadata.recursion_desired = true;
            query.add_query(Query::query(fqdn.clone(), rtype));
            let bytes = query.to_vec().map_err(|e| ResolveError::BadName(e.to_string()))?;
            match tokio::time::timeout(Duration::from_secs(2), self.exchange(&bytes, id)).await {
                Ok(Ok(answer)) => match answer.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => return Ok(answer),
                    // An authoritative-only server refuses names outside its zones.
                    ResponseCode::Refused => return Err(ResolveError::Refused(self.server, name.to_owned())),
                    code => last = format!("{code}"),
                },
                Ok(Err(error)) => last = error,
                Err(_) => last = "timed out".to_owned(),
            }
        }
        Err(ResolveError::NoAnswer(self.server, last))
    }

    async fn exchange(&self, bytes: &[u8], id: u16) -> Result<Message, String> {
        let local: SocketAddr =
            if self.server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().map_err(|_| "bind")?;
        let socket = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
        socket.connect(self.server).await.map_err(|e| e.to_string())?;
        socket.send(bytes).await.map_err(|e| e.to_string())?;
        let mut buffer = vec![0u8; 4096];
        loop {
            let n = socket.recv(&mut buffer).await.map_err(|e| e.to_string())?;
            // Anything but the answer to this query (a late answer to an earlier one) is skipped.
            if let Ok(message) = Message::from_vec(&buffer[..n]) {
                if message.metadata.id == id && message.metadata.message_type == MessageType::Response {
                    return Ok(message);
                }
            }
        }
    }
}

impl Resolver for UdpResolver {
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, ResolveError>> {
        Box::pin(async move {
            let answer = self.ask(name, RecordType::TXT).await?;
            Ok(answer
                .answers
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => {
                        Some(txt.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
                    }
                    _ => None,
                })
                .collect())
        })
    }

    fn addresses<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>> {
        Box::pin(async move {
            let mut found = Vec::new();
            for rtype in [RecordType::A, RecordType::AAAA] {
                let answer = self.ask(name, rtype).await?;
                for record in &answer.answers {
                    match &record.data {
                        RData::A(a) => found.push(IpAddr::V4(a.0)),
                        RData::AAAA(a) => found.push(IpAddr::V6(a.0)),
                        _ => {}
                    }
                }
            }
            Ok(found)
        })
    }
}

/// The resolver this machine uses: the first `nameserver` of `/etc/resolv.conf`, port 53.
pub fn system_resolver() -> Option<SocketAddr> {
    let conf = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    conf.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .find_map(|rest| rest.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
}
