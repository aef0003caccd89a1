//! Users and roles: `users`, `user`, `authenticatedUser { grantableRoles }`,
//! `createOrganizationUser`, `createCustomerUser`, `updateUser`, `deleteUser`.
//!
//! Who may do what follows the reference's role matrices: organization users are managed by
//! owners and admins (only an owner grants or takes away the Owner role); customer users by
//! organization owners, admins, integrators and customer managers, and by their customer's
//! admins.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use ferry_core::entity::{NewUser, User, UserPatch};
use ferry_core::id::{self, Kind};
use ferry_core::role::{Permission, Role, RoleType};
use ferry_store::{Sort, StoreError, UserFilter, UserKind, UserSortField};
use futures::FutureExt;

use crate::auth::Actor;
use crate::graphql::connection::{connection, page_request, single_sort, SortDirection};
use crate::graphql::customers::CustomerNode;
use crate::graphql::env;
use crate::graphql::errors::{
    bad_input, denied, domain_errors, payload_errors, query_error, FieldErrors,
};

/// A role a user can hold.
#[derive(Clone)]
pub struct RoleNode(pub Role);

#[Object(name = "Role")]
impl RoleNode {
    /// The role's id, accepted wherever a role is asked for.
    async fn id(&self) -> ID {
        ID(self.0.global_id())
    }
    /// Its name, as users see it.
    async fn name(&self) -> &str {
        self.0.name()
    }
    /// What it allows.
    async fn description(&self) -> &str {
        self.0.description()
    }
    /// Organization or customer role.
    async fn role_type(&self) -> RoleTypeEnum {
        match self.0.role_type() {
            RoleType::Organization => RoleTypeEnum::Organization,
            RoleType::Customer => RoleTypeEnum::Customer,
        }
    }
}

/// Organization roles or customer roles.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "RoleType")]
pub enum RoleTypeEnum {
    /// Roles of the organization's team members.
    Organization,
    /// Roles of customers' users.
    Customer,
}

/// Organization users or customer users.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserType {
    /// The organization's team members.
    Organization,
    /// Customers' users.
    Customer,
}

/// An organization user or a customer user.
#[derive(Clone)]
pub struct UserNode(pub User);

#[Object(name = "User")]
impl UserNode {
    /// The user's id.
    async fn id(&self) -> ID {
        ID(id::encode(Kind::User, self.0.id))
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Email, unique within the organization.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Phone number.
    async fn phone(&self) -> &str {
        &self.0.phone
    }
    /// The user's role.
    async fn role(&self) -> RoleNode {
        RoleNode(self.0.role)
    }
    /// Whether this is one of the organization's team members.
    async fn is_organization_user(&self) -> bool {
        self.0.customer_id.is_none()
    }
    /// For customer users, their customer.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CustomerNode>> {
        let (api, actor) = env(ctx);
        let Some(customer_id) = self.0.customer_id else {
            return Ok(None);
        };
        if !actor.can(Permission::ViewCustomers) {
            return Ok(None);
        }
        let customer = api
            .store
            .customer(&actor.tenant, customer_id)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(Some(CustomerNode(customer)))
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The roles the authenticated user may give to others, of one type or of both.
    async fn grantable_roles(
        &self,
        ctx: &Context<'_>,
        role_type: Option<RoleTypeEnum>,
    ) -> Vec<RoleNode> {
        let (_, actor) = env(ctx);
        Role::ALL
            .into_iter()
            .filter(|role| match role_type {
                Some(RoleTypeEnum::Organization) => role.role_type() == RoleType::Organization,
                Some(RoleTypeEnum::Customer) => role.role_type() == RoleType::Customer,
                None => true,
            })
            .filter(|role| may_grant(actor, *role))
            .map(RoleNode)
            .collect()
    }
}

/// Whether `actor` may give `role` to a user.
fn may_grant(actor: &Actor, role: Role) -> bool {
    match role.role_type() {
        RoleType::Organization if role == Role::Owner => actor.user.role == Role::Owner,
        RoleType::Organization => actor.can(Permission::ManageOrganizationUsers),
        RoleType::Customer => actor.can(Permission::ManageCustomerUsers),
    }
}

connection!(UserConnection, UserEdge, UserNode);

/// Fields users can be sorted by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserOrderField {
    /// Creation order.
    Id,
    /// Name.
    Name,
    /// Email.
    Email,
    /// Creation time.
    CreatedAt,
}

