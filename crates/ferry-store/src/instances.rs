//! Instances, their config values (secrets sealed) and their flow configs.
//!
//! What a definition requires (which values, which flows) is decided by the caller, which has
//! the parsed definition; the store keeps what it is given, scoped to the tenant: customer
//! users reach only their customer's instances. Test instances (`test_instances.rs`) live on
//! system customers, which hold nothing else; they follow their integration's draft and go
//! with their integration.

use chrono::{DateTime, Utc};
use ferry_core::entity::Problems;
use ferry_core::instance::{ConfigValue, FlowConfig, Instance};
use sqlx::types::Json;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::backend::{read, write, Dialect};
use crate::error::is_unique_violation;
use crate::page::{HasId, IdOrder, Listing, Page, PageRequest, Sort};
use crate::test_instances::follow_flows;
use crate::{new_id, now, Store, StoreError, Tenant};

/// An instance to create.
#[derive(Debug, Clone)]
pub struct NewInstance {
    /// The customer it serves.
    pub customer_id: Uuid,
    /// The published version it runs.
    pub version_id: Uuid,
    /// Unique per customer.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The values given so far.
    pub config_values: Vec<ConfigValue>,
    /// The identities of the version's flows.
    pub flow_keys: Vec<String>,
}

/// A move to another version: the version, its flows' identities, and the renames it
/// declares (old identity → new identity).
#[derive(Debug, Clone, Default)]
pub struct VersionChange {
    /// The published version to run.
    pub version_id: Uuid,
    /// The identities of its flows.
    pub flow_keys: Vec<String>,
    /// Renamed flows.
    pub flow_renames: Vec<(String, String)>,
    /// Renamed config variables.
    pub var_renames: Vec<(String, String)>,
}

/// Which instances a list returns.
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    /// Instances of this customer.
    pub customer_id: Option<Uuid>,
    /// Instances of this integration.
    pub integration_id: Option<Uuid>,
    /// Instances of system customers only (`true`) or of real ones only (`false`).
    pub is_system: Option<bool>,
    /// Enabled ones only, or paused ones only.
    pub enabled: Option<bool>,
}

#[derive(sqlx::FromRow)]
struct InstanceRow {
    id: Uuid,
    customer_id: Uuid,
    integration_id: Uuid,
    version_id: Uuid,
    name: String,
    description: String,
    enabled: bool,
    last_deployed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    is_test: bool,
    is_router: bool,
    disable_logs_and_step_results: bool,
}

#[derive(sqlx::FromRow)]
struct ValueRow {
    var_key: String,
    value: String,
    is_secret: bool,
}

#[derive(sqlx::FromRow)]
struct FlowConfigRow {
    id: Uuid,
    flow_key: String,
    api_keys: Json<Vec<String>>,
}

const COLUMNS: &str =
    "SELECT id, customer_id, integration_id, version_id, name, description, enabled, \
     last_deployed_at, created_at, updated_at, is_test, is_router, \
     disable_logs_and_step_results FROM instances";

fn push_where<DB: Dialect>(
    sql: &mut QueryBuilder<'_, DB>,
    tenant: &Tenant,
    filter: &InstanceFilter,
) {
    sql.push(" WHERE org_id = ");
    DB::bind_uuid(sql, tenant.org_id);
    if let Some(customer_id) = tenant.customer_id {
        sql.push(" AND customer_id = ");
        DB::bind_uuid(sql, customer_id);
    }
    if let Some(customer_id) = filter.customer_id {
        sql.push(" AND customer_id = ");
        DB::bind_uuid(sql, customer_id);
    }
    if let Some(integration_id) = filter.integration_id {
        sql.push(" AND integration_id = ");
        DB::bind_uuid(sql, integration_id);
    }
    if let Some(enabled) = filter.enabled {
        sql.push(" AND enabled = ");
        DB::bind_bool(sql, enabled);
    }
    if let Some(is_system) = filter.is_system {
        sql.push(" AND customer_id IN (SELECT c.id FROM customers c WHERE c.is_system = ");
        DB::bind_bool(sql, is_system);
        sql.push(")");
    }
}

