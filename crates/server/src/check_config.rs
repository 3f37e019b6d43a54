//! `hush-server --check-config`: validates the configuration and reaches every configured
//! backend without serving and without changing anything (no migration runs, no secret is
//! generated), for use before a restart or an upgrade. Prints one line per check and exits
//! non-zero if any failed.

use std::process::ExitCode;
use std::time::Duration;

use crate::config::{Config, SmsProviderKind};
use crate::secret;
use crate::store::mongo::has_transactions;
use crate::store::redis::layout;
use crate::store::sqlite::{SCHEMA_VERSION, newer_schema, schema_version_of};

/// How long each backend may take to answer.
const REACH_TIMEOUT: Duration = Duration::from_secs(5);

/// What one check found.
enum Outcome {
    Ok(String),
    Fail(String),
}

/// Runs every check, prints them, and says whether all passed.
pub async fn run(config: &Config) -> ExitCode {
    let checks = [
        ("data directory", data_directory(config)),
        ("signing secret", signing_secret(config)),
        ("database", database(config)),
        ("public origin", public_origin(config)),
        ("sms", sms(config)),
        ("mongodb", mongodb(config).await),
        ("redis", redis(config).await),
    ];
    let mut failed = 0;
    for (name, outcome) in checks {
        match outcome {
            Outcome::Ok(detail) => println!("ok    {name}: {detail}"),
            Outcome::Fail(detail) => {
                failed += 1;
                println!("FAIL  {name}: {detail}");
            }
        }
    }
    if failed == 0 {
        println!("configuration ok");
        ExitCode::SUCCESS
    } else {
        println!("{failed} check(s) failed");
        ExitCode::FAILURE
    }
}

fn data_directory(config: &Config) -> Outcome {
    let dir = &config.data_dir;
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Outcome::Fail(format!("{} is not a directory", dir.display())),
        Ok(_) => {
            let probe = dir.join(".hush-check-config");
            match std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe)) {
                Ok(()) => Outcome::Ok(format!("{} is writable", dir.display())),
                Err(e) => Outcome::Fail(format!("cannot write in {}: {e}", dir.display())),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Outcome::Ok(format!("{} does not exist yet; it is created at start", dir.display()))
        }
        Err(e) => Outcome::Fail(format!("{}: {e}", dir.display())),
    }
}

fn signing_secret(config: &Config) -> Outcome {
    match secret::load(config.jwt_secret.as_deref(), &config.data_dir) {
        Ok(Some(_)) if config.jwt_secret.is_some() => Outcome::Ok("HUSH_JWT_SECRET is set".into()),
        Ok(Some(_)) => Outcome::Ok(format!("kept in {}", config.data_dir.join("jwt_secret").display())),
        Ok(None) => Outcome::Ok("none yet; one is generated at first start".into()),
        Err(e) => Outcome::Fail(e.to_string()),
    }
}

fn database(config: &Config) -> Outcome {
    let path = config.data_dir.join("hush.db");
    match schema_version_of(&path) {
        Ok(None) => Outcome::Ok(format!("{} does not exist yet; it is created at start", path.display())),
        Ok(Some(version)) if version > SCHEMA_VERSION => Outcome::Fail(newer_schema(version)),
        Ok(Some(version)) if version == SCHEMA_VERSION => {
            Outcome::Ok(format!("{} at schema version {version}, up to date", path.display()))
        }
        Ok(Some(version)) => Outcome::Ok(format!(
            "{} at schema version {version}: start applies migrations {} to {SCHEMA_VERSION} (back it up first)",
            path.display(),
            version + 1
        )),
        Err(e) => Outcome::Fail(format!("cannot read {}: {e}", path.display())),
    }
}

fn public_origin(config: &Config) -> Outcome {
    let origin = config.public_origin();
    let Some(rest) = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) else {
        return Outcome::Fail(format!("{origin} must start with https:// or http://"));
    };
    if rest.is_empty() || rest.contains('/') {
        return Outcome::Fail(format!("{origin} must be scheme://host[:port], with no path"));
    }
    let mut detail = origin.clone();
    if config.is_https() && !config.trust_forwarded_for {
        detail.push_str(
            "; note: behind a TLS proxy set HUSH_TRUST_FORWARDED_FOR=true, or every visitor shares one rate-limit bucket",
        );
    }
    if !config.is_https() && !rest.starts_with("localhost") && !rest.starts_with("127.") {
        detail.push_str("; note: over plain http the refresh cookie is not Secure — use https for real use");
    }
    Outcome::Ok(detail)
}

fn sms(config: &Config) -> Outcome {
    match config.sms_provider {
        SmsProviderKind::Console => Outcome::Ok("console: codes are printed in the log (development only)".into()),
        SmsProviderKind::Twilio => match crate::state::twilio_from_config(config) {
            Ok(_) => Outcome::Ok("twilio: account, token and sender set".into()),
            Err(e) => Outcome::Fail(e.to_string()),
        },
    }
}

async fn mongodb(config: &Config) -> Outcome {
    let Some(uri) = &config.mongodb_uri else { return Outcome::Ok("not used (SQLite keeps accounts)".into()) };
    let reach = async {
        let mut options = mongodb::options::ClientOptions::parse(uri).await?;
        options.server_selection_timeout = Some(REACH_TIMEOUT);
        options.connect_timeout = Some(REACH_TIMEOUT);
        let client = mongodb::Client::with_options(options)?;
        let hello = client.database(&config.mongodb_database).run_command(mongodb::bson::doc! { "hello": 1 }).await?;
        Ok::<_, mongodb::error::Error>(has_transactions(&hello))
    };
    match reach.await {
        Ok(true) => Outcome::Ok("reached; a replica set or mongos (transactions available)".into()),
        Ok(false) => Outcome::Ok(
            "reached; note: not a replica set, so multi-document transactions are unavailable — \
             run MongoDB as a (one-node) replica set"
                .into(),
        ),
        Err(e) => Outcome::Fail(format!("cannot reach it: {e}")),
    }
}

async fn redis(config: &Config) -> Outcome {
    let Some(url) = &config.redis_url else {
        return Outcome::Ok("not used (SQLite keeps the mailbox; one node only)".into());
    };
    let reach = async {
        let client = redis::Client::open(url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        let aof: Option<Vec<String>> =
            redis::cmd("CONFIG").arg("GET").arg("appendonly").query_async(&mut conn).await.ok();
        let version = layout::redis_version(&mut conn).await?;
        let layout = layout::layout_of(&mut conn, &config.redis_prefix).await?;
        Ok::<_, redis::RedisError>((aof.and_then(|v| v.get(1).cloned()), version, layout))
    };
    let (aof, version, layout) = match tokio::time::timeout(REACH_TIMEOUT, reach).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return Outcome::Fail(format!("cannot reach it: {e}")),
        Err(_) => return Outcome::Fail(format!("no answer within {} s", REACH_TIMEOUT.as_secs())),
    };
    if let Some(why) = layout::refusal(version, layout) {
        return Outcome::Fail(why);
    }
    let moves = if layout < layout::LAYOUT {
        format!("; mailbox data in layout {layout} (if any) moves to layout {} at start", layout::LAYOUT)
    } else {
        String::new()
    };
    match aof.as_deref() {
        Some("yes") => Outcome::Ok(format!("reached; append-only file on{moves}")),
        Some(_) => Outcome::Ok(format!(
            "reached; note: appendonly is off — a crash loses the mailbox since the last snapshot (set appendonly yes){moves}"
        )),
        None => Outcome::Ok(format!("reached (its persistence settings cannot be read: CONFIG is disabled){moves}")),
    }
}