/// One `sortBy` entry for users.
#[derive(InputObject, Copy, Clone, Debug)]
pub struct UserOrder {
    field: UserOrderField,
    #[graphql(default)]
    direction: SortDirection,
}

impl From<UserOrder> for Sort<UserSortField> {
    fn from(order: UserOrder) -> Self {
        let field = match order.field {
            UserOrderField::Id => UserSortField::Id,
            UserOrderField::Name => UserSortField::Name,
            UserOrderField::Email => UserSortField::Email,
            UserOrderField::CreatedAt => UserSortField::CreatedAt,
        };
        Sort {
            field,
            direction: order.direction.into(),
        }
    }
}

/// Narrows `filter` to what `actor` may see, or refuses.
fn visible_users(actor: &Actor, mut filter: UserFilter) -> async_graphql::Result<UserFilter> {
    if actor.can(Permission::ViewCustomerUsers) {
        return Ok(filter);
    }
    if actor.is_customer_user() || actor.user.role == Role::ThirdParty {
        return Err(denied(actor.deny("view users")));
    }
    if filter.kind == UserKind::Customer || filter.customer_id.is_some() {
        return Err(denied(actor.deny("view customer users")));
    }
    filter.kind = UserKind::Organization;
    Ok(filter)
}

/// A page of users, as `users`, `organization.users` and `customer.users` list them.
pub(crate) async fn user_connection(
    ctx: &Context<'_>,
    filter: UserFilter,
    after: Option<String>,
    first: Option<i32>,
    sort_by: Option<Vec<UserOrder>>,
) -> async_graphql::Result<UserConnection> {
    let (api, actor) = env(ctx);
    let filter = visible_users(actor, filter)?;
    let sort = single_sort(sort_by)?.map(Sort::from).unwrap_or_default();
    let after_given = after.as_deref().is_some_and(|a| !a.is_empty());
    let page = page_request(ctx, first, after)?;
    let found = api
        .store
        .users(&actor.tenant, &filter, sort, &page)
        .await
        .map_err(|e| query_error(ctx, e))?;
    let (store, tenant) = (api.store.clone(), actor.tenant);
    let count = Box::new(move || {
        let (store, filter) = (store.clone(), filter.clone());
        async move { store.count_users(&tenant, &filter).await }.boxed()
    });
    Ok(UserConnection::new(found, after_given, UserNode, count))
}

/// User queries.
#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The user this request is authenticated as.
    async fn authenticated_user(&self, ctx: &Context<'_>) -> UserNode {
        let (_, actor) = env(ctx);
        UserNode(actor.user.clone())
    }

    /// Users the caller may see: organization users and customer users.
    #[allow(clippy::too_many_arguments)] // One per GraphQL argument, as the API names them.
    async fn users(
        &self,
        ctx: &Context<'_>,
        user_type: Option<UserType>,
        customer: Option<ID>,
        email: Option<String>,
        #[graphql(name = "name_Icontains")] name_icontains: Option<String>,
        after: Option<String>,
        first: Option<i32>,
        sort_by: Option<Vec<UserOrder>>,
    ) -> async_graphql::Result<UserConnection> {
        let customer_id = customer
            .map(|c| id::decode(Kind::Customer, &c))
            .transpose()
            .map_err(bad_input)?;
        let kind = match user_type {
            None => UserKind::All,
            Some(UserType::Organization) => UserKind::Organization,
            Some(UserType::Customer) => UserKind::Customer,
        };
        let filter = UserFilter {
            kind,
            customer_id,
            email,
            name_contains: name_icontains,
        };
        user_connection(ctx, filter, after, first, sort_by).await
    }

    /// One user by id.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<UserNode> {
        let (api, actor) = env(ctx);
        let id = id::decode(Kind::User, &id).map_err(bad_input)?;
        let user = api
            .store
            .user(&actor.tenant, id)
            .await
            .map_err(|e| query_error(ctx, e))?;
        let filter = UserFilter {
            kind: if user.customer_id.is_some() {
                UserKind::Customer
            } else {
                UserKind::Organization
            },
            ..Default::default()
        };
        if user.id != actor.user.id {
            visible_users(actor, filter)?;
        }
        Ok(UserNode(user))
    }
}

