//! Integrations: a draft definition per integration (YAML text, already checked by the caller)
//! and its published versions, numbered 1, 2, 3… and frozen once published.
//!
//! Creating an integration or replacing its draft also keeps its test instance on the draft,
//! in the same transaction (`test_instances.rs`).

use chrono::{DateTime, Utc};
use ferry_core::integration::{Integration, IntegrationVersion};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::backend::{read, write, Dialect};
use crate::customers::like_pattern;
use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::page::{
    HasId, IdOrder, KeyType, KeyValue, Keyed, Listing, Page, PageRequest, Sort, SortField,
};
use crate::test_instances::{keep_test_instance, DraftShape, TestSync};
use crate::{new_id, now, Store, StoreError, Tenant};

/// What an import writes: the definition's name, description and text, and the shape of its
/// flows that the test instance follows.
#[derive(Debug, Clone)]
pub struct IntegrationDraft {
    /// The definition's `name`.
    pub name: String,
    /// The definition's `description`.
    pub description: String,
    /// The YAML text.
    pub definition: String,
    /// The draft's flows and renames, for its test instance.
    pub shape: DraftShape,
}

/// Which integrations a list returns.
#[derive(Debug, Clone, Default)]
pub struct IntegrationFilter {
    /// Exactly this name.
    pub name: Option<String>,
    /// Names containing this text, ignoring case.
    pub name_contains: Option<String>,
}

/// What integrations can be sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IntegrationSortField {
    /// Creation order (the default).
    #[default]
    Id,
    /// Name.
    Name,
    /// Last change of the draft.
    UpdatedAt,
}

impl SortField for IntegrationSortField {
    fn name(self) -> &'static str {
        match self {
            Self::Id => "ID",
            Self::Name => "NAME",
            Self::UpdatedAt => "UPDATED_AT",
        }
    }
    fn column(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Name => "name",
            Self::UpdatedAt => "updated_at",
        }
    }
    fn key_type(self) -> KeyType {
        match self {
            Self::Id => KeyType::Id,
            Self::Name => KeyType::Text,
            Self::UpdatedAt => KeyType::Time,
        }
    }
}

