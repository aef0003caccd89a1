//! Customers: create, read, list, update, delete, unique `name` and `externalId` per
//! organization (enforced by unique indexes, so concurrent creates cannot both win).

use chrono::{DateTime, Utc};
use ferry_core::entity::{Customer, CustomerPatch, NewCustomer};
use sqlx::types::Json;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::backend::{read, write, Dialect};
use crate::error::is_unique_violation;
use crate::page::{KeyType, KeyValue, Keyed, Listing, Page, PageRequest, Sort, SortField};
use crate::{new_id, now, Store, StoreError, Tenant};

/// Which customers a list returns; every set filter must match.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// System customers only (`true`) or real ones only (`false`).
    pub is_system: Option<bool>,
    /// Exactly this external id.
    pub external_id: Option<String>,
    /// Exactly this name.
    pub name: Option<String>,
    /// Names containing this text, ignoring case.
    pub name_contains: Option<String>,
    /// Customers carrying every one of these labels.
    pub labels: Vec<String>,
}

/// What customers can be sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CustomerSortField {
    /// Creation order (the default).
    #[default]
    Id,
    /// Name.
    Name,
    /// External id (customers without one first).
    ExternalId,
    /// Creation time.
    CreatedAt,
}

impl SortField for CustomerSortField {
    fn name(self) -> &'static str {
        match self {
            Self::Id => "ID",
            Self::Name => "NAME",
            Self::ExternalId => "EXTERNAL_ID",
            Self::CreatedAt => "CREATED_AT",
        }
    }
    fn column(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Name => "name",
            Self::ExternalId => "COALESCE(external_id, '')",
            Self::CreatedAt => "created_at",
        }
    }
    fn key_type(self) -> KeyType {
        match self {
            Self::Id => KeyType::Id,
            Self::Name | Self::ExternalId => KeyType::Text,
            Self::CreatedAt => KeyType::Time,
        }
    }
}

