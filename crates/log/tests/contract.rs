//! The event log's contract, the same cases on every backend: the embedded log (in a temporary
//! directory) and Kafka (a real Kafka-protocol broker named by `TRIBUTARY_TEST_KAFKA`, such as
//! `kafka://127.0.0.1:9092?batch_records=1` for tansu 0.6, which `scripts/test` starts; without
//! it the Kafka cases say so and skip, except under `CI=true`). Order and density, reads and
//! their limits, murmur2 partitions, keys, headers and timestamps, topics, and consumer groups
//! that resume from their commits. Each case makes topics and groups of its own. What only the
//! embedded log has (files, recovery, retention, the directory lock) is in `embedded.rs`.

use std::time::Duration;

use tributary_log::{
    ConsumedRecord, Consumer, EmbeddedLog, EmbeddedLogConfig, EventLog, LogError, OffsetReset, ReadLimits,
    Record, TopicPartition, partition_for_key,
};

/// A log of one backend, with what must live as long as it.
struct Backend {
    log: Box<dyn EventLog>,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    async fn embedded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path(), EmbeddedLogConfig::default()).await.unwrap();
        Self { log: Box::new(log), _dir: Some(dir) }
    }

    #[cfg(feature = "kafka")]
    async fn kafka() -> Option<Self> {
        use tributary_log::kafka::{KafkaLog, KafkaLogConfig};
        let url = tributary_test_data::service("TRIBUTARY_TEST_KAFKA")?;
        let log = KafkaLog::connect(KafkaLogConfig::from_url(&url).unwrap()).await.unwrap();
        Some(Self { log: Box::new(log), _dir: None })
    }

    #[cfg(not(feature = "kafka"))]
    async fn kafka() -> Option<Self> {
        eprintln!("skipping: built without the feature `kafka`");
        None
    }
}

/// Each case as a test on each backend: `embedded::case`, `kafka::case`.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = super::Backend::embedded().await;
                super::$case(&*backend.log).await;
            })*
        }
        mod kafka {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(backend) = super::Backend::kafka().await else { return };
                super::$case(&*backend.log).await;
            })*
        }
    };
}

contract!(
    appends_are_read_back_dense_and_in_order,
    keyed_records_land_where_the_java_client_puts_them,
    keys_headers_and_timestamps_come_back_as_appended,
    a_group_resumes_from_its_committed_offsets,
    a_member_that_leaves_hands_its_partitions_to_one_waiting_in_poll,
    membership_follows_the_group_and_commits_only_assigned_partitions,
    a_partition_reader_keeps_its_place_and_waits_for_appends,
);

