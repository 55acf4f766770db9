//! The fraud guard: calls go to people who verify, not to number blocks that earn from them.
//!
//! Two kinds of rule, each counted in counters a send reads with the number and takes a unit of
//! in its own transaction (no hot item: every counter is one signal's or one block's, so only
//! an attacker makes its own counters hot, and a counter found held refuses the send rather than
//! retrying it):
//!
//! - **velocity per signal**: sends per end-user IP (IPv6 per /64), device and user, each per
//!   hour and per UTC day. A signal is counted under a keyed hash, never in clear.
//! - **number blocks**: the E.164 number less its last digits. Calls placed and codes verified
//!   are counted per block and UTC day; a block whose unverified calls reach
//!   `max(floor, share × verified)` is refused for the rest of the day, so a block of real users
//!   who verify keeps its calls while one that only answers (revenue share fraud, "pumping")
//!   gets `floor` calls.
//!
//! A safe list (numbers or prefixes) skips both; a deny list (prefixes) refuses always. In
//! `record` mode nothing is refused: what would have been is logged and counted.

use std::net::IpAddr;

use super::limits::Counter;
use super::phone::Phone;

/// What the guard does (`FRAUD_GUARD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Refuses what the rules refuse.
    Block,
    /// Refuses nothing; counts and logs what it would have refused.
    Record,
    /// Counts nothing, refuses nothing.
    Off,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "block" => Some(Mode::Block),
            "record" => Some(Mode::Record),
            "off" => Some(Mode::Off),
            _ => None,
        }
    }
}

/// Why the guard refuses a send (the `reason` of `429 blocked`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    IpVelocity,
    DeviceVelocity,
    UserVelocity,
    BlockVelocity,
    BlockedPrefix,
}

impl Reason {
    pub const ALL: [Reason; 5] = [
        Reason::IpVelocity,
        Reason::DeviceVelocity,
        Reason::UserVelocity,
        Reason::BlockVelocity,
        Reason::BlockedPrefix,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::IpVelocity => "ip_velocity",
            Reason::DeviceVelocity => "device_velocity",
            Reason::UserVelocity => "user_velocity",
            Reason::BlockVelocity => "block_velocity",
            Reason::BlockedPrefix => "blocked_prefix",
        }
    }
}

/// A signal the app knows of its end user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Ip,
    Device,
    User,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Ip => "ip",
            Signal::Device => "device",
            Signal::User => "user",
        }
    }

    fn reason(self) -> Reason {
        match self {
            Signal::Ip => Reason::IpVelocity,
            Signal::Device => Reason::DeviceVelocity,
            Signal::User => Reason::UserVelocity,
        }
    }
}

/// A signal value the app sent that is not usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the field `{field}` {problem}")]
pub struct SignalError {
    pub field: &'static str,
    pub problem: &'static str,
}

/// Longest id (`device_id`, `user_id`) and `client_ref` accepted.
pub const MAX_ID_LEN: usize = 128;

/// An end user's signals, normalised: the IP as the network it is counted by (an IPv4 address;
/// an IPv6 address's /64), the ids as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    pub ip: Option<String>,
    pub device: Option<String>,
    pub user: Option<String>,
}

impl Signals {
    /// Reads `signals.ip` (an IPv4 or IPv6 address), `signals.device_id` and `signals.user_id`
    /// (printable, 1 to [`MAX_ID_LEN`] characters); each may be absent.
    pub fn parse(ip: Option<&str>, device: Option<&str>, user: Option<&str>) -> Result<Signals, SignalError> {
        let ip = ip
            .map(|raw| {
                let addr: IpAddr = raw.trim().parse().map_err(|_| SignalError {
                    field: "signals.ip",
                    problem: "must be an IPv4 or IPv6 address",
                })?;
                Ok(match addr {
                    IpAddr::V4(v4) => v4.to_string(),
                    IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                        Some(v4) => v4.to_string(),
                        None => {
                            let s = v6.segments();
                            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                        }
                    },
                })
            })
            .transpose()?;
        Ok(Signals {
            ip,
            device: device.map(|d| printable_id(d, "signals.device_id")).transpose()?,
            user: user.map(|u| printable_id(u, "signals.user_id")).transpose()?,
        })
    }

    /// Each signal given, with its kind.
    pub fn given(&self) -> impl Iterator<Item = (Signal, &str)> {
        [
            (Signal::Ip, self.ip.as_deref()),
            (Signal::Device, self.device.as_deref()),
            (Signal::User, self.user.as_deref()),
        ]
        .into_iter()
        .filter_map(|(kind, v)| v.map(|v| (kind, v)))
    }
}

