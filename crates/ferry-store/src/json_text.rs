//! [`JsonText`]: a JSON value bound as the text it is written as. On PostgreSQL that is the
//! `json` type, which keeps the text as given (after checking it is JSON); sqlx's own `Json`
//! binds `jsonb`, which PostgreSQL parses into a tree that reorders object keys, drops
//! duplicate keys and rewrites numbers, and writes out again on every read. On SQLite it is
//! `TEXT`, as sqlx's `Json` binds it. Reads decode with sqlx's `Json`, which takes both types.
//!
//! Written here because sqlx has no type that binds PostgreSQL's `json`.

use serde::Serialize;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgHasArrayType, PgTypeInfo};
use sqlx::sqlite::SqliteTypeInfo;
use sqlx::{Database, Encode, Postgres, Sqlite, Type};

/// PostgreSQL's built-in `json` type (its OID is fixed in every database).
const JSON: Oid = Oid(114);
/// PostgreSQL's `json[]`.
const JSON_ARRAY: Oid = Oid(199);

/// A value bound as JSON text: `json` on PostgreSQL, `TEXT` on SQLite.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonText<T>(pub T);

impl<T> Type<Postgres> for JsonText<T> {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(JSON)
    }
}

impl<T> PgHasArrayType for JsonText<T> {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(JSON_ARRAY)
    }
}

impl<T: Serialize> Encode<'_, Postgres> for JsonText<T> {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as Database>::ArgumentBuffer<'_>,
    ) -> Result<IsNull, BoxDynError> {
        // `json`'s binary form is its text (`jsonb`'s starts with a version byte).
        serde_json::to_writer(&mut **buf, &self.0)?;
        Ok(IsNull::No)
    }
}

impl<T> Type<Sqlite> for JsonText<T> {
    fn type_info() -> SqliteTypeInfo {
        <str as Type<Sqlite>>::type_info()
    }
}

impl<'q, T: Serialize> Encode<'q, Sqlite> for JsonText<T> {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(serde_json::to_string(&self.0)?, buf)
    }
}
