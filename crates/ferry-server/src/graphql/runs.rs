//! What executions leave behind, in the API: step results (`executionResult { stepResults }`),
//! log lines (`logs`, `executionResult { logs }`), and `cancelExecution`.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use ferry_core::execution::{LogLine, Severity, StepResult};
use ferry_core::id::{self, Kind};
use ferry_core::role::Permission;
use ferry_store::{LogFilter, Tenant};
use futures::FutureExt;
use uuid::Uuid;

use crate::graphql::connection::{connection, page_request};
use crate::graphql::env;
use crate::graphql::errors::{bad_input, denied, payload_errors, query_error, FieldErrors};
use crate::graphql::executions::ExecutionNode;

/// The committed result of one step (of one loop iteration, inside loops).
#[derive(Clone)]
pub struct StepResultNode(pub StepResult);

#[Object(name = "InstanceExecutionStepResult")]
impl StepResultNode {
    /// The step result's id.
    async fn id(&self) -> ID {
        ID(id::encode(Kind::StepResult, self.0.id))
    }
    /// The step's name.
    async fn step_name(&self) -> &str {
        &self.0.step_name
    }
    /// The step's name as the designer shows it (the same as `stepName`).
    async fn display_step_name(&self) -> &str {
        &self.0.step_name
    }
    /// Loop indices that led to this result, outermost first, joined by `.` (empty outside
    /// loops).
    async fn loop_path(&self) -> &str {
        &self.0.loop_path
    }
    /// When the step started.
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    /// When it ended.
    async fn ended_at(&self) -> DateTime<Utc> {
        self.0.ended_at
    }
    /// What it gave, as JSON (null when it failed).
    async fn results(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.0.results.clone().map(async_graphql::Json)
    }
    /// Why it failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
}

connection!(StepResultConnection, StepResultEdge, StepResultNode);

/// How serious a log line is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "LogSeverityLevel")]
#[allow(missing_docs)]
pub enum SeverityEnum {
    Debug,
    Info,
    Warn,
    Error,
}

impl From<SeverityEnum> for Severity {
    fn from(level: SeverityEnum) -> Self {
        match level {
            SeverityEnum::Debug => Severity::Debug,
            SeverityEnum::Info => Severity::Info,
            SeverityEnum::Warn => Severity::Warn,
            SeverityEnum::Error => Severity::Error,
        }
    }
}

impl From<Severity> for SeverityEnum {
    fn from(level: Severity) -> Self {
        match level {
            Severity::Debug => SeverityEnum::Debug,
            Severity::Info => SeverityEnum::Info,
            Severity::Warn => SeverityEnum::Warn,
            Severity::Error => SeverityEnum::Error,
        }
    }
}

/// One line of an execution's logs.
#[derive(Clone)]
pub struct LogNode(pub LogLine);

