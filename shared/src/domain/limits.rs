//! Abuse and cost limits, decided from the number's record and the time: the per-number send
//! cooldown and sliding window, the per-number failure budget and lock, and the global call
//! ceiling's minute slot. The stores enforce these decisions with conditional writes.

use super::attempt::Attempt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Seconds between two sends to one number.
    pub send_cooldown_secs: i64,
    /// Sends per number per [`SEND_WINDOW_SECS`] (a sliding window).
    pub sends_per_window: u32,
    /// Calls per minute across all numbers.
    pub calls_per_minute: u32,
    /// Consecutive failed verifications per number per [`FAILURE_WINDOW_SECS`] before the
    /// number is locked for the rest of that window.
    pub failures_per_window: u32,
}

pub const SEND_WINDOW_SECS: i64 = 3600;
pub const FAILURE_WINDOW_SECS: i64 = 24 * 3600;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            send_cooldown_secs: 30,
            sends_per_window: 5,
            calls_per_minute: 60,
            failures_per_window: 10,
        }
    }
}

/// Why a send was refused, and when it may be tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    Cooldown { retry_after: i64 },
    Window { retry_after: i64 },
    Locked { retry_after: i64 },
    Global { retry_after: i64 },
}

impl std::fmt::Display for Limited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; retry after {} s", self.explain(), self.retry_after())
    }
}

impl Limited {
    pub fn retry_after(self) -> i64 {
        match self {
            Limited::Cooldown { retry_after }
            | Limited::Window { retry_after }
            | Limited::Locked { retry_after }
            | Limited::Global { retry_after } => retry_after.max(1),
        }
    }

    pub fn explain(self) -> &'static str {
        match self {
            Limited::Cooldown { .. } => "a code was just sent to this number; wait before asking again",
            Limited::Window { .. } => "too many codes were sent to this number recently",
            Limited::Locked { .. } => "this number is locked after too many failed verifications",
            Limited::Global { .. } => "the service is placing too many calls right now",
        }
    }
}

/// Admits a send to a number whose current record is `prior`: returns the number's send
/// times including this one, or why not. A failed call does not start a cooldown (the user
/// heard nothing), but it counts towards the window.
pub fn admit_send(prior: Option<&Attempt>, now: i64, limits: &Limits) -> Result<Vec<i64>, Limited> {
    let Some(prior) = prior else { return Ok(vec![now]) };
    if prior.is_locked(limits.failures_per_window, now) {
        return Err(Limited::Locked {
            retry_after: prior.failures_until.map_or(1, |until| until - now),
        });
    }
    let mut times: Vec<i64> = prior
        .send_times
        .iter()
        .copied()
        .filter(|&t| t > now - SEND_WINDOW_SECS && t <= now)
        .collect();
    times.sort_unstable();
    if prior.call_failed.is_none()
        && let Some(&last) = times.last()
        && now < last + limits.send_cooldown_secs
    {
        return Err(Limited::Cooldown {
            retry_after: last + limits.send_cooldown_secs - now,
        });
    }
    if times.len() >= limits.sends_per_window as usize {
        let oldest = times[times.len() - limits.sends_per_window as usize];
        return Err(Limited::Window {
            retry_after: oldest + SEND_WINDOW_SECS - now,
        });
    }
    times.push(now);
    Ok(times)
}

/// The global ceiling's counter for the minute of `now`: its key and when it may be deleted.
pub fn minute_slot(now: i64) -> (i64, i64) {
    let minute = now.div_euclid(60);
    (minute, (minute + 2) * 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::attempt::tests::attempt;

    #[test]
    fn first_send_is_admitted() {
        assert_eq!(admit_send(None, 100, &Limits::default()), Ok(vec![100]));
    }

    #[test]
    fn cooldown_then_window() {
        let l = Limits::default();
        let mut a = attempt(0);
        a.send_times = vec![0];
        assert_eq!(admit_send(Some(&a), 10, &l), Err(Limited::Cooldown { retry_after: 20 }));
        let mut t = 30;
        for n in 2..=5 {
            a.send_times = admit_send(Some(&a), t, &l).unwrap();
            assert_eq!(a.send_times.len(), n);
            t += 30;
        }
        // Five sends in the last hour: the sixth waits until the first leaves the window.
        assert_eq!(
            admit_send(Some(&a), t, &l),
            Err(Limited::Window { retry_after: 3600 - t })
        );
        assert!(
            admit_send(Some(&a), 3600, &l).is_ok(),
            "sliding: the first send left the window"
        );
    }

    #[test]
    fn a_failed_call_does_not_start_a_cooldown() {
        let l = Limits::default();
        let mut a = attempt(0);
        a.send_times = vec![0];
        a.call_failed = Some("HTTP 402".into());
        assert_eq!(admit_send(Some(&a), 1, &l), Ok(vec![0, 1]));
    }

    #[test]
    fn locked_numbers_cannot_send_until_the_window_ends() {
        let mut a = attempt(0);
        a.failures = 8;
        a.failures_until = Some(500);
        a.guesses = vec!["w1".into()];
        assert!(admit_send(Some(&a), 100, &Limits::default()).is_ok(), "nine failures");
        a.guesses.push("w2".into());
        assert_eq!(
            admit_send(Some(&a), 100, &Limits::default()),
            Err(Limited::Locked { retry_after: 400 })
        );
        assert!(admit_send(Some(&a), 500, &Limits::default()).is_ok());
    }

    #[test]
    fn minute_slots() {
        assert_eq!(minute_slot(119), (1, 180));
        assert_eq!(minute_slot(120), (2, 240));
    }
}