/// Input of `createOrganizationUser`.
#[derive(InputObject)]
pub struct CreateOrganizationUserInput {
    /// Unique within the organization.
    email: String,
    /// Display name; the email when left out.
    name: Option<String>,
    /// A role id from `grantableRoles`, or a role name (`Integrator`).
    role: String,
}

/// Input of `createCustomerUser`.
#[derive(InputObject)]
pub struct CreateCustomerUserInput {
    /// Unique within the organization.
    email: String,
    /// Display name; the email when left out.
    name: Option<String>,
    /// A customer role id, or a name (`Admin`, `Member`, `Marketplace Admin`, `Marketplace User`).
    role: String,
    /// The customer's id.
    customer: ID,
}

/// Input of `updateUser`: fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateUserInput {
    /// The user.
    id: ID,
    /// A new name.
    name: Option<String>,
    /// A new role (id or name), of the same type as the old one.
    role: Option<String>,
    /// A new phone number.
    phone: Option<String>,
}

/// Input of `deleteUser`.
#[derive(InputObject)]
pub struct DeleteUserInput {
    /// The user.
    id: ID,
}

/// The result of a user mutation.
#[derive(SimpleObject)]
pub struct UserPayload {
    /// The user, unless `errors` says why not.
    user: Option<UserNode>,
    /// What was wrong with the input.
    errors: Vec<FieldErrors>,
}

impl UserPayload {
    fn failed(errors: Vec<FieldErrors>) -> Self {
        Self { user: None, errors }
    }
    fn from_result(
        ctx: &Context<'_>,
        result: Result<User, StoreError>,
    ) -> async_graphql::Result<Self> {
        match result {
            Ok(user) => Ok(Self {
                user: Some(UserNode(user)),
                errors: Vec::new(),
            }),
            Err(err) => Ok(Self::failed(payload_errors(ctx, err)?)),
        }
    }
}

/// What a user-management change touches: the kind of user, its current role and its new one.
struct Change {
    customer_user: bool,
    old_role: Option<Role>,
    new_role: Option<Role>,
}

impl Change {
    /// A change to an existing user, giving it `new_role` if set.
    fn of(target: &User, new_role: Option<Role>) -> Self {
        Change {
            customer_user: target.customer_id.is_some(),
            old_role: Some(target.role),
            new_role,
        }
    }
}

/// Decodes and fetches the user a mutation names; `Err` holds the `errors` value to answer with.
async fn find_target(
    ctx: &Context<'_>,
    id: &ID,
) -> async_graphql::Result<Result<User, Vec<FieldErrors>>> {
    let (api, actor) = env(ctx);
    let id = match id::decode(Kind::User, id) {
        Ok(id) => id,
        Err(err) => return Ok(Err(domain_errors(err))),
    };
    match api.store.user(&actor.tenant, id).await {
        Ok(user) => Ok(Ok(user)),
        Err(err) => Ok(Err(payload_errors(ctx, err)?)),
    }
}

