//! Configuration, layered: built-in defaults < config file (`wismo.toml`) <
//! environment (`WISMO_…`) < flags.
//!
//! Every setting has one key (`listen`, `database_url`, …). The file uses the
//! key as is, the environment as `WISMO_` + the key in capitals, and the
//! command line as `--key-with-dashes`. Each layer is read as text and every
//! value is checked once, at the end, so an error names the layer it came
//! from (`WISMO_LISTEN: …`). Secrets (`database_url`'s password,
//! `admin_token`, `webhook_secret`) are [`Secret`]s: they never print.
//!
//! A list (`webhook_urls`) is comma-separated text in the environment and on
//! the command line, and a string or an array of strings in the file.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A value that must not be printed or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// How to reach a shop's Admin API.
#[derive(Debug, Clone)]
pub struct ShopifySettings {
    pub shop: wismo_integrations::shopify::ShopUrl,
    pub access_token: Secret,
    pub api_version: wismo_integrations::shopify::ApiVersion,
}

/// The WooCommerce REST API (`woocommerce_url` with the consumer key and
/// secret).
#[derive(Debug, Clone)]
pub struct WooSettings {
    pub url: wismo_integrations::woocommerce::StoreUrl,
    pub consumer_key: String,
    pub consumer_secret: Secret,
}

impl WooSettings {
    pub fn client_config(&self) -> wismo_integrations::woocommerce::WooConfig {
        wismo_integrations::woocommerce::WooConfig {
            store: self.url.clone(),
            consumer_key: self.consumer_key.clone(),
            consumer_secret: self.consumer_secret.expose().to_string(),
        }
    }
}

impl ShopifySettings {
    pub fn client_config(&self) -> wismo_integrations::shopify::ShopifyConfig {
        wismo_integrations::shopify::ShopifyConfig {
            shop: self.shop.clone(),
            access_token: self.access_token.expose().to_string(),
            api_version: self.api_version.clone(),
        }
    }
}

/// A database URL with any password masked, fit for printing.
pub fn masked_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The effective settings of a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the default SQLite database and the cached NLU model live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None` means `<data_dir>/wismo.db`.
    pub database_url: Option<Secret>,
    /// Bearer token of the admin endpoints; `None` disables them.
    pub admin_token: Option<Secret>,
    /// A conversation idle this long starts a fresh session on its next message.
    pub session_idle: Duration,
    /// Largest request body (the admin import has its own limit).
    pub max_body_bytes: usize,
    /// Largest order file the admin import accepts.
    pub max_import_bytes: usize,
    /// Longest shopper message, in characters.
    pub max_message_chars: usize,
    /// Longest time a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// On SIGTERM, how long the server keeps serving with `/readyz` at 503
    /// before it stops accepting (so a load balancer's health checks take
    /// it out first); zero stops at once.
    pub shutdown_drain: Duration,
    /// Failure tests only (`WISMO_TEST_TURN_PAUSE`): every turn sleeps at a
    /// named point. `None` (always, outside tests) costs nothing.
    pub test_turn_pause: Option<TurnPause>,
    /// The shoppers' time zone (IANA name), for dates in replies.
    pub timezone: chrono_tz::Tz,
    /// A frozen clock (demos and tests); `None` is the real time.
    pub now: Option<DateTime<Utc>>,
    /// Load the demo store into an empty database at start.
    pub demo_data: bool,
    /// The data key file (AES-256-GCM keys of the personal data at rest and
    /// the lookup key); `None`: `wismo.key` next to the SQLite database, or
    /// in `data_dir` for PostgreSQL. Created (mode 0600) when missing.
    pub data_key_file: Option<PathBuf>,
    /// The data keys themselves, in the key file's JSON format (a secret;
    /// for secrets managers). When set, it replaces the key file, and keys
    /// are rotated by changing it (see SECURITY.md).
    pub data_keys: Option<Secret>,
    /// A trained NLU model file (`wismo nlu train`); default: the built-in
    /// training data, trained once and cached in the data directory.
    pub model: Option<PathBuf>,
    /// Give queued hand-offs to the least-loaded online agent automatically
    /// (otherwise agents pick them from the queue).
    pub auto_assign: bool,
    /// How long an agent's sign-in lasts.
    pub agent_session_ttl: Duration,
    /// Conversations idle for more days than this are deleted (0: kept).
    pub retention_days: u32,
    /// Days after delivery within which returns and exchanges are accepted.
    pub return_window_days: u32,
    /// Days past the promised delivery date after which a late order gets a
    /// trace case.
    pub late_after_days: u32,
    /// Where events are POSTed (http/https URLs, normalised); empty: none.
    pub webhook_urls: Vec<String>,
    /// The key of the webhooks' HMAC signatures; set whenever a URL is.
    pub webhook_secret: Option<Secret>,
    /// Wait after a webhook's first failed attempt (doubling after each
    /// further one, capped at 10 minutes).
    pub webhook_retry_base: Duration,
    /// Time limit of one webhook attempt; a claimed row is the worker's for
    /// three times this (a worker that dies frees its rows after that).
    pub webhook_timeout: Duration,
    /// Attempts per event and URL before the event is given up on (dead).
    pub webhook_max_attempts: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed (IPs or CIDRs).
    pub trusted_proxies: Vec<IpNet>,
    /// Shop origins (`https://shop.example`) allowed to call the shopper API
    /// from a browser (CORS); empty: none.
    pub cors_origins: Vec<String>,
    /// The `frame-ancestors` source list of the HTML pages.
    pub frame_ancestors: String,
    /// Send `Strict-Transport-Security` (the server is reached over HTTPS).
    pub hsts: bool,
    /// Requests per client IP (`None`: unlimited).
    pub rate_limit_ip: Option<Rate>,
    /// Shopper messages per conversation.
    pub rate_limit_conversation: Option<Rate>,
    /// Agent sign-in attempts per client IP and per email.
    pub rate_limit_sign_in: Option<Rate>,
    /// Admin API requests per admin token.
    pub rate_limit_admin: Option<Rate>,
    /// Failed sign-ins per email before the email is locked for the window.
    pub sign_in_lockout: Option<Rate>,
    /// Failed order verifications per client IP (across conversations);
    /// sized for many shoppers behind one NAT.
    pub verification_failures: Option<Rate>,
    /// Failed order verifications per order number (across conversations
    /// and IPs), after which that order is not checked in chat for the
    /// window: the shopper is told so and offered a person.
    pub verification_failures_order: Option<Rate>,
    /// 401/403/429 answers per client IP before the IP is blocked.
    pub abuse_block: Option<Rate>,
    /// How long an abusive IP stays blocked.
    pub abuse_block_time: Duration,
    /// PEM certificate chain to serve HTTPS with (with `tls_key`); reloaded
    /// when the file changes. `None`: plain HTTP.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// File that security events are appended to as JSON lines
    /// (`wismo.security/1`); `None`: only the tracing log.
    pub security_log: Option<PathBuf>,
    /// The store workspace folder (`store.toml`, `knowledge/`, …); watched
    /// and published as a new version when it changes. `None`: the active
    /// version in the database, else the built-in (demo) workspace.
    pub store_dir: Option<PathBuf>,
    /// How often this server asks the database which store version is active.
    pub store_poll: Duration,
    /// Conversations a server keeps in memory at most (the least recently
    /// used idle ones are dropped past it; the log has them).
    pub max_live_conversations: usize,
    /// `redis://…` or `rediss://…`: shared rate limits, lockouts and
    /// sign-on state for several instances. `None`: in-process.
    pub redis_url: Option<Secret>,
    /// How many instances share the limits: with `redis_url` set and Redis
    /// unreachable, each instance falls back to in-process limits at the
    /// limit divided by this. Default: 3 with `redis_url`, else 1.
    pub instances: u32,
    /// `nats://…` or `tls://…`: the doorbell that tells every instance a
    /// conversation has new events, and the consoles' signals. `None`:
    /// in-process.
    pub nats_url: Option<Secret>,
    /// With `nats_url`: publish every conversation and case event durably
    /// to JetStream (`wismo.events.>`). Default true.
    pub event_stream: bool,
    /// `postgres://…` of a streaming replica for reads that tolerate lag.
    pub database_replica_url: Option<Secret>,
    /// The Shopify Admin API (`shopify_shop` with `shopify_access_token`);
    /// `None`: no live lookups (the mirror, fed by webhooks and
    /// `wismo sync shopify`, or a connection saved by `wismo connect
    /// shopify`, still answers).
    pub shopify: Option<ShopifySettings>,
    /// The WooCommerce REST API; `None`: no live lookups there (webhooks,
    /// `wismo sync woocommerce` or a saved connection still feed the mirror).
    pub woocommerce: Option<WooSettings>,
    /// Key of `X-Shopify-Hmac-Sha256` on Shopify webhooks; `None`: the
    /// webhook endpoint answers 404.
    pub shopify_webhook_secret: Option<Secret>,
    /// Shopify webhooks triggered longer ago than this are refused (401).
    pub shopify_webhook_max_age: Duration,
    /// The carrier-tracking service wismo creates trackers at (AfterShip
    /// if its key is set, else EasyPost); `None`: none are created.
    pub tracker_service: Option<TrackerServiceSettings>,
    /// Key of `aftership-hmac-sha256`; `None`: that endpoint answers 404.
    pub aftership_webhook_secret: Option<Secret>,
    /// Key of EasyPost's `X-Hmac-Signature`; `None`: that endpoint answers 404.
    pub easypost_webhook_secret: Option<Secret>,
    /// Tracking events (AfterShip, EasyPost) older than this are refused (401).
    pub tracking_webhook_max_age: Duration,
    /// The endpoint's `whsec_…` signing secret; `None`: that endpoint answers 404.
    pub stripe_webhook_secret: Option<Secret>,
    /// How far a `Stripe-Signature` time may be from now.
    pub stripe_webhook_tolerance: Duration,
    /// Key of `X-WC-Webhook-Signature`; `None`: that endpoint answers 404.
    pub woocommerce_webhook_secret: Option<Secret>,
    /// WooCommerce orders last modified longer ago than this are refused (401).
    pub woocommerce_webhook_max_age: Duration,
    /// The SMTP server for proactive emails (`smtp_url` with `smtp_from`);
    /// `None`: no emails (the store's `[proactive] email` has no effect).
    pub smtp: Option<SmtpSettings>,
    /// Signed-in shoppers (customer tokens); `None`: only anonymous ones.
    pub shopper_jwt: Option<ShopperJwtConfig>,
    /// Agent single sign-on through an external OIDC provider; `None`: off.
    pub oidc: Option<OidcConfig>,
    /// The Rasa REST channel (`/webhooks/rest/webhook`): `None`: off (404);
    /// on, every request needs this shared secret as a bearer token or an
    /// HS256 JWT signed with it.
    pub rasa_channel_token: Option<Secret>,
    /// The server's address as browsers reach it (`https://chat.shop.example`,
    /// no trailing slash): `/docs` examples and links, and the origin that
    /// cookie-authenticated requests must come from. `None`: the bound
    /// address (`http(s)://<addr>`), see [`Config::public_url_for`].
    pub public_url: Option<String>,
}

