use proptest::prelude::*;

use super::*;

fn settings(lateness_ms: u64, drop_duplicates: bool) -> EventTimeSettings {
    EventTimeSettings {
        window: Duration::from_secs(5),
        allowed_lateness: Duration::from_millis(lateness_ms),
        drop_duplicates,
        max_waiting: 1000,
    }
}

fn at(device: &str, time_ms: i64, tag: f64) -> TimedPosition {
    TimedPosition { position: [tag, 0.0], device_id: device.into(), time_ms }
}

fn tags(w: &ClosedWindow) -> Vec<f64> {
    w.positions.iter().map(|p| p[0]).collect()
}

#[test]
fn events_out_of_order_within_the_lateness_join_their_window() {
    let mut w = EventWindows::restore(settings(2000, false), WindowState::default(), 1);
    for (offset, (t, tag)) in
        [(1000, 1.0), (6000, 2.0), (3000, 3.0), (4999, 4.0), (7000, 5.0)].iter().enumerate()
    {
        assert_eq!(w.offer(0, offset as u64, at("a", *t, *tag)), Placed::Waiting);
    }
    w.read_to(0, 5);
    // The watermark is 7 s − 2 s = 5 s: the window [0, 5 s) closes, [5 s, 10 s) waits.
    let first = w.pop_ready(&[true]).unwrap();
    assert_eq!(
        (first.end_ms, tags(&first), first.ranges.clone()),
        (5000, vec![1.0, 3.0, 4.0], vec![(0, 0, 4)])
    );
    assert!(w.pop_ready(&[true]).is_none());
    assert_eq!(w.resume_offsets(), Some(vec![1]), "the oldest waiting event is at offset 1");
    // Later than the lateness allows: its window is closed.
    assert_eq!(
        w.offer(0, 5, at("a", 2000, 6.0)),
        Placed::Late { window_end_ms: 5000, closed_before_ms: 5000 }
    );
    // The log went quiet: the last window closes.
    let last = w.pop_any().unwrap();
    assert_eq!((last.end_ms, tags(&last)), (10_000, vec![2.0, 5.0]));
    assert!(!w.is_waiting());
}

#[test]
fn exact_duplicates_of_device_and_time_are_dropped_when_asked() {
    for drop in [true, false] {
        let mut w = EventWindows::restore(settings(0, drop), WindowState::default(), 1);
        w.offer(0, 0, at("a", 1000, 1.0));
        let again = w.offer(0, 1, at("a", 1000, 2.0));
        assert_eq!(again, if drop { Placed::Duplicate } else { Placed::Waiting });
        // Another device at the same time, the same device at another millisecond: not duplicates.
        assert_eq!(w.offer(0, 2, at("b", 1000, 3.0)), Placed::Waiting);
        assert_eq!(w.offer(0, 3, at("a", 1001, 4.0)), Placed::Waiting);
        w.offer(0, 4, at("a", 9000, 5.0));
        let closed = w.pop_ready(&[true]).unwrap();
        assert_eq!(closed.positions.len(), if drop { 3 } else { 4 });
    }
}

#[test]
fn a_partition_with_unread_events_holds_the_watermark() {
    let mut w = EventWindows::restore(settings(0, false), WindowState::default(), 2);
    w.offer(0, 0, at("a", 1000, 1.0));
    w.offer(0, 1, at("a", 60_000, 2.0));
    // Partition 1 has unread events and has shown no time: nothing closes.
    assert_eq!(w.watermark(&[true, false]), None);
    assert!(w.pop_ready(&[true, false]).is_none());
    w.offer(1, 0, at("b", 2000, 3.0));
    // Partition 1 is at 2 s: the window [0, 5 s) must wait for it …
    assert_eq!(w.watermark(&[false, false]), Some(2000));
    assert!(w.pop_ready(&[false, false]).is_none());
    // … until it is read to its end.
    assert_eq!(w.watermark(&[true, true]), Some(60_000));
    assert_eq!(tags(&w.pop_ready(&[true, true]).unwrap()), vec![1.0, 3.0]);
}

#[test]
fn too_many_waiting_events_close_the_oldest_window_early() {
    let mut w = EventWindows::restore(
        EventTimeSettings { max_waiting: 2, ..settings(60_000, false) },
        WindowState::default(),
        1,
    );
    for (o, t) in [1000, 6000, 11_000].iter().enumerate() {
        w.offer(0, o as u64, at("a", *t, o as f64));
    }
    let closed = w.pop_ready(&[false]).unwrap();
    assert!(closed.forced);
    assert_eq!(closed.end_ms, 5000);
    assert!(w.pop_ready(&[false]).is_none());
}

#[test]
fn a_log_shorter_than_what_was_decided_does_not_hold_the_windows() {
    // Decided up to offset 10 before the restart; the log now ends at 4 (a tail lost).
    let state =
        WindowState { decided: vec![10], closed_before_ms: Some(5000), newest_ms: vec![Some(12_000)] };
    let mut w = EventWindows::restore(settings(0, false), state, 1);
    w.offer(0, 3, at("a", 7000, 1.0));
    w.read_to(0, 4);
    assert!(
        w.pop_ready(&[true]).is_none() && w.resume_offsets().is_none(),
        "offsets 4..10 may still come back"
    );
    w.read_to_end(0);
    assert_eq!(w.pop_ready(&[true]).map(|c| c.end_ms), Some(10_000));
    assert_eq!(w.resume_offsets(), Some(vec![10]));
}

