//! The chaos suite: `tributary up` killed with SIGKILL at random moments while files of events
//! (with bad lines of every class) land in its inbox, at 1, 4 and 16 partitions; then one clean
//! run, and an exact account:
//!
//! * every good event is in the log exactly once (by its unique device id);
//! * every event is in exactly one model version (the versions' offset ranges tile each partition
//!   from its start to its end, without gap or overlap), and the model counted each once;
//! * every bad line is exactly one dead letter, in the log and in the store.
//!
//! Beside it: `tributary import` killed while it writes the lake (then run to the end: the lake,
//! the dead letters and the views equal one clean import's); the Kafka roles killed at random;
//! a full disk.
//!
//! `scripts/chaos` runs it with many rounds (`CHAOS_ROUNDS`, default here 3, the quick version
//! that `scripts/test` runs); `CHAOS_SEED` repeats a run; `CHAOS_PARTITIONS` picks the counts.
//! Each scenario prints one summary line.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tributary_store::prelude::*;

use rand::{Rng, SeedableRng, rngs::StdRng};
use tributary_schema::DeadLetter;
use tributary_store::SqlStore;

/// What was dropped into the inbox: the good events' device ids and the bad lines' positions.
#[derive(Default)]
struct Expected {
    /// Names of the files dropped.
    files: Vec<String>,
    devices: Vec<String>,
    /// (source, position) of each bad line, as its dead letter names it.
    bad: Vec<(String, String)>,
}

/// One bad line of each class the readers reject, in turn.
fn bad_line(class: usize, device: &str, ndjson: bool) -> Vec<u8> {
    if ndjson {
        return match class % 4 {
            0 => b"{\"timepoint\":\"2020-06-01T12:00:00.000\",\"deviceId\":".to_vec(), // cut off
            1 => format!("{{\"timepoint\":\"2020-06-01T12:00:00.000\",\"deviceId\":\"{device}\",\"acceloX\":0,\"acceloY\":0,\"acceloZ\":9.8,\"latitude\":95.0,\"longitude\":13.4,\"locked\":false}}").into_bytes(),
            2 => b"[1,2,3]".to_vec(),
            _ => b"\xff\xfe\x00{\"a\"\x01".to_vec(),
        };
    }
    match class % 5 {
        0 => format!("2020-06-01 12:00:00.000,{device},zero,0,9.8,52.5,13.4,false").into_bytes(),
        1 => format!("2020-06-01 12:00:00.000,{device},0,0,9.8,152.5,13.4,false").into_bytes(),
        2 => format!("2020-06-01 12:00:00.000,\"{device},0,0,9.8,52.5,13.4,false").into_bytes(),
        3 => b"\xff\xfe\x00\x01,\x02".to_vec(),
        _ => format!("2020-06-01 12:00:00.000,{device},0,0,9.8").into_bytes(), // too few fields
    }
}

/// Drops one file of `events` lines (about 1 in 97 bad) into the inbox, written to a temporary
/// name and renamed, as a producer should.
fn drop_file(inbox: &Path, name: &str, events: usize, rng: &mut StdRng, expected: &mut Expected) {
    let ndjson = name.ends_with(".ndjson");
    let mut text = Vec::new();
    let mut line_no = 0u64;
    if !ndjson {
        text.extend(b"timepoint,deviceId,acceloX,acceloY,acceloZ,latitude,longitude,locked\r\n");
        line_no += 1;
    }
    let stem = name.split('.').next().unwrap();
    for i in 0..events {
        line_no += 1;
        let device = format!("{stem}-{i}");
        if rng.random_range(0..97) == 0 {
            text.extend(bad_line(i, &device, ndjson));
            expected.bad.push((format!("dir:{name}"), format!("line {line_no}")));
        } else {
            // Around five spots, so the clusters mean something.
            let spot = rng.random_range(0..5) as f64;
            let lat = 48.0 + spot * 0.7 + rng.random_range(-0.05..0.05);
            let lon = 9.0 + spot * 1.1 + rng.random_range(-0.05..0.05);
            if ndjson {
                text.extend(format!("{{\"timepoint\":\"2020-06-01T12:00:00.000\",\"deviceId\":\"{device}\",\"acceloX\":0.1,\"acceloY\":0.2,\"acceloZ\":9.8,\"latitude\":{lat},\"longitude\":{lon},\"locked\":false}}").as_bytes());
            } else {
                text.extend(
                    format!("2020-06-01 12:00:00.000,{device},0.1,0.2,9.8,{lat},{lon},false").as_bytes(),
                );
            }
            expected.devices.push(device);
        }
        text.extend(if ndjson { &b"\n"[..] } else { &b"\r\n"[..] });
    }
    let tmp = inbox.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, inbox.join(name)).unwrap();
    expected.files.push(name.to_string());
}

