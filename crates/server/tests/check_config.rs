//! `hush-server --check-config`, run as an operator would before a restart or an upgrade:
//! it reports the database's schema against this build (changing nothing), refuses a
//! database a newer release migrated, and reaches each configured backend — a real
//! `redis-server`, and closed ports that must fail.

mod common;

use std::path::Path;
use std::process::Command;

use hush_server::store::sqlite::{SCHEMA_VERSION, SqliteStore};

/// Runs `--check-config` on `data_dir` with `env`: (exit code 0?, what it printed).
fn check(data_dir: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hush-server"))
        .env_clear()
        .envs(env.iter().copied())
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--check-config")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn set_schema_version(db: &Path, version: i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute("DELETE FROM schema_migrations WHERE version > ?1", [version]).unwrap();
    conn.execute("INSERT OR IGNORE INTO schema_migrations (version, applied_at) VALUES (?1, 0)", [version]).unwrap();
}

#[test]
fn the_database_schema_is_reported_without_changing_it() {
    let data = tempfile::tempdir().unwrap();
    let (ok, out) = check(data.path(), &[]);
    assert!(ok && out.contains("does not exist yet; it is created at start"), "{out}");
    assert!(!data.path().join("hush.db").exists(), "checking creates no database");
    assert!(!data.path().join("jwt_secret").exists(), "nor a secret");

    let db = data.path().join("hush.db");
    drop(SqliteStore::open(&db).unwrap());
    let (ok, out) = check(data.path(), &[]);
    assert!(ok && out.contains(&format!("at schema version {SCHEMA_VERSION}, up to date")), "{out}");

    set_schema_version(&db, SCHEMA_VERSION - 2);
    let (ok, out) = check(data.path(), &[]);
    let pending = format!("applies migrations {} to {SCHEMA_VERSION}", SCHEMA_VERSION - 1);
    assert!(ok && out.contains(&pending), "{out}");
    assert!(check(data.path(), &[]).1.contains(&pending), "the check applied no migration");

    set_schema_version(&db, SCHEMA_VERSION + 1);
    let (ok, out) = check(data.path(), &[]);
    assert!(!ok && out.contains("FAIL  database") && out.contains("newer than this hush-server"), "{out}");
    let refused = SqliteStore::open(&db).err().expect("a newer schema is not opened").to_string();
    assert!(refused.contains("newer than this hush-server"), "{refused}");
}

#[test]
fn each_configured_backend_is_reached() {
    let redis = common::redis::RedisServer::start();
    let data = tempfile::tempdir().unwrap();
    let (ok, out) = check(data.path(), &[("HUSH_REDIS_URL", &redis.url())]);
    assert!(ok && out.contains("ok    redis: reached"), "{out}");
    assert!(out.contains("mailbox data in layout 1 (if any) moves to layout 4 at start"), "{out}");
    let mut conn = ::redis::Client::open(redis.url()).unwrap().get_connection().unwrap();
    let () = ::redis::cmd("SET").arg("hush:layout").arg(5).query(&mut conn).unwrap();
    let (ok, out) = check(data.path(), &[("HUSH_REDIS_URL", &redis.url())]);
    assert!(!ok && out.contains("FAIL  redis: the mailbox data is in layout 5, newer than this release's 4"), "{out}");

    let closed = [
        ("HUSH_REDIS_URL", "redis://127.0.0.1:1/"),
        ("HUSH_MONGODB_URI", "mongodb://127.0.0.1:2/?serverSelectionTimeoutMS=500"),
        ("HUSH_SMS_PROVIDER", "twilio"),
    ];
    let (ok, out) = check(data.path(), &closed);
    assert!(!ok && out.contains("3 check(s) failed"), "{out}");
    for line in ["FAIL  redis: cannot reach it", "FAIL  mongodb: cannot reach it", "FAIL  sms:"] {
        assert!(out.contains(line), "{line} in\n{out}");
    }
    assert!(out.contains("HUSH_TWILIO_ACCOUNT_SID"), "says what is missing: {out}");
}

#[test]
fn a_proxied_https_origin_without_forwarded_addresses_is_pointed_out() {
    let data = tempfile::tempdir().unwrap();
    let (ok, out) = check(data.path(), &[("HUSH_PUBLIC_ORIGIN", "https://chat.example.org")]);
    assert!(ok && out.contains("set HUSH_TRUST_FORWARDED_FOR=true"), "{out}");
    let (ok, out) = check(data.path(), &[("HUSH_PUBLIC_ORIGIN", "chat.example.org")]);
    assert!(!ok && out.contains("FAIL  public origin"), "{out}");
}