/// A name no other case (or earlier run against the same broker) has used.
fn fresh(name: &str) -> String {
    format!("t-{name}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// Polls until `n` records have come (or about 20 s have passed); all it got.
async fn poll_at_least(consumer: &mut dyn Consumer, n: usize) -> Vec<ConsumedRecord> {
    let mut got = Vec::new();
    for _ in 0..100 {
        got.extend(consumer.poll(1000, Duration::from_millis(200)).await.unwrap());
        if got.len() >= n {
            break;
        }
    }
    got
}

fn rec(i: u64) -> Record {
    Record::new(format!("record-{i}"))
}

async fn appends_are_read_back_dense_and_in_order(log: &dyn EventLog) {
    let topic = fresh("order");
    log.create_topic(&topic, 1).await.unwrap();
    let first = log.append(&topic, (0..60).map(rec).collect()).await.unwrap();
    let second = log.append(&topic, (60..100).map(rec).collect()).await.unwrap();
    let offsets: Vec<u64> = first.iter().chain(&second).map(|p| p.offset).collect();
    assert_eq!(offsets, (0..100).collect::<Vec<_>>());
    let all = log.read(&topic, 0, 0, ReadLimits { max_records: 1000, max_bytes: 1 << 20 }).await.unwrap();
    assert_eq!(all.len(), 100);
    for (i, r) in all.iter().enumerate() {
        assert_eq!((r.offset, &r.record.value[..]), (i as u64, format!("record-{i}").as_bytes()));
    }
    let some = log.read(&topic, 0, 50, ReadLimits { max_records: 10, max_bytes: 1 << 20 }).await.unwrap();
    assert_eq!(some.iter().map(|r| r.offset).collect::<Vec<_>>(), (50..60).collect::<Vec<_>>());
    assert!(log.read(&topic, 0, 100, ReadLimits::default()).await.unwrap().is_empty(), "at the end");
    let err = log.read(&topic, 0, 101, ReadLimits::default()).await.unwrap_err();
    assert!(matches!(err, LogError::OffsetOutOfRange { start: 0, end: 100, .. }), "{err}");
    assert_eq!(log.offsets(&topic, 0).await.unwrap().end, 100);
    assert!(log.wait_for(&topic, 0, 99, Duration::from_millis(10)).await.unwrap());
    assert!(!log.wait_for(&topic, 0, 100, Duration::from_millis(100)).await.unwrap());
}

async fn keyed_records_land_where_the_java_client_puts_them(log: &dyn EventLog) {
    let topic = fresh("keys");
    log.create_topic(&topic, 6).await.unwrap();
    assert_eq!(log.partition_count(&topic).await.unwrap(), 6);
    let keys: Vec<String> = (0..120).map(|i| format!("device-{i}")).collect();
    let positions = log
        .append(&topic, keys.iter().map(|k| Record::new("v").with_key(k.clone())).collect())
        .await
        .unwrap();
    for (k, p) in keys.iter().zip(&positions) {
        assert_eq!(p.partition, partition_for_key(k.as_bytes(), 6), "{k}");
    }
    // Unkeyed records spread evenly.
    let positions = log.append(&topic, (0..60).map(rec).collect()).await.unwrap();
    let mut per = [0; 6];
    for p in positions {
        per[p.partition as usize] += 1;
    }
    assert_eq!(per, [10; 6]);
    let err = log.create_topic(&topic, 2).await.unwrap_err();
    assert!(matches!(err, LogError::TopicExists { partitions: 6, .. }), "{err}");
    assert!(log.create_topic(&fresh("zero"), 0).await.is_err());
    assert!(matches!(log.partition_count(&fresh("none")).await, Err(LogError::UnknownTopic(_))));
    assert!(log.create_topic("../escape", 1).await.is_err());
    let described = log.describe_topics().await.unwrap();
    let t = described.iter().find(|t| t.name == topic).expect("the topic is listed");
    assert_eq!(t.partitions.iter().map(|p| p.offsets.end).sum::<u64>(), 180);
}

async fn keys_headers_and_timestamps_come_back_as_appended(log: &dyn EventLog) {
    let topic = fresh("meta");
    log.create_topic(&topic, 1).await.unwrap();
    let r = Record::new(&b"\x00\xffvalue"[..])
        .with_key("k")
        .with_header("src", "inbox/a.csv:7")
        .with_header("empty", "")
        .with_timestamp(1_600_000_000_123);
    log.append_to_partition(&topic, 0, vec![r.clone()]).await.unwrap();
    let back = log.read(&topic, 0, 0, ReadLimits::default()).await.unwrap();
    assert_eq!(back[0].record, r);
    assert!(matches!(
        log.append_to_partition(&topic, 3, vec![rec(1)]).await,
        Err(LogError::UnknownPartition { partitions: 1, .. })
    ));
}

async fn a_group_resumes_from_its_committed_offsets(log: &dyn EventLog) {
    let (topic, group) = (fresh("group"), fresh("grp"));
    log.create_topic(&topic, 2).await.unwrap();
    log.append(&topic, (0..40).map(|i| rec(i).with_key(format!("key-{i}"))).collect()).await.unwrap();

    let mut a = log.subscribe(&group, &[&topic], OffsetReset::Earliest).await.unwrap();
    let got = poll_at_least(&mut *a, 40).await;
    assert_eq!(got.len(), 40, "every record once");
    assert_eq!(a.assignment().len(), 2);
    a.commit().await.unwrap();
    drop(a); // leaves the group cleanly

    let committed = log.committed(&group).await.unwrap();
    assert_eq!(committed.iter().map(|(_, o)| o).sum::<u64>(), 40, "{committed:?}");
    log.append(&topic, (40..45).map(|i| rec(i).with_key(format!("key-{i}"))).collect()).await.unwrap();
    let mut b = log.subscribe(&group, &[&topic], OffsetReset::Earliest).await.unwrap();
    let fresh_records = poll_at_least(&mut *b, 5).await;
    let mut values: Vec<String> =
        fresh_records.iter().map(|r| String::from_utf8(r.record.value.to_vec()).unwrap()).collect();
    values.sort();
    assert_eq!(
        values,
        (40..45).map(|i| format!("record-{i}")).collect::<Vec<_>>(),
        "only what was not committed"
    );

    // A standalone commit (no member), as the batch runner makes.
    let other = fresh("standalone");
    log.commit(&other, &[(TopicPartition::new(&topic, 0), 3)]).await.unwrap();
    assert_eq!(log.committed(&other).await.unwrap(), vec![(TopicPartition::new(&topic, 0), 3)]);

    // Every group at once, as the status page asks, says the same as each group alone.
    let all = log.group_offsets().await.unwrap();
    let names: Vec<&str> = all.iter().map(|g| g.group.as_str()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted by group: {names:?}");
    for g in [&group, &other] {
        let found = all.iter().find(|o| &o.group == g).unwrap_or_else(|| panic!("{g} in {names:?}"));
        assert_eq!(found.offsets, log.committed(g).await.unwrap());
    }
}

/// Polls both members until each holds one of the two partitions (a join takes a few seconds
/// on Kafka, and every member must take part in it).
async fn until_split(a: &mut dyn Consumer, b: &mut dyn Consumer) {
    for _ in 0..300 {
        a.membership(Duration::from_millis(50)).await.unwrap();
        b.membership(Duration::from_millis(50)).await.unwrap();
        if a.assignment().len() == 1 && b.assignment().len() == 1 {
            return;
        }
    }
    panic!(
        "the group did not split two partitions between two members: {:?} / {:?}",
        a.assignment(),
        b.assignment()
    );
}

async fn a_member_that_leaves_hands_its_partitions_to_one_waiting_in_poll(log: &dyn EventLog) {
    let (topic, group) = (fresh("handover"), fresh("grp"));
    log.create_topic(&topic, 2).await.unwrap();
    let mut a = log.subscribe(&group, &[&topic], OffsetReset::Earliest).await.unwrap();
    // `a` holds both partitions first (so it held b's before, and Kafka's client remembers
    // that `membership` paused it), then shares them with b.
    for _ in 0..300 {
        if a.membership(Duration::from_millis(50)).await.unwrap().len() == 2 {
            break;
        }
    }
    assert_eq!(a.assignment().len(), 2, "a lone member holds every partition");
    let mut b = log.subscribe(&group, &[&topic], OffsetReset::Earliest).await.unwrap();
    until_split(&mut *a, &mut *b).await;
    let b_partition = b.assignment()[0].partition;
    b.leave().await.unwrap();
    drop(b);
    // While `a` waits in one poll, the group hands it b's partition, where a record arrives.
    let wait = a.poll(10, Duration::from_secs(15));
    let append = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        log.append_to_partition(&topic, b_partition, vec![rec(1)]).await.unwrap();
    };
    let (got, ()) = tokio::join!(wait, append);
    let got = got.unwrap();
    if got.is_empty() {
        let t0 = std::time::Instant::now();
        let later = a.poll(10, Duration::from_secs(30)).await.unwrap();
        eprintln!(
            "DEBUG assignment {:?}; a later poll got {} after {:?}; b_partition {b_partition}",
            a.assignment(),
            later.len(),
            t0.elapsed()
        );
    }
    assert_eq!(got.len(), 1, "the record on the partition handed over, within the same poll");
    assert_eq!(got[0].partition, b_partition);
}

async fn membership_follows_the_group_and_commits_only_assigned_partitions(log: &dyn EventLog) {
    let (topic, group) = (fresh("membership"), fresh("grp"));
    log.create_topic(&topic, 2).await.unwrap();
    log.append(&topic, (0..10).map(|i| rec(i).with_key(format!("key-{i}"))).collect()).await.unwrap();
    let mut a = log.subscribe(&group, &[&topic], OffsetReset::Earliest).await.unwrap();
    let mut assigned = Vec::new();
    for _ in 0..300 {
        assigned = a.membership(Duration::from_millis(50)).await.unwrap();
        if assigned.len() == 2 {
            break;
        }
    }
    assert_eq!(assigned.len(), 2, "a lone member holds every partition");
    let other = TopicPartition::new(fresh("elsewhere"), 0);
    a.commit_offsets(&[(TopicPartition::new(&topic, 1), 4), (other, 9)]).await.unwrap();
    assert_eq!(log.committed(&group).await.unwrap(), vec![(TopicPartition::new(&topic, 1), 4)]);
    // The next member starts where those commits say (and everything where there is none).
    drop(a);
    let mut b = log.subscribe(&group, &[&topic], OffsetReset::Earliest).await.unwrap();
    let end_of_1 = log.offsets(&topic, 1).await.unwrap().end;
    let expected = log.offsets(&topic, 0).await.unwrap().end + end_of_1 - 4;
    let got = poll_at_least(&mut *b, expected as usize).await;
    assert_eq!(got.len() as u64, expected);
    assert!(got.iter().all(|r| r.partition == 0 || r.offset >= 4), "{got:?}");
}

async fn a_partition_reader_keeps_its_place_and_waits_for_appends(log: &dyn EventLog) {
    let topic = fresh("reader");
    log.create_topic(&topic, 1).await.unwrap();
    log.append(&topic, (0..30).map(rec).collect()).await.unwrap();
    let mut reader = log.partition_reader(&topic, 0, 10).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..100 {
        got.extend(reader.read(7, Duration::from_millis(200)).await.unwrap());
        if got.len() >= 20 {
            break;
        }
    }
    let offsets: Vec<u64> = got.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (10..30).collect::<Vec<_>>(), "from the start offset, dense, in order");
    assert_eq!(reader.position(), 30);
    // Nothing more: an empty read after the wait; then an append wakes a waiting read.
    assert!(reader.read(10, Duration::from_millis(100)).await.unwrap().is_empty());
    let wait = reader.read(10, Duration::from_secs(10));
    let append = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        log.append(&topic, vec![rec(30)]).await.unwrap();
    };
    let (got, ()) = tokio::join!(wait, append);
    let got = got.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].offset, &got[0].record.value[..]), (30, &b"record-30"[..]));
    assert!(log.partition_reader(&topic, 5, 0).await.is_err(), "no such partition");
}