/// `up` with more settings, its stderr appended to `log`.
fn up_with(data: &Path, partitions: u32, settings: &[String], log: &Path) -> Child {
    let mut cmd = common::tributary(data);
    cmd.args(["--set", &format!("topics.default_partitions={partitions}")])
        .args(["--set", "mobile.generator_rate=0"]);
    for s in settings {
        cmd.args(["--set", s]);
    }
    cmd.arg("up")
        .stdout(Stdio::null())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap())
        .spawn()
        .unwrap()
}

/// A tmpfs of `size` mounted on `dir` for the life of the value (tests run as root in CI).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(dir.to_path_buf()))
    }

    /// Fills what is left with a ballast file; returns its path.
    fn fill(&self) -> PathBuf {
        let ballast = self.0.join("ballast");
        let mut f = std::fs::File::create(&ballast).unwrap();
        let chunk = vec![0u8; 64 << 10];
        use std::io::Write;
        while f.write_all(&chunk).is_ok() {}
        let one = [0u8; 1];
        while f.write_all(&one).is_ok() {}
        ballast
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn files_in(inbox: &Path) -> usize {
    std::fs::read_dir(inbox).map(|d| d.flatten().filter(|e| e.path().is_file()).count()).unwrap_or(0)
}

/// Points counted by the model and dead letters stored (0 while the store does not exist yet).
fn counted(store: &Path) -> (u64, u64) {
    try_counted(store).unwrap_or((0, 0))
}

fn try_counted(store: &Path) -> Result<(u64, u64), String> {
    common::runtime().block_on(async {
        let s = SqlStore::open_sqlite(store).await.map_err(|e| e.to_string())?;
        let n = (s.kmeans_points("mobile").await, s.dead_letter_count().await);
        s.close().await;
        Ok((n.0.map_err(|e| e.to_string())?, n.1.map_err(|e| e.to_string())?))
    })
}

/// How the audit reaches a deployment: `tributary` with its data directory and settings.
struct Deployment<'a> {
    data: &'a Path,
    store: PathBuf,
    settings: Vec<String>,
    topic: String,
    model: String,
}

