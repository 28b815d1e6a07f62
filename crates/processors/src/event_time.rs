//! Event time: micro-batches that are windows of the events' own clock.
//!
//! On processing time a micro-batch is whatever was read in one interval; on event time it is
//! the events whose `timepoint` falls in one tumbling window (`[start, start + window)`, aligned
//! to the epoch), whatever order they arrive in. [`EventWindows`] keeps the events of the
//! windows not yet closed, drops exact duplicates of (device, time) when asked, and closes a
//! window once the *watermark* — the newest event time read, less the allowed lateness — has
//! passed its end. An event whose window is already closed is late: the caller sends it to the
//! dead letters (its version was made without it, and versions are not rewritten).
//!
//! With several partitions the watermark is the slowest partition's: the oldest of the newest
//! times of the partitions that still have unread events (a replay reads partitions at
//! different speeds; one that is ahead must not make the others' events late). Once every
//! partition is read to its end, it is the newest time read anywhere.
//!
//! # Exactly once across a crash
//!
//! A window's events are interleaved with others' in the log, so the offsets a processor
//! commits cannot say by themselves which events are counted. With each commit the processor
//! also keeps a [`WindowState`]: how far each partition has been *decided* (every event below
//! is counted in a committed version, late, a duplicate, or waiting in an open window) and
//! which windows are closed. It commits, as offsets to resume from, the oldest offset still
//! waiting per partition. Reading again from there after a crash, an event below the decided
//! offset is skipped if its window is closed (it was counted, or was late and already dead-
//! lettered) and waits again otherwise; events above are new. So each event is counted once.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tributary_schema::TimedPosition;

/// How the event-time windows are cut and closed.
#[derive(Debug, Clone, PartialEq)]
pub struct EventTimeSettings {
    /// Length of a window: the micro-batch on the events' clock.
    pub window: Duration,
    /// How far behind the newest event time an event may be and still join its window.
    pub allowed_lateness: Duration,
    /// Drop an event whose (device, time) is already waiting in its window.
    pub drop_duplicates: bool,
    /// At most this many events wait for their windows to close; beyond, the oldest window
    /// closes early (bounded memory when partitions are far apart in time).
    pub max_waiting: usize,
}

impl EventTimeSettings {
    /// How long the log may be quiet before every open window closes: a replay that has ended
    /// (or a source that paused) must not keep its last windows waiting for events that may never
    /// come. One window, at least a second: without events the watermark cannot move, and a
    /// replay's lateness may be long.
    pub fn idle_close(&self) -> Duration {
        self.window.max(Duration::from_secs(1))
    }

    fn window_ms(&self) -> i64 {
        (self.window.as_millis() as i64).max(1)
    }
}

/// What the windows must remember across a restart, committed with the processor's offsets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowState {
    /// Per partition: every event below this offset has been decided.
    pub decided: Vec<u64>,
    /// Windows ending at or before this time (ms) are closed.
    pub closed_before_ms: Option<i64>,
    /// Per partition: the newest event time read (ms).
    pub newest_ms: Vec<Option<i64>>,
}

impl WindowState {
    /// The state as the store keeps it.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "event_time": self }).to_string()
    }

    /// Reads what [`to_json`](Self::to_json) wrote.
    pub fn from_json(json: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Stored {
            event_time: WindowState,
        }
        serde_json::from_str::<Stored>(json)
            .map(|s| s.event_time)
            .map_err(|e| format!("the stored event-time state is unreadable: {e}"))
    }
}

/// What became of an offered event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// It waits in its window.
    Waiting,
    /// Its (device, time) was already waiting: dropped.
    Duplicate,
    /// Its window is closed: it was read too late.
    Late { window_end_ms: i64, closed_before_ms: i64 },
    /// Read again after a restart, and already decided before it: nothing to do.
    AlreadyDecided,
}

/// A window that closed: its events' positions and where they are in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedWindow {
    /// The window's end (exclusive), ms since the epoch.
    pub end_ms: i64,
    /// `[lat, lon]` of its events, in the order they were read.
    pub positions: Vec<[f64; 2]>,
    /// Per partition with events in it: (partition, first offset, last offset + 1).
    pub ranges: Vec<(u32, u64, u64)>,
    /// Whether it closed before the watermark passed it (too many events were waiting).
    pub forced: bool,
}