/// Where a secret of an instance is bound when sealed.
fn secret_context(instance_id: Uuid, key: &str) -> String {
    format!("instance:{instance_id}:configVar:{key}")
}

/// Refuses to change what belongs to the integration itself: a test instance's or a shared
/// endpoint's router instance's version and existence.
fn refuse_test(instance: &Instance, field: &'static str, what: &str) -> Result<(), StoreError> {
    let message = match (instance.is_test, instance.is_router) {
        (true, _) => format!("{:?} is its integration's test instance: {what}", instance.name),
        (_, true) => format!(
            "{:?} runs its version's preprocess flow for the shared endpoint; it goes with its integration",
            instance.name
        ),
        _ => return Ok(()),
    };
    Err(StoreError::Conflict { field, message })
}

fn check_name(name: &str) -> Result<(), StoreError> {
    let mut problems = Problems::default();
    problems.name("name", name);
    problems.finish()?;
    Ok(())
}

impl Store {
    fn seal_value(&self, instance_id: Uuid, value: &ConfigValue) -> Result<String, StoreError> {
        if !value.is_secret {
            return Ok(value.value.clone());
        }
        let sealer = self.sealer.as_ref().ok_or_else(|| {
            StoreError::InvalidArgument("no master key: secrets cannot be stored".into())
        })?;
        Ok(sealer.seal(
            value.value.as_bytes(),
            &secret_context(instance_id, &value.key),
        ))
    }

    fn open_value(&self, instance_id: Uuid, row: ValueRow) -> Result<ConfigValue, StoreError> {
        let value = if row.is_secret {
            let sealer = self.sealer.as_ref().ok_or_else(|| {
                StoreError::Corrupt("no master key: secrets cannot be read".into())
            })?;
            let bytes = sealer.open(&row.value, &secret_context(instance_id, &row.var_key))?;
            String::from_utf8(bytes)
                .map_err(|_| StoreError::Corrupt("a secret is not text".into()))?
        } else {
            row.value
        };
        Ok(ConfigValue {
            key: row.var_key,
            value,
            is_secret: row.is_secret,
        })
    }

    /// Creates an instance of a published version for a customer the tenant can see.
    pub async fn create_instance(
        &self,
        tenant: &Tenant,
        new: NewInstance,
    ) -> Result<Instance, StoreError> {
        check_name(&new.name)?;
        let customer = self.customer(tenant, new.customer_id).await?;
        if customer.is_system {
            return Err(StoreError::Conflict {
                field: "customer",
                message: format!(
                    "{:?} is a system customer; it holds only test instances",
                    customer.name
                ),
            });
        }
        let version = self
            .integration_version(&Tenant::organization(tenant.org_id), new.version_id)
            .await?;
        let (id, at) = (new_id(), now());
        let sealed: Vec<(String, String, bool)> = new
            .config_values
            .iter()
            .map(|v| Ok((v.key.clone(), self.seal_value(id, v)?, v.is_secret)))
            .collect::<Result<_, StoreError>>()?;
        let result = write!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO instances (org_id, id, customer_id, integration_id, version_id, name, description, enabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8, $8)",
            )
            .bind(tenant.org_id).bind(id).bind(new.customer_id).bind(version.integration_id).bind(version.id)
            .bind(new.name.trim()).bind(&new.description).bind(at)
            .execute(&mut *tx).await?;
            for (key, value, is_secret) in &sealed {
                sqlx::query("INSERT INTO instance_config_values (org_id, instance_id, var_key, value, is_secret) VALUES ($1, $2, $3, $4, $5)")
                    .bind(tenant.org_id).bind(id).bind(key).bind(value).bind(*is_secret)
                    .execute(&mut *tx).await?;
            }
            for flow_key in &new.flow_keys {
                sqlx::query("INSERT INTO instance_flow_configs (org_id, id, instance_id, flow_key, api_keys, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(tenant.org_id).bind(new_id()).bind(id).bind(flow_key).bind(Json(Vec::<String>::new())).bind(at)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await);
        match result {
            Ok(()) => {
                self.added(|filling| &filling.instances, 1);
                self.instance(tenant, id).await
            }
            Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict {
                field: "name",
                message: format!(
                    "the customer already has an instance named {:?}",
                    new.name.trim()
                ),
            }),
            Err(err) => Err(err.into()),
        }
    }