/// An app's own id: printable (no control characters), 1 to [`MAX_ID_LEN`] characters.
pub fn printable_id(value: &str, field: &'static str) -> Result<String, SignalError> {
    let ok = !value.is_empty() && value.chars().count() <= MAX_ID_LEN && !value.chars().any(char::is_control);
    if ok {
        Ok(value.to_owned())
    } else {
        Err(SignalError {
            field,
            problem: "must be 1 to 128 printable characters",
        })
    }
}

/// How many sends one signal may make per hour and per UTC day (0: no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Velocity {
    pub per_hour: u32,
    pub per_day: u32,
}

/// The guard's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guard {
    pub mode: Mode,
    pub ip: Velocity,
    pub device: Velocity,
    pub user: Velocity,
    /// Digits dropped from the end of a number to name its block (0: no block guard).
    pub block_digits: u32,
    /// Unverified calls a block may have in a day before its verified volume counts.
    pub block_floor: u32,
    /// Unverified calls a block may have, as a percentage of its verified ones, when that is
    /// more than the floor.
    pub block_share_percent: u32,
    /// Numbers and prefixes (E.164) the velocity rules never refuse.
    pub safe: Vec<String>,
    /// Prefixes (E.164) always refused.
    pub deny: Vec<String>,
}

impl Default for Guard {
    fn default() -> Guard {
        Guard {
            mode: Mode::Block,
            ip: Velocity {
                per_hour: 10,
                per_day: 30,
            },
            device: Velocity {
                per_hour: 5,
                per_day: 15,
            },
            user: Velocity {
                per_hour: 5,
                per_day: 15,
            },
            block_digits: 3,
            block_floor: 10,
            block_share_percent: 100,
            safe: Vec::new(),
            deny: Vec::new(),
        }
    }
}

/// A counter of the guard that a send takes one unit of: `key` with fewer than `cap` units, or
/// the send is refused for `reason` (for `retry_after` seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    pub key: String,
    /// When the counter may go (epoch seconds; its window's end and a margin).
    pub expires: i64,
    pub cap: u32,
    pub reason: Reason,
    pub retry_after: i64,
}

impl Tally {
    /// The counter a send's transaction takes a unit of.
    pub fn counter(&self) -> Counter {
        Counter {
            key: self.key.clone(),
            expires: self.expires,
            cap: self.cap,
        }
    }
}

/// What the guard needs read before it can decide a send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Refused before anything is read (the deny list).
    pub denied: bool,
    /// Signal counters: key, the cap, the reason and the window's end.
    signals: Vec<(String, u32, Reason, i64)>,
    /// The block's calls and verified counters of the day.
    block: Option<(String, String)>,
    day_end: i64,
}

impl Plan {
    /// The keys to read, in order: the signal counters, then the block's calls and verified.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.signals.iter().map(|(k, ..)| k.clone()).collect();
        if let Some((calls, verified)) = &self.block {
            keys.push(calls.clone());
            keys.push(verified.clone());
        }
        keys
    }
}

/// The decision on a send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Admitted: take a unit of each of these (the block's calls counter among them) in the
    /// send's transaction, on the condition that each still has room.
    Admit(Vec<Tally>),
    /// Refused (in record mode: would have been), for this reason, for this long.
    Refuse { reason: Reason, retry_after: i64 },
}

/// The block a number belongs to: its E.164 less the last `digits` digits (`+9198765012`).
pub fn block_of(phone: &Phone, digits: u32) -> String {
    let e164 = phone.e164();
    let keep = e164.len().saturating_sub(digits as usize).max(2);
    e164[..keep.min(e164.len())].to_owned()
}

/// The key of a block's verified counter on the day of `now`: what verify adds one to.
pub fn verified_key(block: &str, now: i64) -> String {
    format!("FG#block#{block}#{}#verified", now.div_euclid(86_400))
}

impl Guard {
    fn velocity(&self, kind: Signal) -> Velocity {
        match kind {
            Signal::Ip => self.ip,
            Signal::Device => self.device,
            Signal::User => self.user,
        }
    }

    fn listed(list: &[String], phone: &Phone) -> bool {
        list.iter().any(|p| phone.e164().starts_with(p.as_str()))
    }

    /// The counter a verified code of `phone` adds one to (its block's of the day), unless the
    /// block guard is off or the number is safe.
    pub fn verified_counter(&self, phone: &Phone, now: i64) -> Option<Counter> {
        self.block(phone).map(|b| Counter {
            key: verified_key(&b, now),
            expires: (now.div_euclid(86_400) + 2) * 86_400,
            cap: u32::MAX,
        })
    }