struct Waiting {
    partition: u32,
    offset: u64,
    position: [f64; 2],
    key: Option<(String, i64)>,
}

/// The open windows of one processor (see the module documentation).
pub struct EventWindows {
    settings: EventTimeSettings,
    state: WindowState,
    /// Open windows by start time.
    open: BTreeMap<i64, Vec<Waiting>>,
    /// (device, time) of the waiting events, when duplicates are dropped.
    keys: HashSet<(String, i64)>,
    waiting: usize,
    /// Per partition, the decided offset found at the restore that has not been read back to
    /// yet: no window may close before every event it held again is back in it.
    replay_to: Vec<u64>,
}

impl EventWindows {
    /// Windows continuing from `state` (the default for a processor that has none) over a topic
    /// of `partitions` partitions.
    pub fn restore(settings: EventTimeSettings, mut state: WindowState, partitions: usize) -> Self {
        if state.decided.len() < partitions {
            state.decided.resize(partitions, 0);
        }
        if state.newest_ms.len() < partitions {
            state.newest_ms.resize(partitions, None);
        }
        let replay_to = state.decided.clone();
        Self { settings, state, open: BTreeMap::new(), keys: HashSet::new(), waiting: 0, replay_to }
    }

    /// Whether the event at `offset` of `partition` was decided before the last commit (read
    /// again after a restart): an unreadable record there was already sent to the dead letters.
    pub fn was_decided(&self, partition: u32, offset: u64) -> bool {
        self.state.decided.get(partition as usize).is_some_and(|d| offset < *d)
    }

    /// Places one event read at `offset` of `partition`.
    pub fn offer(&mut self, partition: u32, offset: u64, event: TimedPosition) -> Placed {
        let window = self.settings.window_ms();
        let start = event.time_ms.div_euclid(window) * window;
        let end = start.saturating_add(window);
        self.read_to(partition, 0);
        let replayed = self.was_decided(partition, offset);
        if let Some(closed) = self.state.closed_before_ms
            && end <= closed
        {
            return if replayed {
                Placed::AlreadyDecided
            } else {
                self.saw(partition, event.time_ms);
                Placed::Late { window_end_ms: end, closed_before_ms: closed }
            };
        }
        if !replayed {
            self.saw(partition, event.time_ms);
        }
        let key = if self.settings.drop_duplicates {
            let key = (event.device_id, event.time_ms);
            if self.keys.contains(&key) {
                // Read again after a restart, it was dropped the first time too: events of one
                // device are in one partition (the sources key them by device), in order.
                return if replayed { Placed::AlreadyDecided } else { Placed::Duplicate };
            }
            self.keys.insert(key.clone());
            Some(key)
        } else {
            None
        };
        self.open.entry(start).or_default().push(Waiting {
            partition,
            offset,
            position: event.position,
            key,
        });
        self.waiting += 1;
        Placed::Waiting
    }

    fn saw(&mut self, partition: u32, time_ms: i64) {
        if let Some(newest) = self.state.newest_ms.get_mut(partition as usize) {
            *newest = Some(newest.map_or(time_ms, |n| n.max(time_ms)));
        }
    }

    /// Records that every event of `partition` below `next_offset` has been offered.
    pub fn read_to(&mut self, partition: u32, next_offset: u64) {
        let p = partition as usize;
        if self.state.decided.len() <= p {
            self.state.decided.resize(p + 1, 0);
            self.state.newest_ms.resize(p + 1, None);
        }
        self.state.decided[p] = self.state.decided[p].max(next_offset);
        if let Some(r) = self.replay_to.get_mut(p)
            && next_offset >= *r
        {
            *r = 0;
        }
    }

    /// Records that `partition` has been read to the end of the log: if the log holds less than
    /// was decided before the restore (a tail lost with the machine's power), nothing more will
    /// come back, and waiting for it must not hold the windows forever.
    pub fn read_to_end(&mut self, partition: u32) {
        if let Some(r) = self.replay_to.get_mut(partition as usize) {
            *r = 0;
        }
    }