    /// One instance with its values and flow configs.
    pub async fn instance(&self, tenant: &Tenant, id: Uuid) -> Result<Instance, StoreError> {
        let row: Option<InstanceRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(COLUMNS);
            push_where(&mut sql, tenant, &InstanceFilter::default());
            sql.push(" AND id = ");
            Dialect::bind_uuid(&mut sql, id);
            sql.build_query_as().fetch_optional(pool).await
        })?;
        let row = row.ok_or(StoreError::NotFound { kind: "instance" })?;
        self.complete(tenant, row).await
    }

    /// Loads an instance row's values and flow configs.
    async fn complete(&self, tenant: &Tenant, row: InstanceRow) -> Result<Instance, StoreError> {
        let values: Vec<ValueRow> = read!(self, pool => {
            sqlx::query_as("SELECT var_key, value, is_secret FROM instance_config_values WHERE org_id = $1 AND instance_id = $2 ORDER BY var_key")
                .bind(tenant.org_id).bind(row.id)
                .fetch_all(pool).await
        })?;
        let config_values = values
            .into_iter()
            .map(|v| self.open_value(row.id, v))
            .collect::<Result<_, _>>()?;
        let flow_configs = self.flow_configs(tenant, row.id).await?;
        Ok(Instance {
            id: row.id,
            customer_id: row.customer_id,
            integration_id: row.integration_id,
            version_id: row.version_id,
            name: row.name,
            description: row.description,
            enabled: row.enabled,
            last_deployed_at: row.last_deployed_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            is_test: row.is_test,
            is_router: row.is_router,
            disable_logs_and_step_results: row.disable_logs_and_step_results,
            config_values,
            flow_configs,
        })
    }

    /// An instance's flow configs, oldest first.
    pub(crate) async fn flow_configs(
        &self,
        tenant: &Tenant,
        instance_id: Uuid,
    ) -> Result<Vec<FlowConfig>, StoreError> {
        let flows: Vec<FlowConfigRow> = read!(self, pool => {
            sqlx::query_as("SELECT id, flow_key, api_keys FROM instance_flow_configs WHERE org_id = $1 AND instance_id = $2 ORDER BY id")
                .bind(tenant.org_id).bind(instance_id)
                .fetch_all(pool).await
        })?;
        Ok(flows
            .into_iter()
            .map(|f| FlowConfig {
                id: f.id,
                flow_key: f.flow_key,
                api_keys: f.api_keys.0,
            })
            .collect())
    }

    /// A page of instances, in creation order.
    pub async fn instances(
        &self,
        tenant: &Tenant,
        filter: &InstanceFilter,
        page: &PageRequest,
    ) -> Result<Page<Instance>, StoreError> {
        let listing = Listing {
            query: "instances",
            sort: Sort::<IdOrder>::default(),
            page,
        };
        let rows: Vec<InstanceRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(COLUMNS);
            push_where(&mut sql, tenant, filter);
            listing.push_after(&mut sql)?;
            listing.push_order_and_limit(&mut sql);
            sql.build_query_as().fetch_all(pool).await
        })?;
        let mut instances = Vec::with_capacity(rows.len());
        for row in rows {
            instances.push(self.complete(tenant, row).await?);
        }
        Ok(listing.finish(instances))
    }

    /// How many instances match.
    pub async fn count_instances(
        &self,
        tenant: &Tenant,
        filter: &InstanceFilter,
    ) -> Result<i64, StoreError> {
        let count: i64 = read!(self, pool => {
            let mut sql = QueryBuilder::new("SELECT COUNT(*) FROM instances");
            push_where(&mut sql, tenant, filter);
            sql.build_query_scalar().fetch_one(pool).await
        })?;
        Ok(count)
    }

    /// Sets config values (others stay as they are).
    pub async fn set_config_values(
        &self,
        tenant: &Tenant,
        id: Uuid,
        values: &[ConfigValue],
    ) -> Result<Instance, StoreError> {
        self.instance(tenant, id).await?;
        let sealed: Vec<(String, String, bool)> = values
            .iter()
            .map(|v| Ok((v.key.clone(), self.seal_value(id, v)?, v.is_secret)))
            .collect::<Result<_, StoreError>>()?;
        write!(self, pool => async {
            let mut tx = pool.begin().await?;
            for (key, value, is_secret) in &sealed {
                sqlx::query(
                    "INSERT INTO instance_config_values (org_id, instance_id, var_key, value, is_secret) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (instance_id, var_key) DO UPDATE SET value = excluded.value, is_secret = excluded.is_secret",
                )
                .bind(tenant.org_id).bind(id).bind(key).bind(value).bind(*is_secret)
                .execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE instances SET updated_at = $1 WHERE org_id = $2 AND id = $3")
                .bind(now()).bind(tenant.org_id).bind(id)
                .execute(&mut *tx).await?;
            tx.commit().await
        }.await)?;
        self.instance(tenant, id).await
    }

    /// Renames an instance, changes its description, or enables or pauses it.
    pub async fn update_instance(
        &self,
        tenant: &Tenant,
        id: Uuid,
        name: Option<&str>,
        description: Option<&str>,
        enabled: Option<bool>,
    ) -> Result<Instance, StoreError> {
        let current = self.instance(tenant, id).await?;
        let name = name.map(str::trim).unwrap_or(&current.name).to_string();
        check_name(&name)?;
        let description = description.unwrap_or(&current.description).to_string();
        let enabled = enabled.unwrap_or(current.enabled);
        let result = write!(self, pool => {
            sqlx::query("UPDATE instances SET name = $1, description = $2, enabled = $3, updated_at = $4 WHERE org_id = $5 AND id = $6")
                .bind(&name).bind(&description).bind(enabled).bind(now()).bind(tenant.org_id).bind(id)
                .execute(pool).await.map(|done| done.rows_affected())
        });
        self.targets.forget_all();
        match result {
            Ok(_) => self.instance(tenant, id).await,
            Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict {
                field: "name",
                message: format!("the customer already has an instance named {name:?}"),
            }),
            Err(err) => Err(err.into()),
        }
    }

    /// Turns the storage of an instance's step results and log lines off (`true`) or on again.
    pub async fn set_disable_logs_and_step_results(
        &self,
        tenant: &Tenant,
        id: Uuid,
        disable: bool,
    ) -> Result<Instance, StoreError> {
        let changed = write!(self, pool => {
            sqlx::query("UPDATE instances SET disable_logs_and_step_results = $1, updated_at = $2 WHERE org_id = $3 AND id = $4")
                .bind(disable).bind(now()).bind(tenant.org_id).bind(id)
                .execute(pool).await.map(|done| done.rows_affected())
        })?;
        match changed {
            0 => Err(StoreError::NotFound { kind: "instance" }),
            _ => self.instance(tenant, id).await,
        }
    }

    /// Moves an instance to another published version of its integration (an upgrade or a
    /// roll-back): renamed flows and variables keep their configs and values, flows new to the
    /// version get a config, and configs of flows the version no longer has are removed (their
    /// webhook URLs stop answering).
    pub async fn change_version(
        &self,
        tenant: &Tenant,
        id: Uuid,
        change: &VersionChange,
    ) -> Result<Instance, StoreError> {
        let current = self.instance(tenant, id).await?;
        refuse_test(
            &current,
            "version",
            "it runs the draft; import to change it",
        )?;
        let version = self
            .integration_version(&Tenant::organization(tenant.org_id), change.version_id)
            .await?;
        if version.integration_id != current.integration_id {
            return Err(StoreError::Conflict {
                field: "version",
                message: "that version belongs to another integration".into(),
            });
        }
        let at = now();
        write!(self, pool => async {
            let mut tx = pool.begin().await?;
            follow_flows!(&mut *tx, tenant.org_id, id, change, at);
            sqlx::query("UPDATE instances SET version_id = $1, updated_at = $2 WHERE org_id = $3 AND id = $4")
                .bind(change.version_id).bind(at).bind(tenant.org_id).bind(id)
                .execute(&mut *tx).await?;
            tx.commit().await
        }.await)?;
        self.targets.forget_all();
        self.instance(tenant, id).await
    }

    /// Sets the API keys callers of one flow config's webhook must send; returns its instance.
    pub async fn set_flow_api_keys(
        &self,
        tenant: &Tenant,
        flow_config_id: Uuid,
        api_keys: &[String],
    ) -> Result<Instance, StoreError> {
        let instance_id: Option<Uuid> = read!(self, pool => {
            sqlx::query_scalar("SELECT instance_id FROM instance_flow_configs WHERE org_id = $1 AND id = $2")
                .bind(tenant.org_id).bind(flow_config_id)
                .fetch_optional(pool).await
        })?;
        let instance_id = instance_id.ok_or(StoreError::NotFound {
            kind: "flow config",
        })?;
        self.instance(tenant, instance_id)
            .await
            .map_err(|_| StoreError::NotFound {
                kind: "flow config",
            })?;
        write!(self, pool => {
            sqlx::query("UPDATE instance_flow_configs SET api_keys = $1 WHERE org_id = $2 AND id = $3")
                .bind(Json(api_keys)).bind(tenant.org_id).bind(flow_config_id)
                .execute(pool).await.map(|done| done.rows_affected())
        })?;
        self.targets.forget_all();
        self.instance(tenant, instance_id).await
    }

    /// Records a deploy.
    pub async fn mark_deployed(&self, tenant: &Tenant, id: Uuid) -> Result<Instance, StoreError> {
        self.instance(tenant, id).await?;
        let at = now();
        write!(self, pool => {
            sqlx::query("UPDATE instances SET last_deployed_at = $1, updated_at = $1 WHERE org_id = $2 AND id = $3")
                .bind(at).bind(tenant.org_id).bind(id)
                .execute(pool).await.map(|done| done.rows_affected())
        })?;
        self.instance(tenant, id).await
    }

    /// Deletes an instance with its values and flow configs (a test instance goes only with
    /// its integration).
    pub async fn delete_instance(&self, tenant: &Tenant, id: Uuid) -> Result<Instance, StoreError> {
        let instance = self.instance(tenant, id).await?;
        refuse_test(&instance, "id", "it goes when its integration is deleted")?;
        let gone = std::iter::once(id).chain(instance.flow_configs.iter().map(|c| c.id));
        let at = now();
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM instances WHERE org_id = $1 AND id = $2")
                .bind(tenant.org_id).bind(id)
                .execute(&mut *tx).await?;
            for webhook in gone {
                sqlx::query("INSERT INTO deleted_webhooks (id, org_id, deleted_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                    .bind(webhook).bind(tenant.org_id).bind(at)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.targets.forget_all();
        Ok(instance)
    }
}

impl HasId for Instance {
    fn row_id(&self) -> Uuid {
        self.id
    }
}
