//! Test instances: every integration keeps one instance on its organization's system customer,
//! running its draft, so that a flow can be run before it is published.
//!
//! The draft a test instance runs is a snapshot: a version row marked `is_draft` (number 0),
//! which version lists, `integration_version` and customer instances never see. Each import
//! writes a new snapshot row and moves the test instance onto it in the import's transaction,
//! then drops the old row; a row therefore never changes once written, so caches keyed by
//! version id stay right. The instance's flow configs follow the draft's flows as a version
//! change does (a flow keeps its webhook URL while its identity, stable key else name, stays,
//! or when `renameAttributes` renames it), and its config values stay.

use ferry_core::entity::{Customer, NewCustomer};
use ferry_core::instance::Instance;
use uuid::Uuid;

use crate::backend::read;
use crate::{CustomerFilter, PageRequest, Sort, Store, StoreError, Tenant};

/// The system customer's name, as the reference platform names it.
const SYSTEM_NAME: &str = "Test Customer";
/// The system customer's external id.
const SYSTEM_EXTERNAL_ID: &str = "testCustomerExternalId";
/// The name used when a real customer already has [`SYSTEM_NAME`] or its external id.
const SYSTEM_FALLBACK_NAME: &str = "Test Customer (system)";

/// What a draft's test instance follows: the identities of the draft's flows (stable key,
/// else name) and the renames the draft declares (old identity → new identity).
#[derive(Debug, Clone, Default)]
pub struct DraftShape {
    /// The identities of the draft's flows.
    pub flow_keys: Vec<String>,
    /// Renamed flows.
    pub flow_renames: Vec<(String, String)>,
    /// Renamed config variables.
    pub var_renames: Vec<(String, String)>,
}

/// What [`keep_test_instance!`] writes: a new draft snapshot and the test instance on it.
pub(crate) struct TestSync<'a> {
    pub(crate) org_id: Uuid,
    pub(crate) integration_id: Uuid,
    /// The integration's name, which its test instance carries.
    pub(crate) name: &'a str,
    /// The organization's system customer.
    pub(crate) customer_id: Uuid,
    /// The draft's text.
    pub(crate) definition: &'a str,
    pub(crate) shape: &'a DraftShape,
    pub(crate) at: chrono::DateTime<chrono::Utc>,
}

/// Makes an instance's flow configs and config values follow a definition's flows (`$change`
/// has `flow_keys`, `flow_renames` and `var_renames`): renamed flows and variables keep their
/// configs and values (unless the new identity already has one), flows new to the definition
/// get a config, and configs of flows it no longer has are removed. Runs inside a `write!`
/// body, through `$conn` (a macro so that one text serves both databases).
macro_rules! follow_flows {
    ($conn:expr, $org:expr, $instance:expr, $change:expr, $at:expr) => {
        for (old, new) in &$change.flow_renames {
            sqlx::query(
                "UPDATE instance_flow_configs SET flow_key = $1 WHERE org_id = $2 AND instance_id = $3 AND flow_key = $4 \
                 AND NOT EXISTS (SELECT 1 FROM instance_flow_configs k WHERE k.instance_id = $3 AND k.flow_key = $1)",
            )
            .bind(new).bind($org).bind($instance).bind(old)
            .execute($conn).await?;
        }
        for (old, new) in &$change.var_renames {
            sqlx::query(
                "UPDATE instance_config_values SET var_key = $1 WHERE org_id = $2 AND instance_id = $3 AND var_key = $4 \
                 AND NOT EXISTS (SELECT 1 FROM instance_config_values k WHERE k.instance_id = $3 AND k.var_key = $1)",
            )
            .bind(new).bind($org).bind($instance).bind(old)
            .execute($conn).await?;
        }
        for flow_key in &$change.flow_keys {
            sqlx::query(
                "INSERT INTO instance_flow_configs (org_id, id, instance_id, flow_key, api_keys, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (instance_id, flow_key) DO NOTHING",
            )
            .bind($org).bind($crate::new_id()).bind($instance).bind(flow_key)
            .bind(sqlx::types::Json(Vec::<String>::new())).bind($at)
            .execute($conn).await?;
        }
        let existing: Vec<String> = sqlx::query_scalar(
            "SELECT flow_key FROM instance_flow_configs WHERE org_id = $1 AND instance_id = $2",
        )
        .bind($org).bind($instance)
        .fetch_all($conn).await?;
        for gone in existing.iter().filter(|k| !$change.flow_keys.contains(k)) {
            sqlx::query("DELETE FROM instance_flow_configs WHERE org_id = $1 AND instance_id = $2 AND flow_key = $3")
                .bind($org).bind($instance).bind(gone)
                .execute($conn).await?;
        }
    };
}
pub(crate) use follow_flows;