    /// The block counted for `phone`, unless the block guard is off or the number is safe.
    pub fn block(&self, phone: &Phone) -> Option<String> {
        (self.mode != Mode::Off && self.block_digits > 0 && !Guard::listed(&self.safe, phone))
            .then(|| block_of(phone, self.block_digits))
    }

    /// What to read for a send to `phone` with `signals`, whose values are already keyed
    /// hashes (`hashed`), at `now`.
    pub fn plan(&self, phone: &Phone, hashed: &[(Signal, String)], now: i64) -> Plan {
        let hour = now.div_euclid(3600);
        let day = now.div_euclid(86_400);
        let day_end = (day + 1) * 86_400;
        let mut plan = Plan {
            denied: self.mode != Mode::Off && Guard::listed(&self.deny, phone),
            signals: Vec::new(),
            block: None,
            day_end,
        };
        if self.mode == Mode::Off || Guard::listed(&self.safe, phone) {
            return plan;
        }
        for (kind, hash) in hashed {
            let v = self.velocity(*kind);
            let name = kind.as_str();
            if v.per_hour > 0 {
                plan.signals.push((
                    format!("FG#{name}#{hash}#h#{hour}"),
                    v.per_hour,
                    kind.reason(),
                    (hour + 1) * 3600,
                ));
            }
            if v.per_day > 0 {
                plan.signals
                    .push((format!("FG#{name}#{hash}#d#{day}"), v.per_day, kind.reason(), day_end));
            }
        }
        plan.block = self
            .block(phone)
            .map(|b| (format!("FG#block#{b}#{day}#calls"), verified_key(&b, now)));
        plan
    }

    /// Decides a send from the units each of `plan`'s keys held when read (in the order of
    /// [`Plan::keys`]; a counter not read holds none).
    pub fn decide(&self, plan: &Plan, units: &[u32], now: i64) -> Decision {
        if plan.denied {
            return Decision::Refuse {
                reason: Reason::BlockedPrefix,
                retry_after: plan.day_end - now,
            };
        }
        let at = |i: usize| units.get(i).copied().unwrap_or(0);
        let mut take = Vec::new();
        for (i, (key, cap, reason, end)) in plan.signals.iter().enumerate() {
            if at(i) >= *cap {
                return Decision::Refuse {
                    reason: *reason,
                    retry_after: end - now,
                };
            }
            take.push(Tally {
                key: key.clone(),
                expires: end + 3600,
                cap: *cap,
                reason: *reason,
                retry_after: end - now,
            });
        }
        if let Some((calls_key, _)) = &plan.block {
            let n = plan.signals.len();
            let (calls, verified) = (at(n), at(n + 1));
            let allowed = self.block_allowance(verified);
            if calls.saturating_sub(verified) >= allowed {
                return Decision::Refuse {
                    reason: Reason::BlockVelocity,
                    retry_after: plan.day_end - now,
                };
            }
            // Verified only grows: a cap from the verified count read is never too generous.
            take.push(Tally {
                key: calls_key.clone(),
                expires: plan.day_end + 86_400,
                cap: verified.saturating_add(allowed),
                reason: Reason::BlockVelocity,
                retry_after: plan.day_end - now,
            });
        }
        Decision::Admit(take)
    }

    /// Unverified calls a block with `verified` verified ones may have: the floor, or the share
    /// of its verified ones when that is more.
    pub fn block_allowance(&self, verified: u32) -> u32 {
        let share = u64::from(verified) * u64::from(self.block_share_percent) / 100;
        self.block_floor.max(u32::try_from(share).unwrap_or(u32::MAX))
    }

