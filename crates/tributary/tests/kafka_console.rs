//! The console tools on Kafka (`--set log=kafka://…`, `TRIBUTARY_TEST_KAFKA`): `log create-topic`,
//! `log produce` with keys, `log tail` through a consumer group that resumes, and `log topics`.

mod common;

use common::{run_with_input, stderr, tributary};

#[test]
fn produce_tail_and_topics_work_on_a_kafka_cluster() {
    let Some(url) = tributary_test_data::service("TRIBUTARY_TEST_KAFKA") else { return };
    let dir = tempfile::tempdir().unwrap();
    let topic = format!("console-{}-{:08x}", std::process::id(), rand::random::<u32>());
    let kafka = |args: &[&str]| {
        let mut cmd = tributary(dir.path());
        cmd.args(["--set", &format!("log={url}")]).args(args);
        cmd
    };
    let out = kafka(&["log", "create-topic", &topic, "--partitions", "3"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let input: String = (0..300).map(|i| format!("device-{}|event {i} ✓\n", i % 17)).collect();
    let out = run_with_input(kafka(&["log", "produce", &topic, "--key-separator", "|"]), input.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("produced 300 records to {topic}")), "{}", stderr(&out));

    // A group reads half, commits, and the next run continues where it stopped.
    let group = format!("g-{topic}");
    let first = kafka(&["log", "tail", &topic, "--from-beginning", "--group", &group, "--max", "150"])
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let second =
        kafka(&["log", "tail", &topic, "--from-beginning", "--group", &group, "--timeout-ms", "5000"])
            .output()
            .unwrap();
    assert!(second.status.success(), "{}", stderr(&second));
    let mut seen: Vec<String> = String::from_utf8(first.stdout).unwrap().lines().map(String::from).collect();
    let rest: Vec<String> = String::from_utf8(second.stdout).unwrap().lines().map(String::from).collect();
    assert_eq!(seen.len(), 150);
    assert_eq!(rest.len(), 150, "the second run reads what the first did not commit");
    seen.extend(rest);
    seen.sort();
    let mut expected: Vec<String> = (0..300).map(|i| format!("event {i} ✓")).collect();
    expected.sort();
    assert_eq!(seen, expected, "every record exactly once");

    let out = kafka(&["log", "topics"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(listing.contains(&topic), "{listing}");

    let bad = tributary(dir.path()).args(["--set", "log=kafka://", "log", "topics"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("not a Kafka URL"), "{}", stderr(&bad));
}
