//! [`RateLimitStore`] on SQLite: a sliding-window log (one row per hit), pruned as it goes.

use std::collections::BTreeSet;

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use crate::store::{RateLimitStore, RateRule, StoreResult};

#[async_trait]
impl RateLimitStore for SqliteStore {
    async fn hit(&self, rules: &[RateRule], now: i64) -> StoreResult<Result<(), u64>> {
        let rules = rules.to_vec();
        self.call(move |c| {
            let tx = c.transaction()?;
            let mut retry_after: u64 = 0;
            for rule in &rules {
                let since = now - rule.window_secs;
                let mut stmt = tx.prepare_cached(
                    "SELECT at FROM rate_events WHERE bucket = ?1 AND at > ?2 ORDER BY at DESC LIMIT ?3",
                )?;
                let recent: Vec<i64> =
                    stmt.query_map(params![rule.key, since, rule.limit], |r| r.get(0))?.collect::<Result<_, _>>()?;
                if recent.len() as u32 >= rule.limit {
                    // The limit-th newest hit must leave the window before another fits.
                    let oldest_counted = recent.last().copied().unwrap_or(now);
                    retry_after = retry_after.max((oldest_counted + rule.window_secs - now).max(1) as u64);
                }
            }
            if retry_after > 0 {
                return Ok(Err(retry_after));
            }
            let longest: std::collections::BTreeMap<&str, i64> = rules.iter().fold(Default::default(), |mut m, r| {
                let e = m.entry(r.key.as_str()).or_insert(0);
                *e = (*e).max(r.window_secs);
                m
            });
            let keys: BTreeSet<&str> = rules.iter().map(|r| r.key.as_str()).collect();
            for key in keys {
                tx.execute("DELETE FROM rate_events WHERE bucket = ?1 AND at <= ?2", params![key, now - longest[key]])?;
                tx.execute("INSERT INTO rate_events (bucket, at) VALUES (?1, ?2)", params![key, now])?;
            }
            tx.commit()?;
            Ok(Ok(()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(key: &str, limit: u32, window_secs: i64) -> RateRule {
        RateRule { key: key.into(), limit, window_secs }
    }

    #[tokio::test]
    async fn sliding_window_with_two_rules_on_one_key() {
        let store = SqliteStore::open_in_memory().unwrap();
        let rules = [rule("sms:+1", 1, 30), rule("sms:+1", 5, 3600)];
        let t0 = 1_000_000;
        assert_eq!(store.hit(&rules, t0).await.unwrap(), Ok(()));
        assert_eq!(store.hit(&rules, t0 + 10).await.unwrap(), Err(20));
        for i in 1..5 {
            assert_eq!(store.hit(&rules, t0 + 30 * i).await.unwrap(), Ok(()), "send {i}");
        }
        // Five in the hour: the sixth waits until the first leaves the hour window.
        assert_eq!(store.hit(&rules, t0 + 200).await.unwrap(), Err(3400));
        assert_eq!(store.hit(&rules, t0 + 3600).await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn a_refused_hit_records_nothing() {
        let store = SqliteStore::open_in_memory().unwrap();
        let rules = [rule("ip:1", 1, 60), rule("num:1", 10, 60)];
        assert_eq!(store.hit(&rules, 0).await.unwrap(), Ok(()));
        assert!(store.hit(&rules, 1).await.unwrap().is_err());
        // num:1 has exactly one hit recorded, so nine more fit.
        for t in 2..11 {
            assert_eq!(store.hit(&[rule("num:1", 10, 60)], t).await.unwrap(), Ok(()));
        }
        assert!(store.hit(&[rule("num:1", 10, 60)], 11).await.unwrap().is_err());
    }
}
