//! Abuse and cost limits, decided from the number's record and the time: the per-number send
//! cooldown and sliding window, the per-number failure budget and lock, and the global counters
//! (the calls-per-minute ceiling and the daily call budget). The stores enforce these decisions
//! with conditional writes.
//!
//! The global counters are sharded so that sends to different numbers do not write one hot
//! item (DynamoDB cancels concurrent transactions on one item and caps one item's write rate):
//! a ceiling of `cap` is split over `min(CALL_COUNTER_SHARDS, cap)` items whose shares add up
//! to `cap`. A send reads [`SHARD_TRIES`] consecutive shards from a random start, in the same
//! request that reads the number ([`Candidates`]), and takes a unit of the one with most room in
//! its transaction, on the condition that the shard is not full. A shard found full or held by
//! another transaction is swapped for the next one read. So:
//! - the ceiling is never exceeded (each shard's condition holds its share);
//! - a send is refused when every shard it read is full, so a send may be refused while a
//!   shard it did not read has room. Caps under 200 have at most three shards, which every send
//!   reads: exact. Above, taking the emptiest shard read keeps them even, and the shortfall is
//!   small and only when demand is about the cap (`tests::a_sharded_ceiling_fills_evenly`);
//! - a minute's ceiling can be spent at the end of one minute and again at the start of the
//!   next (at most twice the ceiling within any 60 s); the day's budget renews at midnight UTC.

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
    /// Calls per UTC day across all numbers (`DAILY_CALL_BUDGET`); `None`: no budget.
    pub daily_call_budget: Option<u32>,
    /// Items each global counter is spread over (`CALL_COUNTER_SHARDS`).
    pub counter_shards: u32,
}

pub use super::attempt::{FAILURE_WINDOW_SECS, SEND_WINDOW_SECS};

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            send_cooldown_secs: 30,
            sends_per_window: 5,
            calls_per_minute: 60,
            failures_per_window: 10,
            daily_call_budget: None,
            counter_shards: 32,
        }
    }
}

/// Why a send was refused, and when it may be tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    Cooldown {
        retry_after: i64,
    },
    Window {
        retry_after: i64,
    },
    Locked {
        retry_after: i64,
    },
    Global {
        retry_after: i64,
    },
    /// `DAILY_CALL_BUDGET` is spent: until midnight UTC.
    Budget {
        retry_after: i64,
    },
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
            | Limited::Global { retry_after }
            | Limited::Budget { retry_after } => retry_after.max(1),
        }
    }

    pub fn explain(self) -> &'static str {
        match self {
            Limited::Cooldown { .. } => "a code was just sent to this number; wait before asking again",
            Limited::Window { .. } => "too many codes were sent to this number recently",
            Limited::Locked { .. } => "this number is locked after too many failed verifications",
            Limited::Global { .. } => "the service is placing too many calls right now",
            Limited::Budget { .. } => "the service's daily call budget is spent; it renews at midnight UTC",
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

/// How many shards a send tries before it counts a global counter as full.
pub const SHARD_TRIES: usize = 3;

/// One shard of a global counter: the item a send takes one unit of, when it may be deleted,
/// and its share of the ceiling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    pub key: String,
    pub expires: i64,
    pub cap: u32,
}

/// One global counter (a minute's ceiling, a day's budget), spread over shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sharded {
    /// The key of the whole counter; a shard's is `<key>#<shard>`.
    pub key: String,
    pub expires: i64,
    pub cap: u32,
    pub shards: u32,
}

impl Sharded {
    /// Shard `i` (of [`Sharded::shards`]): the shares add up to the cap, none is zero.
    pub fn shard(&self, i: u32) -> Counter {
        let (base, extra) = (self.cap / self.shards, self.cap % self.shards);
        Counter {
            key: format!("{}#{i}", self.key),
            expires: self.expires,
            cap: base + u32::from(i < extra),
        }
    }
}

/// The least share of a counter's cap one shard holds: a counter has one shard per
/// `MIN_SHARE` units, up to `CALL_COUNTER_SHARDS`. A small cap gains nothing from shards (its
/// rate cannot make an item hot) and would lose exactness: a send reads [`SHARD_TRIES`] of them
/// and is refused when those are full, so caps under `(SHARD_TRIES + 1) * MIN_SHARE` (200), whose
/// shards a send reads all of, are exact.
pub const MIN_SHARE: u32 = 50;

fn sharded(key: String, expires: i64, cap: u32, shards: u32) -> Sharded {
    Sharded {
        key,
        expires,
        cap,
        shards: shards.min(cap / MIN_SHARE).max(1),
    }
}

/// The calls-per-minute ceiling's counter for the minute of `now`.
pub fn minute_counter(now: i64, limits: &Limits) -> Sharded {
    let minute = now.div_euclid(60);
    sharded(
        format!("GLOBAL#calls#{minute}"),
        (minute + 2) * 60,
        limits.calls_per_minute,
        limits.counter_shards,
    )
}

