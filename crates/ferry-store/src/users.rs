//! Users: organization users (team members) and customer users, with their roles.
//!
//! A customer user belongs to one customer and holds a customer role; an organization user
//! holds an organization role. Emails are unique per organization. The last owner of an
//! organization cannot be deleted or demoted.

use chrono::{DateTime, Utc};
use ferry_core::entity::{NewUser, User, UserPatch};
use ferry_core::role::{Role, RoleType};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::backend::{read, write, Dialect};
use crate::customers::like_pattern;
use crate::error::is_unique_violation;
use crate::page::{KeyType, KeyValue, Keyed, Listing, Page, PageRequest, Sort, SortField};
use crate::{new_id, now, Store, StoreError, Tenant};

/// Organization users, customer users, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UserKind {
    /// Both kinds.
    #[default]
    All,
    /// Team members of the organization.
    Organization,
    /// Users of customers.
    Customer,
}

/// Which users a list returns; every set filter must match.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Organization or customer users.
    pub kind: UserKind,
    /// Users of this customer.
    pub customer_id: Option<Uuid>,
    /// Exactly this email (compared lower-cased).
    pub email: Option<String>,
    /// Names containing this text, ignoring case.
    pub name_contains: Option<String>,
}

/// What users can be sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UserSortField {
    /// Creation order (the default).
    #[default]
    Id,
    /// Name.
    Name,
    /// Email.
    Email,
    /// Creation time.
    CreatedAt,
}

impl SortField for UserSortField {
    fn name(self) -> &'static str {
        match self {
            Self::Id => "ID",
            Self::Name => "NAME",
            Self::Email => "EMAIL",
            Self::CreatedAt => "CREATED_AT",
        }
    }
    fn column(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Name => "name",
            Self::Email => "email",
            Self::CreatedAt => "created_at",
        }
    }
    fn key_type(self) -> KeyType {
        match self {
            Self::Id => KeyType::Id,
            Self::Name | Self::Email => KeyType::Text,
            Self::CreatedAt => KeyType::Time,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    customer_id: Option<Uuid>,
    email: String,
    name: String,
    role: String,
    phone: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        let role = Role::from_key(&row.role).ok_or_else(|| {
            StoreError::Corrupt(format!("user {} has unknown role {:?}", row.id, row.role))
        })?;
        Ok(User {
            id: row.id,
            customer_id: row.customer_id,
            email: row.email,
            name: row.name,
            role,
            phone: row.phone,
            created_at: row.created_at,
        })
    }
}

impl Keyed<UserSortField> for User {
    fn id(&self) -> Uuid {
        self.id
    }
    fn key(&self, field: UserSortField) -> Option<KeyValue> {
        match field {
            UserSortField::Id => None,
            UserSortField::Name => Some(KeyValue::Text(self.name.clone())),
            UserSortField::Email => Some(KeyValue::Text(self.email.clone())),
            UserSortField::CreatedAt => Some(KeyValue::Time(self.created_at)),
        }
    }
}

pub(crate) const USER_COLUMNS: &str =
    "SELECT id, customer_id, email, name, role, phone, created_at FROM users";

fn push_where<DB: Dialect>(sql: &mut QueryBuilder<'_, DB>, tenant: &Tenant, filter: &UserFilter) {
    sql.push(" WHERE org_id = ");
    DB::bind_uuid(sql, tenant.org_id);
    if let Some(customer_id) = tenant.customer_id {
        sql.push(" AND customer_id = ");
        DB::bind_uuid(sql, customer_id);
    }
    match filter.kind {
        UserKind::All => {}
        UserKind::Organization => {
            sql.push(" AND customer_id IS NULL");
        }
        UserKind::Customer => {
            sql.push(" AND customer_id IS NOT NULL");
        }
    }
    if let Some(customer_id) = filter.customer_id {
        sql.push(" AND customer_id = ");
        DB::bind_uuid(sql, customer_id);
    }
    if let Some(email) = &filter.email {
        sql.push(" AND email = ");
        DB::bind_text(sql, email.trim().to_lowercase());
    }
    if let Some(text) = &filter.name_contains {
        sql.push(" AND LOWER(name) LIKE ");
        DB::bind_text(sql, like_pattern(text));
        sql.push(" ESCAPE '\\'");
    }
}

fn rows_to_users(rows: Vec<UserRow>) -> Result<Vec<User>, StoreError> {
    rows.into_iter().map(User::try_from).collect()
}

fn role_mismatch(role: Role, customer_user: bool) -> Option<StoreError> {
    let expected = if customer_user {
        RoleType::Customer
    } else {
        RoleType::Organization
    };
    (role.role_type() != expected).then(|| {
        let kind = if customer_user {
            "a customer user"
        } else {
            "an organization user"
        };
        StoreError::Conflict {
            field: "role",
            message: format!("{} is not a role for {kind}", role.name()),
        }
    })
}