#[Object(name = "Log")]
impl LogNode {
    /// The line's id.
    async fn id(&self) -> ID {
        ID(id::encode(Kind::Log, self.0.id))
    }
    /// When it was written.
    async fn timestamp(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// How serious it is.
    async fn severity(&self) -> SeverityEnum {
        self.0.severity.into()
    }
    /// The text (at most 4096 characters).
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// The step that wrote it, if a step did.
    async fn step_name(&self) -> Option<&str> {
        self.0.step_name.as_deref()
    }
    /// The execution it belongs to.
    async fn execution_result(&self, ctx: &Context<'_>) -> async_graphql::Result<ExecutionNode> {
        let (api, actor) = env(ctx);
        let found = api
            .store
            .execution(&actor.tenant, self.0.execution_id)
            .await;
        Ok(ExecutionNode(found.map_err(|e| query_error(ctx, e))?))
    }
}

connection!(LogConnection, LogEdge, LogNode);

/// Fails unless the caller may read executions; gives the caller's tenancy.
pub(crate) fn viewer(ctx: &Context<'_>) -> async_graphql::Result<Tenant> {
    let (_, actor) = env(ctx);
    actor
        .require(Permission::ViewInstanceLogs, "view executions")
        .map_err(denied)?;
    Ok(actor.tenant)
}

/// A page of an execution's step results.
pub(crate) async fn step_results(
    ctx: &Context<'_>,
    execution_id: Uuid,
    step_name: Option<String>,
    (first, after): (Option<i32>, Option<String>),
) -> async_graphql::Result<StepResultConnection> {
    let tenant = viewer(ctx)?;
    let (api, _) = env(ctx);
    let after_given = after.as_deref().is_some_and(|a| !a.is_empty());
    let page = page_request(ctx, first, after)?;
    let found = api
        .store
        .step_results(&tenant, execution_id, step_name.as_deref(), &page)
        .await
        .map_err(|e| query_error(ctx, e))?;
    let store = api.store.clone();
    let count = Box::new(move || {
        let (store, step_name) = (store.clone(), step_name.clone());
        async move {
            store
                .count_step_results(&tenant, execution_id, step_name.as_deref())
                .await
        }
        .boxed()
    });
    Ok(StepResultConnection::new(
        found,
        after_given,
        StepResultNode,
        count,
    ))
}

/// A page of log lines.
pub(crate) async fn logs(
    ctx: &Context<'_>,
    filter: LogFilter,
    (first, after): (Option<i32>, Option<String>),
) -> async_graphql::Result<LogConnection> {
    let tenant = viewer(ctx)?;
    let (api, _) = env(ctx);
    let after_given = after.as_deref().is_some_and(|a| !a.is_empty());
    let page = page_request(ctx, first, after)?;
    let found = api
        .store
        .logs(&tenant, &filter, &page)
        .await
        .map_err(|e| query_error(ctx, e))?;
    let store = api.store.clone();
    let count = Box::new(move || {
        let (store, filter) = (store.clone(), filter.clone());
        async move { store.count_logs(&tenant, &filter).await }.boxed()
    });
    Ok(LogConnection::new(found, after_given, LogNode, count))
}

/// Log queries.
#[derive(Default)]
pub struct LogQuery;

#[Object]
impl LogQuery {
    /// Log lines the caller may see, oldest first: of one execution, of some severities.
    async fn logs(
        &self,
        ctx: &Context<'_>,
        execution_result: Option<ID>,
        severity: Option<Vec<SeverityEnum>>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<LogConnection> {
        let execution_id = execution_result
            .map(|i| id::decode(Kind::InstanceExecutionResult, &i))
            .transpose()
            .map_err(bad_input)?;
        let filter = LogFilter {
            execution_id,
            severities: severity
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
        };
        logs(ctx, filter, (first, after)).await
    }
}

/// Input of `cancelExecution` and `replayExecution`.
#[derive(InputObject)]
pub struct ExecutionIdInput {
    /// The execution.
    id: ID,
}

/// The result of `cancelExecution` and `replayExecution`.
#[derive(SimpleObject)]
pub struct ExecutionPayload {
    /// The execution (for a replay, the new one), unless `errors` says why not.
    instance_execution_result: Option<ExecutionNode>,
    /// What was wrong.
    errors: Vec<FieldErrors>,
}

impl ExecutionPayload {
    fn failed(errors: Vec<FieldErrors>) -> Self {
        ExecutionPayload {
            instance_execution_result: None,
            errors,
        }
    }

    fn from_result(
        ctx: &Context<'_>,
        result: Result<ferry_core::execution::Execution, ferry_store::StoreError>,
    ) -> async_graphql::Result<Self> {
        match result {
            Ok(execution) => Ok(ExecutionPayload {
                instance_execution_result: Some(ExecutionNode(execution)),
                errors: Vec::new(),
            }),
            Err(err) => Ok(Self::failed(payload_errors(ctx, err)?)),
        }
    }
}

/// Execution mutations.
#[derive(Default)]
pub struct RunMutation;

#[Object]
impl RunMutation {
    /// Cancels a queued or running execution: a queued one ends at once, a running one stops
    /// before its next step.
    async fn cancel_execution(
        &self,
        ctx: &Context<'_>,
        input: ExecutionIdInput,
    ) -> async_graphql::Result<ExecutionPayload> {
        let Some((api, tenant, id)) = target(ctx, &input, "cancel executions")? else {
            return Ok(bad_id(&input));
        };
        ExecutionPayload::from_result(ctx, api.store.cancel_execution(&tenant, id).await)
    }

    /// Runs an execution again with its original trigger payload, as a new execution linked to
    /// it (`replayForExecution`, `replays`); answers with the new execution.
    async fn replay_execution(
        &self,
        ctx: &Context<'_>,
        input: ExecutionIdInput,
    ) -> async_graphql::Result<ExecutionPayload> {
        let Some((api, tenant, id)) = target(ctx, &input, "replay executions")? else {
            return Ok(bad_id(&input));
        };
        let replayed = api.store.replay_execution(&tenant, id).await;
        if replayed.is_ok() {
            api.signals.queued();
        }
        ExecutionPayload::from_result(ctx, replayed)
    }
}

/// Checks the caller may manage executions (`what` names the attempt in the refusal) and
/// decodes the execution's id; `None` when the id is malformed.
fn target<'a>(
    ctx: &Context<'a>,
    input: &ExecutionIdInput,
    what: &str,
) -> async_graphql::Result<Option<(&'a crate::graphql::Api, Tenant, Uuid)>> {
    let (api, actor) = env(ctx);
    actor
        .require(Permission::ManageInstances, what)
        .map_err(denied)?;
    let id = id::decode(Kind::InstanceExecutionResult, &input.id).ok();
    Ok(id.map(|id| (api, actor.tenant, id)))
}

/// The answer to a malformed execution id.
fn bad_id(input: &ExecutionIdInput) -> ExecutionPayload {
    let message = match id::decode(Kind::InstanceExecutionResult, &input.id) {
        Err(err) => err.to_string(),
        Ok(_) => "not an execution id".into(),
    };
    ExecutionPayload::failed(FieldErrors::one("id", message))
}
