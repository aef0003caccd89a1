//! Lookups for webhook routing on instance-specific and shared endpoints, whose URLs name an
//! instance or an integration rather than a flow config: who owns them, which version's
//! endpoint configuration applies, and which instance a customer's external id leads to.
//! These run before the caller is known, so they are not scoped by a tenant; what they answer
//! is then used through tenant-scoped calls.

use uuid::Uuid;

use crate::backend::read;
use crate::{Store, StoreError};

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
}
