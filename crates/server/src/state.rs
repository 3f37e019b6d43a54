//! [`AppState`]: what every handler can reach. Built once from [`Config`] at start-up (or
//! piece by piece in tests), cloned cheaply into each request.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, SmsProviderKind};
use crate::data_dir;
use crate::hub::redis::RedisHub;
use crate::hub::{Hub, LocalHub};
use crate::metrics::Metrics;
use crate::open_sockets::OpenSockets;
use crate::push::sender::Pusher;
use crate::secret;
use crate::sms::SmsProvider;
use crate::sms::console::ConsoleSms;
use crate::sms::twilio::{TwilioConfig, TwilioSms};
use crate::store::mongo::MongoStore;
use crate::store::redis::RedisStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{AllHealthy, Stores};
use crate::tokens::TokenService;

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    /// The configuration it was started with.
    pub config: Arc<Config>,
    /// Storage backends.
    pub stores: Stores,
    /// Delivers sign-in codes.
    pub sms: Arc<dyn SmsProvider>,
    /// Issues and checks tokens.
    pub tokens: Arc<TokenService>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Live connections of this node (and, with Redis, of the others).
    pub hub: Arc<dyn Hub>,
    /// Counters and histograms served at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The WebSockets being served, which shutdown waits for.
    pub sockets: Arc<OpenSockets>,
    /// Web Push: the server's VAPID key and the push queue.
    pub push: Arc<Pusher>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data directory could not be created.
    #[error("cannot create data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    /// The database could not be opened or migrated.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    /// The signing secret could not be loaded.
    #[error("{0}")]
    Secret(#[from] secret::SecretError),
    /// The configuration is incomplete.
    #[error("configuration: {0}")]
    Config(String),
}

impl AppState {
    /// Opens the stores and providers the configuration names.
    pub async fn from_config(config: Config) -> Result<Self, StartupError> {
        data_dir::prepare(&config.data_dir)
            .map_err(|e| StartupError::DataDir(config.data_dir.display().to_string(), e))?;
        let store = SqliteStore::open(&config.data_dir.join("hush.db"))?;
        let mut stores = store.stores();
        if let Some(uri) = &config.mongodb_uri {
            attach_mongodb(&mut stores, uri, &config.mongodb_database).await?;
        }
        let hub = match &config.redis_url {
            Some(url) => Some(attach_redis(&mut stores, url, &config.redis_prefix).await?),
            None => None,
        };
        let sms: Arc<dyn SmsProvider> = match config.sms_provider {
            SmsProviderKind::Console => Arc::new(ConsoleSms::to_log()),
            SmsProviderKind::Twilio => Arc::new(twilio_from_config(&config)?),
        };
        let state = Self::assemble(config, stores, sms, Arc::new(SystemClock))?;
        Ok(match hub {
            Some(hub) => state.with_hub(hub),
            None => state,
        })
    }

    /// Replaces the hub (the Redis hub for multi-node deployments).
    pub fn with_hub(mut self, hub: Arc<dyn Hub>) -> Self {
        self.hub = hub;
        self
    }

    /// Builds the state from parts (tests swap the SMS sink and the clock). The data
    /// directory exists already: [`AppState::from_config`] prepares it before opening the
    /// store, and tests hand in a temporary one.
    pub fn assemble(
        config: Config,
        stores: Stores,
        sms: Arc<dyn SmsProvider>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let secret = secret::load_or_create(config.jwt_secret.as_deref(), &config.data_dir)?;
        let push = Arc::new(Pusher::new(&config, &secret));
        Ok(Self {
            push,
            config: Arc::new(config),
            stores,
            sms,
            tokens: Arc::new(TokenService::new(&secret)),
            clock,
            hub: Arc::new(LocalHub::default()),
            metrics: Arc::new(Metrics::default()),
            sockets: Arc::default(),
        })
    }

    /// Now, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// Moves accounts, sessions, codes, friendships and devices to MongoDB.
pub async fn attach_mongodb(stores: &mut Stores, uri: &str, database: &str) -> Result<(), StartupError> {
    let mongo = MongoStore::connect(uri, database).await?;
    stores.accounts = Arc::new(mongo.clone());
    stores.sessions = Arc::new(mongo.clone());
    stores.codes = Arc::new(mongo.clone());
    stores.social = Arc::new(mongo.clone());
    stores.devices = Arc::new(mongo.clone());
    stores.push = Arc::new(mongo.clone());
    stores.health = Arc::new(AllHealthy(vec![stores.health.clone(), Arc::new(mongo)]));
    Ok(())
}

/// Moves the mailbox, one-time prekeys and rate limits to Redis and returns the cross-node
/// hub.
pub async fn attach_redis(stores: &mut Stores, url: &str, prefix: &str) -> Result<Arc<dyn Hub>, StartupError> {
    let redis = RedisStore::connect(url, prefix).await?;
    stores.mailbox = Arc::new(redis.clone());
    stores.prekeys = Arc::new(redis.clone());
    stores.links = Arc::new(redis.clone());
    stores.limits = Arc::new(redis.clone());
    stores.health = Arc::new(AllHealthy(vec![stores.health.clone(), Arc::new(redis.clone())]));
    let hub: Arc<dyn Hub> = RedisHub::start(&redis).await;
    Ok(hub)
}

/// The Twilio provider the configuration describes, or what is missing.
pub fn twilio_from_config(config: &Config) -> Result<TwilioSms, StartupError> {
    let need = |value: &Option<String>, name: &str| {
        value
            .clone()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| StartupError::Config(format!("HUSH_SMS_PROVIDER=twilio needs {name}")))
    };
    TwilioSms::new(TwilioConfig {
        account_sid: need(&config.twilio_account_sid, "HUSH_TWILIO_ACCOUNT_SID")?,
        auth_token: need(&config.twilio_auth_token, "HUSH_TWILIO_AUTH_TOKEN")?,
        from: need(&config.twilio_from, "HUSH_TWILIO_FROM")?,
        api_base: config.twilio_api_base.clone(),
    })
    .map_err(|e| StartupError::Config(e.to_string()))
}