#[derive(sqlx::FromRow)]
struct IntegrationRow {
    id: Uuid,
    name: String,
    description: String,
    draft: String,
    latest_version: Option<i32>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<IntegrationRow> for Integration {
    fn from(row: IntegrationRow) -> Self {
        Integration {
            id: row.id,
            name: row.name,
            description: row.description,
            draft: row.draft,
            latest_version: row.latest_version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    id: Uuid,
    integration_id: Uuid,
    version_number: i32,
    definition: String,
    comment: String,
    is_available: bool,
    published_by: Option<Uuid>,
    published_at: DateTime<Utc>,
    is_draft: bool,
}

impl From<VersionRow> for IntegrationVersion {
    fn from(row: VersionRow) -> Self {
        IntegrationVersion {
            id: row.id,
            integration_id: row.integration_id,
            version_number: row.version_number,
            definition: row.definition,
            comment: row.comment,
            is_available: row.is_available,
            published_by: row.published_by,
            published_at: row.published_at,
            is_draft: row.is_draft,
        }
    }
}

impl Keyed<IntegrationSortField> for Integration {
    fn id(&self) -> Uuid {
        self.id
    }
    fn key(&self, field: IntegrationSortField) -> Option<KeyValue> {
        match field {
            IntegrationSortField::Id => None,
            IntegrationSortField::Name => Some(KeyValue::Text(self.name.clone())),
            IntegrationSortField::UpdatedAt => Some(KeyValue::Time(self.updated_at)),
        }
    }
}

const INTEGRATION_COLUMNS: &str = "SELECT id, name, description, draft, created_at, updated_at, \
     (SELECT MAX(v.version_number) FROM integration_versions v WHERE v.integration_id = integrations.id AND v.is_draft = FALSE) AS latest_version \
     FROM integrations";

const VERSION_COLUMNS: &str =
    "SELECT id, integration_id, version_number, definition, comment, is_available, published_by, published_at, is_draft \
     FROM integration_versions";

/// Tenancy: the organization's rows; customer users see no integrations here.
fn push_tenant<DB: Dialect>(sql: &mut QueryBuilder<'_, DB>, tenant: &Tenant) {
    sql.push(" WHERE org_id = ");
    DB::bind_uuid(sql, tenant.org_id);
    if tenant.customer_id.is_some() {
        sql.push(" AND 1 = 0");
    }
}

fn push_filter<DB: Dialect>(
    sql: &mut QueryBuilder<'_, DB>,
    tenant: &Tenant,
    filter: &IntegrationFilter,
) {
    push_tenant(sql, tenant);
    if let Some(name) = &filter.name {
        sql.push(" AND name = ");
        DB::bind_text(sql, name.clone());
    }
    if let Some(text) = &filter.name_contains {
        sql.push(" AND LOWER(name) LIKE ");
        DB::bind_text(sql, like_pattern(text));
        sql.push(" ESCAPE '\\'");
    }
}

fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict {
        field: "name",
        message: format!("an integration named {name:?} already exists; import with its integrationId to replace its draft"),
    }
}

impl Store {
    /// Creates an integration from a checked draft, with its test instance.
    pub async fn create_integration(
        &self,
        tenant: &Tenant,
        draft: IntegrationDraft,
    ) -> Result<Integration, StoreError> {
        let system = self.system_customer(tenant).await?;
        let at = now();
        let integration = Integration {
            id: new_id(),
            name: draft.name,
            description: draft.description,
            draft: draft.definition,
            latest_version: None,
            created_at: at,
            updated_at: at,
        };
        let i = &integration;
        let sync = TestSync {
            org_id: tenant.org_id,
            integration_id: i.id,
            name: &i.name,
            customer_id: system.id,
            definition: &i.draft,
            shape: &draft.shape,
            at,
        };
        let result = write!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO integrations (org_id, id, name, description, draft, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(tenant.org_id).bind(i.id).bind(&i.name).bind(&i.description).bind(&i.draft).bind(i.created_at)
            .execute(&mut *tx)
            .await?;
            keep_test_instance!(&mut *tx, sync);
            tx.commit().await
        }.await);
        match result {
            Ok(_) => Ok(integration),
            Err(err) if is_unique_violation(&err) => Err(name_taken(&integration.name)),
            Err(err) => Err(err.into()),
        }
    }

    /// Replaces an integration's draft (and so its name and description), moving its test
    /// instance onto the new draft.
    pub async fn replace_draft(
        &self,
        tenant: &Tenant,
        id: Uuid,
        draft: IntegrationDraft,
    ) -> Result<Integration, StoreError> {
        self.integration(tenant, id).await?;
        let system = self.system_customer(tenant).await?;
        let at = now();
        let sync = TestSync {
            org_id: tenant.org_id,
            integration_id: id,
            name: &draft.name,
            customer_id: system.id,
            definition: &draft.definition,
            shape: &draft.shape,
            at,
        };
        let result = write!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE integrations SET name = $1, description = $2, draft = $3, updated_at = $4 WHERE org_id = $5 AND id = $6")
                .bind(&draft.name).bind(&draft.description).bind(&draft.definition).bind(at).bind(tenant.org_id).bind(id)
                .execute(&mut *tx)
                .await?;
            keep_test_instance!(&mut *tx, sync);
            tx.commit().await
        }.await);
        self.targets.forget_all();
        match result {
            Ok(_) => self.integration(tenant, id).await,
            Err(err) if is_unique_violation(&err) => Err(name_taken(&draft.name)),
            Err(err) => Err(err.into()),
        }
    }

    /// One integration.
    pub async fn integration(&self, tenant: &Tenant, id: Uuid) -> Result<Integration, StoreError> {
        let row: Option<IntegrationRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(INTEGRATION_COLUMNS);
            push_tenant(&mut sql, tenant);
            sql.push(" AND id = ");
            Dialect::bind_uuid(&mut sql, id);
            sql.build_query_as().fetch_optional(pool).await
        })?;
        row.map(Integration::from).ok_or(StoreError::NotFound {
            kind: "integration",
        })
    }

    /// A page of integrations.
    pub async fn integrations(
        &self,
        tenant: &Tenant,
        filter: &IntegrationFilter,
        sort: Sort<IntegrationSortField>,
        page: &PageRequest,
    ) -> Result<Page<Integration>, StoreError> {
        let listing = Listing {
            query: "integrations",
            sort,
            page,
        };
        let rows: Vec<IntegrationRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(INTEGRATION_COLUMNS);
            push_filter(&mut sql, tenant, filter);
            listing.push_after(&mut sql)?;
            listing.push_order_and_limit(&mut sql);
            sql.build_query_as().fetch_all(pool).await
        })?;
        Ok(listing.finish(rows.into_iter().map(Integration::from).collect()))
    }

    /// How many integrations match.
    pub async fn count_integrations(
        &self,
        tenant: &Tenant,
        filter: &IntegrationFilter,
    ) -> Result<i64, StoreError> {
        let count: i64 = read!(self, pool => {
            let mut sql = QueryBuilder::new("SELECT COUNT(*) FROM integrations");
            push_filter(&mut sql, tenant, filter);
            sql.build_query_scalar().fetch_one(pool).await
        })?;
        Ok(count)
    }

    /// Deletes an integration, its versions, its test instance and its router instances
    /// (`routing.rs`); refused while customers'
    /// instances of it exist.
    pub async fn delete_integration(
        &self,
        tenant: &Tenant,
        id: Uuid,
    ) -> Result<Integration, StoreError> {
        let integration = self.integration(tenant, id).await?;
        let result = write!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM instances WHERE org_id = $1 AND integration_id = $2 AND (is_test = TRUE OR is_router = TRUE)")
                .bind(tenant.org_id).bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM integrations WHERE org_id = $1 AND id = $2")
                .bind(tenant.org_id).bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }.await);
        self.targets.forget_all();
        match result {
            Ok(_) => Ok(integration),
            Err(err) if is_foreign_key_violation(&err) => Err(StoreError::Conflict {
                field: "id",
                message: format!("{:?} has instances; delete them first", integration.name),
            }),
            Err(err) => Err(err.into()),
        }
    }

    /// Freezes the draft as the next version. Publishes of one integration are serialized by
    /// a row lock taken first in the transaction, so concurrent ones get distinct numbers.
    pub async fn publish_integration(
        &self,
        tenant: &Tenant,
        id: Uuid,
        comment: &str,
        published_by: Option<Uuid>,
    ) -> Result<IntegrationVersion, StoreError> {
        if tenant.customer_id.is_some() {
            return Err(StoreError::NotFound {
                kind: "integration",
            });
        }
        let (version_id, at, comment) = (new_id(), now(), comment.trim().to_string());
        let published: Option<(String, i32)> = write!(self, pool => async {
            let mut tx = pool.begin().await?;
            let locked = sqlx::query("UPDATE integrations SET updated_at = updated_at WHERE org_id = $1 AND id = $2")
                .bind(tenant.org_id).bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if locked == 0 {
                return Ok(None);
            }
            let (draft, number): (String, i32) = sqlx::query_as(
                "SELECT draft, (SELECT COALESCE(MAX(version_number), 0) + 1 FROM integration_versions WHERE integration_id = $1 AND is_draft = FALSE) \
                 FROM integrations WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO integration_versions (org_id, id, integration_id, version_number, definition, comment, is_available, published_by, published_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $8)",
            )
            .bind(tenant.org_id).bind(version_id).bind(id).bind(number).bind(&draft).bind(&comment).bind(published_by).bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Some((draft, number)))
        }.await)?;
        let (definition, version_number) = published.ok_or(StoreError::NotFound {
            kind: "integration",
        })?;
        Ok(IntegrationVersion {
            id: version_id,
            integration_id: id,
            version_number,
            definition,
            comment,
            is_available: true,
            published_by,
            published_at: at,
            is_draft: false,
        })
    }

    /// A page of an integration's versions, newest first.
    pub async fn integration_versions(
        &self,
        tenant: &Tenant,
        integration_id: Uuid,
        is_available: Option<bool>,
        page: &PageRequest,
    ) -> Result<Page<IntegrationVersion>, StoreError> {
        let sort = Sort {
            field: IdOrder,
            direction: crate::Direction::Desc,
        };
        let listing = Listing {
            query: "integrationVersions",
            sort,
            page,
        };
        let rows: Vec<VersionRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(VERSION_COLUMNS);
            push_tenant(&mut sql, tenant);
            sql.push(" AND is_draft = FALSE AND integration_id = ");
            Dialect::bind_uuid(&mut sql, integration_id);
            if let Some(available) = is_available {
                sql.push(" AND is_available = ");
                Dialect::bind_bool(&mut sql, available);
            }
            listing.push_after(&mut sql)?;
            listing.push_order_and_limit(&mut sql);
            sql.build_query_as().fetch_all(pool).await
        })?;
        Ok(listing.finish(rows.into_iter().map(IntegrationVersion::from).collect()))
    }

    /// How many versions an integration has (only available ones, or only unavailable ones).
    pub async fn count_integration_versions(
        &self,
        tenant: &Tenant,
        integration_id: Uuid,
        is_available: Option<bool>,
    ) -> Result<i64, StoreError> {
        let count: i64 = read!(self, pool => {
            let mut sql = QueryBuilder::new("SELECT COUNT(*) FROM integration_versions");
            push_tenant(&mut sql, tenant);
            sql.push(" AND is_draft = FALSE AND integration_id = ");
            Dialect::bind_uuid(&mut sql, integration_id);
            if let Some(available) = is_available {
                sql.push(" AND is_available = ");
                Dialect::bind_bool(&mut sql, available);
            }
            sql.build_query_scalar().fetch_one(pool).await
        })?;
        Ok(count)
    }

    /// One published version (draft snapshots are not found here: they are not for customers).
    pub async fn integration_version(
        &self,
        tenant: &Tenant,
        id: Uuid,
    ) -> Result<IntegrationVersion, StoreError> {
        self.version_row(tenant, id, false).await
    }

    /// The version an instance runs: a published one, or a test instance's draft snapshot.
    pub async fn instance_version(
        &self,
        tenant: &Tenant,
        id: Uuid,
    ) -> Result<IntegrationVersion, StoreError> {
        self.version_row(tenant, id, true).await
    }

    async fn version_row(
        &self,
        tenant: &Tenant,
        id: Uuid,
        with_drafts: bool,
    ) -> Result<IntegrationVersion, StoreError> {
        let row: Option<VersionRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(VERSION_COLUMNS);
            push_tenant(&mut sql, tenant);
            sql.push(" AND id = ");
            Dialect::bind_uuid(&mut sql, id);
            if !with_drafts {
                sql.push(" AND is_draft = FALSE");
            }
            sql.build_query_as().fetch_optional(pool).await
        })?;
        row.map(IntegrationVersion::from)
            .ok_or(StoreError::NotFound {
                kind: "integration version",
            })
    }

    /// Marks a version available to new instances, or not.
    pub async fn set_version_available(
        &self,
        tenant: &Tenant,
        id: Uuid,
        available: bool,
    ) -> Result<IntegrationVersion, StoreError> {
        self.integration_version(tenant, id).await?;
        write!(self, pool => {
            sqlx::query("UPDATE integration_versions SET is_available = $1 WHERE org_id = $2 AND id = $3")
                .bind(available).bind(tenant.org_id).bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        self.integration_version(tenant, id).await
    }
}

impl HasId for IntegrationVersion {
    fn row_id(&self) -> Uuid {
        self.id
    }
}
