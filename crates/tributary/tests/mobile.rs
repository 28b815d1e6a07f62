//! The mobile pipeline end to end, run as a user would: `tributary generate` into the inbox,
//! `tributary up` until drained, results read from the serving store.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tributary_store::prelude::*;

use tributary_processors::kmeans::haversine_km;
use tributary_store::SqlStore;

const EVENTS: u64 = 200_000;

fn generate(data: &Path, seed: u64, format: &str, count: u64, truth: &Path) {
    std::fs::create_dir_all(data).unwrap();
    let out = common::tributary(data)
        .args(["generate", "--seed", &seed.to_string(), "--count", &count.to_string(), "--format", format])
        .arg("--out")
        .arg(format!("dir:{}", data.join("inbox").display()))
        .arg("--truth")
        .arg(truth)
        .args(["--file-records", "20000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
}

fn up(data: &Path) -> Child {
    common::tributary(data)
        .args(["--set", "mobile.generator_rate=0", "up"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(data.join("up.log")).unwrap())
        .spawn()
        .unwrap()
}

/// Waits until the model has seen `expected` points (or fails after a timeout).
fn wait_for_points(data: &Path, expected: u64, child: &mut Child) -> u64 {
    let rt = common::runtime();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(data.join("up.log")).unwrap_or_default();
            panic!("up exited early ({status}):\n{log}");
        }
        let points = rt.block_on(async {
            match SqlStore::open_sqlite(&data.join("store.sqlite")).await {
                Ok(s) => {
                    let n = s.kmeans_points("mobile").await.unwrap_or(0);
                    s.close().await;
                    n
                }
                Err(_) => 0,
            }
        });
        if points >= expected || Instant::now() > deadline {
            return points;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn latest_centres(data: &Path) -> Vec<[f64; 2]> {
    common::runtime().block_on(async {
        let s = SqlStore::open_sqlite(&data.join("store.sqlite")).await.unwrap();
        let v = s.latest_kmeans("mobile").await.unwrap().expect("a model version");
        s.close().await;
        v.centres.iter().map(|c| [c.lat, c.lon]).collect()
    })
}

fn assert_hotspots_found(truth: &Path, centres: &[[f64; 2]]) {
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(truth).unwrap()).unwrap();
    for h in truth["hotspots"].as_array().unwrap() {
        let spot = [h["lat"].as_f64().unwrap(), h["lon"].as_f64().unwrap()];
        let nearest = centres.iter().map(|c| haversine_km(spot, *c)).fold(f64::INFINITY, f64::min);
        assert!(nearest < 5.0, "{} has no centre within 5 km (nearest {nearest:.2} km)", h["name"]);
    }
}

fn events_in_log(data: &Path) -> u64 {
    let out = common::tributary(data).args(["log", "topics", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["topics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "mobile_data")
        .flat_map(|t| t["partitions"].as_array().unwrap().clone())
        .map(|p| p["offsets"]["end"].as_u64().unwrap() - p["offsets"]["start"].as_u64().unwrap())
        .sum()
}

#[test]
fn two_hundred_thousand_events_are_each_counted_once_and_every_hotspot_is_found() {
    for format in ["csv", "ndjson"] {
        let dir = tempfile::tempdir().unwrap();
        let truth = dir.path().join("truth.json");
        generate(dir.path(), 11, format, EVENTS, &truth);
        let mut child = up(dir.path());
        let points = wait_for_points(dir.path(), EVENTS, &mut child);
        common::stop(child);
        assert_eq!(points, EVENTS, "{format}: per-cluster counts over all versions");
        assert_hotspots_found(&truth, &latest_centres(dir.path()));
        assert_eq!(events_in_log(dir.path()), EVENTS, "{format}: each event once in the log");
        let left: Vec<_> =
            std::fs::read_dir(dir.path().join("inbox")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("failed")], "processed files are deleted");
    }
}

#[test]
fn the_same_seed_gives_the_same_events_and_the_same_centres() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<Vec<u8>> = (0..2)
        .map(|i| {
            let data = dir.path().join(format!("run{i}"));
            generate(&data, 5, "csv", 50_000, &data.join("truth.json"));
            let mut files: Vec<_> =
                std::fs::read_dir(data.join("inbox")).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            let out = common::tributary(&data)
                .arg("kmeans")
                .args(&files)
                .args(["--batch-size", "2000"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", common::stderr(&out));
            out.stdout
        })
        .collect();
    assert!(!runs[0].is_empty());
    assert!(runs[0] == runs[1], "kmeans over the same seed's files prints the same versions, bit for bit");
}

#[test]
fn kill_9_in_the_middle_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.json");
    generate(dir.path(), 21, "csv", EVENTS, &truth);
    let mut child = up(dir.path());
    // Kill once some, but not all, of the events have been counted: the first model version
    // (k-means++ needs 1 000 points) arrives while most files are still waiting in the inbox.
    let partial = wait_for_points(dir.path(), 1, &mut child);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(partial < EVENTS, "the kill must land mid-run (counted {partial})");
    let files_left = std::fs::read_dir(dir.path().join("inbox"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("mobile-"))
        .count();
    assert!(files_left > 0, "the kill must land while the directory source is still publishing");
    let mut child = up(dir.path());
    let points = wait_for_points(dir.path(), EVENTS, &mut child);
    // Give a double count the chance to show itself before stopping.
    std::thread::sleep(Duration::from_millis(500));
    common::stop(child);
    let points_after = wait_points_now(dir.path());
    assert_eq!(points, EVENTS);
    assert_eq!(points_after, EVENTS, "nothing counted twice after the restart");
    assert_eq!(events_in_log(dir.path()), EVENTS, "each event once in the log");
    assert_hotspots_found(&truth, &latest_centres(dir.path()));
}

/// On event time, with four partitions: the generator's files replayed into `up`, a kill -9 once
/// the first versions are in, a restart. Every event is counted once (or, had it come later than
/// the lateness allows, is a dead letter), and the versions are dated by the windows of the
/// events' own clock, in order.
#[test]
fn on_event_time_a_kill_9_loses_and_doubles_nothing_and_versions_carry_the_events_dates() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.json");
    generate(dir.path(), 31, "ndjson", EVENTS, &truth);
    let generated_from = tributary_log::now_ms() - 600_000; // the generator starts its clock now
    // One file at a time: the generator's files hold consecutive stretches of its clock, and
    // two read at once (the default) interleave them by up to a file's span (20 s here), which
    // on a loaded machine is more than the lateness allows (CI saw 250 late events).
    let up = |data: &Path| {
        common::tributary(data)
            .args(["--set", "mobile.generator_rate=0", "--set", "topics.default_partitions=4"])
            .args(["--set", "mobile.parallel_files=1"])
            .args(["--set", "mobile.time=\"event\"", "--set", "mobile.allowed_lateness=\"30s\""])
            .args(["--set", "mobile.drop_duplicates=true", "up"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(data.join("up.log")).unwrap())
            .spawn()
            .unwrap()
    };
    let mut child = up(dir.path());
    let partial = wait_for_points(dir.path(), 1, &mut child);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(partial < EVENTS, "the kill must land mid-run (counted {partial})");
    let mut child = up(dir.path());
    let points = wait_for_points(dir.path(), EVENTS, &mut child);
    std::thread::sleep(Duration::from_millis(500));
    common::stop(child);
    let (versions, late) = common::runtime().block_on(async {
        let s = SqlStore::open_sqlite(&dir.path().join("store.sqlite")).await.unwrap();
        let v = s.kmeans_history("mobile", 0, u64::MAX, 10_000).await.unwrap();
        let late = s.dead_letter_count().await.unwrap();
        s.close().await;
        (v, late)
    });
    assert_eq!(points, EVENTS, "{late} dead letters");
    assert_eq!(wait_points_now(dir.path()), EVENTS, "nothing counted twice after the restart");
    assert_eq!(events_in_log(dir.path()), EVENTS, "each event once in the log");
    assert_eq!(late, 0, "no event came later than 30 s of event time");
    let ends: Vec<i64> = versions.iter().map(|v| v.event_time_ms.expect("an event-time version")).collect();
    assert!(ends.windows(2).all(|w| w[0] < w[1]), "versions in window order: {ends:?}");
    assert!(ends.iter().all(|e| e % 5000 == 0 && *e > generated_from), "{ends:?}");
    // 200,000 events a millisecond apart: 200 s of event time, 40 or 41 windows of 5 s (the
    // first version holds the windows k-means++ waited for).
    assert!(versions.len() >= 30 && versions.len() <= 41, "{} versions", versions.len());
    assert_hotspots_found(&truth, &latest_centres(dir.path()));
}

fn wait_points_now(data: &Path) -> u64 {
    common::runtime().block_on(async {
        let s = SqlStore::open_sqlite(&data.join("store.sqlite")).await.unwrap();
        let n = s.kmeans_points("mobile").await.unwrap();
        s.close().await;
        n
    })
}

#[test]
fn hostile_files_become_dead_letters_and_the_good_lines_go_through() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let put = |name: &str, bytes: &[u8]| {
        let tmp = inbox.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, inbox.join(name)).unwrap();
    };
    // 1 000 good lines for initialisation, mixed with every kind of bad line.
    let mut mixed = b"timepoint,deviceId,acceloX,acceloY,acceloZ,latitude,longitude,locked\r\n".to_vec();
    for i in 0..1000 {
        mixed.extend(
            format!(
                "2020-06-01 12:00:00.000,dev-{i},0,0,9.8,{},{},false\r\n",
                52.5 + (i % 10) as f64 * 0.001,
                13.4
            )
            .as_bytes(),
        );
    }
    mixed.extend(b"2020-06-01 12:00:00.000,\"broken,0,0,9.8,52.5,13.4,false\r\n");
    mixed.extend(b"2020-06-01 12:00:00.000,dev,zero,0,9.8,52.5,13.4,false\r\n");
    mixed.extend(b"2020-06-01 12:00:00.000,dev,0,0,9.8,152.5,13.4,false\r\n");
    mixed.extend(b"2020-06-01 12:00:00.000,dev,0,0,9.8,52.5,213.4,false\r\n");
    mixed.extend(b"\xff\xfe\x00\x01,\x02\r\n");
    put("mixed.csv", &mixed);
    put("empty.csv", b"");
    let garbage: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    put("garbage.bin", &garbage);
    let mut huge = b"{\"timepoint\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 100 << 20));
    huge.extend(b"\"}\n");
    put("huge.ndjson", &huge);
    drop(huge);

    let mut child = up(dir.path());
    let points = wait_for_points(dir.path(), 1000, &mut child);
    // Let the dead-letter sink catch up, then check memory stayed far below the 100 MB line.
    std::thread::sleep(Duration::from_secs(2));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    common::stop(child);
    assert_eq!(points, 1000, "exactly the good lines are counted");
    assert!(peak_kb < 150 * 1024, "peak memory {peak_kb} kB: a 100 MB line must not be held in memory");
    let letters = common::runtime().block_on(async {
        let s = SqlStore::open_sqlite(&dir.path().join("store.sqlite")).await.unwrap();
        let d = s.dead_letters(None, 100, None).await.unwrap();
        s.close().await;
        d
    });
    let reasons: Vec<String> = letters
        .iter()
        .map(|d| format!("{} {}: {}", d.letter.source, d.letter.position, d.letter.reason))
        .collect();
    let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
    assert!(has("dir:mixed.csv line 1002"), "{reasons:#?}");
    assert!(has("acceloX 'zero' is not a number"), "{reasons:#?}");
    assert!(has("latitude 152.5 is outside"), "{reasons:#?}");
    assert!(has("longitude 213.4 is outside"), "{reasons:#?}");
    assert!(has("dir:garbage.bin file"), "{reasons:#?}");
    assert!(has("dir:huge.ndjson line 1") && has("longer than the limit"), "{reasons:#?}");
    assert_eq!(letters.iter().filter(|d| d.letter.source == "dir:mixed.csv").count(), 5, "{reasons:#?}");
    let huge_letter = letters.iter().find(|d| d.letter.source == "dir:huge.ndjson").unwrap();
    assert!(huge_letter.letter.raw.len() <= 1024 && huge_letter.letter.raw_len > 100 << 20);
    assert!(inbox.join("failed/garbage.bin").exists(), "an unreadable file is moved aside");
    assert!(!inbox.join("empty.csv").exists() && !inbox.join("mixed.csv").exists());
}

/// `up` restarted with another k: a new model starts on the next events, its versions follow
/// the old ones, the old ones stay readable; every version has its quality.
#[test]
fn a_restart_with_another_k_starts_a_new_model_and_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.json");
    generate(dir.path(), 5, "csv", 20_000, &truth);
    let mut child = up(dir.path());
    assert_eq!(wait_for_points(dir.path(), 20_000, &mut child), 20_000);
    common::stop(child);
    let history = |data: &Path| {
        common::runtime().block_on(async {
            let s = SqlStore::open_sqlite(&data.join("store.sqlite")).await.unwrap();
            let h = s.kmeans_history("mobile", 1, u64::MAX, 10_000).await.unwrap();
            s.close().await;
            h
        })
    };
    let before = history(dir.path());
    let last_of_k8 = before.last().unwrap().version;
    assert!(before.iter().all(|v| v.centres.len() == 8));
    for v in &before {
        let ss = v.sum_of_squares.unwrap();
        assert!(ss > 0.0, "version {}: {ss} km²", v.version);
        // A silhouette needs the sample in two clusters at least (a batch of a few events may not be).
        assert!(
            v.silhouette.is_none_or(|s| (-1.0..=1.0).contains(&s)),
            "version {}: {:?}",
            v.version,
            v.silhouette
        );
    }
    let with_silhouette = before.iter().filter(|v| v.silhouette.is_some()).count();
    assert!(with_silhouette * 2 >= before.len(), "{with_silhouette} of {} versions", before.len());

    generate(dir.path(), 6, "csv", 20_000, &dir.path().join("truth2.json"));
    let mut child = common::tributary(dir.path())
        .args(["--set", "mobile.generator_rate=0", "--set", "mobile.k=5", "up"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("up.log")).unwrap())
        .spawn()
        .unwrap();
    assert_eq!(wait_for_points(dir.path(), 40_000, &mut child), 40_000, "every event counted once");
    common::stop(child);
    let after = history(dir.path());
    let (old, new): (Vec<_>, Vec<_>) = after.iter().partition(|v| v.version <= last_of_k8);
    assert_eq!(old.len(), before.len(), "the old model's versions stay readable");
    assert!(!new.is_empty() && new.iter().all(|v| v.centres.len() == 5), "the new model has k = 5");
    assert_eq!(new[0].version, last_of_k8 + 1, "its versions follow the old ones");
    let log = std::fs::read_to_string(dir.path().join("up.log")).unwrap();
    assert!(log.contains("k changed: a new model starts"), "{log}");
}

/// `kmeans --suggest-k`: a table of every k with its sum of squares and silhouette, the
/// suggestion marked and explained; deterministic for a seed; a bad range is refused by name.
#[test]
fn suggest_k_prints_every_candidate_and_the_highest_silhouette() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 9, "csv", 30_000, &dir.path().join("truth.json"));
    let files: Vec<_> =
        std::fs::read_dir(dir.path().join("inbox")).unwrap().map(|e| e.unwrap().path()).collect();
    let run = || {
        let out = common::tributary(dir.path())
            .arg("kmeans")
            .args(&files)
            .args(["--suggest-k", "2..9", "--sample", "5000"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let table = run();
    assert_eq!(table, run(), "the same seed, the same table");
    let rows: Vec<(usize, f64, f64)> = table
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("suggested"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), (2..=9).collect::<Vec<_>>(), "{table}");
    // The smallest k within 0.01 of the highest silhouette (checked on the printed values, which
    // are rounded to 4 decimals).
    let last = table.lines().last().unwrap();
    assert!(last.contains(": the smallest k whose silhouette is within 0.01 of the highest"), "{table}");
    let suggested: usize =
        last.trim_start_matches("suggested k = ").split(':').next().unwrap().parse().unwrap();
    let highest = rows.iter().map(|r| r.2).fold(f64::NEG_INFINITY, f64::max);
    for (k, _, silhouette) in &rows {
        if *k == suggested {
            assert!(*silhouette >= highest - 0.01 - 1e-4, "{table}");
        } else if *k < suggested {
            assert!(*silhouette < highest - 0.01 + 1e-4, "{table}");
        }
    }
    assert!(
        table
            .lines()
            .any(|l| l.trim_start().starts_with(&suggested.to_string()) && l.ends_with("← suggested"))
    );
    let bad = common::tributary(dir.path())
        .arg("kmeans")
        .args(&files)
        .args(["--suggest-k", "1..4"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(common::stderr(&bad).contains("--suggest-k"), "{}", common::stderr(&bad));
}

/// GPS files of every layout dropped into the inbox of a running `up`: each read through its
/// mapping, exact counts in the log and the dead letters; a file without a header is refused
/// whole (it needs `[mobile.input] columns`), and with the setting it goes through.
#[test]
fn gps_files_of_every_layout_go_through_the_inbox() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/fixtures/mobile");
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let put = |from: &str, name: &str| {
        let tmp = inbox.join(format!(".{name}.tmp"));
        std::fs::copy(fixtures.join(from), &tmp).unwrap();
        std::fs::rename(&tmp, inbox.join(name)).unwrap();
    };
    put("lat_lng_datetime_uid.csv", "a.csv"); // 4 events, 1 dead letter
    put("timestamp_device_latitude_longitude.csv", "b.csv"); // 3 events, 1 dead letter
    put("phone_export_semicolon_lon_first.csv", "c.csv"); // 3 events
    put("geolife/Data/000/Trajectory/20081023025304.plt", "d.plt"); // 3 events
    put("reference_generator.csv", "e.csv"); // 2 events
    put("taxi_no_header.txt", "f.txt"); // refused whole: no header
    let drained = |inbox: &Path| {
        std::fs::read_dir(inbox)
            .unwrap()
            .filter_map(Result::ok)
            .all(|e| e.path().is_dir() || e.file_name().to_string_lossy().starts_with('.'))
    };
    let wait = |child: &mut Child| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !drained(&inbox) {
            assert!(child.try_wait().unwrap().is_none(), "up exited");
            assert!(Instant::now() < deadline, "the inbox was not drained");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(2)); // the dead-letter sink stores its last batch
    };
    let mut child = up(dir.path());
    wait(&mut child);
    common::stop(child);
    assert_eq!(events_in_log(dir.path()), 15);
    assert!(inbox.join("failed/f.txt").exists(), "the header-less file is moved aside");
    let reasons = || -> Vec<String> {
        common::runtime().block_on(async {
            let s = SqlStore::open_sqlite(&dir.path().join("store.sqlite")).await.unwrap();
            let d = s.dead_letters(None, 100, None).await.unwrap();
            s.close().await;
            d.iter()
                .map(|d| format!("{} {}: {}", d.letter.source, d.letter.position, d.letter.reason))
                .collect()
        })
    };
    let first = reasons();
    assert_eq!(first.len(), 3, "{first:#?}");
    assert!(first.iter().any(|r| r.starts_with("dir:a.csv line 5: latitude 'not-a-lat'")), "{first:#?}");
    assert!(first.iter().any(|r| r.starts_with("dir:b.csv line 5: time 'yesterday'")), "{first:#?}");
    assert!(first.iter().any(|r| r.starts_with("dir:f.txt") && r.contains("--columns")), "{first:#?}");

    // The same file with its columns named: 4 events and 1 dead letter (a short line).
    put("taxi_no_header.txt", "g.txt");
    let mut child = common::tributary(dir.path())
        .args([
            "--set",
            "mobile.generator_rate=0",
            "--set",
            "mobile.input.columns=[\"id\",\"time\",\"lon\",\"lat\"]",
            "up",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("up2.log")).unwrap())
        .spawn()
        .unwrap();
    wait(&mut child);
    common::stop(child);
    assert_eq!(events_in_log(dir.path()), 19);
    let second = reasons();
    assert!(second.iter().any(|r| r.starts_with("dir:g.txt line 5: 3 columns")), "{second:#?}");
}
