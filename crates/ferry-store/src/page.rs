//! Relay-style pagination with keyset cursors.
//!
//! A cursor is opaque to clients: base64 of a small JSON record naming the query it came from,
//! the sort order, the sort key's value and the row id. Rows are ordered by the sort column and
//! then by id (uuid v7, so creation order), and the next page starts strictly after the
//! cursor's row, so pages neither skip nor repeat rows when others are inserted meanwhile. A
//! cursor from another query or another sort order is refused with a message that says so.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::backend::Dialect;
use crate::StoreError;

/// Page size when the caller names none.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest page a caller may ask for.
pub const MAX_PAGE_SIZE: usize = 500;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// How a sort field's values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[doc(hidden)]
pub enum KeyType {
    /// By id alone.
    Id,
    /// By a text column.
    Text,
    /// By a timestamp column.
    Time,
}

/// A field a list can be sorted by.
pub trait SortField: Copy + Default {
    /// The field's name in cursors and messages.
    fn name(self) -> &'static str;
    /// The SQL expression ordered by; never NULL.
    #[doc(hidden)]
    fn column(self) -> &'static str;
    #[doc(hidden)]
    fn key_type(self) -> KeyType;
}

/// A sort order: one field, then id.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sort<F> {
    /// The field.
    pub field: F,
    /// The direction (also applied to the id tie-break).
    pub direction: Direction,
}

impl<F: SortField> Sort<F> {
    fn spec(&self) -> String {
        let dir = match self.direction {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        };
        format!("{} {dir}", self.field.name())
    }
}

/// Which page of a list to fetch.
#[derive(Debug, Clone)]
pub struct PageRequest {
    first: usize,
    after: Option<String>,
}

impl PageRequest {
    /// Checks `first` (1 to 500, default 100); `after` of `None` or `""` starts at the beginning.
    pub fn new(first: Option<i64>, after: Option<String>) -> Result<Self, StoreError> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if (1..=MAX_PAGE_SIZE as i64).contains(&n) => n as usize,
            Some(n) => {
                return Err(StoreError::InvalidArgument(format!(
                    "first must be between 1 and {MAX_PAGE_SIZE}, got {n}"
                )))
            }
        };
        let after = after.filter(|a| !a.is_empty());
        Ok(Self { first, after })
    }

    /// The first page of the default size.
    pub fn first_page() -> Self {
        Self {
            first: DEFAULT_PAGE_SIZE,
            after: None,
        }
    }
}

/// One page of results, each with its cursor.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows and their cursors, in order.
    pub items: Vec<(T, String)>,
    /// Whether more rows follow the last one.
    pub has_next_page: bool,
}

impl<T> Page<T> {
    /// The last row's cursor, to pass as `after` for the next page.
    pub fn end_cursor(&self) -> Option<&str> {
        self.items.last().map(|(_, c)| c.as_str())
    }
}

/// The sort key of one row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) enum KeyValue {
    Text(String),
    Time(DateTime<Utc>),
}

#[derive(Serialize, Deserialize)]
struct CursorData {
    q: String,
    s: String,
    k: Option<KeyValue>,
    id: Uuid,
}

/// Creation order (uuid v7 ids) and nothing else: for lists with no other sort.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdOrder;

impl SortField for IdOrder {
    fn name(self) -> &'static str {
        "ID"
    }
    fn column(self) -> &'static str {
        "id"
    }
    fn key_type(self) -> KeyType {
        KeyType::Id
    }
}

/// A row with a uuid id, so that it can be listed in [`IdOrder`].
pub(crate) trait HasId {
    fn row_id(&self) -> Uuid;
}

impl<T: HasId> Keyed<IdOrder> for T {
    fn id(&self) -> Uuid {
        self.row_id()
    }
    fn key(&self, _: IdOrder) -> Option<KeyValue> {
        None
    }
}

/// What a row must tell for its cursor to be written.
pub(crate) trait Keyed<F> {
    fn id(&self) -> Uuid;
    fn key(&self, field: F) -> Option<KeyValue>;
}

/// A decoded `after` cursor, checked against the query and sort it is used with.
struct After {
    key: Option<KeyValue>,
    id: Uuid,
}

