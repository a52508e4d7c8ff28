//! A 3-node JetStream cluster with the stream at R3, every role as two processes, under load:
//! the stream's leader is killed, a relay is started while one listed server is down, and two
//! relays create a fresh R3 stream.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use berth_domain::ids::TenantId;
use futures::StreamExt;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::common::{create_site, eventually, TestEnv};
use crate::fleet::{self, Role};
use crate::load::{self, Load};

/// The roles, two of each.
const FLEET: [&str; 10] = [
    "command-api",
    "command-api",
    "query-api",
    "query-api",
    "relay",
    "relay",
    "projections",
    "projections",
    "sagas",
    "sagas",
];

/// SIGKILL the stream's leader while two of each role run under load: every event is on the
/// stream exactly once, the relay publishes again within the election time plus a second, and
/// no request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stream_leader_killed_under_load_loses_nothing_and_fails_no_request() {
    // Arrange: the fleet on the cluster, an R3 stream, load through both APIs of each side.
    let cluster = fleet::cluster().await;
    let _alone = fleet::exclusive().await;
    let env = TestEnv::on_nats(&cluster.nats_url, 3).await;
    let unlimited =
        [("BERTH_LIMITS__API_PER_MINUTE", "10000000"), ("BERTH_LIMITS__AUTH_PER_MINUTE", "10000000")];
    let vars = fleet::vars(&env, &unlimited);
    let roles = fleet::start_all(&vars, &FLEET).await;
    let bases =
        |name: &str| roles.iter().filter(|r| r.name == name).map(|r| r.base.clone()).collect::<Vec<_>>();
    let (commands, queries) = (bases("command-api"), bases("query-api"));
    let http = reqwest::Client::new();
    let mut tokens = Vec::new();
    for (n, command) in commands.iter().enumerate() {
        tokens.push(load::register(&http, command, &format!("tenant{n}")).await);
    }
    let load_began = OffsetDateTime::now_utc();
    let load = Load::start(&commands, &queries, &tokens, 6);
    assert!(stream_reaches(&env, 300, Duration::from_secs(60)).await, "the relay publishes under load");

    // Act: kill the stream's leader; watch for the next one.
    let leader = stream_leader(&env).await.expect("the stream has a leader");
    let before = stream_messages(&env).await;
    let (killed_at, killed_wall) = (Instant::now(), OffsetDateTime::now_utc());
    cluster.kill(fleet::node_named(&leader)).await;
    let answered = eventually(Duration::from_secs(60), || async {
        stream_leader(&env).await.is_some_and(|now| now != leader)
    })
    .await;
    let seen = killed_at.elapsed();
    // The election as the servers logged it: an answer to "who leads?" can come before the
    // new leader takes publishes.
    let logged = eventually(Duration::from_secs(60), || async {
        cluster.leader_elected(&env.stream.name, killed_wall).is_some()
    })
    .await;
    assert!(answered && logged, "a new stream leader within a minute");
    let election = cluster
        .leader_elected(&env.stream.name, killed_wall)
        .map(|at| (at - killed_wall).unsigned_abs())
        .expect("a surviving node logged the new stream leader");
    assert!(stream_reaches(&env, before + 300, Duration::from_secs(60)).await, "the relay publishes again");
    let tally = load.stop().await;
    let load_ended = OffsetDateTime::now_utc();
    cluster.restore().await;
    // The sagas still record outcomes of the last sites; stop them, so the log stops growing.
    let (sagas, roles): (Vec<Role>, Vec<Role>) = roles.into_iter().partition(|r| r.name == "sagas");
    for role in sagas {
        role.kill().await;
    }

    // Assert: the stream holds the log, once; the gap; no failed request.
    let settled = eventually(Duration::from_secs(60), || async {
        stream_messages(&env).await == env.event_count().await as u64
    })
    .await;
    assert!(settled, "every event published");
    let total = env.event_count().await as u64;
    let published = stored(&env).await;
    let ids: HashSet<Uuid> = published.iter().map(|m| m.event_id).collect();
    assert_eq!(published.len() as u64, total, "no event twice on the stream");
    let logged: HashSet<Uuid> = sqlx::query_scalar("SELECT event_id FROM events")
        .fetch_all(&env.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(ids, logged, "the stream holds exactly the log");
    // An aggregate is its type and id: a tenant's organization and its site quota share an id.
    let mut last_sequence: HashMap<(&str, &str), i64> = HashMap::new();
    for message in &published {
        let key = (message.aggregate_type.as_str(), message.aggregate_id.as_str());
        let previous = last_sequence.insert(key, message.sequence).unwrap_or(0);
        assert_eq!(message.sequence, previous + 1, "per-aggregate order on the stream");
    }
    let gap = published
        .windows(2)
        .filter(|w| w[0].at >= load_began && w[1].at <= load_ended)
        .map(|w| (w[1].at - w[0].at).unsigned_abs())
        .max()
        .expect("messages stored under load");
    println!(
        "cluster failover: {total} events, {} requests answered, leader {leader} killed; new leader elected after {election:.2?} (seen by a client after {seen:.2?}), longest publish gap {gap:.2?}",
        tally.ok
    );
    assert!(gap <= election + Duration::from_secs(1), "publish gap {gap:?} over election {election:?} + 1 s");
    assert!(
        tally.failures.is_empty(),
        "{} failed requests, first: {:?}",
        tally.failures.len(),
        tally.failures.first()
    );
    assert!(tally.ok > 0);

    for role in roles {
        role.kill().await;
    }
    env.cleanup().await;
}