/// Writes `$sync` (a [`TestSync`]) through `$conn` inside a `write!` body: a new draft
/// snapshot, the integration's test instance created on it or moved onto it (renamed after the
/// integration), its flows followed, and the previous snapshots dropped.
macro_rules! keep_test_instance {
    ($conn:expr, $sync:expr) => {{
        let sync = &$sync;
        let snapshot = $crate::new_id();
        sqlx::query(
            "INSERT INTO integration_versions (org_id, id, integration_id, version_number, definition, comment, is_available, published_by, published_at, is_draft) \
             VALUES ($1, $2, $3, 0, $4, '', FALSE, NULL, $5, TRUE)",
        )
        .bind(sync.org_id).bind(snapshot).bind(sync.integration_id).bind(sync.definition).bind(sync.at)
        .execute($conn).await?;
        let existing: Option<uuid::Uuid> = sqlx::query_scalar(
            "SELECT id FROM instances WHERE org_id = $1 AND integration_id = $2 AND is_test = TRUE",
        )
        .bind(sync.org_id).bind(sync.integration_id)
        .fetch_optional($conn).await?;
        let instance = existing.unwrap_or_else($crate::new_id);
        if existing.is_some() {
            sqlx::query("UPDATE instances SET version_id = $1, name = $2, updated_at = $3 WHERE org_id = $4 AND id = $5")
                .bind(snapshot).bind(sync.name).bind(sync.at).bind(sync.org_id).bind(instance)
                .execute($conn).await?;
        } else {
            sqlx::query(
                "INSERT INTO instances (org_id, id, customer_id, integration_id, version_id, name, description, enabled, is_test, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'Runs the draft, for tests', TRUE, TRUE, $7, $7)",
            )
            .bind(sync.org_id).bind(instance).bind(sync.customer_id).bind(sync.integration_id)
            .bind(snapshot).bind(sync.name).bind(sync.at)
            .execute($conn).await?;
        }
        $crate::test_instances::follow_flows!($conn, sync.org_id, instance, sync.shape, sync.at);
        sqlx::query(
            "DELETE FROM integration_versions WHERE org_id = $1 AND integration_id = $2 AND is_draft = TRUE AND id <> $3",
        )
        .bind(sync.org_id).bind(sync.integration_id).bind(snapshot)
        .execute($conn).await?;
    }};
}
pub(crate) use keep_test_instance;

impl Store {
    /// The organization's system customer, which holds test instances; created on first use
    /// as "Test Customer" (external id `testCustomerExternalId`), or under another name when a
    /// real customer has that name or external id already.
    pub async fn system_customer(&self, tenant: &Tenant) -> Result<Customer, StoreError> {
        let org = Tenant::organization(tenant.org_id);
        if let Some(found) = self.first_system_customer(&org).await? {
            return Ok(found);
        }
        let candidates = [
            (SYSTEM_NAME, Some(SYSTEM_EXTERNAL_ID)),
            (SYSTEM_FALLBACK_NAME, None),
        ];
        let mut refused = None;
        for (name, external_id) in candidates {
            let new = NewCustomer {
                name: name.into(),
                description: "Holds the integrations' test instances".into(),
                external_id: external_id.map(str::to_string),
                is_system: true,
                ..Default::default()
            };
            match self.create_customer(&org, new).await {
                Ok(created) => return Ok(created),
                Err(err @ StoreError::Conflict { .. }) => {
                    // Another import may have created it at the same moment.
                    if let Some(found) = self.first_system_customer(&org).await? {
                        return Ok(found);
                    }
                    refused = Some(err);
                }
                Err(err) => return Err(err),
            }
        }
        Err(refused.unwrap_or(StoreError::NotFound { kind: "customer" }))
    }

    /// The oldest system customer of the organization, if any.
    async fn first_system_customer(&self, org: &Tenant) -> Result<Option<Customer>, StoreError> {
        let filter = CustomerFilter {
            is_system: Some(true),
            ..Default::default()
        };
        let page = PageRequest::new(Some(1), None)?;
        let found = self.customers(org, &filter, Sort::default(), &page).await?;
        Ok(found.items.into_iter().next().map(|(customer, _)| customer))
    }

    /// An integration's test instance; `None` for an integration imported before test
    /// instances existed, until its next import.
    pub async fn test_instance(
        &self,
        tenant: &Tenant,
        integration_id: Uuid,
    ) -> Result<Option<Instance>, StoreError> {
        let id: Option<Uuid> = read!(self, pool => {
            sqlx::query_scalar("SELECT id FROM instances WHERE org_id = $1 AND integration_id = $2 AND is_test = TRUE")
                .bind(tenant.org_id).bind(integration_id)
                .fetch_optional(pool).await
        })?;
        match id {
            None => Ok(None),
            Some(id) => match self.instance(tenant, id).await {
                Ok(instance) => Ok(Some(instance)),
                Err(StoreError::NotFound { .. }) => Ok(None),
                Err(err) => Err(err),
            },
        }
    }
}