/// The daily budget's counter for the UTC day of `now`, when there is a budget.
pub fn day_counter(now: i64, limits: &Limits) -> Option<Sharded> {
    let day = now.div_euclid(86_400);
    limits.daily_call_budget.map(|budget| {
        sharded(
            format!("GLOBAL#day#{day}"),
            (day + 2) * 86_400,
            budget,
            limits.counter_shards,
        )
    })
}

/// Seconds from `now` to the next midnight UTC, when a spent budget renews.
pub fn until_midnight(now: i64) -> i64 {
    (now.div_euclid(86_400) + 1) * 86_400 - now
}

/// A random pause before the `tries`th retry of a write another transaction held (a send's
/// transaction, a single write meeting one): 5 to 10 ms × 2^tries, capped at 64 times that; the
/// jitter keeps the writers that collided from colliding again in step.
pub fn contention_pause(rng: &mut impl rand::Rng, tries: u32) -> std::time::Duration {
    std::time::Duration::from_millis(rng.random_range(5..=10u64 << tries.min(6)))
}

/// The shards a send reads in one counter, `tries` distinct ones from a random start (`start`
/// is random), stepping by one.
pub fn shard_order(start: u32, shards: u32, tries: usize) -> Vec<u32> {
    let shards = shards.max(1);
    (0..shards).map(|k| (start % shards + k) % shards).take(tries).collect()
}

/// What a send knows of the shards it read of one counter, and which it may still try.
#[derive(Clone, Debug)]
pub struct Candidates {
    counter: Sharded,
    /// (shard, units taken when read, state)
    shards: Vec<(u32, u32, Shard)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shard {
    Open,
    /// Full when read, or the write's condition found it full.
    Full,
    /// Another transaction held it (or it was throttled) when this send wrote it.
    Busy,
}

impl Candidates {
    /// The shards `order` of `counter`, `taken` units each when read.
    pub fn new(counter: &Sharded, order: &[u32], taken: &[u32]) -> Candidates {
        let shards = order
            .iter()
            .zip(taken)
            .map(|(&i, &t)| {
                let state = if t >= counter.shard(i).cap {
                    Shard::Full
                } else {
                    Shard::Open
                };
                (i, t, state)
            })
            .collect();
        Candidates {
            counter: counter.clone(),
            shards,
        }
    }

    /// The keys of the shards, in order (what the send reads).
    pub fn keys(counter: &Sharded, order: &[u32]) -> Vec<String> {
        order.iter().map(|&i| counter.shard(i).key).collect()
    }

    /// The shard to write: the open one with the most room (so the shards fill evenly), the
    /// first read of equals, or none.
    pub fn pick(&self) -> Option<Counter> {
        self.shards
            .iter()
            .rev()
            .filter(|(_, _, state)| *state == Shard::Open)
            .max_by_key(|(i, taken, _)| self.counter.shard(*i).cap.saturating_sub(*taken))
            .map(|(i, _, _)| self.counter.shard(*i))
    }

    /// The write found `shard` full.
    pub fn full(&mut self, shard: &Counter) {
        self.mark(shard, Shard::Full);
    }

    /// Another transaction held `shard`.
    pub fn busy(&mut self, shard: &Counter) {
        self.mark(shard, Shard::Busy);
    }

    fn mark(&mut self, shard: &Counter, state: Shard) {
        for s in &mut self.shards {
            if self.counter.shard(s.0).key == shard.key {
                s.2 = state;
            }
        }
    }

    /// Every shard read is full: the counter is spent, as far as this send can tell.
    pub fn spent(&self) -> bool {
        self.shards.iter().all(|(_, _, state)| *state == Shard::Full)
    }
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
    fn counters_are_keyed_by_minute_and_day_and_sharded_without_losing_a_unit() {
        let l = Limits {
            calls_per_minute: 1_000,
            ..Limits::default()
        };
        let m = minute_counter(119, &l);
        assert_eq!(
            (m.key.as_str(), m.expires, m.cap, m.shards),
            ("GLOBAL#calls#1", 180, 1_000, 20),
            "one shard per 50 units"
        );
        assert_eq!(minute_counter(120, &l).key, "GLOBAL#calls#2");
        let total: u32 = (0..m.shards).map(|i| m.shard(i).cap).sum();
        assert_eq!(total, 1_000, "the shares add up to the ceiling");
        assert!((0..m.shards).all(|i| m.shard(i).cap >= MIN_SHARE));
        assert_eq!(m.shard(5).key, "GLOBAL#calls#1#5");
        let big = Limits {
            calls_per_minute: 100_000,
            ..Limits::default()
        };
        assert_eq!(minute_counter(0, &big).shards, 32, "CALL_COUNTER_SHARDS at most");
        // A small cap is one shard, read whole: exact.
        let s = minute_counter(0, &Limits::default());
        assert_eq!((s.shards, s.shard(0).cap), (1, 60));
        let s = minute_counter(
            0,
            &Limits {
                calls_per_minute: 3,
                ..Limits::default()
            },
        );
        assert_eq!((s.shards, s.shard(0).cap), (1, 3));
        assert_eq!(day_counter(0, &l), None);
        let budget = Limits {
            daily_call_budget: Some(1000),
            ..Limits::default()
        };
        let d = day_counter(86_400 * 3 + 5, &budget).unwrap();
        assert_eq!((d.key.as_str(), d.expires, d.cap), ("GLOBAL#day#3", 86_400 * 5, 1000));
        assert_eq!(until_midnight(86_400 * 3 + 5), 86_395);
        assert_eq!(until_midnight(86_400 * 3), 86_400);
    }

