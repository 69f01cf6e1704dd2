//! Store workspace versions on both dialects: publish moves the active
//! pointer, the same content publishes nothing, a known old content is not
//! republished by a starting server, lists come newest first.

mod common;

use chrono::Utc;
use wismo_store::{NewStoreVersion, Published};

fn version(hash: &str, by: &str) -> NewStoreVersion {
    NewStoreVersion {
        hash: hash.into(),
        training_hash: "t".into(),
        files: format!(r#"{{"store.toml":"name = \"{hash}\""}}"#),
        created_at: Utc::now(),
        created_by: by.into(),
        created_by_kind: "system".into(),
        message: Some("first".into()),
        changes: vec!["+store.toml".into()],
        warnings: vec![],
        languages: vec!["en".into()],
    }
}

#[tokio::test]
async fn publish_activate_and_list_on_both_dialects() {
    let fx = common::Fixture::new().await;
    assert!(fx.sqlite_url.starts_with("sqlite:") && fx.pg_url.starts_with("postgres"));
    for (name, db) in &fx.dbs {
        assert_eq!(
            db.active_store_version().await.expect("active"),
            None,
            "{name}"
        );
        assert_eq!(
            db.publish_store_version(&version("aaa", "files"), true)
                .await
                .expect("publish"),
            Published::New(1),
            "{name}"
        );
        assert_eq!(
            db.publish_store_version(&version("aaa", "admin"), false)
                .await
                .expect("again"),
            Published::Unchanged(1),
            "{name}: same content as the active version"
        );
        assert_eq!(
            db.publish_store_version(&version("bbb", "admin"), false)
                .await
                .expect("b"),
            Published::New(2)
        );
        assert_eq!(
            db.active_store_version().await.expect("active"),
            Some((2, "bbb".to_string()))
        );
        // A server starting with the old files does not undo version 2.
        assert_eq!(
            db.publish_store_version(&version("aaa", "startup"), true)
                .await
                .expect("old"),
            Published::Unchanged(2),
            "{name}"
        );
        // A file change back to old content is a new version.
        assert_eq!(
            db.publish_store_version(&version("aaa", "files"), false)
                .await
                .expect("revert"),
            Published::New(3)
        );
        let list = db.store_versions(10).await.expect("list");
        assert_eq!(list.iter().map(|v| v.id).collect::<Vec<_>>(), [3, 2, 1]);
        assert!(list[0].files.is_empty(), "lists leave the files out");
        let v = db.store_version(1).await.expect("get").expect("exists");
        assert_eq!(v.created_by, "files");
        assert_eq!(v.changes, ["+store.toml"]);
        assert_eq!(v.languages, ["en"]);
        assert!(v.files.contains("store.toml"));
        assert_eq!(db.store_version(99).await.expect("get"), None);
    }
}