/// Where trackers are created.
#[derive(Debug, Clone)]
pub enum TrackerServiceSettings {
    AfterShip {
        url: String,
        key: Secret,
        version: String,
    },
    EasyPost {
        url: String,
        key: Secret,
    },
}

/// Where proactive emails go out.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `smtp://`, `smtps://` (user and password inside).
    pub url: Secret,
    /// The sender, `Name <address>` or an address.
    pub from: String,
}

/// Agent sign-in through an external OpenID Connect provider
/// (authorization code flow with PKCE).
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The provider's issuer, exactly as its ID tokens' `iss` says.
    pub issuer: String,
    pub client_id: String,
    /// `None`: a public client (PKCE only).
    pub client_secret: Option<Secret>,
    /// wismo's callback (`…/v1/agent/oidc/callback`) as the browser reaches it.
    pub redirect_url: String,
    /// Space-separated scopes asked for (always includes `openid`).
    pub scopes: String,
}

/// How customer tokens (JWTs from the store's site) are verified: with a
/// shared HS256 secret and/or RS256/ES256 keys from the store's JWKS.
#[derive(Debug, Clone)]
pub struct ShopperJwtConfig {
    pub secret: Option<Secret>,
    pub jwks_url: Option<String>,
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must carry (or list).
    pub audience: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Longest lifetime (`exp` − `iat`/`nbf`) of a token.
    pub max_lifetime: Duration,
    /// How long the fetched JWKS is used before it is fetched again.
    pub jwks_ttl: Duration,
    /// Least time between two JWKS fetches (an unknown `kid` refetches).
    pub jwks_min_refetch: Duration,
}

/// A limit: at most `limit` in each window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u32,
    pub per: Duration,
}

/// `120/1m`, `5/15m`; `0` or `off`: no limit (`None`).
pub fn parse_rate(s: &str) -> Result<Option<Rate>, String> {
    let t = s.trim();
    if t == "0" || t.eq_ignore_ascii_case("off") || t.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let bad = || format!("{s:?} is not a limit such as 120/1m or 5/15m (0 or off: unlimited)");
    let (n, per) = t.split_once('/').ok_or_else(bad)?;
    let limit: u32 = n.trim().parse().map_err(|_| bad())?;
    let per = parse_duration(per).map_err(|_| bad())?;
    if limit == 0 {
        return Ok(None);
    }
    Ok(Some(Rate { limit, per }))
}

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let bits = u32::from(self.prefix.min(32));
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let bits = u32::from(self.prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A comma-separated list of IPs or CIDRs (`127.0.0.1, 10.0.0.0/8, fd00::/8`).
pub fn parse_ip_nets(list: &str) -> Result<Vec<IpNet>, String> {
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (addr, prefix) = match part.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (part, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{part:?} is not an IP address or CIDR such as 10.0.0.0/8"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{part:?}: the prefix length must be 0 to {max}"))?,
        };
        out.push(IpNet { addr, prefix });
    }
    Ok(out)
}

/// A comma-separated list of exact origins (`https://shop.example`,
/// `http://localhost:3000`): scheme, host and optional port, nothing else.
pub fn parse_origins(list: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "*" {
            return Err("\"*\" is not allowed: list each shop origin".into());
        }
        let url = reqwest::Url::parse(part)
            .map_err(|e| format!("{part:?} is not an origin such as https://shop.example ({e})"))?;
        if !["http", "https"].contains(&url.scheme())
            || url.host_str().is_none_or(str::is_empty)
            || url.path() != "/"
            || part.trim_end_matches('/').len() != url.origin().ascii_serialization().len()
        {
            return Err(format!(
                "{part:?} is not an origin such as https://shop.example (scheme, host and port only)"
            ));
        }
        let origin = url.origin().ascii_serialization();
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

impl Config {
    /// Whether wismo serves HTTPS itself (`tls_cert` and `tls_key` set).
    pub fn serves_tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }

    /// The public URL in effect once the server is bound to `bound`.
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(u) => u.clone(),
            None => {
                let scheme = if self.serves_tls() { "https" } else { "http" };
                format!("{scheme}://{bound}")
            }
        }
    }

    /// The public URL (set by `Server::start` once bound; empty before).
    pub fn public_base(&self) -> &str {
        self.public_url.as_deref().unwrap_or("")
    }

    /// The data key file in effect (see [`Config::data_key_file`]).
    pub fn data_key_file_in_effect(&self) -> PathBuf {
        self.data_key_file.clone().unwrap_or_else(|| {
            wismo_store::Db::default_key_file(&self.database_url())
                .unwrap_or_else(|| self.data_dir.join("wismo.key"))
        })
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.expose().to_string(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("wismo.db").display()
            ),
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Env(v) => f.write_str(v),
            Source::Flag(v) => f.write_str(v),
        }
    }
}

struct Key {
    name: &'static str,
    default: Option<&'static str>,
    secret: bool,
    help: &'static str,
}

