//! wismo's storage: the order store and conversation logs in SQL, on an
//! embedded SQLite database by default or on PostgreSQL.
