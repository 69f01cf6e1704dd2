//! A store folder's settings (`store.toml`) as far as the engine uses them
//! today: time zone, return window, late threshold and order-number format.
//! Other keys (name, contact, widget look…) are accepted and left for the
//! store workspace to use.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `store.toml`: every key optional; absent ones keep wismo's defaults.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StoreProfile {
    pub time_zone: Option<String>,
    pub return_window_days: Option<u32>,
    pub late_after_days: Option<u32>,
    /// A regex for the store's order numbers (the whole match, or group 1).
    pub order_number_pattern: Option<String>,
}

/// A store folder: where its files are and what its profile says.
#[derive(Debug, Clone, Default)]
pub struct StoreDir {
    pub profile: StoreProfile,
    pub orders: Option<PathBuf>,
    pub knowledge: Option<PathBuf>,
}

impl StoreDir {
    /// Reads `dir`: `store.toml` (optional), `orders.json` and `knowledge/`
    /// when present.
    pub fn load(dir: &Path) -> Result<StoreDir> {
        if !dir.is_dir() {
            anyhow::bail!("store folder {} does not exist", dir.display());
        }
        let toml_path = dir.join("store.toml");
        let profile = match std::fs::read_to_string(&toml_path) {
            Ok(src) => parse(&src).with_context(|| format!("{}", toml_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StoreProfile::default(),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", toml_path.display()))
            }
        };
        let orders = Some(dir.join("orders.json")).filter(|p| p.is_file());
        let knowledge = Some(dir.join("knowledge")).filter(|p| p.is_dir());
        Ok(StoreDir {
            profile,
            orders,
            knowledge,
        })
    }
}

/// Parses `store.toml` text, checking the values the engine uses.
pub fn parse(src: &str) -> Result<StoreProfile> {
    let p: StoreProfile = toml::from_str(src).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(tz) = &p.time_zone {
        tz.parse::<chrono_tz::Tz>().map_err(|_| {
            anyhow::anyhow!("time_zone {tz:?} is not an IANA time zone such as Europe/Madrid")
        })?;
    }
    if p.return_window_days.is_some_and(|d| d > 3650) {
        anyhow::bail!("return_window_days must be at most 3650");
    }
    if p.late_after_days.is_some_and(|d| d > 365) {
        anyhow::bail!("late_after_days must be at most 365");
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_values_the_engine_uses_and_ignores_the_rest() {
        let p = parse(
            "name = \"X\"\ntime_zone = \"America/Mexico_City\"\nreturn_window_days = 15\n\
             late_after_days = 3\norder_number_pattern = '#?(20[0-9]{2})'\n[contact]\nemail = \"a@b.c\"\n",
        )
        .expect("parses");
        assert_eq!(p.time_zone.as_deref(), Some("America/Mexico_City"));
        assert_eq!(
            (p.return_window_days, p.late_after_days),
            (Some(15), Some(3))
        );
        assert!(p.order_number_pattern.is_some());
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse("time_zone = \"Mars/Olympus\"\n").expect_err("refused");
        assert!(e.to_string().contains("Mars/Olympus"), "{e}");
        let e = parse("return_window_days = -1\n").expect_err("refused");
        assert!(e.to_string().contains("return_window_days"), "{e}");
        let e = parse("return_window_days = 99999\n").expect_err("refused");
        assert!(e.to_string().contains("at most"), "{e}");
    }
}