    /// In record mode a refusal is only counted: the send takes the counters it can, without
    /// their caps.
    pub fn uncapped(plan: &Plan, now: i64) -> Vec<Tally> {
        let mut all: Vec<Tally> = plan
            .signals
            .iter()
            .map(|(key, _, reason, end)| Tally {
                key: key.clone(),
                expires: end + 3600,
                cap: u32::MAX,
                reason: *reason,
                retry_after: end - now,
            })
            .collect();
        if let Some((calls_key, _)) = &plan.block {
            all.push(Tally {
                key: calls_key.clone(),
                expires: plan.day_end + 86_400,
                cap: u32::MAX,
                reason: Reason::BlockVelocity,
                retry_after: plan.day_end - now,
            });
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    fn phone(n: &str) -> Phone {
        Phone::parse(n).unwrap()
    }

    #[test]
    fn signals_are_checked_and_normalised() {
        let s = Signals::parse(Some("2001:db8:1:2:3:4:5:6"), Some("dev-1"), None).unwrap();
        assert_eq!(s.ip.as_deref(), Some("2001:db8:1:2::/64"));
        assert_eq!(s.device.as_deref(), Some("dev-1"));
        let same_64 = Signals::parse(Some("2001:db8:1:2:ffff::1"), None, None).unwrap();
        assert_eq!(same_64.ip, s.ip, "one /64 is one IPv6 end user");
        assert_eq!(
            Signals::parse(Some("::ffff:203.0.113.7"), None, None)
                .unwrap()
                .ip
                .as_deref(),
            Some("203.0.113.7")
        );
        for bad in ["", "1.2.3", "203.0.113.7:80", "not-an-ip"] {
            assert_eq!(
                Signals::parse(Some(bad), None, None).unwrap_err().field,
                "signals.ip",
                "{bad}"
            );
        }
        assert!(Signals::parse(None, Some(""), None).is_err());
        assert!(Signals::parse(None, Some("a\nb"), None).is_err());
        assert!(Signals::parse(None, None, Some(&"x".repeat(129))).is_err());
        assert!(Signals::parse(None, None, Some(&"ü".repeat(128))).is_ok());
    }

    #[test]
    fn blocks_are_numbers_less_their_last_digits() {
        assert_eq!(block_of(&phone("+919876501234"), 3), "+919876501");
        assert_eq!(block_of(&phone("+919876501234"), 0), "+919876501234");
    }

    #[test]
    fn a_signal_is_refused_at_its_hourly_and_daily_caps() {
        let g = Guard::default();
        let hashed = vec![(Signal::Ip, "h1".to_owned())];
        let plan = g.plan(&phone("+919876543210"), &hashed, NOW);
        // ip hour, ip day, block calls, block verified.
        assert_eq!(plan.keys().len(), 4);
        assert!(matches!(g.decide(&plan, &[9, 29, 0, 0], NOW), Decision::Admit(t) if t.len() == 3));
        assert_eq!(
            g.decide(&plan, &[10, 10, 0, 0], NOW),
            Decision::Refuse {
                reason: Reason::IpVelocity,
                retry_after: (NOW.div_euclid(3600) + 1) * 3600 - NOW
            }
        );
        assert!(matches!(
            g.decide(&plan, &[0, 30, 0, 0], NOW),
            Decision::Refuse {
                reason: Reason::IpVelocity,
                ..
            }
        ));
    }

    #[test]
    fn a_block_earns_calls_by_verifying() {
        let g = Guard::default();
        let plan = g.plan(&phone("+919876501234"), &[], NOW);
        let decide = |calls, verified| g.decide(&plan, &[calls, verified], NOW);
        assert!(matches!(decide(9, 0), Decision::Admit(_)));
        assert!(matches!(
            decide(10, 0),
            Decision::Refuse {
                reason: Reason::BlockVelocity,
                ..
            }
        ));
        // 50 verified of 80 calls: 30 unverified, under 100 % of 50.
        let Decision::Admit(take) = decide(80, 50) else {
            panic!()
        };
        assert_eq!(take[0].cap, 100, "the write's condition: calls < verified + allowance");
        assert!(matches!(decide(100, 50), Decision::Refuse { .. }));
        assert_eq!(g.block_allowance(1_000), 1_000);
    }

    #[test]
    fn lists_and_modes() {
        let g = Guard {
            safe: vec!["+9198765".into()],
            deny: vec!["+91140".into()],
            ..Guard::default()
        };
        let safe = g.plan(&phone("+919876501234"), &[(Signal::Ip, "h".into())], NOW);
        assert!(safe.keys().is_empty(), "a safe number is not counted");
        let denied = g.plan(&phone("+911401234567"), &[], NOW);
        assert!(matches!(
            g.decide(&denied, &[], NOW),
            Decision::Refuse {
                reason: Reason::BlockedPrefix,
                ..
            }
        ));
        let off = Guard {
            mode: Mode::Off,
            ..g.clone()
        };
        let plan = off.plan(&phone("+911401234567"), &[(Signal::Ip, "h".into())], NOW);
        assert!(plan.keys().is_empty() && !plan.denied);
        assert_eq!(Mode::parse("record"), Some(Mode::Record));
        assert_eq!(Mode::parse("on"), None);
    }
}
