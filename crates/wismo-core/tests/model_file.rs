//! The model file: save/load round trip, and damaged or foreign files refused
//! with the right error and a message naming the file.

use std::path::PathBuf;
use std::sync::OnceLock;
use wismo_core::nlu::classifier::features::Scratch;
use wismo_core::nlu::custom_entities::CustomEntityExtractor;
use wismo_core::nlu::data::parse_rasa_yaml;
use wismo_core::nlu::entities::{EntityConfig, ExtractionContext};
use wismo_core::nlu::model::{ModelError, NluModel, FORMAT_VERSION, MAGIC};
use wismo_core::nlu::{default_training_data, train, Nlu, NluTrainOptions, RANKING_LEN};

/// The model trained once on the built-in data.
fn model() -> &'static NluModel {
    static MODEL: OnceLock<NluModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let data = default_training_data().expect("built-in data parses");
        train(&data, &NluTrainOptions::default(), &mut |_| {}).expect("trains")
    })
}

/// A fresh, empty directory for one test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "wismo-model-file-{}-{name}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes the built-in model to `dir/name` and returns the path and its bytes.
fn saved(dir: &TempDir, name: &str) -> (PathBuf, Vec<u8>) {
    let path = dir.path(name);
    model().save(&path).expect("model saves");
    let bytes = std::fs::read(&path).expect("model file readable");
    (path, bytes)
}

fn ctx() -> ExtractionContext {
    ExtractionContext {
        now: chrono::DateTime::parse_from_rfc3339("2026-11-24T15:00:00Z")
            .expect("valid time")
            .with_timezone(&chrono::Utc),
        tz: chrono_tz::UTC,
    }
}

const MESSAGES: [&str; 20] = [
    "wher is my ordr 1042",
    "cancelmyorder",
    "i was charged two times",
    "my parcel came smashed",
    "do u ship to norway",
    "refund still not here after 2 weeks",
    "hola, dónde está mi pedido?",
    "THANK YOU!!!",
    "can i talk to someone real",
    "promo code SAVE20 not working",
    "what's the weather in paris",
    "is the rain jacket in stock in M",
    "stop emailing me",
    "i got the wrong colour",
    "how much is express shipping",
    "",
    "😡😡😡",
    "yes",
    "nope",
    "change the address on order #5512 to 10 Main St",
];