impl Deployment<'_> {
    fn embedded(data: &Path) -> Deployment<'_> {
        Deployment {
            data,
            store: data.join("store.sqlite"),
            settings: Vec::new(),
            topic: "mobile_data".into(),
            model: "mobile".into(),
        }
    }

    fn run(&self, args: &[&str]) -> String {
        let mut cmd = common::tributary(self.data);
        for s in &self.settings {
            cmd.args(["--set", s]);
        }
        let out = cmd.args(args).output().unwrap();
        assert!(out.status.success(), "tributary {args:?}: {}", common::stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Every record of a topic as `log tail --json` prints it.
    fn records(&self, topic: &str) -> Vec<serde_json::Value> {
        let ends = self.ends(topic);
        let total: u64 = ends.iter().map(|(start, end)| end - start).sum();
        if total == 0 {
            return Vec::new();
        }
        let out = self.run(&[
            "log",
            "tail",
            topic,
            "--from-beginning",
            "--json",
            "--max",
            &total.to_string(),
            "--timeout-ms",
            "5000",
        ]);
        out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// (start, end) of each partition of a topic.
    fn ends(&self, topic: &str) -> Vec<(u64, u64)> {
        let topics: serde_json::Value =
            serde_json::from_str(&self.run(&["log", "topics", "--json"])).unwrap();
        topics["topics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["name"] == topic)
            .flat_map(|t| t["partitions"].as_array().unwrap().clone())
            .map(|p| (p["offsets"]["start"].as_u64().unwrap(), p["offsets"]["end"].as_u64().unwrap()))
            .collect()
    }
}

/// Names that occur more than once (up to five), and the sorted names.
fn repeats(mut names: Vec<String>) -> (Vec<String>, Vec<String>) {
    names.sort();
    let twice: Vec<String> =
        names.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0].clone()).take(5).collect();
    (twice, names)
}

/// Checks the account after the final clean run; returns what differs (empty when exact).
/// Dead letters are those of `expected`'s files (a shared cluster holds others' too).
fn audit(d: &Deployment, expected: &Expected) -> Vec<String> {
    let mut problems = Vec::new();
    let ours = |source: &str| {
        expected.bad.iter().any(|(s, _)| s == source)
            || expected.files.iter().any(|f| source == format!("dir:{f}"))
    };
    let devices = d.records(&d.topic).iter().map(|r| r["key"].as_str().unwrap_or("").to_string()).collect();
    let (twice, devices) = repeats(devices);
    if !twice.is_empty() {
        problems.push(format!("events in the log twice, e.g. {twice:?}"));
    }
    let mut want = expected.devices.clone();
    want.sort();
    if devices != want {
        let missing = want.iter().filter(|d| devices.binary_search(d).is_err()).take(5).collect::<Vec<_>>();
        problems.push(format!(
            "log holds {} events for {} good lines; missing e.g. {missing:?}",
            devices.len(),
            want.len()
        ));
    }
    let letters = d.records("dead_letters");
    let letters = letters
        .iter()
        .filter_map(|r| r["value"].as_str())
        .filter_map(|v| DeadLetter::from_json(v.as_bytes()).ok());
    let (twice, letters) = repeats(
        letters.filter(|l| ours(&l.source)).map(|l| format!("{} {}", l.source, l.position)).collect(),
    );
    // Every bad line's letter, as "<source> <position>", sorted: what the log and the store hold.
    let mut want_letters: Vec<String> = expected.bad.iter().map(|(s, p)| format!("{s} {p}")).collect();
    want_letters.sort();
    if !twice.is_empty() || letters != want_letters {
        problems.push(format!(
            "log: {} dead letters for {} bad lines (twice: {twice:?})",
            letters.len(),
            want_letters.len()
        ));
    }

    common::runtime().block_on(async {
        // Every event in exactly one model version: the versions' ranges tile each partition.
        let store = SqlStore::open_sqlite(&d.store).await.unwrap();
        let mut ranges: BTreeMap<u32, Vec<(u64, u64)>> = BTreeMap::new();
        let mut from = 1;
        loop {
            let page = store.kmeans_history(&d.model, from, u64::MAX, 500).await.unwrap();
            let Some(last) = page.last() else { break };
            from = last.version + 1;
            for v in &page {
                for r in v.offsets.iter().filter(|r| r.topic == d.topic) {
                    ranges.entry(r.partition).or_default().push((r.from, r.to));
                }
            }
        }
        for (p, (_, end)) in d.ends(&d.topic).into_iter().enumerate() {
            let mut covered = ranges.remove(&(p as u32)).unwrap_or_default();
            covered.sort();
            let mut at = 0;
            for (a, b) in covered {
                if a != at {
                    problems.push(format!(
                        "{}/{p}: versions cover {a}..{b} after {at} (gap or overlap)",
                        d.topic
                    ));
                }
                at = b;
            }
            if at != end {
                problems.push(format!("{}/{p}: versions cover up to {at} of {end}", d.topic));
            }
        }
        let points = store.kmeans_points(&d.model).await.unwrap();
        if points != expected.devices.len() as u64 {
            problems.push(format!("the model counted {points} points for {} events", expected.devices.len()));
        }
        let stored = store.dead_letters(None, 1_000_000, None).await.unwrap();
        let (twice, stored) = repeats(
            stored
                .iter()
                .filter(|l| ours(&l.letter.source))
                .map(|l| format!("{} {}", l.letter.source, l.letter.position))
                .collect(),
        );
        if !twice.is_empty() || stored != want_letters {
            problems.push(format!(
                "store: {} dead letters for {} bad lines (twice: {twice:?})",
                stored.len(),
                want_letters.len()
            ));
        }
        store.close().await;
    });
    problems
}

/// The Markets × COVID pulls of the real ECDC and DAX files, as a setting (`None`, after saying
/// so, where the test data is absent).
fn markets_sources() -> Option<String> {
    let (ecdc, dax) = common::ecdc_and_dax()?;
    Some(format!(
        "markets.sources=[{{url = \"file://{}\", dataset = \"covid_daily\"}}, {{url = \"file://{}\", dataset = \"prices\", symbol = \"^GDAXI\"}}]",
        ecdc.display(),
        dax.display()
    ))
}

/// The current views once all seven are published from every dataset (no view reads an
/// empty one any more), or `None` after `within`.
fn views_published(store: &Path, within: Duration) -> Option<Vec<tributary_store::ViewVersionRow>> {
    let deadline = Instant::now() + within;
    loop {
        let views = common::runtime().block_on(async {
            let store = SqlStore::open_sqlite(store).await.ok()?;
            let views = store.current_views().await.ok();
            store.close().await;
            views
        });
        let settled = |v: &Vec<tributary_store::ViewVersionRow>| {
            v.len() == 7 && v.iter().all(|v| v.dataset_versions.values().all(|version| *version > 0))
        };
        if let Some(views) = views.filter(settled) {
            return Some(views);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// What is wrong with the published views after kills: each must come from the lake's first
/// versions (a file imported twice would make a second) and hold every row.
fn view_problems(views: &[tributary_store::ViewVersionRow]) -> Vec<String> {
    let mut problems = Vec::new();
    for v in views {
        if v.dataset_versions.values().any(|version| *version != 1) {
            problems.push(format!(
                "view {} read dataset versions {:?}: a file was imported twice",
                v.view, v.dataset_versions
            ));
        }
    }
    match views.iter().find(|v| v.view == "reference_covid") {
        Some(r) if r.rows == 61_900 => {}
        Some(r) => problems.push(format!("reference_covid has {} rows, not 61,900", r.rows)),
        None => problems.push("reference_covid was not published".into()),
    }
    problems
}

/// Runs one scenario; returns its summary line and the problems found.
fn up_with_kills(partitions: u32, rounds: u32, rng: &mut StdRng) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let inbox = data.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let mut expected = Expected::default();
    let started = Instant::now();
    let (mut kills, mut mid_file) = (0, 0);
    // The Markets × COVID pulls run too: kills land while the lake is written and views publish.
    let markets: Vec<String> = markets_sources().into_iter().collect();
    let up = |data: &Path, partitions: u32| up_with(data, partitions, &markets, &data.join("up.log"));
    for round in 0..rounds {
        let mut child = up(data, partitions);
        // Sometimes a kill while `up` is still starting (recovery, migrations, resuming a file).
        if rng.random_range(0..5) == 0 {
            std::thread::sleep(Duration::from_millis(rng.random_range(0..400)));
            kill(&mut child);
            kills += 1;
            child = up(data, partitions);
        }
        for f in 0..rng.random_range(1..=3) {
            let ext = if rng.random_bool(0.3) { "ndjson" } else { "csv" };
            let events = rng.random_range(500..12_000);
            drop_file(&inbox, &format!("r{round}f{f}.{ext}"), events, rng, &mut expected);
        }
        // Mostly within a second of the files' arrival: while they are published and the first
        // micro-batches over them commit; sometimes later, when the work is done.
        let wait = match rng.random_range(0..10) {
            0..=3 => rng.random_range(0..150),
            4..=7 => rng.random_range(150..1200),
            _ => rng.random_range(1200..3000),
        };
        std::thread::sleep(Duration::from_millis(wait));
        kill(&mut child);
        kills += 1;
        mid_file += (files_in(&inbox) > 0) as u32;
    }
    // The clean run: everything arrives, then a SIGTERM.
    let mut child = up(data, partitions);
    let want = (expected.devices.len() as u64, expected.bad.len() as u64);
    let mut problems = Vec::new();
    if let Some(problem) =
        wait_until_counted(&data.join("store.sqlite"), &inbox, want, &mut child, Duration::from_secs(180))
    {
        problems.push(format!("after the clean run: {problem}"));
    }
    if !markets.is_empty() {
        match views_published(&data.join("store.sqlite"), Duration::from_secs(300)) {
            Some(views) => problems.extend(view_problems(&views)),
            None => problems
                .push("the seven views were not all published from the data after the clean run".into()),
        }
    }
    // A double count would show itself after a moment.
    std::thread::sleep(Duration::from_millis(300));
    if child.try_wait().unwrap().is_none() {
        common::stop(child);
    }
    problems.extend(audit(&Deployment::embedded(data), &expected));
    let verdict = if problems.is_empty() {
        "exact".to_string()
    } else {
        format!("FAILED ({} problems)", problems.len())
    };
    let summary = format!(
        "chaos up/embedded partitions={partitions}: {rounds} rounds, {kills} kills ({mid_file} with files in flight), \
         {} events, {} bad lines, {:.0} s: {verdict}",
        want.0,
        want.1,
        started.elapsed().as_secs_f64()
    );
    if !problems.is_empty() {
        let log = std::fs::read_to_string(data.join("up.log")).unwrap_or_default();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).take(20).collect();
        problems.push(format!("errors logged by up: {errors:#?}"));
        if std::env::var_os("CHAOS_KEEP").is_some() {
            let kept: PathBuf = dir.keep();
            problems.push(format!("data kept in {}", kept.display()));
        }
    }
    (summary, problems)
}

/// Waits until the model counted `want` = (points, dead letters) with the inbox empty; returns
/// what is wrong if it does not.
fn wait_until_counted(
    store: &Path,
    inbox: &Path,
    want: (u64, u64),
    child: &mut Child,
    within: Duration,
) -> Option<String> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(format!("up exited ({status})"));
        }
        let now = counted(store);
        if files_in(inbox) == 0 && now == want {
            return None;
        }
        if Instant::now() > deadline || now.0 > want.0 || now.1 > want.1 {
            let error =
                try_counted(store).err().map(|e| format!("; reading the store: {e}")).unwrap_or_default();
            return Some(format!(
                "{now:?} (points, dead letters) counted for {want:?}; {} files left{error}",
                files_in(inbox)
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn kill(child: &mut Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The rounds of each scenario (`CHAOS_ROUNDS`, default 3: the quick run) and the seed
/// (`CHAOS_SEED`, printed so that a run can be repeated).
fn rounds_and_seed(what: &str) -> (u32, u64) {
    let rounds = std::env::var("CHAOS_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let seed = std::env::var("CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("chaos {what} seed {seed} (CHAOS_SEED repeats it)");
    (rounds, seed)
}

/// Runs `scenario(partitions, rounds, rng)` for each partition count that `variable` names
/// (default `default`), printing each summary line and its problems; fails if any had one.
fn each_partition_count(
    what: &str,
    variable: &str,
    default: &[u32],
    mut scenario: impl FnMut(u32, u32, &mut StdRng) -> (String, Vec<String>),
) {
    let (rounds, seed) = rounds_and_seed(what);
    let partitions: Vec<u32> = std::env::var(variable)
        .ok()
        .map(|s| s.split([',', ' ']).filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec());
    let mut rng = StdRng::seed_from_u64(seed);
    let mut failures = Vec::new();
    for p in partitions {
        let (summary, problems) = scenario(p, rounds, &mut rng);
        println!("{summary}");
        for problem in &problems {
            println!("    {problem}");
        }
        if !problems.is_empty() {
            failures.push(summary);
        }
    }
    assert!(failures.is_empty(), "seed {seed}: {failures:#?}");
}

#[test]
fn up_killed_at_random_moments_loses_and_doubles_nothing() {
    each_partition_count("up", "CHAOS_PARTITIONS", &[1, 4, 16], up_with_kills);
}

#[test]
fn a_full_disk_holds_the_pipeline_back_and_loses_nothing() {
    disk_full("everything", false);
    disk_full("the store alone", true);
}

/// `up` with its data directory (or only its SQLite store) on a small tmpfs that fills up.
fn disk_full(what: &str, store_only: bool) {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    let Some(disk) = SmallDisk::mount(&small, "48m") else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root and must mount a tmpfs");
        println!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    // The inbox is elsewhere: the files that wait must not be what fills the disk.
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let mut settings = vec![
        format!("mobile.inbox={}", inbox.display()),
        "embedded_log.segment_bytes=1MiB".to_string(),
        "embedded_log.max_record_bytes=512KiB".to_string(),
    ];
    let data = if store_only {
        settings.push(format!("store=sqlite://{}", small.join("store.sqlite").display()));
        dir.path().join("data")
    } else {
        small.clone()
    };
    let store_path = if store_only { small.join("store.sqlite") } else { data.join("store.sqlite") };
    let mut rng = StdRng::seed_from_u64(7);
    let mut expected = Expected::default();
    // The log of `up` is elsewhere too: a process cannot tell of a full disk on that disk.
    let up_log = dir.path().join("up.log");
    let mut child = up_with(&data, 2, &settings, &up_log);
    drop_file(&inbox, "before.csv", 3000, &mut rng, &mut expected);
    let want = (expected.devices.len() as u64, expected.bad.len() as u64);
    assert_eq!(wait_until_counted(&store_path, &inbox, want, &mut child, Duration::from_secs(120)), None);

    // The disk fills up; files keep coming. Nothing is acknowledged that was not written, and
    // `up` stays up.
    let ballast = disk.fill();
    for f in 0..3 {
        drop_file(&inbox, &format!("full{f}.csv"), 20_000, &mut rng, &mut expected);
    }
    std::thread::sleep(Duration::from_secs(3));
    let log_tail = || {
        let log = std::fs::read_to_string(&up_log).unwrap_or_default();
        log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    };
    assert!(child.try_wait().unwrap().is_none(), "up stopped on a full disk:\n{}", log_tail());
    let log = std::fs::read_to_string(&up_log).unwrap_or_default();
    if store_only {
        // The log has room, so the files are in it (acknowledged); the model waits.
        let now = counted(&store_path);
        assert!(now.0 < expected.devices.len() as u64, "the model counted {now:?} on a full disk");
        assert!(log.contains("disk is full"), "the full disk is said:\n{log}");
    } else {
        assert!(files_in(&inbox) > 0, "files were taken from the inbox while nothing could be written");
        assert!(log.contains("No space left on device"), "the full disk is said:\n{log}");
    }

    // Space comes back: everything goes through, once.
    std::fs::remove_file(&ballast).unwrap();
    let want = (expected.devices.len() as u64, expected.bad.len() as u64);
    assert_eq!(wait_until_counted(&store_path, &inbox, want, &mut child, Duration::from_secs(180)), None);

    // Full again, killed while full, restarted once there is room: nothing is corrupt.
    let ballast = disk.fill();
    drop_file(&inbox, "killed.csv", 10_000, &mut rng, &mut expected);
    std::thread::sleep(Duration::from_secs(1));
    kill(&mut child);
    std::fs::remove_file(&ballast).unwrap();
    let mut child = up_with(&data, 2, &settings, &up_log);
    let want = (expected.devices.len() as u64, expected.bad.len() as u64);
    assert_eq!(wait_until_counted(&store_path, &inbox, want, &mut child, Duration::from_secs(180)), None);
    common::stop(child);
    let deployment =
        Deployment { store: store_path.clone(), settings: settings.clone(), ..Deployment::embedded(&data) };
    let problems = audit(&deployment, &expected);
    assert!(problems.is_empty(), "{problems:#?}");
    let log = std::fs::read_to_string(&up_log).unwrap_or_default();
    let retries = log.lines().filter(|l| l.contains("trying again") || l.contains("tried again")).count();
    println!(
        "chaos up/embedded disk-full ({what}): {} events, {} bad lines, {retries} retries logged while full, a kill while full: exact",
        want.0, want.1
    );
    for line in log.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).take(8) {
        println!("    {line}");
    }
}

/// On Kafka (`TRIBUTARY_TEST_KAFKA`): `ingest` (the inbox and the Markets × COVID pulls), two
/// `worker`s and `batch follow`, each killed with SIGKILL at random and restarted while files
/// land; then the same exact account, and every view published once from the lake's first
/// versions.
#[test]
fn on_kafka_ingest_two_workers_and_batch_follow_killed_at_random_lose_and_double_nothing() {
    let Some(url) = tributary_test_data::service("TRIBUTARY_TEST_KAFKA") else { return };
    let Some(markets) = markets_sources() else { return };
    // 4 partitions in the quick run; scripts/chaos runs 1, 4 and 16.
    each_partition_count("kafka", "CHAOS_KAFKA_PARTITIONS", &[4], |p, rounds, rng| {
        kafka_with_kills(&url, &markets, p, rounds, rng)
    });
}

/// One Kafka scenario: the roles killed at random, then the account; its summary line and the
/// problems found.
fn kafka_with_kills(
    url: &str,
    markets: &str,
    partitions: u32,
    rounds: u32,
    rng: &mut StdRng,
) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let inbox = data.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let suffix = format!("{}-{:08x}", std::process::id(), rng.random::<u32>());
    let d = Deployment {
        data,
        store: data.join("store.sqlite"),
        settings: vec![
            format!("log={url}"),
            format!("mobile.topic=chaos-{suffix}"),
            format!("mobile.model=c-{suffix}"),
            "mobile.k=5".into(),
            "mobile.init_min_points=300".into(),
            "mobile.batch_interval=100ms".into(),
            "mobile.batch_max_records=2000".into(),
            "mobile.generator_rate=0".into(),
            "mobile.file_min_age=0s".into(),
            format!("markets.batch_group=batch-{suffix}"),
            "markets.batch_debounce=300ms".into(),
            markets.to_string(),
        ],
        topic: format!("chaos-{suffix}"),
        model: format!("c-{suffix}"),
    };
    d.run(&["log", "create-topic", &d.topic, "--partitions", &partitions.to_string()]);
    let roles: [(&str, &[&str]); 4] = [
        ("ingest", &["ingest"]),
        ("w1", &["worker", "--id", "w1"]),
        ("w2", &["worker", "--id", "w2"]),
        ("batch", &["batch", "follow"]),
    ];
    let spawn = |name: &str, args: &[&str]| -> Child {
        let mut cmd = common::tributary(data);
        for s in &d.settings {
            cmd.args(["--set", s]);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join(format!("{name}.log")))
            .unwrap();
        cmd.args(args).env("RUST_LOG", "info").stdout(Stdio::null()).stderr(log).spawn().unwrap()
    };
    let mut running: Vec<Child> = roles.iter().map(|(name, args)| spawn(name, args)).collect();
    let mut expected = Expected::default();
    let started = Instant::now();
    let mut kills = [0u32; 4];
    for round in 0..rounds {
        for f in 0..rng.random_range(1..=2) {
            let events = rng.random_range(200..3000);
            drop_file(&inbox, &format!("{suffix}-r{round}f{f}.csv"), events, rng, &mut expected);
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..1500)));
        let victim = rng.random_range(0..roles.len());
        kill(&mut running[victim]);
        kills[victim] += 1;
        std::thread::sleep(Duration::from_millis(rng.random_range(0..500)));
        running[victim] = spawn(roles[victim].0, roles[victim].1);
    }
    // Everything runs until the account is complete; then each role stops cleanly.
    let want = (expected.devices.len() as u64, expected.bad.len() as u64);
    let deadline = Instant::now() + Duration::from_secs(300);
    let rt = common::runtime();
    let mut problems = Vec::new();
    loop {
        let (points, letters, views) = rt.block_on(async {
            let Ok(store) = SqlStore::open_sqlite(&d.store).await else { return (0, 0, Vec::new()) };
            let points = store.kmeans_points(&d.model).await.unwrap_or(0);
            let letters = store.dead_letters(None, 1_000_000, None).await.unwrap_or_default();
            let ours = letters
                .iter()
                .filter(|l| expected.files.iter().any(|f| l.letter.source == format!("dir:{f}")))
                .count();
            let views = store.current_views().await.unwrap_or_default();
            store.close().await;
            (points, ours as u64, views)
        });
        let views_done =
            views.len() == 7 && views.iter().all(|v| v.dataset_versions.values().all(|version| *version > 0));
        if (points, letters) == want && views_done && files_in(&inbox) == 0 {
            problems.extend(view_problems(&views));
            break;
        }
        if Instant::now() > deadline || points > want.0 || letters > want.1 {
            problems.push(format!(
                "({points}, {letters}) (points, dead letters) for {want:?}, {} views, {} files left",
                views.len(),
                files_in(&inbox)
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_millis(500));
    for child in &mut running {
        let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let status = child.wait().unwrap();
        if !status.success() {
            problems.push(format!("a role stopped with {status}"));
        }
    }
    problems.extend(audit(&d, &expected));
    let verdict = if problems.is_empty() {
        "exact".to_string()
    } else {
        format!("FAILED ({} problems)", problems.len())
    };
    let summary = format!(
        "chaos kafka/ingest+2 workers+batch follow partitions={partitions}: {rounds} rounds, kills ingest {} w1 {} w2 {} batch {}, {} events, {} bad lines, {:.0} s: {verdict}",
        kills[0],
        kills[1],
        kills[2],
        kills[3],
        want.0,
        want.1,
        started.elapsed().as_secs_f64()
    );
    if !problems.is_empty() {
        for (name, _) in roles {
            let log = std::fs::read_to_string(data.join(format!("{name}.log"))).unwrap_or_default();
            for line in log.lines().filter(|l| l.contains("ERROR") || l.contains("WARN")).take(10) {
                problems.push(format!("{name}: {line}"));
            }
        }
    }
    (summary, problems)
}

/// A copy of `from` at `to` with the first comma-separated field (`field` 0) or another of
/// `count` data lines replaced by `value`; the 1-based line numbers changed.
fn corrupt(from: &Path, to: &Path, field: usize, value: &str, count: usize, rng: &mut StdRng) -> Vec<usize> {
    let text = std::fs::read_to_string(from).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut changed = Vec::new();
    while changed.len() < count {
        let i = rng.random_range(1..lines.len());
        if changed.contains(&(i + 1)) {
            continue;
        }
        let mut fields: Vec<String> = lines[i].split(',').map(str::to_string).collect();
        fields[field] = value.to_string();
        lines[i] = fields.join(",");
        changed.push(i + 1);
    }
    std::fs::write(to, lines.join("\n") + "\n").unwrap();
    changed.sort();
    changed
}

/// The lake's current rows of both datasets, as text, for comparing two lakes.
fn lake_rows(data: &Path) -> (Vec<String>, Vec<String>) {
    common::runtime().block_on(async {
        let lake = tributary_lake::Lake::open(&data.join("lake").display().to_string()).unwrap();
        let covid: Vec<tributary_schema::markets::CovidDaily> = lake.rows().await.unwrap();
        let prices: Vec<tributary_schema::markets::PriceBar> = lake.rows().await.unwrap();
        (covid.iter().map(|r| format!("{r:?}")).collect(), prices.iter().map(|r| format!("{r:?}")).collect())
    })
}

/// "<source> <position>" of every dead letter in the log, sorted.
fn dead_letter_positions(d: &Deployment) -> Vec<String> {
    let mut letters: Vec<String> = d
        .records("dead_letters")
        .iter()
        .filter_map(|r| r["value"].as_str())
        .filter_map(|v| DeadLetter::from_json(v.as_bytes()).ok())
        .map(|l| format!("{} {}", l.source, l.position))
        .collect();
    letters.sort();
    letters
}

/// Each view's name and row count after `tributary batch run`.
fn view_rows(d: &Deployment) -> Vec<(String, u64)> {
    d.run(&["batch", "run"]);
    common::runtime().block_on(async {
        let store = SqlStore::open_sqlite(&d.store).await.unwrap();
        let views = store.current_views().await.unwrap();
        store.close().await;
        views.into_iter().map(|v| (v.view, v.rows)).collect()
    })
}

/// `tributary import` killed at random moments while it writes the lake (the raw payload, the
/// Parquet files, the manifest, the `datasets` event, the dead letters), then run to the end as
/// a user would: the lake holds what one clean import gives, every bad row is exactly one dead
/// letter, and the views computed over it equal those of a run without kills.
#[test]
fn import_killed_at_random_moments_leaves_what_one_clean_import_leaves() {
    let Some((ecdc, dax)) = common::ecdc_and_dax() else { return };
    let (rounds, seed) = rounds_and_seed("import");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // The real files, with bad rows: an impossible date in ECDC's, a word for a DAX close.
    let files = [dir.path().join("ecdc.csv"), dir.path().join("dax.csv")];
    let bad = corrupt(&ecdc, &files[0], 0, "31/02/2020", 7, &mut rng).len()
        + corrupt(&dax, &files[1], 4, "oops", 5, &mut rng).len();
    let import = |data: &Path, file: &Path| {
        let started = Instant::now();
        let out = common::tributary(data).arg("import").arg(file).output().unwrap();
        assert!(out.status.success(), "import {}: {}", file.display(), common::stderr(&out));
        started.elapsed()
    };
    let clean = dir.path().join("clean");
    // How long a whole import of each file takes here: the kills land within that (and a
    // little after, when it has finished).
    let durations: Vec<u64> = files.iter().map(|f| import(&clean, f).as_millis() as u64).collect();
    let killed = dir.path().join("killed");
    let (mut kills, mut interrupted) = (0, 0);
    for _ in 0..rounds {
        let which = rng.random_range(0..files.len());
        let file = &files[which];
        let mut child = common::tributary(&killed)
            .arg("import")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..=durations[which] * 5 / 4)));
        interrupted += child.try_wait().unwrap().is_none() as u32;
        kill(&mut child);
        kills += 1;
    }
    for f in &files {
        import(&killed, f);
    }
    let durations = format!("imports {} and {} ms", durations[0], durations[1]);

    let mut problems = Vec::new();
    let (want, got) = (lake_rows(&clean), lake_rows(&killed));
    if got != want {
        problems.push(format!(
            "the lake holds {} ECDC and {} DAX rows, a clean import {} and {} (or their values differ)",
            got.0.len(),
            got.1.len(),
            want.0.len(),
            want.1.len()
        ));
    }
    let (clean, killed) = (Deployment::embedded(&clean), Deployment::embedded(&killed));
    let (want, got) = (dead_letter_positions(&clean), dead_letter_positions(&killed));
    if want.len() != bad {
        problems.push(format!("a clean import made {} dead letters for {bad} bad rows", want.len()));
    }
    if got != want {
        let (twice, _) = repeats(got.clone());
        problems.push(format!("{} dead letters for {} bad rows (twice: {twice:?})", got.len(), want.len()));
    }
    let (want, got) = (view_rows(&clean), view_rows(&killed));
    if got != want || want.len() != 7 {
        problems.push(format!("views after kills {got:?}, without {want:?}"));
    }
    let verdict = if problems.is_empty() {
        "exact".to_string()
    } else {
        format!("FAILED ({} problems)", problems.len())
    };
    println!(
        "chaos import/embedded: {rounds} rounds, {kills} kills ({interrupted} while importing; {durations}), {bad} bad rows, {:.0} s: {verdict}",
        started.elapsed().as_secs_f64()
    );
    for problem in &problems {
        println!("    {problem}");
    }
    assert!(problems.is_empty(), "seed {seed}: {problems:#?}");
}