    /// Whether the events decided before the restore have all been read again (until then the
    /// windows they wait in are incomplete, and none may close).
    pub fn replayed(&self) -> bool {
        self.replay_to.iter().all(|r| *r == 0)
    }

    /// The newest event time less the allowed lateness, over the partitions that still have
    /// unread events (`caught_up[p]` false), or over all once none has; `None` while a partition
    /// with unread events has shown no time yet.
    pub fn watermark(&self, caught_up: &[bool]) -> Option<i64> {
        let behind: Vec<Option<i64>> = self
            .state
            .newest_ms
            .iter()
            .enumerate()
            .filter(|(p, _)| !caught_up.get(*p).copied().unwrap_or(true))
            .map(|(_, n)| *n)
            .collect();
        let newest = if behind.is_empty() {
            self.state.newest_ms.iter().flatten().max().copied()
        } else if behind.iter().any(Option::is_none) {
            None
        } else {
            behind.iter().flatten().min().copied()
        };
        newest.map(|n| n.saturating_sub(self.settings.allowed_lateness.as_millis() as i64))
    }

    /// Closes the oldest open window if the watermark has passed its end (or too many events
    /// wait); call until `None`. After each, [`state`](Self::state) and
    /// [`resume_offsets`](Self::resume_offsets) are what to commit with its version.
    pub fn pop_ready(&mut self, caught_up: &[bool]) -> Option<ClosedWindow> {
        if !self.replayed() {
            return None;
        }
        let (&start, _) = self.open.first_key_value()?;
        let end = start + self.settings.window_ms();
        let forced = self.waiting > self.settings.max_waiting;
        if forced || self.watermark(caught_up).is_some_and(|w| end <= w) {
            return self.close_first(forced);
        }
        None
    }

    /// Closes the oldest open window whatever the watermark (the log went quiet), once the
    /// events decided before the restore are all read again.
    pub fn pop_any(&mut self) -> Option<ClosedWindow> {
        if !self.replayed() {
            return None;
        }
        self.close_first(false)
    }

    fn close_first(&mut self, forced: bool) -> Option<ClosedWindow> {
        let (start, events) = self.open.pop_first()?;
        let end_ms = start + self.settings.window_ms();
        self.state.closed_before_ms = Some(self.state.closed_before_ms.map_or(end_ms, |c| c.max(end_ms)));
        self.waiting -= events.len();
        let mut ranges: Vec<(u32, u64, u64)> = Vec::new();
        let mut positions = Vec::with_capacity(events.len());
        for e in events {
            match ranges.iter_mut().find(|r| r.0 == e.partition) {
                Some(r) => {
                    r.1 = r.1.min(e.offset);
                    r.2 = r.2.max(e.offset + 1);
                }
                None => ranges.push((e.partition, e.offset, e.offset + 1)),
            }
            if let Some(key) = e.key {
                self.keys.remove(&key);
            }
            positions.push(e.position);
        }
        ranges.sort_unstable();
        Some(ClosedWindow { end_ms, positions, ranges, forced })
    }

    /// Whether any event waits in an open window.
    pub fn is_waiting(&self) -> bool {
        self.waiting > 0
    }

    /// Events waiting in open windows.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// What to commit with the offsets.
    pub fn state(&self) -> &WindowState {
        &self.state
    }

    /// Per partition, where to read from after a restart: the oldest offset still waiting, or
    /// the decided offset where none waits. `None` while the events decided before the restore
    /// are still being read again: some that wait are not back yet, so there is nothing to
    /// commit until then.
    pub fn resume_offsets(&self) -> Option<Vec<u64>> {
        if !self.replayed() {
            return None;
        }
        let mut resume = self.state.decided.clone();
        for events in self.open.values() {
            for e in events {
                let r = &mut resume[e.partition as usize];
                *r = (*r).min(e.offset);
            }
        }
        Some(resume)
    }
}

#[cfg(test)]
mod tests;
