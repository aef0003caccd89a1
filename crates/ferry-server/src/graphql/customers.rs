//! Customers: `customers`, `customer`, `createCustomer`, `updateCustomer`, `deleteCustomer`,
//! exactly as the reference's customer-sync tutorial uses them.

use async_graphql::{Context, Enum, InputObject, MaybeUndefined, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use ferry_core::entity::{Customer, CustomerPatch, NewCustomer};
use ferry_core::id::{self, Kind};
use ferry_core::role::Permission;
use ferry_store::{CustomerFilter, CustomerSortField, Sort, Tenant};
use futures::FutureExt;

use crate::graphql::connection::{connection, page_request, single_sort, SortDirection};
use crate::graphql::env;
use crate::graphql::errors::{
    bad_input, denied, domain_errors, payload_errors, query_error, FieldErrors,
};
use crate::graphql::users::{user_connection, UserConnection, UserOrder};

/// A customer of the organization.
#[derive(Clone)]
pub struct CustomerNode(pub Customer);

#[Object(name = "Customer")]
impl CustomerNode {
    /// The customer's id.
    async fn id(&self) -> ID {
        ID(id::encode(Kind::Customer, self.0.id))
    }
    /// Unique within the organization.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Free text.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The customer's id in the vendor's own app; unique within the organization.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }
    /// Lower-cased labels.
    async fn labels(&self) -> &[String] {
        &self.0.labels
    }
    /// System customers hold test instances.
    async fn is_system(&self) -> bool {
        self.0.is_system
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The customer's users.
    async fn users(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
        sort_by: Option<Vec<UserOrder>>,
    ) -> async_graphql::Result<UserConnection> {
        let filter = ferry_store::UserFilter {
            customer_id: Some(self.0.id),
            ..Default::default()
        };
        user_connection(ctx, filter, after, first, sort_by).await
    }
}

connection!(CustomerConnection, CustomerEdge, CustomerNode);

/// Fields customers can be sorted by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CustomerOrderField {
    /// Creation order.
    Id,
    /// Name.
    Name,
    /// External id.
    ExternalId,
    /// Creation time.
    CreatedAt,
}

/// One `sortBy` entry for customers.
#[derive(InputObject, Copy, Clone, Debug)]
pub struct CustomerOrder {
    field: CustomerOrderField,
    #[graphql(default)]
    direction: SortDirection,
}

impl From<CustomerOrder> for Sort<CustomerSortField> {
    fn from(order: CustomerOrder) -> Self {
        let field = match order.field {
            CustomerOrderField::Id => CustomerSortField::Id,
            CustomerOrderField::Name => CustomerSortField::Name,
            CustomerOrderField::ExternalId => CustomerSortField::ExternalId,
            CustomerOrderField::CreatedAt => CustomerSortField::CreatedAt,
        };
        Sort {
            field,
            direction: order.direction.into(),
        }
    }
}

/// Customer queries.
#[derive(Default)]
pub struct CustomerQuery;

#[Object]
impl CustomerQuery {
    /// The customers the caller may see (customer users see only their own).
    #[allow(clippy::too_many_arguments)] // One per GraphQL argument, as the API names them.
    async fn customers(
        &self,
        ctx: &Context<'_>,
        is_system: Option<bool>,
        external_id: Option<String>,
        name: Option<String>,
        #[graphql(name = "name_Icontains")] name_icontains: Option<String>,
        labels: Option<Vec<String>>,
        after: Option<String>,
        first: Option<i32>,
        sort_by: Option<Vec<CustomerOrder>>,
    ) -> async_graphql::Result<CustomerConnection> {
        let (api, actor) = env(ctx);
        actor
            .require(Permission::ViewCustomers, "view customers")
            .map_err(denied)?;
        let filter = CustomerFilter {
            is_system,
            external_id,
            name,
            name_contains: name_icontains,
            labels: labels.unwrap_or_default(),
        };
        let sort = single_sort(sort_by)?.map(Sort::from).unwrap_or_default();
        let after_given = after.as_deref().is_some_and(|a| !a.is_empty());
        let page = page_request(ctx, first, after)?;
        let found = api
            .store
            .customers(&actor.tenant, &filter, sort, &page)
            .await
            .map_err(|e| query_error(ctx, e))?;
        let (store, tenant) = (api.store.clone(), actor.tenant);
        let count = Box::new(move || {
            let (store, filter) = (store.clone(), filter.clone());
            async move { store.count_customers(&tenant, &filter).await }.boxed()
        });
        Ok(CustomerConnection::new(
            found,
            after_given,
            CustomerNode,
            count,
        ))
    }

    /// One customer by id.
    async fn customer(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<CustomerNode> {
        let (api, actor) = env(ctx);
        actor
            .require(Permission::ViewCustomers, "view customers")
            .map_err(denied)?;
        let id = id::decode(Kind::Customer, &id).map_err(bad_input)?;
        let customer = api
            .store
            .customer(&actor.tenant, id)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(CustomerNode(customer))
    }
}

/// Input of `createCustomer`.
#[derive(InputObject)]
pub struct CreateCustomerInput {
    /// Required; unique within the organization.
    name: String,
    /// Optional text.
    description: Option<String>,
    /// Optional; unique within the organization. An empty string means none.
    external_id: Option<String>,
    /// Labels; stored lower-cased.
    labels: Option<Vec<String>>,
}

/// Input of `updateCustomer`: fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateCustomerInput {
    /// The customer.
    id: ID,
    /// A new name.
    name: Option<String>,
    /// A new description.
    description: Option<String>,
    /// A new external id; `null` or `""` clears it.
    external_id: MaybeUndefined<String>,
    /// New labels, replacing the old ones.
    labels: Option<Vec<String>>,
}

/// Input of `deleteCustomer`.
#[derive(InputObject)]
pub struct DeleteCustomerInput {
    /// The customer.
    id: ID,
}

/// The result of a customer mutation.
#[derive(SimpleObject)]
pub struct CustomerPayload {
    /// The customer, unless `errors` says why not.
    customer: Option<CustomerNode>,
    /// What was wrong with the input.
    errors: Vec<FieldErrors>,
}

impl CustomerPayload {
    fn done(customer: Customer) -> Self {
        Self {
            customer: Some(CustomerNode(customer)),
            errors: Vec::new(),
        }
    }
    fn failed(errors: Vec<FieldErrors>) -> Self {
        Self {
            customer: None,
            errors,
        }
    }
    fn from_result(
        ctx: &Context<'_>,
        result: Result<Customer, ferry_store::StoreError>,
    ) -> async_graphql::Result<Self> {
        match result {
            Ok(customer) => Ok(Self::done(customer)),
            Err(err) => Ok(Self::failed(payload_errors(ctx, err)?)),
        }
    }
}

fn manage(ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
    let (_, actor) = env(ctx);
    actor
        .require(Permission::ManageCustomers, "manage customers")
        .map_err(denied)?;
    Ok(actor.tenant)
}

/// Customer mutations.
#[derive(Default)]
pub struct CustomerMutation;

#[Object]
impl CustomerMutation {
    /// Creates a customer; a taken `name` or `externalId` is an `errors` value.
    async fn create_customer(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomerInput,
    ) -> async_graphql::Result<CustomerPayload> {
        let tenant = manage(ctx)?;
        let new = NewCustomer {
            name: input.name,
            description: input.description.unwrap_or_default(),
            external_id: input.external_id,
            labels: input.labels.unwrap_or_default(),
            is_system: false,
        };
        let (api, _) = env(ctx);
        CustomerPayload::from_result(ctx, api.store.create_customer(&tenant, new).await)
    }

    /// Changes a customer's name, description, external id or labels.
    async fn update_customer(
        &self,
        ctx: &Context<'_>,
        input: UpdateCustomerInput,
    ) -> async_graphql::Result<CustomerPayload> {
        let tenant = manage(ctx)?;
        let id = match id::decode(Kind::Customer, &input.id) {
            Ok(id) => id,
            Err(err) => return Ok(CustomerPayload::failed(domain_errors(err))),
        };
        let external_id = match input.external_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(value) => Some(Some(value)),
        };
        let patch = CustomerPatch {
            name: input.name,
            description: input.description,
            external_id,
            labels: input.labels,
        };
        let (api, _) = env(ctx);
        CustomerPayload::from_result(ctx, api.store.update_customer(&tenant, id, patch).await)
    }

    /// Deletes a customer with its users and instances.
    async fn delete_customer(
        &self,
        ctx: &Context<'_>,
        input: DeleteCustomerInput,
    ) -> async_graphql::Result<CustomerPayload> {
        let tenant = manage(ctx)?;
        let id = match id::decode(Kind::Customer, &input.id) {
            Ok(id) => id,
            Err(err) => return Ok(CustomerPayload::failed(domain_errors(err))),
        };
        let (api, _) = env(ctx);
        CustomerPayload::from_result(ctx, api.store.delete_customer(&tenant, id).await)
    }
}
