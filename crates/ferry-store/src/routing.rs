//! Lookups for webhook routing on instance-specific and shared endpoints, whose URLs name an
//! instance or an integration rather than a flow config: who owns them, which version's
//! endpoint configuration applies, and which instance a customer's external id leads to.
//! These run before the caller is known, so they are not scoped by a tenant; what they answer
//! is then used through tenant-scoped calls.
//!
//! A shared endpoint routed by a preprocess flow runs that flow before the customer is known,
//! in a *router instance*: a system instance of the version whose endpoint configuration
//! applies, on the organization's system customer (so no customer's list shows it), with the
//! preprocess flow's config only. One per version, created by the first request that needs it
//! (a unique index settles concurrent first requests), deleted with its integration.

use ferry_core::instance::Instance;
use sqlx::types::Json;
use uuid::Uuid;

use crate::backend::{read, write};
use crate::{new_id, now, Store, StoreError, Tenant};

impl Store {
    /// The organization of instance `id`, if it exists.
    pub async fn instance_org(&self, id: Uuid) -> Result<Option<Uuid>, StoreError> {
        Ok(read!(self, pool => {
            sqlx::query_scalar("SELECT org_id FROM instances WHERE id = $1").bind(id).fetch_optional(pool).await
        })?)
    }

    /// Whether `id` (a flow config or an instance) belonged to an instance since deleted.
    pub async fn webhook_deleted(&self, id: Uuid) -> Result<bool, StoreError> {
        let found: Option<Uuid> = read!(self, pool => {
            sqlx::query_scalar("SELECT id FROM deleted_webhooks WHERE id = $1").bind(id).fetch_optional(pool).await
        })?;
        Ok(found.is_some())
    }

    /// The organization of integration `id`, if it exists.
    pub async fn integration_org(&self, id: Uuid) -> Result<Option<Uuid>, StoreError> {
        Ok(read!(self, pool => {
            sqlx::query_scalar("SELECT org_id FROM integrations WHERE id = $1").bind(id).fetch_optional(pool).await
        })?)
    }

    /// The highest version of integration `id` that an instance of a real (not system)
    /// customer runs: its endpoint configuration is the one a shared endpoint follows.
    pub async fn latest_deployed_version(
        &self,
        org_id: Uuid,
        integration_id: Uuid,
    ) -> Result<Option<Uuid>, StoreError> {
        Ok(read!(self, pool => {
            sqlx::query_scalar(
                "SELECT v.id FROM instances i JOIN integration_versions v ON v.id = i.version_id \
                 JOIN customers c ON c.id = i.customer_id \
                 WHERE i.org_id = $1 AND i.integration_id = $2 AND NOT c.is_system \
                 ORDER BY v.version_number DESC LIMIT 1",
            )
            .bind(org_id).bind(integration_id).fetch_optional(pool).await
        })?)
    }

    /// The instance of integration `integration_id` deployed to the customer whose external id
    /// is `external_id` (the oldest, if there are several).
    pub async fn instance_for_external_id(
        &self,
        org_id: Uuid,
        integration_id: Uuid,
        external_id: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        Ok(read!(self, pool => {
            sqlx::query_scalar(
                "SELECT i.id FROM instances i JOIN customers c ON c.id = i.customer_id \
                 WHERE i.org_id = $1 AND i.integration_id = $2 AND c.external_id = $3 AND NOT c.is_system \
                 ORDER BY i.id LIMIT 1",
            )
            .bind(org_id).bind(integration_id).bind(external_id).fetch_optional(pool).await
        })?)
    }

    /// The router instance of version `version_id` (see the module's doc), created with one
    /// flow config, for `flow_key`, the first time it is asked for.
    pub async fn router_instance(
        &self,
        org_id: Uuid,
        version_id: Uuid,
        flow_key: &str,
    ) -> Result<Instance, StoreError> {
        let tenant = Tenant::organization(org_id);
        if let Some(found) = self.router_instance_id(org_id, version_id).await? {
            return self.instance(&tenant, found).await;
        }
        let version = self.integration_version(&tenant, version_id).await?;
        let integration = self.integration(&tenant, version.integration_id).await?;
        let customer = self.system_customer(&tenant).await?;
        let name = format!(
            "{} v{} (shared endpoint)",
            integration.name, version.version_number
        );
        let (id, at) = (new_id(), now());
        write!(self, pool => async {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO instances (org_id, id, customer_id, integration_id, version_id, name, description, enabled, is_router, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'Runs the preprocess flow of the shared endpoint', TRUE, TRUE, $7, $7) ON CONFLICT DO NOTHING",
            )
            .bind(org_id).bind(id).bind(customer.id).bind(version.integration_id).bind(version_id)
            .bind(&name).bind(at)
            .execute(&mut *tx).await?;
            if inserted.rows_affected() == 1 {
                sqlx::query("INSERT INTO instance_flow_configs (org_id, id, instance_id, flow_key, api_keys, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(org_id).bind(new_id()).bind(id).bind(flow_key).bind(Json(Vec::<String>::new())).bind(at)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)?;
        // A concurrent first request may have created it instead.
        let found = self.router_instance_id(org_id, version_id).await?;
        let found = found.ok_or_else(|| StoreError::Conflict {
            field: "name",
            message: format!("the system customer already has an instance named {name:?}"),
        })?;
        self.instance(&tenant, found).await
    }

    async fn router_instance_id(
        &self,
        org_id: Uuid,
        version_id: Uuid,
    ) -> Result<Option<Uuid>, StoreError> {
        Ok(read!(self, pool => {
            sqlx::query_scalar("SELECT id FROM instances WHERE org_id = $1 AND version_id = $2 AND is_router = TRUE")
                .bind(org_id).bind(version_id).fetch_optional(pool).await
        })?)
    }
}
