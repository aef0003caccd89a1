//! Executions: `executionResults` and `executionResult`, newest first, with their result,
//! step results, logs and lineage (who invoked them, whom they invoked).

use async_graphql::{Context, Enum, ErrorExtensions, Object, ID};
use chrono::{DateTime, Utc};
use ferry_core::execution::{Execution, ExecutionStatus};
use ferry_core::id::{self, Kind};
use ferry_store::{ExecutionFilter, LogFilter};
use futures::FutureExt;

use crate::graphql::connection::{connection, page_request};
use crate::graphql::env;
use crate::graphql::errors::{bad_input, query_error};
use crate::graphql::instances::InstanceNode;
use crate::graphql::runs::{self, viewer, LogConnection, StepResultConnection};

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
    /// Ended with an error; an automatic retry is queued.
    FailedRetryPending,
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
            ExecutionStatus::FailedRetryPending => StatusEnum::FailedRetryPending,
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
            StatusEnum::FailedRetryPending => ExecutionStatus::FailedRetryPending,
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
        async_graphql::Json(self.0.trigger_payload.value().clone())
    }
    /// What it ended with: `{ data, statusCode?, headers?, contentType? }`, as a synchronous
    /// caller receives it.
    async fn result(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.0.result.clone().map(async_graphql::Json)
    }
    /// How many times a worker has taken it (more than once after a lost worker).
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }
    /// Its step results, in the order they completed (of one step, with `displayStepName`).
    async fn step_results(
        &self,
        ctx: &Context<'_>,
        display_step_name: Option<String>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<StepResultConnection> {
        runs::step_results(ctx, self.0.id, display_step_name, (first, after)).await
    }
    /// Its log lines, oldest first.
    async fn logs(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<LogConnection> {
        let filter = LogFilter {
            execution_id: Some(self.0.id),
            severities: Vec::new(),
        };
        runs::logs(ctx, filter, (first, after)).await
    }
    /// The execution this one replays.
    async fn replay_for_execution(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ExecutionNode>> {
        linked(ctx, self.0.replay_for).await
    }
    /// Replays of this execution (only successful ones with `error_Isnull: true`).
    async fn replays(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "error_Isnull")] error_is_null: Option<bool>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<ExecutionConnection> {
        let filter = ExecutionFilter {
            replay_for: Some(self.0.id),
            error_is_null,
            ..Default::default()
        };
        list(ctx, filter, (first, after)).await
    }
    /// For an automatic retry: the execution it retries (the first of the chain).
    async fn retry_for_execution(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ExecutionNode>> {
        linked(ctx, self.0.retry_for).await
    }
    /// For an automatic retry: which one (1 for the first); 0 otherwise.
    async fn retry_attempt_number(&self) -> i32 {
        self.0.retry_attempt
    }
    /// The automatic retries of this execution, newest first.
    async fn retries(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<ExecutionConnection> {
        let filter = ExecutionFilter {
            retry_for: Some(self.0.id),
            ..Default::default()
        };
        list(ctx, filter, (first, after)).await
    }
    /// For a queued retry: the earliest it starts.
    async fn not_before(&self) -> Option<DateTime<Utc>> {
        self.0.not_before
    }
    /// Cross-flow links: the execution whose `flow.invoke` step started this one, and those this
    /// one started.
    async fn lineage(&self) -> Lineage {
        Lineage(self.0.clone())
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

/// An execution's cross-flow links.
pub struct Lineage(Execution);

#[Object]
impl Lineage {
    /// The execution whose `flow.invoke` step started this one.
    async fn invoked_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ExecutionNode>> {
        linked(ctx, self.0.invoked_by).await
    }
    /// The executions this one's `flow.invoke` steps started.
    async fn invoked(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<ExecutionConnection> {
        let filter = ExecutionFilter {
            invoked_by: Some(self.0.id),
            ..Default::default()
        };
        list(ctx, filter, (first, after)).await
    }
}

/// The execution a link names, if any.
async fn linked(
    ctx: &Context<'_>,
    id: Option<uuid::Uuid>,
) -> async_graphql::Result<Option<ExecutionNode>> {
    let Some(id) = id else { return Ok(None) };
    let (api, actor) = env(ctx);
    let found = api.store.execution(&actor.tenant, id).await;
    Ok(Some(ExecutionNode(found.map_err(|e| query_error(ctx, e))?)))
}

/// Decodes an id argument; the error names the argument.
fn argument_id(
    name: &str,
    kind: Kind,
    given: Option<ID>,
) -> async_graphql::Result<Option<uuid::Uuid>> {
    given
        .map(|i| id::decode(kind, &i))
        .transpose()
        .map_err(|err| {
            async_graphql::Error::new(format!("{name}: {err}"))
                .extend_with(|_, e| e.set("code", "BAD_USER_INPUT"))
        })
}

async fn list(
    ctx: &Context<'_>,
    filter: ExecutionFilter,
    (first, after): (Option<i32>, Option<String>),
) -> async_graphql::Result<ExecutionConnection> {
    let tenant = viewer(ctx)?;
    let (api, _) = env(ctx);
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

/// Execution queries.
#[derive(Default)]
pub struct ExecutionQuery;

#[Object]
impl ExecutionQuery {
    /// Executions the caller may see, newest first.
    #[allow(clippy::too_many_arguments)] // One per GraphQL argument, as the API names them.
    async fn execution_results(
        &self,
        ctx: &Context<'_>,
        instance: Option<ID>,
        customer: Option<ID>,
        flow_config: Option<ID>,
        #[graphql(desc = "The flow's stable key, or its name when it has none")] flow: Option<
            String,
        >,
        status: Option<StatusEnum>,
        #[graphql(name = "error_Isnull")] error_is_null: Option<bool>,
        #[graphql(name = "startedAt_Gte")] started_at_gte: Option<DateTime<Utc>>,
        #[graphql(name = "startedAt_Lte")] started_at_lte: Option<DateTime<Utc>>,
        #[graphql(name = "replayForExecution_Isnull")] replay_for_is_null: Option<bool>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<ExecutionConnection> {
        let filter = ExecutionFilter {
            replay_for_is_null,
            instance_id: argument_id("instance", Kind::Instance, instance)?,
            customer_id: argument_id("customer", Kind::Customer, customer)?,
            flow_config_id: argument_id("flowConfig", Kind::InstanceFlowConfig, flow_config)?,
            flow_key: flow,
            status: status.map(Into::into),
            error_is_null,
            started_at_gte,
            started_at_lte,
            ..Default::default()
        };
        list(ctx, filter, (first, after)).await
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