const KEYS: &[Key] = &[
    Key {
        name: "listen",
        default: Some("127.0.0.1:8080"),
        secret: false,
        help: "address and port to listen on",
    },
    Key {
        name: "data_dir",
        default: Some("wismo-data"),
        secret: false,
        help: "folder of the default SQLite database and the cached model",
    },
    Key {
        name: "database_url",
        default: None,
        secret: true,
        help: "sqlite://PATH or postgres://USER@HOST/DB (default: <data_dir>/wismo.db)",
    },
    Key {
        name: "admin_token",
        default: None,
        secret: true,
        help: "bearer token of the admin endpoints (unset: admin API disabled)",
    },
    Key {
        name: "session_idle",
        default: Some("30m"),
        secret: false,
        help: "idle time after which a conversation starts a fresh session",
    },
    Key {
        name: "max_body_bytes",
        default: Some("64KiB"),
        secret: false,
        help: "largest request body",
    },
    Key {
        name: "max_import_bytes",
        default: Some("32MiB"),
        secret: false,
        help: "largest order file for the admin import",
    },
    Key {
        name: "max_message_chars",
        default: Some("2000"),
        secret: false,
        help: "longest shopper message, in characters",
    },
    Key {
        name: "request_timeout",
        default: Some("10s"),
        secret: false,
        help: "time limit of one request",
    },
    Key {
        name: "shutdown_grace",
        default: Some("10s"),
        secret: false,
        help: "how long shutdown waits for requests in flight",
    },
    Key {
        name: "shutdown_drain",
        default: Some("0s"),
        secret: false,
        help: "on SIGTERM, how long the server keeps serving with /readyz at 503 (draining) before it stops accepting, so a load balancer takes it out first; behind one, set it above the health check's interval times its fall count (0s: stop at once)",
    },
    Key {
        name: "timezone",
        default: Some("UTC"),
        secret: false,
        help: "shoppers' time zone (IANA name) for dates in replies",
    },
    Key {
        name: "now",
        default: None,
        secret: false,
        help: "freeze the clock at this RFC 3339 time (demos, tests)",
    },
    Key {
        name: "demo_data",
        default: Some("true"),
        secret: false,
        help: "load the demo store into an empty database",
    },
    Key {
        name: "data_key_file",
        default: None,
        secret: false,
        help: "key file of the personal data encryption (default: wismo.key next to the SQLite database, or in data_dir); created when missing — back it up",
    },
    Key {
        name: "data_keys",
        default: None,
        secret: true,
        help: "the data keys as key-file JSON, e.g. from a secrets manager (replaces data_key_file; rotate by editing it)",
    },
    Key {
        name: "model",
        default: None,
        secret: false,
        help: "trained NLU model file (default: built-in data, cached in data_dir)",
    },
    Key {
        name: "auto_assign",
        default: Some("false"),
        secret: false,
        help: "give queued hand-offs to the least-loaded online agent automatically",
    },
    Key {
        name: "agent_session_ttl",
        default: Some("12h"),
        secret: false,
        help: "how long an agent's sign-in lasts",
    },
    Key {
        name: "retention_days",
        default: Some("0"),
        secret: false,
        help: "delete conversations idle for more than this many days (0: keep them)",
    },
    Key {
        name: "return_window_days",
        default: Some("30"),
        secret: false,
        help: "days after delivery within which returns and exchanges are accepted (the bot states the deadline and offers a person after it)",
    },
    Key {
        name: "late_after_days",
        default: Some("3"),
        secret: false,
        help: "days past the promised delivery date after which a late order is offered a trace case",
    },
    Key {
        name: "webhook_urls",
        default: None,
        secret: false,
        help: "http(s) URLs that receive the signed event webhooks (comma-separated; unset: none)",
    },
    Key {
        name: "webhook_secret",
        default: None,
        secret: true,
        help: "HMAC-SHA256 key of the Wismo-Signature header (required with webhook_urls)",
    },
    Key {
        name: "webhook_retry_base",
        default: Some("1s"),
        secret: false,
        help: "wait after a webhook's first failure; doubles per attempt, capped at 10m",
    },
    Key {
        name: "webhook_timeout",
        default: Some("10s"),
        secret: false,
        help: "time limit of one webhook attempt; a dead server's deliveries are retried after 3x this",
    },
    Key {
        name: "webhook_max_attempts",
        default: Some("20"),
        secret: false,
        help: "attempts per event and URL before it is given up on (dead)",
    },
    Key {
        name: "trusted_proxies",
        default: None,
        secret: false,
        help: "reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed (unset: none)",
    },
    Key {
        name: "cors_origins",
        default: None,
        secret: false,
        help: "shop origins allowed to call the shopper API from browsers (CORS, comma-separated exact origins; unset: none)",
    },
    Key {
        name: "frame_ancestors",
        default: Some("'none'"),
        secret: false,
        help: "CSP frame-ancestors of the HTML pages (/, /console, /docs)",
    },
    Key {
        name: "hsts",
        default: Some("false"),
        secret: false,
        help: "send Strict-Transport-Security (only when clients reach wismo over HTTPS)",
    },
    Key {
        name: "rate_limit_ip",
        default: Some("3000/1m"),
        secret: false,
        help: "requests per client IP (N/duration; 0: unlimited)",
    },
    Key {
        name: "rate_limit_conversation",
        default: Some("60/1m"),
        secret: false,
        help: "shopper messages per conversation (N/duration; 0: unlimited)",
    },
    Key {
        name: "rate_limit_sign_in",
        default: Some("20/1m"),
        secret: false,
        help: "agent sign-in attempts per client IP and per email (N/duration; 0: unlimited)",
    },
    Key {
        name: "rate_limit_admin",
        default: Some("600/1m"),
        secret: false,
        help: "admin API requests per admin token (N/duration; 0: unlimited)",
    },
    Key {
        name: "sign_in_lockout",
        default: Some("5/15m"),
        secret: false,
        help: "failed sign-ins per email after which it is locked until the window ends (0: never)",
    },
    Key {
        name: "verification_failures",
        default: Some("100/1h"),
        secret: false,
        help: "failed order verifications per client IP across conversations, sized for NATs; then 429 (0: unlimited)",
    },
    Key {
        name: "verification_failures_order",
        default: Some("10/1h"),
        secret: false,
        help: "failed verifications per order number (any conversation or IP); then the chat says so and offers a person (0: unlimited)",
    },
    Key {
        name: "abuse_block",
        default: Some("20/1m"),
        secret: false,
        help: "401/403/429 answers per client IP after which the IP is blocked (0: never)",
    },
    Key {
        name: "abuse_block_time",
        default: Some("10m"),
        secret: false,
        help: "how long an IP blocked for abuse stays blocked",
    },
    Key {
        name: "shopper_jwt_secret",
        default: None,
        secret: true,
        help: "HS256 key (32+ bytes) of the customer tokens the store's site hands the widget (unset: no HS256)",
    },
    Key {
        name: "shopper_jwks_url",
        default: None,
        secret: false,
        help: "https URL of the store's JWKS for RS256/ES256 customer tokens (unset: no JWKS)",
    },
    Key {
        name: "shopper_jwt_issuer",
        default: None,
        secret: false,
        help: "required iss of customer tokens (required when a secret or JWKS URL is set)",
    },
    Key {
        name: "shopper_jwt_audience",
        default: None,
        secret: false,
        help: "required aud of customer tokens (required when a secret or JWKS URL is set)",
    },
    Key {
        name: "shopper_jwt_leeway",
        default: Some("60s"),
        secret: false,
        help: "clock skew allowed on the tokens' exp, nbf and iat (0: none)",
    },
    Key {
        name: "shopper_jwt_max_lifetime",
        default: Some("1h"),
        secret: false,
        help: "longest lifetime (exp - iat) a customer token may have",
    },
    Key {
        name: "shopper_jwks_cache_ttl",
        default: Some("1h"),
        secret: false,
        help: "how long the fetched JWKS is used before it is fetched again",
    },
    Key {
        name: "shopper_jwks_min_refetch",
        default: Some("1m"),
        secret: false,
        help: "least time between JWKS fetches (a token with an unknown kid refetches)",
    },
    Key {
        name: "oidc_issuer",
        default: None,
        secret: false,
        help: "https URL of an OpenID Connect provider agents may sign in with (unset: no single sign-on)",
    },
    Key {
        name: "oidc_client_id",
        default: None,
        secret: false,
        help: "wismo's client id at the OIDC provider (required with oidc_issuer)",
    },
    Key {
        name: "oidc_client_secret",
        default: None,
        secret: true,
        help: "wismo's client secret at the OIDC provider (unset: a public client, PKCE only)",
    },
    Key {
        name: "oidc_redirect_url",
        default: None,
        secret: false,
        help: "public URL of wismo's /v1/agent/oidc/callback, as registered at the provider (required with oidc_issuer)",
    },
    Key {
        name: "oidc_scopes",
        default: Some("openid email"),
        secret: false,
        help: "scopes asked of the OIDC provider (must include openid and email)",
    },
    Key {
        name: "tls_cert",
        default: None,
        secret: false,
        help: "PEM certificate chain: serve HTTPS with it and tls_key (reloaded when the file changes; unset: plain HTTP)",
    },
    Key {
        name: "tls_key",
        default: None,
        secret: false,
        help: "PEM private key of tls_cert (keep it readable only by wismo)",
    },
    Key {
        name: "rasa_channel",
        default: Some("false"),
        secret: false,
        help: "serve the Rasa REST channel at /webhooks/rest/webhook (needs rasa_channel_token)",
    },
    Key {
        name: "rasa_channel_token",
        default: None,
        secret: true,
        help: "shared secret (32+ characters) of the Rasa channel: Authorization: Bearer <it>, or an HS256 JWT signed with it",
    },
    Key {
        name: "public_url",
        default: None,
        secret: false,
        help: "the server's URL as browsers reach it, e.g. https://chat.shop.example (default: http(s)://<listen address>)",
    },
    Key {
        name: "security_log",
        default: None,
        secret: false,
        help: "file that security events are appended to as JSON lines, schema wismo.security/1 (unset: tracing log only)",
    },
    Key {
        name: "store_dir",
        default: None,
        secret: false,
        help: "the store workspace folder (store.toml, knowledge/, flows.yml, templates/, nlu/); watched, every change published as a new version (unset: the active version in the database, else the built-in demo store)",
    },
    Key {
        name: "store_poll",
        default: Some("3s"),
        secret: false,
        help: "how often each server checks the database for a newly published store version",
    },
    Key {
        name: "max_live_conversations",
        default: Some("10000"),
        secret: false,
        help: "conversations kept in memory at most; past it the least recently used idle ones are dropped (reloaded from the log when needed)",
    },
    Key {
        name: "redis_url",
        default: None,
        secret: true,
        help: "redis:// or rediss:// URL shared by every instance: rate limits, lockouts, sign-on state (unset: in-process, one instance)",
    },
    Key {
        name: "instances",
        default: None,
        secret: false,
        help: "how many instances share the limits; while Redis is unreachable each one limits locally at the limit divided by this (default: 3 with redis_url, else 1)",
    },
    Key {
        name: "nats_url",
        default: None,
        secret: true,
        help: "nats:// or tls:// URL shared by every instance: live updates to WebSockets and agent consoles across instances (unset: in-process, one instance)",
    },
    Key {
        name: "event_stream",
        default: Some("true"),
        secret: false,
        help: "with nats_url: publish every conversation and case event durably to the JetStream stream WISMO_EVENTS (false: live updates only, no durable stream)",
    },
    Key {
        name: "database_replica_url",
        default: None,
        secret: true,
        help: "postgres:// URL of a streaming replica for reads that tolerate lag (unset: every read from database_url)",
    },
    Key {
        name: "shopify_shop",
        default: None,
        secret: false,
        help: "the shop's address for the Shopify Admin API, e.g. example.myshopify.com (with shopify_access_token; unset: no live lookups)",
    },
    Key {
        name: "shopify_access_token",
        default: None,
        secret: true,
        help: "Admin API access token of the shop's custom app (shpat_…; scopes read_orders, write_orders for cancellations)",
    },
    Key {
        name: "shopify_api_version",
        default: Some(wismo_integrations::shopify::DEFAULT_API_VERSION),
        secret: false,
        help: "the Shopify Admin API version wismo calls (YYYY-MM)",
    },
    Key {
        name: "shopify_webhook_secret",
        default: None,
        secret: true,
        help: "key of X-Shopify-Hmac-Sha256 on Shopify webhooks (the app's client secret; unset: POST /v1/integrations/shopify/webhooks answers 404)",
    },
    Key {
        name: "aftership_webhook_secret",
        default: None,
        secret: true,
        help: "key of the aftership-hmac-sha256 header on AfterShip tracking webhooks (unset: POST /v1/integrations/aftership/webhooks answers 404)",
    },
    Key {
        name: "easypost_webhook_secret",
        default: None,
        secret: true,
        help: "key of the X-Hmac-Signature header on EasyPost tracker webhooks, ASCII (unset: POST /v1/integrations/easypost/webhooks answers 404)",
    },
    Key {
        name: "aftership_api_key",
        default: None,
        secret: true,
        help: "AfterShip Tracking API key (as-api-key): wismo creates a tracking for every tracking number the store gives (unset: none)",
    },
    Key {
        name: "aftership_api_version",
        default: Some("2026-01"),
        secret: false,
        help: "the AfterShip Tracking API version wismo calls (YYYY-MM)",
    },
    Key {
        name: "aftership_api_url",
        default: Some("https://api.aftership.com"),
        secret: false,
        help: "AfterShip's API address (a proxy, or a test server)",
    },
    Key {
        name: "easypost_api_key",
        default: None,
        secret: true,
        help: "EasyPost API key: wismo creates a tracker for every tracking number the store gives, when aftership_api_key is not set (unset: none)",
    },
    Key {
        name: "easypost_api_url",
        default: Some("https://api.easypost.com"),
        secret: false,
        help: "EasyPost's API address (a proxy, or a test server)",
    },
    Key {
        name: "tracking_webhook_max_age",
        default: Some("72h"),
        secret: false,
        help: "AfterShip and EasyPost events sent longer ago than this (their own signed time) are refused (401); AfterShip retries for about 68 hours",
    },
    Key {
        name: "stripe_webhook_secret",
        default: None,
        secret: true,
        help: "the Stripe webhook endpoint's signing secret, whsec_… (unset: POST /v1/integrations/stripe/webhooks answers 404)",
    },
    Key {
        name: "stripe_webhook_tolerance",
        default: Some("5m"),
        secret: false,
        help: "how far the time in Stripe-Signature may be from now (Stripe's libraries use 5 minutes)",
    },
    Key {
        name: "woocommerce_url",
        default: None,
        secret: false,
        help: "the WooCommerce store's address for the REST API v3, https://shop.example (with woocommerce_consumer_key and woocommerce_consumer_secret; unset: no live lookups)",
    },
    Key {
        name: "woocommerce_consumer_key",
        default: None,
        secret: false,
        help: "the REST API key's consumer key, ck_… (Read/Write for cancellations and address changes)",
    },
    Key {
        name: "woocommerce_consumer_secret",
        default: None,
        secret: true,
        help: "the REST API key's consumer secret, cs_…",
    },
    Key {
        name: "woocommerce_webhook_secret",
        default: None,
        secret: true,
        help: "the secret of the WooCommerce webhooks (key of X-WC-Webhook-Signature; unset: POST /v1/integrations/woocommerce/webhooks answers 404)",
    },
    Key {
        name: "smtp_url",
        default: None,
        secret: true,
        help: "the SMTP server for proactive emails: smtp://host:587 (STARTTLS when offered; ?tls=required to insist), smtps://host:465, user:password@ inside (unset: no emails)",
    },
    Key {
        name: "smtp_from",
        default: None,
        secret: false,
        help: "the sender of proactive emails, e.g. \"North Wind <help@northwind.example>\" (with smtp_url)",
    },
    Key {
        name: "woocommerce_webhook_max_age",
        default: Some("48h"),
        secret: false,
        help: "WooCommerce order webhooks whose order was modified longer ago than this (date_modified_gmt, signed) are refused (401)",
    },
    Key {
        name: "shopify_webhook_max_age",
        default: Some("48h"),
        secret: false,
        help: "Shopify webhooks whose X-Shopify-Triggered-At is older than this are refused (401)",
    },
];