impl Store {
    /// Creates a user; for a customer user, the customer must be visible to `tenant`.
    pub async fn create_user(&self, tenant: &Tenant, new: NewUser) -> Result<User, StoreError> {
        let new = new.validated()?;
        match new.customer_id {
            Some(customer_id) => {
                self.customer(tenant, customer_id).await?;
            }
            None if tenant.customer_id.is_some() => {
                return Err(StoreError::NotFound { kind: "customer" })
            }
            None => {}
        }
        if let Some(err) = role_mismatch(new.role, new.customer_id.is_some()) {
            return Err(err);
        }
        let user = User {
            id: new_id(),
            customer_id: new.customer_id,
            email: new.email,
            name: new.name,
            role: new.role,
            phone: String::new(),
            created_at: now(),
        };
        let u = &user;
        let result = write!(self, pool => {
            sqlx::query(
                "INSERT INTO users (org_id, id, customer_id, email, name, role, phone, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(tenant.org_id).bind(u.id).bind(u.customer_id).bind(&u.email).bind(&u.name)
            .bind(u.role.key()).bind(&u.phone).bind(u.created_at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        });
        match result {
            Ok(_) => Ok(user),
            Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict {
                field: "email",
                message: format!("a user with email {:?} already exists", user.email),
            }),
            Err(err) => Err(err.into()),
        }
    }

    /// One user, if the tenant may see it.
    pub async fn user(&self, tenant: &Tenant, id: Uuid) -> Result<User, StoreError> {
        let row: Option<UserRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(USER_COLUMNS);
            push_where(&mut sql, tenant, &UserFilter::default());
            sql.push(" AND id = ");
            Dialect::bind_uuid(&mut sql, id);
            sql.build_query_as().fetch_optional(pool).await
        })?;
        row.map(User::try_from)
            .transpose()?
            .ok_or(StoreError::NotFound { kind: "user" })
    }

    /// A page of users.
    pub async fn users(
        &self,
        tenant: &Tenant,
        filter: &UserFilter,
        sort: Sort<UserSortField>,
        page: &PageRequest,
    ) -> Result<Page<User>, StoreError> {
        let listing = Listing {
            query: "users",
            sort,
            page,
        };
        let rows: Vec<UserRow> = read!(self, pool => {
            let mut sql = QueryBuilder::new(USER_COLUMNS);
            push_where(&mut sql, tenant, filter);
            listing.push_after(&mut sql)?;
            listing.push_order_and_limit(&mut sql);
            sql.build_query_as().fetch_all(pool).await
        })?;
        Ok(listing.finish(rows_to_users(rows)?))
    }

    /// How many users match.
    pub async fn count_users(
        &self,
        tenant: &Tenant,
        filter: &UserFilter,
    ) -> Result<i64, StoreError> {
        let count: i64 = read!(self, pool => {
            let mut sql = QueryBuilder::new("SELECT COUNT(*) FROM users");
            push_where(&mut sql, tenant, filter);
            sql.build_query_scalar().fetch_one(pool).await
        })?;
        Ok(count)
    }

    /// Applies `patch` to a user.
    pub async fn update_user(
        &self,
        tenant: &Tenant,
        id: Uuid,
        patch: UserPatch,
    ) -> Result<User, StoreError> {
        let patch = patch.validated()?;
        let mut user = self.user(tenant, id).await?;
        if let Some(role) = patch.role {
            if let Some(err) = role_mismatch(role, user.customer_id.is_some()) {
                return Err(err);
            }
            if user.role == Role::Owner && role != Role::Owner {
                self.refuse_last_owner(tenant, "demote").await?;
            }
            user.role = role;
        }
        if let Some(name) = patch.name {
            user.name = name;
        }
        if let Some(phone) = patch.phone {
            user.phone = phone;
        }
        let u = &user;
        write!(self, pool => {
            sqlx::query("UPDATE users SET name = $1, role = $2, phone = $3, updated_at = $4 WHERE org_id = $5 AND id = $6")
                .bind(&u.name).bind(u.role.key()).bind(&u.phone).bind(now()).bind(tenant.org_id).bind(u.id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(user)
    }

    /// Deletes a user and its API tokens.
    pub async fn delete_user(&self, tenant: &Tenant, id: Uuid) -> Result<User, StoreError> {
        let user = self.user(tenant, id).await?;
        if user.role == Role::Owner {
            self.refuse_last_owner(tenant, "delete").await?;
        }
        write!(self, pool => {
            sqlx::query("DELETE FROM users WHERE org_id = $1 AND id = $2")
                .bind(tenant.org_id).bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(user)
    }

    async fn refuse_last_owner(&self, tenant: &Tenant, verb: &str) -> Result<(), StoreError> {
        let owners: i64 = read!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE org_id = $1 AND role = $2")
                .bind(tenant.org_id).bind(Role::Owner.key())
                .fetch_one(pool)
                .await
        })?;
        if owners <= 1 {
            return Err(StoreError::Conflict {
                field: "id",
                message: format!("cannot {verb} the organization's last owner"),
            });
        }
        Ok(())
    }
}