#[test]
fn times_before_1970_fall_in_their_own_window() {
    let mut w = EventWindows::restore(settings(0, false), WindowState::default(), 1);
    w.offer(0, 0, at("a", -1, 1.0));
    w.offer(0, 1, at("a", 0, 2.0));
    let closed = w.pop_ready(&[true]).unwrap();
    assert_eq!((closed.end_ms, tags(&closed)), (0, vec![1.0]));
}

#[test]
fn the_state_round_trips_through_its_json() {
    let state =
        WindowState { decided: vec![3, 7], closed_before_ms: Some(-5000), newest_ms: vec![None, Some(9)] };
    assert_eq!(WindowState::from_json(&state.to_json()).unwrap(), state);
    assert!(WindowState::from_json("{\"other\": 1}").unwrap_err().contains("event-time state"));
}

/// One event of the simulated log: (partition, offset) is its identity.
#[derive(Debug, Clone)]
struct Event {
    device: u8,
    time_ms: i64,
}

/// What a committed run has decided about each event.
#[derive(Debug, Clone, Default)]
struct Outcomes {
    counted: Vec<(u32, u64)>,
    late: Vec<(u32, u64)>,
    duplicates: Vec<(u32, u64)>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// However reads are cut into batches and wherever the processor crashes, every event ends
    /// up counted in exactly one closed window, late, or dropped as a duplicate: never lost,
    /// never twice.
    #[test]
    fn a_crash_anywhere_counts_every_event_once(
        partitions in proptest::collection::vec(
            proptest::collection::vec((0u8..4, 0i64..60_000), 0..40), 1..4),
        batch in 1usize..12,
        crashes in proptest::collection::vec(0usize..30, 0..4),
        lateness in 0u64..8000,
        drop_duplicates: bool,
    ) {
        let log: Vec<Vec<Event>> = partitions
            .iter()
            .map(|p| p.iter().map(|(device, time_ms)| Event { device: *device, time_ms: *time_ms }).collect())
            .collect();
        let n = log.len();
        let s = settings(lateness, drop_duplicates);
        // The store: offsets to resume from, the windows' state, what was decided.
        let mut committed = (vec![0u64; n], WindowState::default(), Outcomes::default());
        let mut crashes = crashes.clone();
        crashes.sort_unstable();
        let mut steps = 0usize;
        'run: loop {
            let (mut positions, state, mut outcomes) = committed.clone();
            let mut w = EventWindows::restore(s.clone(), state, n);
            loop {
                // Read up to `batch` events, partition by partition.
                let mut room = batch;
                let mut any = false;
                for p in 0..n {
                    while room > 0 && (positions[p] as usize) < log[p].len() {
                        let offset = positions[p];
                        let e = &log[p][offset as usize];
                        let event = TimedPosition {
                            position: [p as f64, offset as f64],
                            // The sources keep each device in one partition.
                            device_id: format!("{p}-{}", e.device),
                            time_ms: e.time_ms,
                        };
                        match w.offer(p as u32, offset, event) {
                            Placed::Waiting | Placed::AlreadyDecided => {}
                            Placed::Late { .. } => outcomes.late.push((p as u32, offset)),
                            Placed::Duplicate => outcomes.duplicates.push((p as u32, offset)),
                        }
                        positions[p] += 1;
                        room -= 1;
                        any = true;
                    }
                    w.read_to(p as u32, positions[p]);
                }
                let caught_up: Vec<bool> = (0..n).map(|p| positions[p] as usize == log[p].len()).collect();
                // Each closed window is one commit, with the state as it is after it (later
                // windows still waiting); then one commit of the state alone. A crash may come
                // before any of them.
                loop {
                    let closed = if any { w.pop_ready(&caught_up) } else { w.pop_any() };
                    let last = closed.is_none();
                    if let Some(c) = closed {
                        outcomes.counted.extend(c.positions.iter().map(|p| (p[0] as u32, p[1] as u64)));
                    }
                    steps += 1;
                    if crashes.first().is_some_and(|c| *c < steps) {
                        crashes.remove(0);
                        continue 'run;
                    }
                    if let Some(resume) = w.resume_offsets() {
                        committed = (resume, w.state().clone(), outcomes.clone());
                    }
                    if last {
                        break;
                    }
                }
                if !any && !w.is_waiting() {
                    break 'run;
                }
            }
        }
        let outcomes = committed.2;
        let mut all: Vec<(u32, u64)> = outcomes.counted.iter().chain(&outcomes.late).chain(&outcomes.duplicates).copied().collect();
        all.sort_unstable();
        let expected: Vec<(u32, u64)> = (0..n).flat_map(|p| (0..log[p].len() as u64).map(move |o| (p as u32, o))).collect();
        prop_assert_eq!(all, expected);
        if !drop_duplicates {
            prop_assert!(outcomes.duplicates.is_empty());
        }
    }
}