/// Settings that take a list (comma-separated text, or a TOML array).
const LIST_KEYS: &[&str] = &["webhook_urls", "trusted_proxies", "cors_origins"];

/// Why the configuration is unusable. The message names the source.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{origin}: unknown setting {key:?} (known: {known})")]
    UnknownKey {
        origin: String,
        key: String,
        known: String,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// The environment variable of [`TurnPause`].
pub const TEST_TURN_PAUSE_VAR: &str = "WISMO_TEST_TURN_PAUSE";

/// Where a turn can be paused by [`TurnPause`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PausePoint {
    /// The answer is ready, its events are not committed yet.
    BeforeCommit,
    /// The events are committed, the answer is not returned yet.
    AfterCommit,
}

/// A failure-test hook: every turn sleeps `time` at `point`, so a test can
/// kill the instance there. Set with `WISMO_TEST_TURN_PAUSE=POINT:DURATION`
/// (`before_commit:5s`, `after_commit:500ms`), read once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnPause {
    pub point: PausePoint,
    pub time: Duration,
}

impl TurnPause {
    pub fn parse(value: &str) -> Result<TurnPause, String> {
        let (point, time) = value
            .split_once(':')
            .ok_or_else(|| format!("{value:?} is not POINT:DURATION, such as before_commit:5s"))?;
        let point = match point.trim() {
            "before_commit" => PausePoint::BeforeCommit,
            "after_commit" => PausePoint::AfterCommit,
            other => {
                return Err(format!(
                    "{other:?} is not a pause point (before_commit or after_commit)"
                ))
            }
        };
        Ok(TurnPause {
            point,
            time: parse_duration(time)?,
        })
    }
}

/// The layers, before parsing: one text value per key with its source.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    values: BTreeMap<&'static str, (String, Source)>,
    /// `WISMO_TEST_TURN_PAUSE`, when set (tests only; no file key, no flag).
    test_turn_pause: Option<String>,
}

fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