    #[test]
    fn shard_orders_are_distinct_and_bounded() {
        assert_eq!(shard_order(30, 32, 3), [30, 31, 0]);
        assert_eq!(shard_order(7, 3, 3), [1, 2, 0]);
        assert_eq!(shard_order(0, 1, 3), [0]);
    }

    /// `sends` sends one after another, each reading SHARD_TRIES shards from a seeded random
    /// start as the send path does: how many took a unit.
    fn admitted(cap: u32, sends: u32, seed: u64) -> u32 {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(seed);
        let limits = Limits {
            calls_per_minute: cap,
            ..Limits::default()
        };
        let c = minute_counter(0, &limits);
        let mut taken = vec![0u32; c.shards as usize];
        let mut admitted = 0;
        for _ in 0..sends {
            let order = shard_order(rng.random(), c.shards, SHARD_TRIES);
            let read: Vec<u32> = order.iter().map(|&i| taken[i as usize]).collect();
            if let Some(shard) = Candidates::new(&c, &order, &read).pick() {
                let i: usize = shard.key.rsplit('#').next().unwrap().parse().unwrap();
                taken[i] += 1;
                admitted += 1;
            }
        }
        assert!(taken.iter().enumerate().all(|(i, &t)| t <= c.shard(i as u32).cap));
        admitted
    }

    /// The README's figures: what a sharded ceiling admits when demand is exactly the cap, and
    /// that demand 10 % over it fills it.
    #[test]
    fn a_sharded_ceiling_fills_evenly() {
        for (cap, shards, at_least) in [
            (60, 1, 60),
            (199, 3, 199),
            (300, 6, 297),
            (1_000, 20, 980),
            (3_000, 32, 2_950),
        ] {
            assert_eq!(
                minute_counter(
                    0,
                    &Limits {
                        calls_per_minute: cap,
                        ..Limits::default()
                    }
                )
                .shards,
                shards
            );
            let runs: Vec<u32> = (0..50).map(|seed| admitted(cap, cap, seed)).collect();
            let mean = f64::from(runs.iter().sum::<u32>()) / 50.0;
            eprintln!(
                "cap {cap} ({shards} shards): exactly cap sends admit {mean:.1} on average, {} at least",
                runs.iter().min().unwrap()
            );
            assert!(runs.iter().all(|&a| a >= at_least), "cap {cap}: {runs:?}");
            assert!(
                (0..20).all(|seed| admitted(cap, cap + cap / 10, seed) == cap),
                "cap {cap}: 10 % more fills it"
            );
        }
    }

    /// A counter of `shards` shards (small shares, to keep the cases short).
    fn counter(cap: u32, shards: u32) -> Sharded {
        Sharded {
            key: "GLOBAL#calls#1".into(),
            expires: 180,
            cap,
            shards,
        }
    }

    #[test]
    fn a_send_takes_the_shard_with_most_room_and_skips_full_ones() {
        // 10 over 4 shards: shares 3, 3, 2, 2.
        let c = counter(10, 4);
        let read = Candidates::new(&c, &[1, 2, 3], &[1, 0, 2]);
        assert_eq!(
            read.pick().map(|s| s.key),
            Some("GLOBAL#calls#1#1".into()),
            "2 left beats 2 left later, 0 left"
        );
        let read = Candidates::new(&c, &[2, 3, 0], &[0, 2, 0]);
        assert_eq!(
            read.pick().map(|s| s.key),
            Some("GLOBAL#calls#1#0".into()),
            "3 left beats 2; shard 3 is full"
        );
        assert!(!read.spent());
        assert_eq!(Candidates::keys(&c, &[3, 0]), ["GLOBAL#calls#1#3", "GLOBAL#calls#1#0"]);
    }

    #[test]
    fn full_and_held_shards_are_swapped_and_only_full_ones_spend_the_counter() {
        let c = counter(6, 3);
        let mut read = Candidates::new(&c, &[0, 1, 2], &[0, 0, 2]);
        let first = read.pick().unwrap();
        read.busy(&first);
        let second = read.pick().unwrap();
        assert_ne!(first, second);
        read.full(&second);
        assert_eq!(read.pick(), None, "shard 2 was full when read");
        assert!(!read.spent(), "one was only held: try again later, not the ceiling");
        let mut read = Candidates::new(&c, &[0, 1, 2], &[1, 2, 2]);
        read.full(&read.pick().unwrap());
        assert!(read.spent(), "every shard read is full: the ceiling");
    }
}