/// Fails unless `actor` may make `change`.
fn check_manage(actor: &Actor, change: Change) -> async_graphql::Result<()> {
    let (permission, what) = if change.customer_user {
        (Permission::ManageCustomerUsers, "manage customer users")
    } else {
        (
            Permission::ManageOrganizationUsers,
            "manage organization users",
        )
    };
    actor.require(permission, what).map_err(denied)?;
    let touches_owner =
        change.old_role == Some(Role::Owner) || change.new_role == Some(Role::Owner);
    if touches_owner && actor.user.role != Role::Owner {
        return Err(denied(actor.deny("grant or change the Owner role")));
    }
    Ok(())
}

/// User mutations.
#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Adds a team member to the organization.
    async fn create_organization_user(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationUserInput,
    ) -> async_graphql::Result<UserPayload> {
        let (api, actor) = env(ctx);
        let role = match Role::parse(&input.role, RoleType::Organization) {
            Ok(role) => role,
            Err(err) => return Ok(UserPayload::failed(domain_errors(err))),
        };
        let new = NewUser {
            email: input.email,
            name: input.name.unwrap_or_default(),
            role,
            customer_id: None,
        };
        check_manage(
            actor,
            Change {
                customer_user: false,
                old_role: None,
                new_role: Some(role),
            },
        )?;
        UserPayload::from_result(ctx, api.store.create_user(&actor.tenant, new).await)
    }

    /// Adds a user to a customer.
    async fn create_customer_user(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomerUserInput,
    ) -> async_graphql::Result<UserPayload> {
        let (api, actor) = env(ctx);
        actor
            .require(Permission::ManageCustomerUsers, "manage customer users")
            .map_err(denied)?;
        let customer_id = match id::decode(Kind::Customer, &input.customer) {
            Ok(id) => id,
            Err(err) => {
                return Ok(UserPayload::failed(FieldErrors::one(
                    "customer",
                    err.to_string(),
                )))
            }
        };
        let role = match Role::parse(&input.role, RoleType::Customer) {
            Ok(role) => role,
            Err(err) => return Ok(UserPayload::failed(domain_errors(err))),
        };
        let new = NewUser {
            email: input.email,
            name: input.name.unwrap_or_default(),
            role,
            customer_id: Some(customer_id),
        };
        let result = api.store.create_user(&actor.tenant, new).await;
        if let Err(StoreError::NotFound { .. }) = result {
            return Ok(UserPayload::failed(FieldErrors::one(
                "customer",
                "customer not found",
            )));
        }
        UserPayload::from_result(ctx, result)
    }

    /// Changes a user's name, role or phone; users may change their own name and phone.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserInput,
    ) -> async_graphql::Result<UserPayload> {
        let (api, actor) = env(ctx);
        let target = match find_target(ctx, &input.id).await? {
            Ok(user) => user,
            Err(errors) => return Ok(UserPayload::failed(errors)),
        };
        let id = target.id;
        let role_type = target.role.role_type();
        let role = match input
            .role
            .as_deref()
            .map(|r| Role::parse(r, role_type))
            .transpose()
        {
            Ok(role) => role,
            Err(err) => return Ok(UserPayload::failed(domain_errors(err))),
        };
        if target.id != actor.user.id || role.is_some() {
            check_manage(actor, Change::of(&target, role))?;
        }
        let patch = UserPatch {
            name: input.name,
            role,
            phone: input.phone,
        };
        UserPayload::from_result(ctx, api.store.update_user(&actor.tenant, id, patch).await)
    }

    /// Deletes a user and its API tokens.
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        input: DeleteUserInput,
    ) -> async_graphql::Result<UserPayload> {
        let (api, actor) = env(ctx);
        let target = match find_target(ctx, &input.id).await? {
            Ok(user) => user,
            Err(errors) => return Ok(UserPayload::failed(errors)),
        };
        let id = target.id;
        check_manage(actor, Change::of(&target, None))?;
        UserPayload::from_result(ctx, api.store.delete_user(&actor.tenant, id).await)
    }
}