fn known() -> String {
    KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

impl Layers {
    /// The built-in defaults.
    pub fn defaults() -> Self {
        let mut l = Layers::default();
        for k in KEYS {
            if let Some(d) = k.default {
                l.values.insert(k.name, (d.to_string(), Source::Default));
            }
        }
        l
    }

    /// Adds a TOML file's settings (a flat table of the keys).
    pub fn file(&mut self, path: &Path) -> Result<&mut Self, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        self.toml(&src, path)
    }

    /// Adds settings from TOML text (named `path` in messages).
    pub fn toml(&mut self, src: &str, path: &Path) -> Result<&mut Self, ConfigError> {
        let table: toml::Table = src
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::File {
                path: path.to_path_buf(),
                message: e.message().to_string(),
            })?;
        for (name, value) in table {
            let Some(k) = key(&name) else {
                return Err(ConfigError::UnknownKey {
                    origin: path.display().to_string(),
                    key: name,
                    known: known(),
                });
            };
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Datetime(d) => d.to_string(),
                toml::Value::Array(items) if LIST_KEYS.contains(&k.name) => {
                    let mut parts = Vec::new();
                    for item in items {
                        match item {
                            toml::Value::String(s) => parts.push(s),
                            other => {
                                return Err(ConfigError::Invalid {
                                    origin: format!("{}: {name}", path.display()),
                                    message: format!(
                                        "expected a list of strings, found a {} in it",
                                        other.type_str()
                                    ),
                                })
                            }
                        }
                    }
                    parts.join(",")
                }
                other => {
                    return Err(ConfigError::Invalid {
                        origin: format!("{}: {name}", path.display()),
                        message: format!(
                            "expected a string, number or boolean, found {}",
                            other.type_str()
                        ),
                    })
                }
            };
            self.values
                .insert(k.name, (text, Source::File(path.to_path_buf())));
        }
        Ok(self)
    }

    /// Adds `WISMO_<KEY>` variables. Other `WISMO_` variables that name no
    /// setting are ignored only if they belong to other parts of wismo
    /// (`WISMO_LOG`, `WISMO_CONFIG`, `WISMO_TEST_…`); any other is an error,
    /// so a misspelt setting does not go unnoticed.
    pub fn env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<&mut Self, ConfigError> {
        for (var, value) in vars {
            let Some(rest) = var.strip_prefix("WISMO_") else {
                continue;
            };
            let name = rest.to_ascii_lowercase();
            match key(&name) {
                Some(k) => {
                    self.values.insert(k.name, (value, Source::Env(var)));
                }
                None if var == TEST_TURN_PAUSE_VAR => {
                    self.test_turn_pause = Some(value);
                }
                None if ["log", "config"].contains(&name.as_str())
                    || name.starts_with("test_")
                    || name.starts_with("bench_") => {}
                None => {
                    return Err(ConfigError::UnknownKey {
                        origin: format!("environment variable {var}"),
                        key: name,
                        known: known(),
                    })
                }
            }
        }
        Ok(self)
    }

    /// Adds one command-line flag's value (`key` as in the file).
    pub fn flag(&mut self, name: &str, value: impl Into<String>) -> Result<&mut Self, ConfigError> {
        let Some(k) = key(name) else {
            return Err(ConfigError::UnknownKey {
                origin: "command line".into(),
                key: name.to_string(),
                known: known(),
            });
        };
        self.values.insert(
            k.name,
            (
                value.into(),
                Source::Flag(format!("--{}", name.replace('_', "-"))),
            ),
        );
        Ok(self)
    }

    fn get(&self, name: &'static str) -> Option<&(String, Source)> {
        self.values.get(name)
    }

    /// Checks every value and builds the configuration.
    pub fn build(&self) -> Result<Config, ConfigError> {
        let invalid = |name: &'static str, message: String| {
            let src = match self.get(name) {
                Some((_, Source::Env(v))) => format!("environment variable {v}"),
                Some((_, s)) => format!("{s}: {name}"),
                None => name.to_string(),
            };
            ConfigError::Invalid {
                origin: src,
                message,
            }
        };
        let text = |name: &'static str| -> Option<&str> {
            self.get(name)
                .map(|(v, _)| v.as_str())
                .filter(|v| !v.trim().is_empty())
        };
        let required = |name: &'static str| -> Result<&str, ConfigError> {
            text(name).ok_or_else(|| invalid(name, "must not be empty".into()))
        };
        let duration = |name: &'static str| -> Result<Duration, ConfigError> {
            parse_duration(required(name)?).map_err(|m| invalid(name, m))
        };
        let size = |name: &'static str| -> Result<usize, ConfigError> {
            parse_size(required(name)?).map_err(|m| invalid(name, m))
        };
        let listen = required("listen")?;
        let listen: SocketAddr = listen.trim().parse().map_err(|_| {
            invalid(
                "listen",
                format!("{listen:?} is not an address with a port, such as 127.0.0.1:8080"),
            )
        })?;
        let database_url = text("database_url").map(|u| Secret::new(u.trim()));
        if let Some(u) = &database_url {
            let lower = u.expose().to_ascii_lowercase();
            if !["sqlite:", "postgres:", "postgresql:"]
                .iter()
                .any(|p| lower.starts_with(p))
            {
                return Err(invalid(
                    "database_url",
                    format!(
                        "{} is not a sqlite:// or postgres:// URL",
                        masked_url(u.expose())
                    ),
                ));
            }
        }
        let url_of = |key: &'static str, schemes: &[&str]| -> Result<Option<Secret>, ConfigError> {
            let Some(u) = text(key).map(|u| Secret::new(u.trim())) else {
                return Ok(None);
            };
            let lower = u.expose().to_ascii_lowercase();
            if !schemes
                .iter()
                .any(|s| lower.starts_with(&format!("{s}://")))
            {
                return Err(invalid(
                    key,
                    format!(
                        "{} is not a {} URL",
                        masked_url(u.expose()),
                        schemes.join(":// or ") + "://"
                    ),
                ));
            }
            Ok(Some(u))
        };
        let redis_url = url_of("redis_url", &["redis", "rediss"])?;
        let nats_url = url_of("nats_url", &["nats", "tls"])?;
        let instances = match text("instances") {
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "instances",
                        format!("{v:?} is not a number of instances from 1 to 10000"),
                    )
                })?,
            None if redis_url.is_some() => 3,
            None => 1,
        };
        let database_replica_url = url_of("database_replica_url", &["postgres", "postgresql"])?;
        if database_replica_url.is_some()
            && !database_url.as_ref().is_some_and(|u| {
                let l = u.expose().to_ascii_lowercase();
                l.starts_with("postgres:") || l.starts_with("postgresql:")
            })
        {
            return Err(invalid(
                "database_replica_url",
                "a replica needs database_url to be a postgres:// URL".to_string(),
            ));
        }
        let admin_token = text("admin_token").map(Secret::new);
        if let Some(t) = &admin_token {
            if t.expose().len() < 16 {
                return Err(invalid(
                    "admin_token",
                    "must be at least 16 characters long".into(),
                ));
            }
        }
        let max_message_chars = size("max_message_chars")?;
        if max_message_chars == 0 {
            return Err(invalid("max_message_chars", "must be at least 1".into()));
        }
        let tz_text = required("timezone")?;
        let timezone: chrono_tz::Tz = tz_text.trim().parse().map_err(|_| {
            invalid(
                "timezone",
                format!("unknown time zone {tz_text:?} (use an IANA name such as Europe/Berlin)"),
            )
        })?;
        let days = |key: &'static str, max: u32| -> Result<u32, ConfigError> {
            let v = required(key)?;
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|d| *d <= max)
                .ok_or_else(|| {
                    invalid(
                        key,
                        format!("{v:?} is not a number of days from 0 to {max}"),
                    )
                })
        };
        let now = match text("now") {
            Some(s) => Some(
                DateTime::parse_from_rfc3339(s.trim())
                    .map_err(|_| {
                        invalid(
                            "now",
                            format!("{s:?} is not an RFC 3339 time such as 2026-11-24T12:00:00Z"),
                        )
                    })?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        let boolean = |key: &'static str| -> Result<bool, ConfigError> {
            match required(key)?.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => Ok(true),
                "false" | "no" | "0" | "off" => Ok(false),
                other => Err(invalid(key, format!("{other:?} is not true or false"))),
            }
        };
        let demo_data = boolean("demo_data")?;
        let webhook_urls = match text("webhook_urls") {
            Some(list) => parse_webhook_urls(list).map_err(|m| invalid("webhook_urls", m))?,
            None => Vec::new(),
        };
        let webhook_secret = text("webhook_secret").map(Secret::new);
        match &webhook_secret {
            Some(s) if s.expose().len() < 16 => {
                return Err(invalid(
                    "webhook_secret",
                    "must be at least 16 characters long".into(),
                ))
            }
            None if !webhook_urls.is_empty() => {
                return Err(invalid(
                    "webhook_secret",
                    "must be set when webhook_urls is (it signs every webhook)".into(),
                ))
            }
            _ => {}
        }
        let max_attempts = required("webhook_max_attempts")?;
        let webhook_max_attempts: u32 = max_attempts
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                invalid(
                    "webhook_max_attempts",
                    format!("{max_attempts:?} is not a number from 1 to 1000"),
                )
            })?;
        let rate = |key: &'static str| -> Result<Option<Rate>, ConfigError> {
            parse_rate(required(key)?).map_err(|m| invalid(key, m))
        };
        let count = |key: &'static str| -> Result<usize, ConfigError> {
            let v = required(key)?;
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100_000_000).contains(n))
                .ok_or_else(|| invalid(key, format!("{v:?} is not a whole number from 1")))
        };
        let trusted_proxies = match text("trusted_proxies") {
            Some(list) => parse_ip_nets(list).map_err(|m| invalid("trusted_proxies", m))?,
            None => Vec::new(),
        };
        let cors_origins = match text("cors_origins") {
            Some(list) => parse_origins(list).map_err(|m| invalid("cors_origins", m))?,
            None => Vec::new(),
        };
        let frame_ancestors = required("frame_ancestors")?.trim().to_string();
        if !frame_ancestors
            .chars()
            .all(|c| c.is_ascii_graphic() && c != ';' && c != ',' || c == ' ')
        {
            return Err(invalid(
                "frame_ancestors",
                "must be a CSP source list such as 'none', 'self' or https://shop.example".into(),
            ));
        }
        let shopper_jwt = {
            let secret = text("shopper_jwt_secret").map(Secret::new);
            if secret.as_ref().is_some_and(|s| s.expose().len() < 32) {
                return Err(invalid(
                    "shopper_jwt_secret",
                    "must be at least 32 characters long (HS256 needs a 256-bit key)".into(),
                ));
            }
            let jwks_url = match text("shopper_jwks_url") {
                Some(u) => Some(parse_jwks_url(u).map_err(|m| invalid("shopper_jwks_url", m))?),
                None => None,
            };
            if secret.is_some() || jwks_url.is_some() {
                let needed = |key: &'static str| -> Result<String, ConfigError> {
                    text(key).map(|v| v.trim().to_string()).ok_or_else(|| {
                        invalid(
                            key,
                            "must be set when shopper_jwt_secret or shopper_jwks_url is".into(),
                        )
                    })
                };
                let leeway = match required("shopper_jwt_leeway")?.trim() {
                    "0" => Duration::ZERO,
                    _ => duration("shopper_jwt_leeway")?,
                };
                Some(ShopperJwtConfig {
                    secret,
                    jwks_url,
                    issuer: needed("shopper_jwt_issuer")?,
                    audience: needed("shopper_jwt_audience")?,
                    leeway,
                    max_lifetime: duration("shopper_jwt_max_lifetime")?,
                    jwks_ttl: duration("shopper_jwks_cache_ttl")?,
                    jwks_min_refetch: duration("shopper_jwks_min_refetch")?,
                })
            } else {
                None
            }
        };
        let oidc = {
            let issuer = text("oidc_issuer").map(|v| v.trim().to_string());
            let client_id = text("oidc_client_id").map(|v| v.trim().to_string());
            let secret = text("oidc_client_secret").map(Secret::new);
            let redirect = text("oidc_redirect_url").map(|v| v.trim().to_string());
            match (issuer, client_id) {
                (None, None) => {
                    if secret.is_some() || redirect.is_some() {
                        return Err(invalid(
                            "oidc_issuer",
                            "must be set when oidc_client_secret or oidc_redirect_url is".into(),
                        ));
                    }
                    None
                }
                (None, Some(_)) => {
                    return Err(invalid(
                        "oidc_issuer",
                        "must be set when oidc_client_id is".into(),
                    ))
                }
                (Some(_), None) => {
                    return Err(invalid(
                        "oidc_client_id",
                        "must be set when oidc_issuer is".into(),
                    ))
                }
                (Some(issuer), Some(client_id)) => {
                    parse_jwks_url(&issuer).map_err(|m| invalid("oidc_issuer", m))?;
                    let redirect_url = redirect.ok_or_else(|| {
                        invalid(
                            "oidc_redirect_url",
                            "must be set when oidc_issuer is (wismo's callback URL)".into(),
                        )
                    })?;
                    parse_jwks_url(&redirect_url).map_err(|m| invalid("oidc_redirect_url", m))?;
                    let scopes = required("oidc_scopes")?
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ");
                    let words: Vec<&str> = scopes.split(' ').collect();
                    if !words.contains(&"openid") || !words.contains(&"email") {
                        return Err(invalid(
                            "oidc_scopes",
                            "must include openid and email".into(),
                        ));
                    }
                    Some(OidcConfig {
                        issuer,
                        client_id,
                        client_secret: secret,
                        redirect_url,
                        scopes,
                    })
                }
            }
        };
        let tls_cert = text("tls_cert").map(|p| PathBuf::from(p.trim()));
        let tls_key = text("tls_key").map(|p| PathBuf::from(p.trim()));
        match (&tls_cert, &tls_key) {
            (Some(_), None) => {
                return Err(invalid(
                    "tls_key",
                    "must be set when tls_cert is (the certificate's private key)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "tls_cert",
                    "must be set when tls_key is (the key's certificate)".into(),
                ))
            }
            _ => {}
        }
        let rasa_channel_token = if boolean("rasa_channel")? {
            let token = text("rasa_channel_token").map(Secret::new).ok_or_else(|| {
                invalid(
                    "rasa_channel_token",
                    "must be set when rasa_channel is true (the channel's shared secret)".into(),
                )
            })?;
            if token.expose().len() < 32 {
                return Err(invalid(
                    "rasa_channel_token",
                    "must be at least 32 characters long".into(),
                ));
            }
            Some(token)
        } else {
            None
        };
        let public_url = match text("public_url") {
            Some(u) => Some(parse_public_url(u).map_err(|m| invalid("public_url", m))?),
            None => None,
        };
        // A provider's webhook secret: 16 characters or more (ASCII only
        // where the provider normalises secrets, as EasyPost does).
        let provider_secret =
            |name: &'static str, ascii: bool| -> Result<Option<Secret>, ConfigError> {
                match text(name) {
                    Some(s) if s.len() < 16 || (ascii && !s.is_ascii()) => Err(invalid(
                        name,
                        format!(
                            "must be at least 16{} characters long",
                            if ascii { " ASCII" } else { "" }
                        ),
                    )),
                    s => Ok(s.map(Secret::new)),
                }
            };
        Ok(Config {
            rasa_channel_token,
            public_url,
            shopper_jwt,
            oidc,
            tls_cert,
            tls_key,
            security_log: text("security_log").map(|p| PathBuf::from(p.trim())),
            store_dir: text("store_dir").map(|p| PathBuf::from(p.trim())),
            store_poll: duration("store_poll")?,
            max_live_conversations: count("max_live_conversations")?,
            instances,
            redis_url,
            nats_url,
            database_replica_url,
            trusted_proxies,
            cors_origins,
            frame_ancestors,
            hsts: boolean("hsts")?,
            rate_limit_ip: rate("rate_limit_ip")?,
            rate_limit_conversation: rate("rate_limit_conversation")?,
            rate_limit_sign_in: rate("rate_limit_sign_in")?,
            rate_limit_admin: rate("rate_limit_admin")?,
            sign_in_lockout: rate("sign_in_lockout")?,
            verification_failures: rate("verification_failures")?,
            verification_failures_order: rate("verification_failures_order")?,
            abuse_block: rate("abuse_block")?,
            abuse_block_time: duration("abuse_block_time")?,
            listen,
            data_dir: PathBuf::from(required("data_dir")?),
            database_url,
            admin_token,
            session_idle: duration("session_idle")?,
            max_body_bytes: size("max_body_bytes")?,
            max_import_bytes: size("max_import_bytes")?,
            max_message_chars,
            request_timeout: duration("request_timeout")?,
            shutdown_grace: duration("shutdown_grace")?,
            shutdown_drain: parse_duration_or_zero(required("shutdown_drain")?)
                .map_err(|m| invalid("shutdown_drain", m))?,
            test_turn_pause: match &self.test_turn_pause {
                Some(v) => Some(TurnPause::parse(v).map_err(|message| ConfigError::Invalid {
                    origin: format!("environment variable {TEST_TURN_PAUSE_VAR}"),
                    message,
                })?),
                None => None,
            },
            timezone,
            now,
            demo_data,
            data_key_file: text("data_key_file").map(PathBuf::from),
            data_keys: match text("data_keys") {
                Some(json) => {
                    wismo_store::Keyring::from_json(json, "data_keys").map_err(|e| {
                        invalid(
                            "data_keys",
                            format!("must hold keys in the key file format ({e})"),
                        )
                    })?;
                    Some(Secret::new(json))
                }
                None => None,
            },
            model: text("model").map(PathBuf::from),
            auto_assign: boolean("auto_assign")?,
            event_stream: boolean("event_stream")?,
            shopify: match (text("shopify_shop"), text("shopify_access_token")) {
                (None, None) => None,
                (Some(shop), Some(token)) => Some(ShopifySettings {
                    shop: wismo_integrations::shopify::ShopUrl::parse(shop)
                        .map_err(|m| invalid("shopify_shop", m))?,
                    access_token: Secret::new(token),
                    api_version: wismo_integrations::shopify::ApiVersion::parse(required(
                        "shopify_api_version",
                    )?)
                    .map_err(|m| invalid("shopify_api_version", m))?,
                }),
                (Some(_), None) => {
                    return Err(invalid(
                        "shopify_access_token",
                        "must be set when shopify_shop is".into(),
                    ))
                }
                (None, Some(_)) => {
                    return Err(invalid(
                        "shopify_shop",
                        "must be set when shopify_access_token is".into(),
                    ))
                }
            },
            woocommerce: match (
                text("woocommerce_url"),
                text("woocommerce_consumer_key"),
                text("woocommerce_consumer_secret"),
            ) {
                (None, None, None) => None,
                (Some(url), Some(key), Some(secret)) => Some(WooSettings {
                    url: wismo_integrations::woocommerce::StoreUrl::parse(url)
                        .map_err(|m| invalid("woocommerce_url", m))?,
                    consumer_key: key.trim().to_string(),
                    consumer_secret: Secret::new(secret.trim()),
                }),
                (url, key, _) => {
                    let missing = match (url, key) {
                        (None, _) => "woocommerce_url",
                        (_, None) => "woocommerce_consumer_key",
                        _ => "woocommerce_consumer_secret",
                    };
                    return Err(invalid(
                        missing,
                        "woocommerce_url, woocommerce_consumer_key and woocommerce_consumer_secret go together".into(),
                    ));
                }
            },
            tracker_service: match (text("aftership_api_key"), text("easypost_api_key")) {
                (Some(key), _) => {
                    let url = required("aftership_api_url")?.to_string();
                    let version = required("aftership_api_version")?.to_string();
                    wismo_integrations::trackers::AfterShip::new(&url, key, &version)
                        .map_err(|e| invalid("aftership_api_version", e.to_string()))?;
                    Some(TrackerServiceSettings::AfterShip {
                        url,
                        key: Secret::new(key.trim()),
                        version,
                    })
                }
                (None, Some(key)) => Some(TrackerServiceSettings::EasyPost {
                    url: required("easypost_api_url")?.to_string(),
                    key: Secret::new(key.trim()),
                }),
                (None, None) => None,
            },
            shopify_webhook_secret: provider_secret("shopify_webhook_secret", false)?,
            shopify_webhook_max_age: duration("shopify_webhook_max_age")?,
            aftership_webhook_secret: provider_secret("aftership_webhook_secret", false)?,
            easypost_webhook_secret: provider_secret("easypost_webhook_secret", true)?,
            tracking_webhook_max_age: duration("tracking_webhook_max_age")?,
            stripe_webhook_secret: provider_secret("stripe_webhook_secret", false)?,
            stripe_webhook_tolerance: duration("stripe_webhook_tolerance")?,
            woocommerce_webhook_secret: provider_secret("woocommerce_webhook_secret", false)?,
            woocommerce_webhook_max_age: duration("woocommerce_webhook_max_age")?,
            smtp: match (text("smtp_url"), text("smtp_from")) {
                (None, None) => None,
                (Some(url), Some(from)) => {
                    match wismo_integrations::mail::Mailer::new(url, from) {
                        Ok(_) => {}
                        Err(wismo_integrations::IntegrationError::Config(_, m))
                            if m.contains("smtp_from") =>
                        {
                            return Err(invalid("smtp_from", m))
                        }
                        Err(e) => return Err(invalid("smtp_url", e.to_string())),
                    }
                    Some(SmtpSettings {
                        url: Secret::new(url),
                        from: from.to_string(),
                    })
                }
                (Some(_), None) => {
                    return Err(invalid("smtp_from", "must be set when smtp_url is".into()))
                }
                (None, Some(_)) => {
                    return Err(invalid("smtp_url", "must be set when smtp_from is".into()))
                }
            },
            agent_session_ttl: duration("agent_session_ttl")?,
            retention_days: {
                let v = required("retention_days")?;
                v.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|d| *d <= 36_500)
                    .ok_or_else(|| {
                        invalid(
                            "retention_days",
                            format!("{v:?} is not a number of days from 0 to 36500"),
                        )
                    })?
            },
            return_window_days: days("return_window_days", 3650)?,
            late_after_days: days("late_after_days", 365)?,
            webhook_urls,
            webhook_secret,
            webhook_retry_base: duration("webhook_retry_base")?,
            webhook_timeout: duration("webhook_timeout")?,
            webhook_max_attempts,
        })
    }

    /// The effective settings as `key = value  # source` lines, secrets
    /// masked (the database URL shows everything but its password).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for k in KEYS {
            let (value, source) = match self.get(k.name) {
                Some((v, s)) => (v.as_str(), s.to_string()),
                None => ("", "unset".to_string()),
            };
            let shown = if value.is_empty() {
                "(unset)".to_string()
            } else if matches!(
                k.name,
                "database_url" | "redis_url" | "nats_url" | "database_replica_url"
            ) {
                format!("{:?}", masked_url(value))
            } else if k.name == "webhook_urls" {
                let urls: Vec<String> = value.split(',').map(|u| masked_url(u.trim())).collect();
                format!("{:?}", urls.join(","))
            } else if k.secret {
                "\"****\"".to_string()
            } else {
                format!("{value:?}")
            };
            out.push_str(&format!("{} = {shown}  # {source}; {}\n", k.name, k.help));
        }
        out
    }
}