/// A relay given the three servers starts while the first of them is down, and publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_starts_while_a_listed_server_is_down() {
    // Arrange: the stream exists (an R3 stream is placed while all three run); node 1 stops.
    let cluster = fleet::cluster().await;
    let _alone = fleet::exclusive().await;
    let env = TestEnv::on_nats(&cluster.nats_url, 3).await;
    env.stream.ensure(&env.jetstream).await.expect("the R3 stream");
    cluster.stop(1).await;
    let down_first = format!("{},{},{}", cluster.url_of(1), cluster.url_of(2), cluster.url_of(3));

    // Act: a relay with the stopped server first in its list.
    let relay = Role::start(&fleet::vars(&env, &[("BERTH_NATS__URL", &down_first)]), "relay");
    let ready = relay.ready(Duration::from_secs(30)).await;
    create_site(&env.store(), TenantId::from_uuid(Uuid::now_v7())).await;
    let published = env.wait_for_stream(1, Duration::from_secs(30)).await;
    cluster.restore().await;

    // Assert
    assert!(ready, "the relay started and is ready");
    assert_eq!(published, 1, "and publishes");
    relay.kill().await;
    env.cleanup().await;
}

/// Two relays started together on the cluster, where their R3 stream does not exist yet: one
/// of them creates it and the stream stores an event already in the log within 4 s of its
/// first leader election, as the servers logged it: an attempt that gets no answer is given
/// up after 2 s and retried at once (rather than each relay waiting out a 10 s timeout in
/// turn), and 2 s more is the margin of a busy machine. The election itself is JetStream's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_create_a_fresh_r3_stream_without_waiting_out_a_timeout() {
    // Arrange: an event in the log; no stream on the cluster.
    let cluster = fleet::cluster().await;
    let _alone = fleet::exclusive().await;
    // A node killed by another test may still be catching up, and the three-node stream
    // would wait for it whatever the relays do.
    assert!(
        cluster.settled(Duration::from_secs(60)).await,
        "the JetStream meta group is whole within a minute"
    );
    let env = TestEnv::on_nats(&cluster.nats_url, 3).await;
    assert!(env.jetstream.get_stream(&env.stream.name).await.is_err(), "the stream does not exist yet");
    create_site(&env.store(), TenantId::from_uuid(Uuid::now_v7())).await;

    // Act
    let vars = fleet::vars(&env, &[]);
    let since = OffsetDateTime::now_utc();
    let relays = fleet::start_all(&vars, &["relay", "relay"]).await;
    // Polled with short requests: a request to a stream that is still electing its leader
    // gets no answer, and the client's default would wait 5 s for it.
    let published = stream_reaches(&env, 1, Duration::from_secs(60)).await;
    let logged = eventually(Duration::from_secs(30), || async {
        cluster.leader_elected(&env.stream.name, since).is_some()
    })
    .await;

    // Assert
    assert!(published, "a relay created the stream and published within a minute");
    assert!(logged, "a node logged the new stream's leader");
    let elected = cluster.leader_elected(&env.stream.name, since).expect("logged");
    // When the stream stored it, by the leader's clock (this machine's).
    let published_at = stored(&env).await.first().expect("the event on the stream").at;
    let after_election = published_at - elected;
    println!(
        "fresh R3 stream: leader elected {:.2?} after the relays started, first event stored {:.2?} after that",
        (elected - since).unsigned_abs(),
        after_election.unsigned_abs()
    );
    assert!(
        after_election <= time::Duration::seconds(4),
        "the first publish came {after_election} after the stream's leader was elected"
    );
    for relay in relays {
        relay.kill().await;
    }
    env.cleanup().await;
}

/// The server name of the stream's leader, if one is known.
async fn stream_leader(env: &TestEnv) -> Option<String> {
    let mut context = env.jetstream.clone();
    context.set_timeout(Duration::from_millis(500));
    let mut stream = context.get_stream(&env.stream.name).await.ok()?;
    stream.info().await.ok()?.cluster.as_ref()?.leader.clone()
}

async fn stream_messages(env: &TestEnv) -> u64 {
    let mut context = env.jetstream.clone();
    context.set_timeout(Duration::from_millis(500));
    match context.get_stream(&env.stream.name).await {
        Ok(mut stream) => stream.info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

async fn stream_reaches(env: &TestEnv, count: u64, within: Duration) -> bool {
    eventually(within, || async { stream_messages(env).await >= count }).await
}

/// One message on the stream.
struct Stored {
    event_id: Uuid,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    /// When the stream's leader stored it.
    at: OffsetDateTime,
}

/// Every message on the stream, in stream order.
async fn stored(env: &TestEnv) -> Vec<Stored> {
    let stream = env.jetstream.get_stream(&env.stream.name).await.expect("the stream");
    let total = stream.cached_info().state.messages;
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
        .await
        .expect("an ordered consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut out = Vec::new();
    while (out.len() as u64) < total {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("the stream reads back")
            .expect("the stream goes on")
            .expect("a message");
        let at = message.info().expect("message info").published;
        let event = berth_eventstore::stream::decode(&message.payload).expect("a relay message");
        out.push(Stored {
            event_id: event.event_id,
            aggregate_type: event.aggregate_type,
            aggregate_id: event.aggregate_id,
            sequence: event.sequence,
            at,
        });
    }
    out
}
