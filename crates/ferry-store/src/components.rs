//! Custom components: a row per component key of an organization, and its published versions,
//! numbered 1, 2, 3… and frozen once published, each keeping its bundle and manifest. Publishes
//! of one component are serialized by the row the publish writes first, so concurrent ones get
//! distinct numbers (a unique index backs this up).

use chrono::{DateTime, Utc};
use ferry_core::component::{ComponentVersion, CustomComponent};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::backend::{read, write, Dialect};
use crate::{new_id, now, Store, StoreError, Tenant};

/// What a publish writes: the checked manifest's key, label and description, the manifest as
/// JSON text, and the bundle.
#[derive(Debug, Clone)]
pub struct NewComponentVersion {
    /// The component's key.
    pub key: String,
    /// Its label.
    pub label: String,
    /// Its description.
    pub description: String,
    /// The manifest, as JSON text.
    pub manifest: String,
    /// The bundle.
    pub bundle: String,
    /// Why it is published.
    pub comment: String,
}

#[derive(sqlx::FromRow)]
struct ComponentRow {
    id: Uuid,
    key: String,
    label: String,
    description: String,
    latest_version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ComponentRow> for CustomComponent {
    fn from(row: ComponentRow) -> Self {
        CustomComponent {
            id: row.id,
            key: row.key,
            label: row.label,
            description: row.description,
            latest_version: row.latest_version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    id: Uuid,
    component_id: Uuid,
    key: String,
    version_number: i32,
    manifest: String,
    bundle: String,
    comment: String,
    published_by: Option<Uuid>,
    published_at: DateTime<Utc>,
}

impl From<VersionRow> for ComponentVersion {
    fn from(row: VersionRow) -> Self {
        ComponentVersion {
            id: row.id,
            component_id: row.component_id,
            key: row.key,
            version_number: row.version_number,
            manifest: row.manifest,
            bundle: row.bundle,
            comment: row.comment,
            published_by: row.published_by,
            published_at: row.published_at,
        }
    }
}

const COMPONENT_COLUMNS: &str = "SELECT id, key, label, description, created_at, updated_at, \
     (SELECT COALESCE(MAX(v.version_number), 0) FROM component_versions v WHERE v.component_id = custom_components.id) AS latest_version \
     FROM custom_components";

const VERSION_COLUMNS: &str = "SELECT v.id, v.component_id, c.key, v.version_number, v.manifest, v.bundle, v.comment, v.published_by, v.published_at \
     FROM component_versions v JOIN custom_components c ON c.id = v.component_id";

/// Tenancy: the organization's rows; customer users see no custom components here.
fn push_tenant<DB: Dialect>(sql: &mut QueryBuilder<'_, DB>, tenant: &Tenant, column: &str) {
    sql.push(format!(" WHERE {column} = "));
    DB::bind_uuid(sql, tenant.org_id);
    if tenant.customer_id.is_some() {
        sql.push(" AND 1 = 0");
    }
}

fn not_found() -> StoreError {
    StoreError::NotFound { kind: "component" }
}

impl Store {
    /// Stores the next version of component `new.key` (creating the component on its first
    /// publish, and taking its label and description from this version).
    pub async fn publish_component(
        &self,
        tenant: &Tenant,
        new: NewComponentVersion,
        published_by: Option<Uuid>,
    ) -> Result<ComponentVersion, StoreError> {
        if tenant.customer_id.is_some() {
            return Err(not_found());
        }
        let (component_id, version_id, at) = (new_id(), new_id(), now());
        let comment = new.comment.trim().to_string();
        let (component_id, number): (Uuid, i32) = write!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO custom_components (org_id, id, key, label, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (org_id, key) DO UPDATE SET label = excluded.label, description = excluded.description, updated_at = excluded.updated_at",
            )
            .bind(tenant.org_id).bind(component_id).bind(&new.key).bind(&new.label).bind(&new.description).bind(at)
            .execute(&mut *tx)
            .await?;
            let found: (Uuid, i32) = sqlx::query_as(
                "SELECT id, (SELECT COALESCE(MAX(version_number), 0) + 1 FROM component_versions WHERE component_id = custom_components.id) \
                 FROM custom_components WHERE org_id = $1 AND key = $2",
            )
            .bind(tenant.org_id).bind(&new.key)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO component_versions (org_id, id, component_id, version_number, manifest, bundle, comment, published_by, published_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(tenant.org_id).bind(version_id).bind(found.0).bind(found.1).bind(&new.manifest).bind(&new.bundle).bind(&comment).bind(published_by).bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(found)
        }.await)?;
        Ok(ComponentVersion {
            id: version_id,
            component_id,
            key: new.key,
            version_number: number,
            manifest: new.manifest,
            bundle: new.bundle,
            comment,
            published_by,
            published_at: at,
        })
    }

    /// The organization's custom components, by key.
    pub async fn custom_components(
        &self,
        tenant: &Tenant,
    ) -> Result<Vec<CustomComponent>, StoreError> {
        let rows: Vec<ComponentRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(COMPONENT_COLUMNS);
            push_tenant(&mut sql, tenant, "org_id");
            sql.push(" ORDER BY key");
            sql.build_query_as().fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(CustomComponent::from).collect())
    }

    /// Custom component `key`.
    pub async fn custom_component(
        &self,
        tenant: &Tenant,
        key: &str,
    ) -> Result<CustomComponent, StoreError> {
        let row: Option<ComponentRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(COMPONENT_COLUMNS);
            push_tenant(&mut sql, tenant, "org_id");
            sql.push(" AND key = ");
            Dialect::bind_text(&mut sql, key.to_string());
            sql.build_query_as().fetch_optional(pool).await
        })?;
        row.map(CustomComponent::from).ok_or_else(not_found)
    }

    /// The versions of custom component `key`, newest first (empty when there is none).
    pub async fn component_versions(
        &self,
        tenant: &Tenant,
        key: &str,
    ) -> Result<Vec<ComponentVersion>, StoreError> {
        let rows: Vec<VersionRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(VERSION_COLUMNS);
            push_tenant(&mut sql, tenant, "v.org_id");
            sql.push(" AND c.key = ");
            Dialect::bind_text(&mut sql, key.to_string());
            sql.push(" ORDER BY v.version_number DESC");
            sql.build_query_as().fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(ComponentVersion::from).collect())
    }

    /// Version `version` of custom component `key`.
    pub async fn component_version(
        &self,
        tenant: &Tenant,
        key: &str,
        version: i32,
    ) -> Result<ComponentVersion, StoreError> {
        let row: Option<VersionRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(VERSION_COLUMNS);
            push_tenant(&mut sql, tenant, "v.org_id");
            sql.push(" AND c.key = ");
            Dialect::bind_text(&mut sql, key.to_string());
            sql.push(" AND v.version_number = ");
            sql.push_bind(version);
            sql.build_query_as().fetch_optional(pool).await
        })?;
        row.map(ComponentVersion::from).ok_or(StoreError::NotFound {
            kind: "component version",
        })
    }
}

impl Store {
    /// Replaces one state scope's value outside an execution (a custom trigger's deploy or
    /// delete hook returning state).
    pub async fn set_state(
        &self,
        org_id: Uuid,
        state: &crate::StateWrite,
    ) -> Result<(), StoreError> {
        let at = now();
        write!(self, pool => {
            sqlx::query(
                "INSERT INTO flow_state (org_id, scope, owner_id, value, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (scope, owner_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(org_id).bind(state.scope).bind(state.owner_id).bind(crate::json_text::JsonText(&state.value)).bind(at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(())
    }
}