#[derive(sqlx::FromRow)]
struct CustomerRow {
    id: Uuid,
    name: String,
    description: String,
    external_id: Option<String>,
    labels: Json<Vec<String>>,
    is_system: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<CustomerRow> for Customer {
    fn from(row: CustomerRow) -> Self {
        Customer {
            id: row.id,
            name: row.name,
            description: row.description,
            external_id: row.external_id,
            labels: row.labels.0,
            is_system: row.is_system,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl Keyed<CustomerSortField> for Customer {
    fn id(&self) -> Uuid {
        self.id
    }
    fn key(&self, field: CustomerSortField) -> Option<KeyValue> {
        match field {
            CustomerSortField::Id => None,
            CustomerSortField::Name => Some(KeyValue::Text(self.name.clone())),
            CustomerSortField::ExternalId => {
                Some(KeyValue::Text(self.external_id.clone().unwrap_or_default()))
            }
            CustomerSortField::CreatedAt => Some(KeyValue::Time(self.created_at)),
        }
    }
}

const COLUMNS: &str = "SELECT id, name, description, external_id, labels, is_system, created_at, updated_at FROM customers";

/// Appends the tenancy and filter conditions.
fn push_where<DB: Dialect>(
    sql: &mut QueryBuilder<'_, DB>,
    tenant: &Tenant,
    filter: &CustomerFilter,
) {
    sql.push(" WHERE org_id = ");
    DB::bind_uuid(sql, tenant.org_id);
    if let Some(customer_id) = tenant.customer_id {
        sql.push(" AND id = ");
        DB::bind_uuid(sql, customer_id);
    }
    if let Some(is_system) = filter.is_system {
        sql.push(" AND is_system = ");
        DB::bind_bool(sql, is_system);
    }
    if let Some(external_id) = &filter.external_id {
        sql.push(" AND external_id = ");
        DB::bind_text(sql, external_id.clone());
    }
    if let Some(name) = &filter.name {
        sql.push(" AND name = ");
        DB::bind_text(sql, name.clone());
    }
    if let Some(text) = &filter.name_contains {
        sql.push(" AND LOWER(name) LIKE ");
        DB::bind_text(sql, like_pattern(text));
        sql.push(" ESCAPE '\\'");
    }
    for label in &filter.labels {
        sql.push(" AND EXISTS (SELECT 1 FROM customer_labels l WHERE l.customer_id = customers.id AND l.label = ");
        DB::bind_text(sql, label.trim().to_lowercase());
        sql.push(")");
    }
}

/// `%text%`, lower-cased, with LIKE's wildcards escaped.
pub(crate) fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn select_one<DB: Dialect>(tenant: &Tenant, id: Uuid) -> QueryBuilder<'static, DB> {
    let mut sql = QueryBuilder::new(COLUMNS);
    push_where(&mut sql, tenant, &CustomerFilter::default());
    sql.push(" AND id = ");
    DB::bind_uuid(&mut sql, id);
    sql
}

impl Store {
    /// Creates a customer; a taken name or external id is a [`StoreError::Conflict`].
    pub async fn create_customer(
        &self,
        tenant: &Tenant,
        new: NewCustomer,
    ) -> Result<Customer, StoreError> {
        let new = new.validated()?;
        let at = now();
        let customer = Customer {
            id: new_id(),
            name: new.name,
            description: new.description,
            external_id: new.external_id,
            labels: new.labels,
            is_system: new.is_system,
            created_at: at,
            updated_at: at,
        };
        let c = &customer;
        let result = write!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO customers (org_id, id, name, description, external_id, labels, is_system, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(tenant.org_id).bind(c.id).bind(&c.name).bind(&c.description).bind(&c.external_id)
            .bind(Json(&c.labels)).bind(c.is_system).bind(c.created_at).bind(c.updated_at)
            .execute(&mut *tx)
            .await?;
            for label in &c.labels {
                sqlx::query("INSERT INTO customer_labels (org_id, customer_id, label) VALUES ($1, $2, $3)")
                    .bind(tenant.org_id).bind(c.id).bind(label)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        }.await);
        match result {
            Ok(()) => Ok(customer),
            Err(err) if is_unique_violation(&err) => Err(self
                .customer_conflict(
                    tenant,
                    None,
                    &customer.name,
                    customer.external_id.as_deref(),
                )
                .await),
            Err(err) => Err(err.into()),
        }
    }

    /// Names the unique field a write collided on.
    async fn customer_conflict(
        &self,
        tenant: &Tenant,
        except: Option<Uuid>,
        name: &str,
        external_id: Option<&str>,
    ) -> StoreError {
        let org = Tenant::organization(tenant.org_id);
        let taken = |filter: CustomerFilter| async move {
            let page = PageRequest::new(Some(1), None).ok()?;
            let found = self
                .customers(&org, &filter, Sort::default(), &page)
                .await
                .ok()?;
            found
                .items
                .first()
                .map(|(c, _)| c.id)
                .filter(|id| Some(*id) != except)
        };
        let by_name = CustomerFilter {
            name: Some(name.to_string()),
            ..Default::default()
        };
        if taken(by_name).await.is_some() {
            return StoreError::Conflict {
                field: "name",
                message: format!("a customer named {name:?} already exists"),
            };
        }
        let external_id = external_id.unwrap_or_default();
        StoreError::Conflict {
            field: "externalId",
            message: format!("a customer with external id {external_id:?} already exists"),
        }
    }

    /// One customer, if the tenant may see it.
    pub async fn customer(&self, tenant: &Tenant, id: Uuid) -> Result<Customer, StoreError> {
        let row: Option<CustomerRow> = read!(self, pool => {
            select_one(tenant, id).build_query_as().fetch_optional(pool).await
        })?;
        row.map(Customer::from)
            .ok_or(StoreError::NotFound { kind: "customer" })
    }

    /// A page of customers.
    pub async fn customers(
        &self,
        tenant: &Tenant,
        filter: &CustomerFilter,
        sort: Sort<CustomerSortField>,
        page: &PageRequest,
    ) -> Result<Page<Customer>, StoreError> {
        let listing = Listing {
            query: "customers",
            sort,
            page,
        };
        let rows: Vec<CustomerRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(COLUMNS);
            push_where(&mut sql, tenant, filter);
            listing.push_after(&mut sql)?;
            listing.push_order_and_limit(&mut sql);
            sql.build_query_as().fetch_all(pool).await
        })?;
        Ok(listing.finish(rows.into_iter().map(Customer::from).collect()))
    }

    /// How many customers match.
    pub async fn count_customers(
        &self,
        tenant: &Tenant,
        filter: &CustomerFilter,
    ) -> Result<i64, StoreError> {
        let count: i64 = read!(self, pool => {
            let mut sql = QueryBuilder::new("SELECT COUNT(*) FROM customers");
            push_where(&mut sql, tenant, filter);
            sql.build_query_scalar().fetch_one(pool).await
        })?;
        Ok(count)
    }

    /// Applies `patch` to a customer.
    pub async fn update_customer(
        &self,
        tenant: &Tenant,
        id: Uuid,
        patch: CustomerPatch,
    ) -> Result<Customer, StoreError> {
        let patch = patch.validated()?;
        let mut customer = self.customer(tenant, id).await?;
        if let Some(name) = patch.name {
            customer.name = name;
        }
        if let Some(description) = patch.description {
            customer.description = description;
        }
        if let Some(external_id) = patch.external_id {
            customer.external_id = external_id;
        }
        let new_labels = patch.labels;
        if let Some(labels) = &new_labels {
            customer.labels = labels.clone();
        }
        customer.updated_at = now();
        let c = &customer;
        let result = write!(self, pool => async {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE customers SET name = $1, description = $2, external_id = $3, labels = $4, updated_at = $5 \
                 WHERE org_id = $6 AND id = $7",
            )
            .bind(&c.name).bind(&c.description).bind(&c.external_id).bind(Json(&c.labels))
            .bind(c.updated_at).bind(tenant.org_id).bind(c.id)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 1 && new_labels.is_some() {
                sqlx::query("DELETE FROM customer_labels WHERE org_id = $1 AND customer_id = $2")
                    .bind(tenant.org_id).bind(c.id)
                    .execute(&mut *tx)
                    .await?;
                for label in &c.labels {
                    sqlx::query("INSERT INTO customer_labels (org_id, customer_id, label) VALUES ($1, $2, $3)")
                        .bind(tenant.org_id).bind(c.id).bind(label)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(updated.rows_affected())
        }.await);
        match result {
            Ok(1) => Ok(customer),
            Ok(_) => Err(StoreError::NotFound { kind: "customer" }),
            Err(err) if is_unique_violation(&err) => Err(self
                .customer_conflict(tenant, Some(c.id), &c.name, c.external_id.as_deref())
                .await),
            Err(err) => Err(err.into()),
        }
    }

    /// Deletes a customer and, with it, its users (and everything else that is the customer's).
    /// System customers stay: they hold the integrations' test instances.
    pub async fn delete_customer(&self, tenant: &Tenant, id: Uuid) -> Result<Customer, StoreError> {
        let customer = self.customer(tenant, id).await?;
        if customer.is_system {
            return Err(StoreError::Conflict {
                field: "id",
                message: format!(
                    "{:?} is a system customer holding the integrations' test instances; it cannot be deleted",
                    customer.name
                ),
            });
        }
        let deleted = write!(self, pool => {
            sqlx::query("DELETE FROM customers WHERE org_id = $1 AND id = $2")
                .bind(tenant.org_id).bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        self.targets.forget_all();
        if deleted == 0 {
            return Err(StoreError::NotFound { kind: "customer" });
        }
        Ok(customer)
    }
}