/// A comma-separated list of http/https URLs, each normalised (as
/// `reqwest::Url` prints it); duplicates are dropped. A comma inside a URL
/// must be written `%2C`.
pub fn parse_webhook_urls(list: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let shown = masked_url(part);
        let url = reqwest::Url::parse(part).map_err(|e| format!("{shown:?} is not a URL ({e})"))?;
        if !["http", "https"].contains(&url.scheme()) {
            return Err(format!("{shown:?} is not an http:// or https:// URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{shown:?} has no host"));
        }
        if url.fragment().is_some() {
            return Err(format!("{shown:?} has a #fragment, which is never sent"));
        }
        let url = url.to_string();
        if !out.contains(&url) {
            out.push(url);
        }
    }
    Ok(out)
}

/// The server's public URL: an absolute http(s) URL with a host, no
/// query, fragment or credentials; returned without a trailing slash.
pub fn parse_public_url(s: &str) -> Result<String, String> {
    let t = s.trim();
    let bad = |why: &str| format!("{t:?} is not a URL such as https://chat.shop.example ({why})");
    let url = reqwest::Url::parse(t).map_err(|e| bad(&e.to_string()))?;
    if !["http", "https"].contains(&url.scheme()) {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a ?query or #fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it must not hold a user name or password"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The store's JWKS URL: https, or http to a loopback address only (a
/// JWKS fetched in the clear could be swapped for an attacker's keys).
pub fn parse_jwks_url(s: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(s.trim()).map_err(|e| format!("{s:?} is not a URL ({e})"))?;
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url.to_string()),
        "http" if loopback => Ok(url.to_string()),
        _ => Err(format!(
            "{s:?} must be an https:// URL (http:// only to localhost)"
        )),
    }
}

/// `250ms`, `10s`, `30m`, `2h`, `1d`, or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 500ms, 10s, 30m or 2h"))?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => None,
    }
    .ok_or_else(|| format!("{s:?} is not a duration such as 500ms, 10s, 30m or 2h"))?;
    if ms == 0 {
        return Err(format!("{s:?}: must be longer than zero"));
    }
    Ok(Duration::from_millis(ms))
}

/// [`parse_duration`], or zero (`0`, `0s`, `0ms`).
pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !digits.is_empty()
        && digits.bytes().all(|b| b == b'0')
        && parse_duration(&format!("1{}", &t[digits.len()..])).is_ok()
    {
        return Ok(Duration::ZERO);
    }
    parse_duration(s)
}

