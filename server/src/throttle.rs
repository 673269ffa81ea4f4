//! Limits on guessing: failed logins and enrolment-code attempts, counted per key (an account,
//! a client address), each key getting a few free failures, then a lock-out that doubles with
//! each further failure, capped ([`Limits::max_lock`]). A streak is forgotten a while after
//! its last failure ([`Limits::forget_after`]), and a success clears its key: a real user is
//! at worst delayed, never locked out for good.
//!
//! The counts live in this process's memory: with several replicas each counts on its own
//! (an attacker spreading guesses over N replicas gets N times the attempts; the lock-outs
//! still grow). They are only a brake: passwords are Argon2id hashes and enrolment codes
//! carry about 59 bits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a [`Throttle`] counts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures allowed before the first lock-out.
    pub free: u32,
    /// The first lock-out; each further failure doubles it.
    pub first_lock: Duration,
    /// The longest lock-out.
    pub max_lock: Duration,
    /// A key with no failure for this long starts afresh.
    pub forget_after: Duration,
}

/// The most keys kept; past it the stalest are dropped (memory stays bounded whatever the
/// number of addresses an attacker uses).
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Streak {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Failed attempts by key (see the module documentation).
#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    streaks: Mutex<HashMap<String, Streak>>,
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            streaks: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while `key` is locked out.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    /// Counts a failure for `key`.
    pub fn fail(&self, key: &str) {
        self.fail_at(key, Instant::now())
    }

    /// A success: `key`'s streak is over.
    pub fn succeed(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Streak>> {
        self.streaks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        match self.lock().get(key).and_then(|s| s.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    fn fail_at(&self, key: &str, now: Instant) {
        let limits = self.limits;
        let mut streaks = self.lock();
        if streaks.len() >= MAX_KEYS && !streaks.contains_key(key) {
            streaks.retain(|_, s| now.duration_since(s.last) < limits.forget_after);
            if streaks.len() >= MAX_KEYS {
                // Still full: drop the stalest half.
                let mut lasts: Vec<Instant> = streaks.values().map(|s| s.last).collect();
                lasts.sort_unstable();
                let cut = lasts[lasts.len() / 2];
                streaks.retain(|_, s| s.last > cut);
            }
        }
        let streak = streaks.entry(key.to_string()).or_insert(Streak {
            failures: 0,
            last: now,
            locked_until: None,
        });
        if now.duration_since(streak.last) >= limits.forget_after {
            *streak = Streak {
                failures: 0,
                last: now,
                locked_until: None,
            };
        }
        streak.failures += 1;
        streak.last = now;
        if let Some(over) = streak.failures.checked_sub(limits.free + 1) {
            let lock = limits
                .first_lock
                .saturating_mul(2u32.saturating_pow(over.min(30)))
                .min(limits.max_lock);
            streak.locked_until = Some(now + lock);
        }
    }
}

/// The throttles of the API.
#[derive(Debug)]
pub struct Throttles {
    /// Failed logins per account: a guesser spread over many addresses.
    pub login_account: Throttle,
    /// Failed logins per client address: one guesser trying many accounts.
    pub login_address: Throttle,
    /// Wrong enrolment codes per client address.
    pub enrol_address: Throttle,
}

impl Default for Throttles {
    fn default() -> Self {
        let limits = |free| Limits {
            free,
            first_lock: Duration::from_secs(1),
            max_lock: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(60 * 60),
        };
        Self {
            login_account: Throttle::new(limits(10)),
            login_address: Throttle::new(limits(20)),
            enrol_address: Throttle::new(limits(10)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(Limits {
            free: 3,
            first_lock: Duration::from_secs(1),
            max_lock: Duration::from_secs(60),
            forget_after: Duration::from_secs(600),
        })
    }

    #[test]
    fn a_few_failures_are_free_then_each_doubles_the_lock_out_up_to_the_cap() {
        let t = throttle();
        let t0 = Instant::now();
        for _ in 0..3 {
            t.fail_at("k", t0);
            assert!(t.check_at("k", t0).is_ok());
        }
        let mut locks = Vec::new();
        for _ in 0..9 {
            t.fail_at("k", t0);
            locks.push(t.check_at("k", t0).unwrap_err().as_secs());
        }
        assert_eq!(locks, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        // Other keys are not affected.
        assert!(t.check_at("other", t0).is_ok());
    }

    #[test]
    fn a_lock_out_ends_and_a_streak_is_forgotten_or_cleared() {
        let t = throttle();
        let t0 = Instant::now();
        for _ in 0..5 {
            t.fail_at("k", t0);
        }
        assert_eq!(t.check_at("k", t0), Err(Duration::from_secs(2)));
        assert!(t.check_at("k", t0 + Duration::from_secs(2)).is_ok());
        // Long after, the next failure starts a new streak (free again).
        let later = t0 + Duration::from_secs(601);
        t.fail_at("k", later);
        assert!(t.check_at("k", later).is_ok());
        // A success clears it.
        for _ in 0..5 {
            t.fail_at("k", later);
        }
        assert!(t.check_at("k", later).is_err());
        t.succeed("k");
        assert!(t.check_at("k", later).is_ok());
    }
}