#[test]
fn save_then_load_gives_identical_results() {
    let dir = TempDir::new("roundtrip");
    let (path, bytes) = saved(&dir, "store.wnlu");
    assert_eq!(&bytes[..8], MAGIC);
    assert_eq!(&bytes[8..12], &FORMAT_VERSION.to_le_bytes());
    let loaded = NluModel::load(&path).expect("model loads");
    assert_eq!(loaded.meta, model().meta);
    assert_eq!(loaded.classifier.classes(), model().classifier.classes());
    assert_eq!(
        loaded.classifier.temperature(),
        model().classifier.temperature()
    );
    // Writing the loaded model again gives the same bytes.
    assert_eq!(loaded.to_bytes(), bytes);
    let config = EntityConfig::default();
    let before = Nlu::new(model().clone(), &config).expect("nlu");
    let after = Nlu::new(loaded, &config).expect("nlu");
    for text in MESSAGES {
        assert_eq!(
            before.classify(text, RANKING_LEN),
            after.classify(text, RANKING_LEN),
            "{text:?}"
        );
        assert_eq!(
            before.parse(text, &ctx()),
            after.parse(text, &ctx()),
            "{text:?}"
        );
    }
    // Saving leaves no temporary file behind.
    let names: Vec<String> = std::fs::read_dir(&dir.0)
        .expect("list dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["store.wnlu"]);
}

/// Writes `bytes` to `dir/name`, loads it, and returns the error and its message.
fn load_error(dir: &TempDir, name: &str, bytes: &[u8]) -> (ModelError, String, String) {
    let path = dir.path(name);
    std::fs::write(&path, bytes).expect("write test file");
    let err = NluModel::load(&path).expect_err("a damaged file must be refused");
    let msg = err.to_string();
    (err, msg, path.display().to_string())
}

#[test]
fn truncated_files_are_refused() {
    let dir = TempDir::new("truncated");
    let (_, bytes) = saved(&dir, "good.wnlu");
    for (name, len) in [
        ("half.wnlu", bytes.len() / 2),
        ("no-checksum.wnlu", bytes.len() - 8),
        ("one-short.wnlu", bytes.len() - 1),
        ("header-only.wnlu", 12),
        ("header-and-a-bit.wnlu", 19),
        ("just-past-header.wnlu", 24),
    ] {
        let (err, msg, path) = load_error(&dir, name, &bytes[..len]);
        assert!(matches!(err, ModelError::Corrupt { .. }), "{name}: {err:?}");
        assert!(msg.contains(&path), "{name}: {msg}");
        assert!(msg.contains("damaged"), "{name}: {msg}");
    }
    // Too short to even hold the header: not a model at all.
    for (name, len) in [
        ("empty.wnlu", 0),
        ("magic-only.wnlu", 8),
        ("eleven.wnlu", 11),
    ] {
        let (err, msg, path) = load_error(&dir, name, &bytes[..len]);
        assert!(matches!(err, ModelError::NotAModel(_)), "{name}: {err:?}");
        assert!(msg.contains(&path), "{name}: {msg}");
    }
}

#[test]
fn a_flipped_byte_is_detected() {
    let dir = TempDir::new("flipped");
    let (_, bytes) = saved(&dir, "good.wnlu");
    let n = bytes.len();
    // In the metadata, in the weights, and in the checksum itself.
    for at in [20, 100, n / 2, n - 20, n - 1] {
        let mut b = bytes.clone();
        b[at] ^= 0x10;
        let (err, msg, path) = load_error(&dir, &format!("flip-{at}.wnlu"), &b);
        match &err {
            ModelError::Corrupt { path: p, reason } => {
                assert_eq!(p, &path);
                assert!(reason.contains("checksum"), "{at}: {reason}");
            }
            other => panic!("byte {at}: expected Corrupt, got {other:?}"),
        }
        assert!(msg.contains(&path), "{msg}");
    }
}

#[test]
fn other_files_are_not_models() {
    let dir = TempDir::new("foreign");
    for (name, bytes) in [
        (
            "nlu.yml",
            b"version: \"3.1\"\nnlu:\n- intent: greet\n".as_slice(),
        ),
        ("data.csv", b"text,intent\nhi,greet\n".as_slice()),
        ("png.wnlu", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".as_slice()),
        ("almost.wnlu", b"WISMONLx\x01\0\0\0\0\0\0\0".as_slice()),
    ] {
        let (err, msg, path) = load_error(&dir, name, bytes);
        assert!(
            matches!(&err, ModelError::NotAModel(p) if *p == path),
            "{name}: {err:?}"
        );
        assert_eq!(msg, format!("{path} is not a wismo NLU model file"));
    }
}

#[test]
fn another_format_version_asks_to_retrain() {
    let dir = TempDir::new("version");
    let (_, mut bytes) = saved(&dir, "good.wnlu");
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    let (err, msg, path) = load_error(&dir, "v99.wnlu", &bytes);
    match &err {
        ModelError::VersionMismatch {
            path: p,
            found,
            expected,
        } => {
            assert_eq!(p, &path);
            assert_eq!((*found, *expected), (99, FORMAT_VERSION));
        }
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
    assert!(msg.contains(&path), "{msg}");
    assert!(msg.contains("format 99"), "{msg}");
    assert!(msg.contains(&format!("format {FORMAT_VERSION}")), "{msg}");
    assert!(msg.contains("retrain"), "{msg}");
    assert!(msg.contains("wismo nlu train"), "{msg}");
}

#[test]
fn a_missing_file_is_a_read_error() {
    let dir = TempDir::new("missing");
    let path = dir.path("nope.wnlu");
    let err = NluModel::load(&path).expect_err("no such file");
    match &err {
        ModelError::Read { path: p, source } => {
            assert_eq!(p, &path.display().to_string());
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Read, got {other:?}"),
    }
    assert!(err.to_string().contains(&path.display().to_string()));
    // A directory is not a model file either.
    let err = NluModel::load(&dir.0).expect_err("a directory");
    assert!(matches!(err, ModelError::Read { .. }), "{err:?}");
}

#[test]
fn saving_into_a_missing_directory_is_a_write_error() {
    let dir = TempDir::new("write");
    let path = dir.path("no/such/dir/m.wnlu");
    let err = model().save(&path).expect_err("cannot write there");
    assert!(matches!(err, ModelError::Write { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

/// FNV-1a 64, as the model format defines its checksum.
/// Replaces the trailing checksum so the file passes the checksum test.
fn reseal(bytes: &mut [u8]) {
    let n = bytes.len() - 8;
    let sum = wismo_core::nlu::model::checksum(&bytes[..n]);
    bytes[n..].copy_from_slice(&sum.to_le_bytes());
}

fn small_model() -> NluModel {
    let data = parse_rasa_yaml(
        r#"
nlu:
- intent: track
  examples: |
    - where is my order
    - track my [navy blue](color) parcel
- intent: refund
  examples: |
    - i want a refund
    - money back for voucher [VCH-12](voucher) please
- lookup: color
  examples: |
    - red
- regex: voucher
  examples: |
    - \bVCH-[0-9]{2}\b
"#,
        "small.yml",
    )
    .expect("parses");
    train(&data, &NluTrainOptions::default(), &mut |_| {}).expect("trains")
}

#[test]
fn edited_files_with_a_valid_checksum_are_refused_not_panicking() {
    let bytes = small_model().to_bytes();
    let meta_len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes")) as usize;
    // After the metadata: feature count d, d f32 scales, weight count n, n i8 weights.
    let scales_at = 20 + meta_len;
    let d =
        u64::from_le_bytes(bytes[scales_at..scales_at + 8].try_into().expect("8 bytes")) as usize;
    let weights_at = scales_at + 8 + 4 * d;
    let forged = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut b = bytes.clone();
        edit(&mut b);
        reseal(&mut b);
        NluModel::from_bytes(&b, "forged.wnlu")
    };
    let corrupt = |r: Result<NluModel, ModelError>, what: &str| match r {
        Err(ModelError::Corrupt { path, reason }) => {
            assert_eq!(path, "forged.wnlu");
            reason
        }
        Err(other) => panic!("{what}: expected Corrupt, got {other:?}"),
        Ok(_) => panic!("{what}: a forged file was accepted"),
    };
    // Metadata length pointing past the end of the file.
    let r = corrupt(
        forged(&|b| b[12..20].copy_from_slice(&u64::MAX.to_le_bytes())),
        "huge metadata length",
    );
    assert!(!r.is_empty());
    // Feature count that overflows when multiplied by four.
    let r = corrupt(
        forged(&|b| b[scales_at..scales_at + 8].copy_from_slice(&(u64::MAX / 2).to_le_bytes())),
        "huge feature count",
    );
    assert!(r.contains("feature") || r.contains("truncated"), "{r}");
    // Weight count pointing past the end of the file.
    let r = corrupt(
        forged(&|b| b[weights_at..weights_at + 8].copy_from_slice(&(u64::MAX / 2).to_le_bytes())),
        "huge weight count",
    );
    assert!(r.contains("weight") || r.contains("truncated"), "{r}");
    // One weight fewer than the table needs.
    let r = corrupt(
        forged(&|b| {
            let n = u64::from_le_bytes(b[weights_at..weights_at + 8].try_into().expect("8"));
            b[weights_at..weights_at + 8].copy_from_slice(&(n - 1).to_le_bytes());
            let end = b.len() - 8;
            b.drain(end - 1..end);
        }),
        "short weight table",
    );
    assert!(r.contains("weight table"), "{r}");
}

#[test]
fn no_single_byte_edit_of_the_metadata_panics() {
    let small = small_model();
    // The file holds custom entities too, so their tables get edited as well.
    assert!(!small.custom_entities.phrases.is_empty());
    assert!(!small.custom_entities.patterns.is_empty());
    let bytes = small.to_bytes();
    let meta_len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes")) as usize;
    let mut panics = Vec::new();
    for at in 20..20 + meta_len {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[at] ^= mask;
            reseal(&mut b);
            let outcome = std::panic::catch_unwind(|| {
                // What `Nlu::parse` does with a model, minus the built-in entity
                // rules (they do not depend on the file).
                if let Ok(m) = NluModel::from_bytes(&b, "forged.wnlu") {
                    let custom = CustomEntityExtractor::new(&m.custom_entities);
                    let (mut scratch, mut x) = (Scratch::default(), Vec::new());
                    for text in ["where is my order 1042", "", "refund pls 😡"] {
                        let _ = m.classifier.rank(text, RANKING_LEN, &mut scratch, &mut x);
                        if let Ok(c) = &custom {
                            let _ = c.extract(text);
                        }
                    }
                }
            });
            if outcome.is_err() {
                panics.push((at, mask));
            }
        }
    }
    assert!(
        panics.is_empty(),
        "panicked at (byte, xor mask): {panics:?}"
    );
}