/// `4096`, `64KiB`, `1MiB` (also `KB`/`MB`, meaning the same binary units).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 4096, 64KiB or 1MiB"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(format!("{s:?} is not a size such as 4096, 64KiB or 1MiB")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_make_a_working_config() {
        let c = Layers::defaults().build().expect("defaults are valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://wismo-data/wismo.db?mode=rwc");
        assert_eq!(c.session_idle, Duration::from_secs(1800));
        assert_eq!(c.max_body_bytes, 65536);
        assert!(c.admin_token.is_none());
        assert!(c.demo_data);
    }

    #[test]
    fn later_layers_win() {
        let mut l = Layers::defaults();
        l.toml(
            "listen = \"0.0.0.0:9000\"\nsession_idle = \"5m\"\nmax_message_chars = 500\n",
            Path::new("wismo.toml"),
        )
        .expect("toml");
        l.env(env(&[("WISMO_SESSION_IDLE", "10m"), ("PATH", "/bin")]))
            .expect("env");
        l.flag("max_message_chars", "100").expect("flag");
        let c = l.build().expect("valid");
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.session_idle, Duration::from_secs(600));
        assert_eq!(c.max_message_chars, 100);
        let d = l.describe();
        assert!(d.contains("listen = \"0.0.0.0:9000\"  # wismo.toml"), "{d}");
        assert!(
            d.contains("session_idle = \"10m\"  # WISMO_SESSION_IDLE"),
            "{d}"
        );
        assert!(
            d.contains("max_message_chars = \"100\"  # --max-message-chars"),
            "{d}"
        );
    }

    #[test]
    fn secrets_never_print() {
        let mut l = Layers::defaults();
        l.env(env(&[
            (
                "WISMO_DATABASE_URL",
                "postgres://shop:hunter2hunter2@db/wismo",
            ),
            ("WISMO_ADMIN_TOKEN", "s3cret-admin-token-123"),
        ]))
        .expect("env");
        let c = l.build().expect("valid");
        let d = l.describe();
        assert!(!d.contains("hunter2"), "{d}");
        assert!(!d.contains("s3cret"), "{d}");
        assert!(d.contains("postgres://shop:****@db/wismo"), "{d}");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(
            c.admin_token.as_ref().map(Secret::expose),
            Some("s3cret-admin-token-123")
        );
    }

    #[test]
    fn errors_name_their_source() {
        let cases: &[(&str, &str, &str)] = &[
            ("WISMO_LISTEN", "nowhere", "WISMO_LISTEN"),
            ("WISMO_SESSION_IDLE", "soon", "not a duration"),
            ("WISMO_MAX_BODY_BYTES", "12 parsecs", "not a size"),
            ("WISMO_TIMEZONE", "Mars/Olympus", "unknown time zone"),
            ("WISMO_RETURN_WINDOW_DAYS", "-3", "from 0 to 3650"),
            ("WISMO_RETURN_WINDOW_DAYS", "a month", "from 0 to 3650"),
            ("WISMO_LATE_AFTER_DAYS", "9999", "from 0 to 365"),
            (
                "WISMO_DATABASE_URL",
                "mysql://x",
                "not a sqlite:// or postgres://",
            ),
            ("WISMO_ADMIN_TOKEN", "short", "at least 16"),
            ("WISMO_DEMO_DATA", "maybe", "not true or false"),
            ("WISMO_NOW", "yesterday", "RFC 3339"),
            ("WISMO_LISTN", "1", "unknown setting"),
            ("WISMO_WEBHOOK_URLS", "ftp://crm.example/in", "not an http"),
            ("WISMO_WEBHOOK_URLS", "crm.example/in", "not a URL"),
            (
                "WISMO_WEBHOOK_URLS",
                "https://crm.example/in",
                "must be set",
            ),
            ("WISMO_WEBHOOK_SECRET", "short", "at least 16"),
            ("WISMO_WEBHOOK_RETRY_BASE", "soon", "not a duration"),
            ("WISMO_WEBHOOK_MAX_ATTEMPTS", "0", "from 1 to 1000"),
            ("WISMO_WEBHOOK_MAX_ATTEMPTS", "many", "from 1 to 1000"),
        ];
        for (var, value, want) in cases {
            let mut l = Layers::defaults();
            let err = match l.env(env(&[(var, value)])) {
                Err(e) => e,
                Ok(l) => l.build().expect_err("must be refused"),
            };
            assert!(err.to_string().contains(want), "{var}={value}: {err}");
        }
        let mut l = Layers::defaults();
        let err = l
            .toml("lisen = 1", Path::new("wismo.toml"))
            .expect_err("unknown key");
        assert!(err.to_string().contains("wismo.toml"), "{err}");
        let err = Layers::defaults()
            .toml("listen = [1, 2]", Path::new("w.toml"))
            .expect_err("array");
        assert!(err.to_string().contains("w.toml: listen"), "{err}");
        let err = Layers::defaults()
            .toml("listen = ", Path::new("w.toml"))
            .expect_err("syntax");
        assert!(err.to_string().contains("w.toml"), "{err}");
    }

    #[test]
    fn shared_services_take_urls_and_never_print_their_passwords() {
        let c = Layers::defaults().build().expect("defaults");
        assert!(c.redis_url.is_none() && c.nats_url.is_none() && c.database_replica_url.is_none());
        let mut l = Layers::defaults();
        l.env(env(&[
            ("WISMO_REDIS_URL", "redis://:hunter2-redis@127.0.0.1:6379/0"),
            ("WISMO_NATS_URL", "nats://wismo:hunter2-nats@127.0.0.1:4222"),
            (
                "WISMO_DATABASE_URL",
                "postgres://wismo:pw-primary@127.0.0.1/wismo",
            ),
            (
                "WISMO_DATABASE_REPLICA_URL",
                "postgres://wismo:pw-replica@127.0.0.1:5433/wismo",
            ),
        ]))
        .expect("env");
        let c = l.build().expect("valid");
        assert!(c.redis_url.is_some() && c.nats_url.is_some() && c.database_replica_url.is_some());
        assert_eq!(c.instances, 3, "default with redis_url");
        let d = l.describe();
        for secret in ["hunter2-redis", "hunter2-nats", "pw-replica"] {
            assert!(!d.contains(secret), "{d}");
            assert!(!format!("{c:?}").contains(secret));
        }
        assert!(
            d.contains("redis_url = \"redis://:****@127.0.0.1:6379/0\""),
            "{d}"
        );

        for (key, value, says) in [
            (
                "redis_url",
                "http://127.0.0.1:6379",
                "redis:// or rediss://",
            ),
            ("nats_url", "127.0.0.1:4222", "nats:// or tls://"),
            ("database_replica_url", "mysql://x", "postgres://"),
        ] {
            let mut l = Layers::defaults();
            l.flag(key, value).expect("flag");
            let err = l.build().expect_err("refused").to_string();
            assert!(err.contains(key) && err.contains(says), "{err}");
        }
        assert_eq!(Layers::defaults().build().expect("defaults").instances, 1);
        let mut l = Layers::defaults();
        l.env(env(&[("WISMO_INSTANCES", "5")])).expect("env");
        assert_eq!(l.build().expect("valid").instances, 5);
        for bad in ["0", "-1", "many"] {
            let mut l = Layers::defaults();
            l.flag("instances", bad).expect("flag");
            let err = l.build().expect_err("refused").to_string();
            assert!(err.contains("instances"), "{err}");
        }
        // A replica of SQLite makes no sense.
        let mut l = Layers::defaults();
        l.flag("database_replica_url", "postgres://127.0.0.1:5433/wismo")
            .expect("flag");
        let err = l.build().expect_err("refused").to_string();
        assert!(err.contains("needs database_url"), "{err}");
    }

    #[test]
    fn webhook_settings_layer_and_never_print_the_secret() {
        let c = Layers::defaults().build().expect("defaults");
        assert!(c.webhook_urls.is_empty());
        assert!(c.webhook_secret.is_none());
        assert_eq!(c.webhook_retry_base, Duration::from_secs(1));
        assert_eq!(c.webhook_timeout, Duration::from_secs(10));
        assert_eq!(c.webhook_max_attempts, 20);

        let mut l = Layers::defaults();
        l.toml(
            "webhook_urls = [\"https://crm.example/in\", \"http://127.0.0.1:9000/hook?x=1\"]\n\
             webhook_secret = \"whsec-0123456789abcdef\"\n\
             webhook_max_attempts = 5\n",
            Path::new("wismo.toml"),
        )
        .expect("toml");
        let c = l.build().expect("valid");
        assert_eq!(
            c.webhook_urls,
            ["https://crm.example/in", "http://127.0.0.1:9000/hook?x=1"]
        );
        assert_eq!(c.webhook_max_attempts, 5);
        let d = l.describe();
        assert!(!d.contains("whsec-0123456789abcdef"), "{d}");
        assert!(d.contains("webhook_secret = \"****\"  # wismo.toml"), "{d}");
        assert!(!format!("{c:?}").contains("whsec-0123456789abcdef"));

        // The environment (comma-separated) overrides the file; flags override both.
        l.env(env(&[
            (
                "WISMO_WEBHOOK_URLS",
                " https://a.example/h , https://user:pw-123@b.example/h,https://a.example/h",
            ),
            ("WISMO_WEBHOOK_RETRY_BASE", "250ms"),
            ("WISMO_WEBHOOK_TIMEOUT", "2s"),
        ]))
        .expect("env");
        l.flag("webhook_max_attempts", "3").expect("flag");
        let c = l.build().expect("valid");
        assert_eq!(
            c.webhook_urls,
            ["https://a.example/h", "https://user:pw-123@b.example/h"],
            "trimmed, duplicates dropped"
        );
        assert_eq!(c.webhook_retry_base, Duration::from_millis(250));
        assert_eq!(c.webhook_timeout, Duration::from_secs(2));
        assert_eq!(c.webhook_max_attempts, 3);
        let d = l.describe();
        assert!(!d.contains("pw-123"), "{d}");
        assert!(d.contains("# WISMO_WEBHOOK_URLS"), "{d}");
        assert!(
            d.contains("webhook_max_attempts = \"3\"  # --webhook-max-attempts"),
            "{d}"
        );

        let err = Layers::defaults()
            .toml("webhook_urls = [1]", Path::new("w.toml"))
            .expect_err("not strings");
        assert!(err.to_string().contains("w.toml: webhook_urls"), "{err}");
        let err = Layers::defaults()
            .toml("listen = [\"a\"]", Path::new("w.toml"))
            .expect_err("not a list setting");
        assert!(err.to_string().contains("w.toml: listen"), "{err}");
    }

    #[test]
    fn security_settings() {
        let c = Layers::defaults().build().expect("defaults");
        assert!(c.trusted_proxies.is_empty() && c.cors_origins.is_empty());
        assert_eq!(c.frame_ancestors, "'none'");
        assert!(!c.hsts);
        assert_eq!(
            c.sign_in_lockout,
            Some(Rate {
                limit: 5,
                per: Duration::from_secs(900)
            })
        );
        let mut l = Layers::defaults();
        l.toml(
            "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\ncors_origins = \"https://shop.example, http://localhost:3000/\"\nrate_limit_ip = 0\n",
            Path::new("wismo.toml"),
        )
        .expect("toml");
        let c = l.build().expect("valid");
        assert_eq!(c.rate_limit_ip, None);
        assert_eq!(
            c.cors_origins,
            ["https://shop.example", "http://localhost:3000"]
        );
        assert!(c.trusted_proxies[0].contains("10.1.2.3".parse().expect("ip")));
        assert!(!c.trusted_proxies[0].contains("11.1.2.3".parse().expect("ip")));
        assert!(c.trusted_proxies[1].contains("::1".parse().expect("ip")));
        for (var, value) in [
            ("WISMO_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("WISMO_TRUSTED_PROXIES", "proxy.local"),
            ("WISMO_CORS_ORIGINS", "*"),
            ("WISMO_CORS_ORIGINS", "https://shop.example/path"),
            ("WISMO_RATE_LIMIT_IP", "lots"),
            ("WISMO_FRAME_ANCESTORS", "'self'; script-src *"),
        ] {
            let mut l = Layers::defaults();
            l.env(env(&[(var, value)])).expect("env");
            let err = l.build().expect_err("must be refused");
            assert!(err.to_string().contains(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn shutdown_drain_is_zero_by_default_and_set_like_any_setting() {
        let c = Layers::defaults().build().expect("defaults");
        assert_eq!(c.shutdown_drain, Duration::ZERO);
        assert!(c.test_turn_pause.is_none());
        let mut l = Layers::defaults();
        l.toml("shutdown_drain = \"3s\"\n", Path::new("wismo.toml"))
            .expect("toml");
        assert_eq!(
            l.build().expect("valid").shutdown_drain,
            Duration::from_secs(3)
        );
        l.env(env(&[("WISMO_SHUTDOWN_DRAIN", "1500ms")]))
            .expect("env");
        assert_eq!(
            l.build().expect("valid").shutdown_drain,
            Duration::from_millis(1500)
        );
        l.flag("shutdown_drain", "0").expect("flag");
        assert_eq!(l.build().expect("valid").shutdown_drain, Duration::ZERO);
        assert!(l
            .describe()
            .contains("shutdown_drain = \"0\"  # --shutdown-drain"));
        for bad in ["soon", "-1s", "0parsecs"] {
            let mut l = Layers::defaults();
            l.env(env(&[("WISMO_SHUTDOWN_DRAIN", bad)])).expect("env");
            let err = l.build().expect_err("must be refused");
            assert!(
                err.to_string().contains("WISMO_SHUTDOWN_DRAIN"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_test_turn_pause_is_read_from_its_variable_only() {
        let mut l = Layers::defaults();
        l.env(env(&[("WISMO_TEST_TURN_PAUSE", "after_commit:750ms")]))
            .expect("env");
        assert_eq!(
            l.build().expect("valid").test_turn_pause,
            Some(TurnPause {
                point: PausePoint::AfterCommit,
                time: Duration::from_millis(750)
            })
        );
        assert_eq!(
            TurnPause::parse("before_commit:5s").map(|p| p.point),
            Ok(PausePoint::BeforeCommit)
        );
        for bad in [
            "before_commit",
            "during:1s",
            "after_commit:0s",
            "after_commit:x",
        ] {
            let mut l = Layers::defaults();
            l.env(env(&[("WISMO_TEST_TURN_PAUSE", bad)])).expect("env");
            let err = l.build().expect_err("must be refused");
            assert!(
                err.to_string().contains("WISMO_TEST_TURN_PAUSE"),
                "{bad}: {err}"
            );
        }
        // Not a setting: no file key, no flag.
        assert!(Layers::defaults()
            .toml("test_turn_pause = \"after_commit:1s\"", Path::new("w.toml"))
            .is_err());
        assert!(Layers::defaults()
            .flag("test_turn_pause", "after_commit:1s")
            .is_err());
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_duration_or_zero("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("0ms"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("00s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration_or_zero("0x").is_err());
        assert!(parse_duration_or_zero("").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("1mb"), Ok(1 << 20));
        assert!(parse_size("1TB").is_err());
    }

    #[test]
    fn shopper_sign_in_needs_issuer_and_audience_and_hides_its_secret() {
        let secret = "a-shared-secret-of-more-than-32-bytes";
        let mut l = Layers::defaults();
        l.env(env(&[("WISMO_SHOPPER_JWT_SECRET", secret)]))
            .expect("a known setting");
        let e = l.build().expect_err("no issuer").to_string();
        assert!(e.contains("shopper_jwt_issuer"), "{e}");
        l.flag("shopper_jwt_issuer", "https://shop.example")
            .expect("flag");
        let e = l.build().expect_err("no audience").to_string();
        assert!(e.contains("shopper_jwt_audience"), "{e}");
        l.flag("shopper_jwt_audience", "wismo").expect("flag");
        let c = l.build().expect("valid");
        let j = c.shopper_jwt.as_ref().expect("sign-in on");
        assert_eq!(j.leeway, Duration::from_secs(60));
        assert_eq!(j.max_lifetime, Duration::from_secs(3600));
        assert!(!l.describe().contains(secret));
        assert!(!format!("{c:?}").contains(secret));
        // Off by default.
        assert!(Layers::defaults()
            .build()
            .expect("defaults")
            .shopper_jwt
            .is_none());
        // A short secret, or a JWKS over plain http to another host, is refused.
        let mut short = Layers::defaults();
        short.flag("shopper_jwt_secret", "short").expect("flag");
        assert!(short.build().is_err());
        for (url, ok) in [
            ("https://shop.example/.well-known/jwks.json", true),
            ("http://127.0.0.1:9000/jwks.json", true),
            ("http://localhost/jwks.json", true),
            ("http://shop.example/jwks.json", false),
            ("ftp://shop.example/jwks.json", false),
        ] {
            assert_eq!(parse_jwks_url(url).is_ok(), ok, "{url}");
        }
    }

    #[test]
    fn oidc_is_off_by_default_and_refused_when_half_configured() {
        assert!(Layers::defaults().build().expect("defaults").oidc.is_none());
        let secret = "provider-issued-client-secret";
        let mut l = Layers::defaults();
        l.env(env(&[("WISMO_OIDC_CLIENT_SECRET", secret)]))
            .expect("a known setting");
        let e = l.build().expect_err("secret alone").to_string();
        assert!(e.contains("oidc_issuer"), "{e}");
        l.flag("oidc_issuer", "https://id.example").expect("flag");
        let e = l.build().expect_err("no client id").to_string();
        assert!(e.contains("oidc_client_id"), "{e}");
        l.flag("oidc_client_id", "wismo").expect("flag");
        let e = l.build().expect_err("no redirect").to_string();
        assert!(e.contains("oidc_redirect_url"), "{e}");
        l.flag(
            "oidc_redirect_url",
            "https://help.shop.example/v1/agent/oidc/callback",
        )
        .expect("flag");
        let c = l.build().expect("valid");
        let o = c.oidc.as_ref().expect("on");
        assert_eq!(o.issuer, "https://id.example");
        assert_eq!(o.scopes, "openid email");
        assert!(!l.describe().contains(secret));
        assert!(!format!("{c:?}").contains(secret));
        for (key, value) in [
            ("oidc_issuer", "http://id.example"),
            ("oidc_redirect_url", "http://help.shop.example/cb"),
            ("oidc_scopes", "openid profile"),
        ] {
            let mut bad = Layers::defaults();
            for (k, v) in [
                ("oidc_issuer", "https://id.example"),
                ("oidc_client_id", "wismo"),
                ("oidc_redirect_url", "https://help.shop.example/cb"),
                (key, value),
            ] {
                bad.flag(k, v).expect("flag");
            }
            let e = bad.build().expect_err(value).to_string();
            assert!(e.contains(key), "{key}={value}: {e}");
        }
    }

    #[test]
    fn the_rasa_channel_is_off_by_default_and_needs_a_long_secret() {
        assert!(Layers::defaults()
            .build()
            .expect("defaults")
            .rasa_channel_token
            .is_none());
        let mut l = Layers::defaults();
        l.flag("rasa_channel", "true").expect("flag");
        let e = l.build().expect_err("no secret").to_string();
        assert!(e.contains("rasa_channel_token"), "{e}");
        l.flag("rasa_channel_token", "short").expect("flag");
        let e = l.build().expect_err("short").to_string();
        assert!(e.contains("at least 32"), "{e}");
        let secret = "rasa-channel-secret-0123456789abcdef";
        l.env(env(&[("WISMO_RASA_CHANNEL_TOKEN", secret)]))
            .expect("env");
        let c = l.build().expect("valid");
        assert_eq!(
            c.rasa_channel_token.as_ref().map(Secret::expose),
            Some(secret)
        );
        assert!(!l.describe().contains(secret));
    }

    #[test]
    fn public_url_defaults_to_the_bound_address_and_is_checked() {
        let c = Layers::defaults().build().expect("defaults");
        let bound: SocketAddr = "127.0.0.1:9999".parse().expect("addr");
        assert_eq!(c.public_url_for(bound), "http://127.0.0.1:9999");
        let mut l = Layers::defaults();
        l.flag("public_url", "https://chat.shop.example/")
            .expect("flag");
        let c = l.build().expect("valid");
        assert_eq!(c.public_url_for(bound), "https://chat.shop.example");
        for bad in [
            "chat.shop.example",
            "ftp://chat.shop.example",
            "https://chat.shop.example/?a=1",
            "https://chat.shop.example/#top",
            "https://user:pw@chat.shop.example",
        ] {
            let mut l = Layers::defaults();
            l.flag("public_url", bad).expect("flag");
            let e = l.build().expect_err(bad).to_string();
            assert!(e.starts_with("--public-url: public_url"), "{bad}: {e}");
        }
    }
}
