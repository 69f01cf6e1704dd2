//! `wismo serve` and `wismo config`.

use anyhow::{Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use wismo_server::config::{masked_url, Config, Layers};
use wismo_server::Server;

/// Settings for the server. Each flag overrides `WISMO_<NAME>`, which
/// overrides the config file, which overrides the built-in default. The admin
/// token and the webhook secret have no flag (they would show in process
/// lists): set them in the file or as `WISMO_ADMIN_TOKEN` / `WISMO_WEBHOOK_SECRET`.
#[derive(Args, Default)]
pub struct ServeArgs {
    /// Config file (TOML). Default: ./wismo.toml when it exists.
    #[arg(long, env = "WISMO_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    pub listen: Option<String>,
    /// Folder for the default SQLite database and the cached model [default: wismo-data].
    #[arg(long)]
    pub data_dir: Option<String>,
    /// `sqlite://PATH` or `postgres://USER@HOST/DB` [default: <data-dir>/wismo.db].
    #[arg(long)]
    pub database_url: Option<String>,
    /// Idle time after which a conversation starts a fresh session [default: 30m].
    #[arg(long)]
    pub session_idle: Option<String>,
    /// Largest request body [default: 64KiB].
    #[arg(long)]
    pub max_body_bytes: Option<String>,
    /// Longest shopper message in characters [default: 2000].
    #[arg(long)]
    pub max_message_chars: Option<String>,
    /// Time limit of one request [default: 10s].
    #[arg(long)]
    pub request_timeout: Option<String>,
    /// Shoppers' time zone (IANA) [default: UTC].
    #[arg(long)]
    pub timezone: Option<String>,
    /// Freeze the clock at this RFC 3339 time (demos).
    #[arg(long)]
    pub now: Option<String>,
    /// Load the demo store into an empty database: true or false [default: true].
    #[arg(long)]
    pub demo_data: Option<String>,
    /// A trained model file (`wismo nlu train`) [default: built-in data, cached].
    #[arg(long)]
    pub model: Option<String>,
    /// http(s) URLs that receive signed event webhooks, comma-separated (needs WISMO_WEBHOOK_SECRET).
    #[arg(long)]
    pub webhook_urls: Option<String>,
    /// Wait after a webhook's first failed attempt; doubles per attempt [default: 1s].
    #[arg(long)]
    pub webhook_retry_base: Option<String>,
    /// Attempts per event and URL before it is given up on [default: 20].
    #[arg(long)]
    pub webhook_max_attempts: Option<String>,
    /// Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed.
    #[arg(long)]
    pub trusted_proxies: Option<String>,
    /// Shop origins allowed to call the shopper API from browsers (CORS), comma-separated.
    #[arg(long)]
    pub cors_origins: Option<String>,
    /// Requests per client IP, as N/duration; 0: unlimited (load tests) [default: 3000/1m].
    #[arg(long)]
    pub rate_limit_ip: Option<String>,
    /// Shopper messages per conversation, as N/duration; 0: unlimited [default: 60/1m].
    #[arg(long)]
    pub rate_limit_conversation: Option<String>,
    /// PEM certificate chain: serve HTTPS with it and --tls-key (reloaded when the file changes).
    #[arg(long)]
    pub tls_cert: Option<String>,
    /// PEM private key of --tls-cert.
    #[arg(long)]
    pub tls_key: Option<String>,
    /// Append security events to this file as JSON lines (schema wismo.security/1).
    #[arg(long)]
    pub security_log: Option<String>,
    /// The store workspace folder (wismo init); watched and reloaded live, each change a new version.
    #[arg(long = "store")]
    pub store_dir: Option<String>,
    /// Conversations kept in memory at most (least recently used idle ones leave) [default: 10000].
    #[arg(long)]
    pub max_live_conversations: Option<String>,
    /// On SIGTERM, keep serving this long with /readyz at 503 before stopping (behind a load balancer) [default: 0s].
    #[arg(long)]
    pub shutdown_drain: Option<String>,
    /// `redis://` URL shared by every instance (rate limits, lockouts, sign-on state).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// How many instances share the limits (the local fallback while Redis is down divides by it) [default: 3 with --redis-url, else 1].
    #[arg(long)]
    pub instances: Option<String>,
    /// `nats://` URL shared by every instance (live updates, event stream).
    #[arg(long)]
    pub nats_url: Option<String>,
    /// The shop's address for live Shopify lookups, e.g. example.myshopify.com (token: WISMO_SHOPIFY_ACCESS_TOKEN).
    #[arg(long)]
    pub shopify_shop: Option<String>,
    /// Shopify Admin API version [default: 2026-10].
    #[arg(long)]
    pub shopify_api_version: Option<String>,
    /// Refuse Shopify webhooks triggered longer ago than this [default: 48h].
    #[arg(long)]
    pub shopify_webhook_max_age: Option<String>,
    /// `postgres://` URL of a streaming replica for reads that tolerate lag.
    #[arg(long)]
    pub database_replica_url: Option<String>,
}

impl ServeArgs {
    /// Defaults < file < environment < flags.
    pub fn layers(&self) -> Result<Layers> {
        let mut layers = Layers::defaults();
        match &self.config {
            Some(path) => {
                layers.file(path)?;
            }
            None => {
                let default = Path::new("wismo.toml");
                if default.exists() {
                    layers.file(default)?;
                }
            }
        }
        layers.env(std::env::vars())?;
        let flags = [
            ("listen", &self.listen),
            ("data_dir", &self.data_dir),
            ("database_url", &self.database_url),
            ("session_idle", &self.session_idle),
            ("max_body_bytes", &self.max_body_bytes),
            ("max_message_chars", &self.max_message_chars),
            ("request_timeout", &self.request_timeout),
            ("timezone", &self.timezone),
            ("now", &self.now),
            ("demo_data", &self.demo_data),
            ("model", &self.model),
            ("webhook_urls", &self.webhook_urls),
            ("webhook_retry_base", &self.webhook_retry_base),
            ("webhook_max_attempts", &self.webhook_max_attempts),
            ("trusted_proxies", &self.trusted_proxies),
            ("cors_origins", &self.cors_origins),
            ("rate_limit_ip", &self.rate_limit_ip),
            ("rate_limit_conversation", &self.rate_limit_conversation),
            ("tls_cert", &self.tls_cert),
            ("tls_key", &self.tls_key),
            ("security_log", &self.security_log),
            ("store_dir", &self.store_dir),
            ("max_live_conversations", &self.max_live_conversations),
            ("shutdown_drain", &self.shutdown_drain),
            ("redis_url", &self.redis_url),
            ("instances", &self.instances),
            ("nats_url", &self.nats_url),
            ("database_replica_url", &self.database_replica_url),
            ("shopify_shop", &self.shopify_shop),
            ("shopify_api_version", &self.shopify_api_version),
            ("shopify_webhook_max_age", &self.shopify_webhook_max_age),
        ];
        for (key, value) in flags {
            if let Some(v) = value {
                layers.flag(key, v.clone())?;
            }
        }
        Ok(layers)
    }

    pub fn config(&self) -> Result<Config> {
        Ok(self.layers()?.build()?)
    }
}

pub fn config(args: &ServeArgs) -> Result<()> {
    let layers = args.layers()?;
    layers.build()?;
    for line in layers.describe().lines() {
        crate::say(line);
    }
    Ok(())
}

pub fn serve(args: &ServeArgs) -> Result<()> {
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let db = masked_url(&config.database_url());
        let server = Server::start(config).await?;
        let shutdown = wismo_server::shutdown_signal();
        let addr = server.local_addr();
        let base = format!("{}://{addr}", server.scheme());
        crate::say(format!(
            "wismo {} ready in {} ms on {base}",
            env!("CARGO_PKG_VERSION"),
            server.startup_time().as_millis()
        ));
        crate::say(format!("  demo shop:     {base}/"));
        crate::say(format!("  agent console: {base}/console"));
        match server.demo_agent() {
            Some((email, password)) => crate::say(format!(
                "  demo agent:    {email} / {password}  (shown once; change it with: wismo agents passwd {email})"
            )),
            None => crate::say("  agents:        wismo agents add --email … --name …"),
        }
        crate::say(format!("  API page:      {base}/docs"));
        crate::say(format!("  OpenAPI:       {base}/openapi.json"));
        crate::say(format!("  health:        {base}/healthz  {base}/readyz"));
        crate::say(format!("  database:      {db}"));
        crate::say(format!(
            "  try:           curl -s -X POST {base}/v1/conversations"
        ));
        crate::say("Ctrl-C or SIGTERM stops it (requests in flight finish first).");
        server.run(shutdown).await?;
        crate::say("wismo stopped");
        Ok(())
    })
}
