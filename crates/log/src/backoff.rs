//! Waiting before trying again after a transient failure (a full disk, a broker or database out
//! of reach): the pause doubles from `min` to `max` and is cut short by the stop signal. What
//! was not written is not acknowledged, so waiting is backpressure, never loss.

use std::time::Duration;

use tokio::sync::watch;

/// A doubling pause between attempts.
///
/// ```
/// # async fn demo(mut stop: tokio::sync::watch::Receiver<bool>) {
/// use std::time::Duration;
/// let mut backoff = tributary_log::Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
/// loop {
///     let result: Result<(), String> = Ok(()); // the attempt
///     match result {
///         Ok(()) => break,
///         Err(_) if backoff.wait(&mut stop).await => continue,
///         Err(_) => return, // stopped while waiting
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Pauses of `min`, doubling up to `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Self { min, max: max.max(min), next: min }
    }

    /// The pause the next [`wait`](Self::wait) will take.
    pub fn next_pause(&self) -> Duration {
        self.next
    }

    /// After a success: the next failure waits `min` again.
    pub fn reset(&mut self) {
        self.next = self.min;
    }

    /// Waits the next pause; `false` if `stop` turned true (or was dropped) first.
    pub async fn wait(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        if *stop.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => !*stop.borrow(),
            _ = stop.changed() => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pauses_double_up_to_the_limit_and_stop_cuts_them_short() {
        let (tx, mut stop) = watch::channel(false);
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(35));
        let mut pauses = Vec::new();
        for _ in 0..4 {
            pauses.push(b.next_pause().as_millis());
            assert!(b.wait(&mut stop).await);
        }
        assert_eq!(pauses, [10, 20, 35, 35]);
        b.reset();
        assert_eq!(b.next_pause(), Duration::from_millis(10));
        // A stop while waiting ends the wait (a long pause would otherwise hold the test).
        let mut long = Backoff::new(Duration::from_secs(3600), Duration::from_secs(3600));
        let waiting = tokio::spawn(async move { long.wait(&mut stop).await });
        tx.send(true).unwrap();
        assert!(!waiting.await.unwrap());
    }
}
