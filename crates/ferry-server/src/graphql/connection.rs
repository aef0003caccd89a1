//! Relay connections: `nodes`, `edges { node cursor }`, `pageInfo`, `totalCount`, and the
//! paging arguments they are built from.

use async_graphql::{Context, Enum, SimpleObject};
use ferry_store::{Direction, PageRequest, StoreError};
use futures::future::BoxFuture;

use crate::graphql::errors::query_error;

/// Where a page stands in its list.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// Whether rows follow this page.
    pub has_next_page: bool,
    /// Whether rows precede this page (it was asked for `after` a cursor).
    pub has_previous_page: bool,
    /// The first row's cursor.
    pub start_cursor: Option<String>,
    /// The last row's cursor: pass it as `after` to get the next page.
    pub end_cursor: Option<String>,
}

/// Sort direction of a `sortBy` argument.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum SortDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

impl From<SortDirection> for Direction {
    fn from(direction: SortDirection) -> Self {
        match direction {
            SortDirection::Asc => Direction::Asc,
            SortDirection::Desc => Direction::Desc,
        }
    }
}

/// Counts a connection's rows when, and only when, `totalCount` is asked for.
pub(crate) type Counter =
    Box<dyn Fn() -> BoxFuture<'static, Result<i64, StoreError>> + Send + Sync>;

/// Checks `first` and `after` (`""` meaning the start).
pub(crate) fn page_request(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<PageRequest> {
    PageRequest::new(first.map(i64::from), after).map_err(|e| query_error(ctx, e))
}

/// At most one `sortBy` entry is supported; more is an error rather than silently ignored.
pub(crate) fn single_sort<T: Copy>(sort_by: Option<Vec<T>>) -> async_graphql::Result<Option<T>> {
    match sort_by.as_deref() {
        None | Some([]) => Ok(None),
        Some([one]) => Ok(Some(*one)),
        Some(_) => Err(async_graphql::Error::new("sortBy takes one field for now")),
    }
}

/// A page of an in-memory list whose cursors are the items' keys.
pub(crate) fn memory_page<T>(
    all: Vec<T>,
    key: impl Fn(&T) -> String,
    after: Option<&str>,
    first: Option<i32>,
) -> async_graphql::Result<(ferry_store::Page<T>, bool)> {
    let start = match after.filter(|a| !a.is_empty()) {
        None => 0,
        Some(cursor) => {
            let found = all.iter().position(|item| key(item) == cursor);
            found.map(|i| i + 1).ok_or_else(|| {
                async_graphql::Error::new(format!("invalid cursor: nothing at {cursor:?}"))
            })?
        }
    };
    let max = ferry_store::page::MAX_PAGE_SIZE;
    let first = match first {
        None => ferry_store::page::DEFAULT_PAGE_SIZE,
        Some(n) if n >= 1 && n as usize <= max => n as usize,
        Some(n) => {
            return Err(async_graphql::Error::new(format!(
                "first must be between 1 and {max}, got {n}"
            )))
        }
    };
    let rest: Vec<T> = all.into_iter().skip(start).collect();
    let has_next_page = rest.len() > first;
    let items = rest.into_iter().take(first).map(|item| {
        let cursor = key(&item);
        (item, cursor)
    });
    Ok((
        ferry_store::Page {
            items: items.collect(),
            has_next_page,
        },
        start > 0,
    ))
}

/// A counter for a list whose size is known.
pub(crate) fn known_count(total: usize) -> Counter {
    use futures::FutureExt;
    let total = total as i64;
    Box::new(move || async move { Ok(total) }.boxed())
}

/// Declares `$connection` and `$edge` types for node type `$node`.
macro_rules! connection {
    ($connection:ident, $edge:ident, $node:ty) => {
        #[doc = concat!("A page of `", stringify!($node), "` rows.")]
        pub struct $connection {
            items: Vec<($node, String)>,
            has_next_page: bool,
            has_previous_page: bool,
            count: $crate::graphql::connection::Counter,
        }

        #[doc = concat!("One `", stringify!($node), "` row and its cursor.")]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            node: $node,
            cursor: String,
        }

        impl $connection {
            pub(crate) fn new<T>(
                page: ferry_store::Page<T>,
                after_given: bool,
                to_node: impl Fn(T) -> $node,
                count: $crate::graphql::connection::Counter,
            ) -> Self {
                let items = page
                    .items
                    .into_iter()
                    .map(|(row, cursor)| (to_node(row), cursor))
                    .collect();
                Self {
                    items,
                    has_next_page: page.has_next_page,
                    has_previous_page: after_given,
                    count,
                }
            }
        }

        #[async_graphql::Object]
        impl $connection {
            /// The rows.
            async fn nodes(&self) -> Vec<$node> {
                self.items.iter().map(|(node, _)| node.clone()).collect()
            }

            /// The rows with their cursors.
            async fn edges(&self) -> Vec<$edge> {
                self.items
                    .iter()
                    .map(|(node, cursor)| $edge {
                        node: node.clone(),
                        cursor: cursor.clone(),
                    })
                    .collect()
            }

            /// Where this page stands.
            async fn page_info(&self) -> $crate::graphql::connection::PageInfo {
                $crate::graphql::connection::PageInfo {
                    has_next_page: self.has_next_page,
                    has_previous_page: self.has_previous_page,
                    start_cursor: self.items.first().map(|(_, c)| c.clone()),
                    end_cursor: self.items.last().map(|(_, c)| c.clone()),
                }
            }

            /// How many rows match, across all pages.
            async fn total_count(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<i64> {
                (self.count)()
                    .await
                    .map_err(|e| $crate::graphql::errors::query_error(ctx, e))
            }
        }
    };
}

pub(crate) use connection;
