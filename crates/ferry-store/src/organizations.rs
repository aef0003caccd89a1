//! Organizations and the first start: on an empty store, one organization, its owner and an
//! API token for the owner are created together, exactly once even when several nodes start
//! at the same time (the `bootstrap` table holds at most one row).

use chrono::{DateTime, Utc};
use ferry_core::entity::{NewUser, Organization, Problems, User};
use ferry_core::role::Role;
use uuid::Uuid;

use crate::backend::{read, write};
use crate::error::is_unique_violation;
use crate::tokens::{new_token, INSERT_TOKEN};
use crate::{new_id, now, Store, StoreError, Tenant};

/// What the first start created.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    /// The organization.
    pub organization: Organization,
    /// Its owner.
    pub owner: User,
    /// The owner's first API token (the secret).
    pub token: String,
}

#[derive(sqlx::FromRow)]
struct OrganizationRow {
    id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
    retention_days: Option<i32>,
}

impl From<OrganizationRow> for Organization {
    fn from(row: OrganizationRow) -> Self {
        Organization {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            retention_days: row.retention_days.and_then(|days| u32::try_from(days).ok()),
        }
    }
}

impl Store {
    /// The organization created on first start, if there has been one.
    pub async fn bootstrap_organization(&self) -> Result<Option<Uuid>, StoreError> {
        let id: Option<Uuid> = read!(self, pool => {
            sqlx::query_scalar("SELECT org_id FROM bootstrap WHERE singleton = 1").fetch_optional(pool).await
        })?;
        Ok(id)
    }

    /// On an empty store, creates the organization `org_name`, an owner with `owner_email` and
    /// a token for the owner; otherwise does nothing and returns `None`.
    pub async fn bootstrap(
        &self,
        org_name: &str,
        owner_email: &str,
    ) -> Result<Option<Bootstrapped>, StoreError> {
        if self.bootstrap_organization().await?.is_some() {
            return Ok(None);
        }
        let mut problems = Problems::default();
        problems.name("organization name", org_name);
        problems.finish()?;
        let new_owner = NewUser {
            email: owner_email.into(),
            name: "Owner".into(),
            role: Role::Owner,
            customer_id: None,
        }
        .validated()?;
        let organization = Organization {
            id: new_id(),
            name: org_name.trim().to_string(),
            created_at: now(),
            retention_days: None,
        };
        let owner = User {
            id: new_id(),
            customer_id: None,
            email: new_owner.email,
            name: new_owner.name,
            role: Role::Owner,
            phone: String::new(),
            created_at: organization.created_at,
        };
        let token = new_token(owner.id, "bootstrap", None)?;
        let (org, user, t) = (&organization, &owner, &token.token);
        let result = write!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(org.id).bind(&org.name).bind(org.created_at)
                .execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO users (org_id, id, customer_id, email, name, role, phone, created_at, updated_at) \
                 VALUES ($1, $2, NULL, $3, $4, $5, '', $6, $6)",
            )
            .bind(org.id).bind(user.id).bind(&user.email).bind(&user.name).bind(user.role.key()).bind(user.created_at)
            .execute(&mut *tx).await?;
            sqlx::query(INSERT_TOKEN)
                .bind(org.id).bind(t.id).bind(user.id).bind(&t.name).bind(crate::tokens::hash(&token.secret))
                .bind(t.created_at).bind(t.expires_at)
                .execute(&mut *tx).await?;
            sqlx::query("INSERT INTO bootstrap (singleton, org_id, created_at) VALUES (1, $1, $2)")
                .bind(org.id).bind(org.created_at)
                .execute(&mut *tx).await?;
            tx.commit().await
        }.await);
        match result {
            Ok(()) => Ok(Some(Bootstrapped {
                organization,
                owner,
                token: token.secret,
            })),
            Err(err) if is_unique_violation(&err) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// The tenant's organization.
    pub async fn organization(&self, tenant: &Tenant) -> Result<Organization, StoreError> {
        let row: Option<OrganizationRow> = read!(self, pool => {
            sqlx::query_as("SELECT id, name, created_at, retention_days FROM organizations WHERE id = $1")
                .bind(tenant.org_id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(Organization::from).ok_or(StoreError::NotFound {
            kind: "organization",
        })
    }

    /// Renames the tenant's organization.
    pub async fn rename_organization(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> Result<Organization, StoreError> {
        let mut problems = Problems::default();
        problems.name("name", name);
        problems.finish()?;
        write!(self, pool => {
            sqlx::query("UPDATE organizations SET name = $1 WHERE id = $2")
                .bind(name.trim()).bind(tenant.org_id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        self.organization(tenant).await
    }

    /// Sets how many days the organization's step results and logs are kept (1 to 3650), or
    /// with `None` goes back to the server's retention period.
    pub async fn set_retention_days(
        &self,
        tenant: &Tenant,
        days: Option<i64>,
    ) -> Result<Organization, StoreError> {
        check_retention_days(days)?;
        write!(self, pool => {
            sqlx::query("UPDATE organizations SET retention_days = $1 WHERE id = $2")
                .bind(days.map(|d| d as i32)).bind(tenant.org_id)
                .execute(pool).await.map(|done| done.rows_affected())
        })?;
        self.organization(tenant).await
    }

    /// The organizations with their own retention period, and its days.
    pub async fn retention_overrides(&self) -> Result<Vec<(Uuid, u32)>, StoreError> {
        let rows: Vec<(Uuid, i32)> = read!(self, pool => {
            sqlx::query_as("SELECT id, retention_days FROM organizations WHERE retention_days IS NOT NULL")
                .fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, days)| Some((id, u32::try_from(days).ok()?)))
            .collect())
    }
}

/// Checks an organization's retention period (`None`, the server's, is always fine), so that
/// a caller changing more than it can refuse the whole change before writing any of it.
pub fn check_retention_days(days: Option<i64>) -> Result<(), StoreError> {
    let mut problems = Problems::default();
    if let Some(days) = days.filter(|d| !(1..=i64::from(MAX_RETENTION_DAYS)).contains(d)) {
        problems.add(
            "retentionDays",
            format!("is {days}; it must be between 1 and {MAX_RETENTION_DAYS} days"),
        );
    }
    Ok(problems.finish()?)
}

/// The longest retention period an organization may set: ten years.
pub const MAX_RETENTION_DAYS: u32 = 3650;