fn decode_after<F: SortField>(
    query: &str,
    sort: &Sort<F>,
    cursor: &str,
) -> Result<After, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| StoreError::InvalidCursor("not a cursor returned by this API".into()))?;
    let data: CursorData = serde_json::from_slice(&bytes)
        .map_err(|_| StoreError::InvalidCursor("not a cursor returned by this API".into()))?;
    if data.q != query {
        return Err(StoreError::InvalidCursor(format!(
            "the cursor belongs to the {} query, not to {query}",
            data.q
        )));
    }
    if data.s != sort.spec() {
        return Err(StoreError::InvalidCursor(format!(
            "the cursor was made for sort order {:?}, not {:?}",
            data.s,
            sort.spec()
        )));
    }
    let key_ok = matches!(
        (sort.field.key_type(), &data.k),
        (KeyType::Id, None)
            | (KeyType::Text, Some(KeyValue::Text(_)))
            | (KeyType::Time, Some(KeyValue::Time(_)))
    );
    if !key_ok {
        return Err(StoreError::InvalidCursor(
            "the cursor does not match its sort order".into(),
        ));
    }
    Ok(After {
        key: data.k,
        id: data.id,
    })
}

/// A list query in the making: which query, its sort and its page.
pub(crate) struct Listing<'a, F> {
    pub(crate) query: &'static str,
    pub(crate) sort: Sort<F>,
    pub(crate) page: &'a PageRequest,
}

impl<F: SortField> Listing<'_, F> {
    /// Appends ` AND (key, id) > cursor` (or `<` when descending) for an `after` cursor.
    pub(crate) fn push_after<DB: Dialect>(
        &self,
        sql: &mut QueryBuilder<'_, DB>,
    ) -> Result<(), StoreError> {
        let Some(cursor) = &self.page.after else {
            return Ok(());
        };
        let after = decode_after(self.query, &self.sort, cursor)?;
        let op = match self.sort.direction {
            Direction::Asc => ">",
            Direction::Desc => "<",
        };
        let column = self.sort.field.column();
        match after.key {
            None => {
                sql.push(format_args!(" AND id {op} "));
                DB::bind_uuid(sql, after.id);
            }
            Some(key) => {
                sql.push(format_args!(" AND ({column} {op} "));
                bind_key(sql, key.clone());
                sql.push(format_args!(" OR ({column} = "));
                bind_key(sql, key);
                sql.push(format_args!(" AND id {op} "));
                DB::bind_uuid(sql, after.id);
                sql.push("))");
            }
        }
        Ok(())
    }

    /// Appends `ORDER BY … LIMIT first + 1` (the extra row tells whether a next page exists).
    pub(crate) fn push_order_and_limit<DB: Dialect>(&self, sql: &mut QueryBuilder<'_, DB>) {
        let dir = match self.sort.direction {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
        };
        let column = self.sort.field.column();
        if self.sort.field.key_type() == KeyType::Id {
            sql.push(format_args!(" ORDER BY id {dir}"));
        } else {
            sql.push(format_args!(" ORDER BY {column} {dir}, id {dir}"));
        }
        sql.push(format_args!(" LIMIT {}", self.page.first + 1));
    }

    /// Turns the fetched rows (up to `first + 1`) into a page with cursors.
    pub(crate) fn finish<T: Keyed<F>>(&self, mut rows: Vec<T>) -> Page<T> {
        let has_next_page = rows.len() > self.page.first;
        rows.truncate(self.page.first);
        let items = rows
            .into_iter()
            .map(|row| {
                let cursor = self.cursor_for(&row);
                (row, cursor)
            })
            .collect();
        Page {
            items,
            has_next_page,
        }
    }

    fn cursor_for<T: Keyed<F>>(&self, row: &T) -> String {
        let data = CursorData {
            q: self.query.to_string(),
            s: self.sort.spec(),
            k: row.key(self.sort.field),
            id: row.id(),
        };
        // Serializing this plain struct cannot fail; fall back to an empty cursor if it ever did.
        let json = serde_json::to_vec(&data).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }
}

fn bind_key<DB: Dialect>(sql: &mut QueryBuilder<'_, DB>, key: KeyValue) {
    match key {
        KeyValue::Text(text) => DB::bind_text(sql, text),
        KeyValue::Time(time) => DB::bind_time(sql, time),
    }
}
