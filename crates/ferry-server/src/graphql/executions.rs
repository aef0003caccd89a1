//! Executions: `executionResults` and `executionResult`, newest first. Step results and logs
//! join them with the engine.

use async_graphql::{Context, Enum, Object, ID};
use chrono::{DateTime, Utc};
use ferry_core::execution::{Execution, ExecutionStatus};
use ferry_core::id::{self, Kind};
use ferry_core::role::Permission;
use ferry_store::{ExecutionFilter, Tenant};
use futures::FutureExt;

use crate::graphql::connection::{connection, page_request};
use crate::graphql::env;
use crate::graphql::errors::{bad_input, denied, query_error};
use crate::graphql::instances::InstanceNode;

/// Where an execution stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ExecutionStatus")]
pub enum StatusEnum {
    /// Committed, waiting for a worker.
    Queued,
    /// A worker holds it.
    Running,
    /// Ended well.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl From<ExecutionStatus> for StatusEnum {
    fn from(status: ExecutionStatus) -> Self {
        match status {
            ExecutionStatus::Queued => StatusEnum::Queued,
            ExecutionStatus::Running => StatusEnum::Running,
            ExecutionStatus::Succeeded => StatusEnum::Succeeded,
            ExecutionStatus::Failed => StatusEnum::Failed,
            ExecutionStatus::Cancelled => StatusEnum::Cancelled,
        }
    }
}

impl From<StatusEnum> for ExecutionStatus {
    fn from(status: StatusEnum) -> Self {
        match status {
            StatusEnum::Queued => ExecutionStatus::Queued,
            StatusEnum::Running => ExecutionStatus::Running,
            StatusEnum::Succeeded => ExecutionStatus::Succeeded,
            StatusEnum::Failed => ExecutionStatus::Failed,
            StatusEnum::Cancelled => ExecutionStatus::Cancelled,
        }
    }
}

/// One run of a flow of an instance.
#[derive(Clone)]
pub struct ExecutionNode(pub Execution);

#[Object(name = "InstanceExecutionResult")]
impl ExecutionNode {
    /// The execution's id (the `executionId` a webhook answered with).
    async fn id(&self) -> ID {
        ID(id::encode(Kind::InstanceExecutionResult, self.0.id))
    }
    /// Where it stands.
    async fn status(&self) -> StatusEnum {
        self.0.status.into()
    }
    /// The flow's identity (its stable key, else its name).
    async fn flow_key(&self) -> &str {
        &self.0.flow_key
    }
    /// Whether a caller waited for its result.
    async fn is_synchronous(&self) -> bool {
        self.0.is_synchronous
    }
    /// When it was queued.
    async fn queued_at(&self) -> DateTime<Utc> {
        self.0.queued_at
    }
    /// When a worker started it.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    /// When it ended.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    /// Why it failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// The trigger's result: the request as the flow sees it.
    async fn trigger_payload(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.trigger_payload.clone())
    }
    /// The instance.
    async fn instance(&self, ctx: &Context<'_>) -> async_graphql::Result<InstanceNode> {
        let (api, actor) = env(ctx);
        let instance = api
            .store
            .instance(&actor.tenant, self.0.instance_id)
            .await
            .map_err(|e| query_error(ctx, e))?;
        Ok(InstanceNode(instance))
    }
}

connection!(ExecutionConnection, ExecutionEdge, ExecutionNode);

fn viewer(ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
    let (_, actor) = env(ctx);
    actor
        .require(Permission::ViewInstanceLogs, "view executions")
        .map_err(denied)?;
    Ok(actor.tenant)
}

/// Execution queries.
#[derive(Default)]
pub struct ExecutionQuery;

#[Object]
impl ExecutionQuery {
    /// Executions the caller may see, newest first.
    async fn execution_results(
        &self,
        ctx: &Context<'_>,
        instance: Option<ID>,
        status: Option<StatusEnum>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<ExecutionConnection> {
        let tenant = viewer(ctx)?;
        let (api, _) = env(ctx);
        let instance_id = instance
            .map(|i| id::decode(Kind::Instance, &i))
            .transpose()
            .map_err(bad_input)?;
        let filter = ExecutionFilter {
            instance_id,
            status: status.map(Into::into),
        };
        let after_given = after.as_deref().is_some_and(|a| !a.is_empty());
        let page = page_request(ctx, first, after)?;
        let found = api
            .store
            .executions(&tenant, &filter, &page)
            .await
            .map_err(|e| query_error(ctx, e))?;
        let store = api.store.clone();
        let count = Box::new(move || {
            let (store, filter) = (store.clone(), filter.clone());
            async move { store.count_executions(&tenant, &filter).await }.boxed()
        });
        Ok(ExecutionConnection::new(
            found,
            after_given,
            ExecutionNode,
            count,
        ))
    }

    /// One execution by id.
    async fn execution_result(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ExecutionNode> {
        let tenant = viewer(ctx)?;
        let (api, _) = env(ctx);
        let id = id::decode(Kind::InstanceExecutionResult, &id).map_err(bad_input)?;
        Ok(ExecutionNode(
            api.store
                .execution(&tenant, id)
                .await
                .map_err(|e| query_error(ctx, e))?,
        ))
    }
}
