//! The definition as data: what an integration YAML document holds, field by field.
//!
//! Field names are the YAML's (camelCase); unknown fields are refused, so a typo is an error
//! with its path rather than a silently ignored setting. Step inputs stay JSON values: their
//! meaning belongs to the action they are given to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn is_true(value: &bool) -> bool {
    *value
}

/// An integration: config variables and pages, endpoint configuration, flows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Definition {
    /// The format's version; 1.
    #[serde(default = "one")]
    pub definition_version: u32,
    /// The integration's name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// How webhook URLs are laid out.
    #[serde(default, skip_serializing_if = "is_default")]
    pub endpoint_type: EndpointType,
    /// For instance-specific and shared endpoints: where the flow and customer are read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_preprocess_flow_config: Option<RoutingFields>,
    /// Custom components pinned to a version, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub component_versions: BTreeMap<String, u32>,
    /// The config wizard's pages, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_pages: Vec<ConfigPage>,
    /// The config variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_config_vars: Vec<ConfigVar>,
    /// The flows.
    pub flows: Vec<Flow>,
    /// Renames that keep identity (and so webhook URLs and customers' values).
    #[serde(default, skip_serializing_if = "RenameAttributes::is_empty")]
    pub rename_attributes: RenameAttributes,
}

/// How an integration's webhook URLs are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointType {
    /// One URL per flow per instance.
    #[default]
    FlowSpecific,
    /// One URL per instance; the flow is chosen from the request or by a preprocess flow.
    InstanceSpecific,
    /// One URL per integration; customer and flow chosen from the request or by a preprocess flow.
    SharedInstance,
}

/// Where routing reads the flow name and the customer's external id: dotted paths into the
/// request (`headers.x-acme-flow`, `body.data.accountId`) or, for a preprocess flow, into its
/// result's `data`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutingFields {
    /// The path of the flow's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_name_field: Option<String>,
    /// The path of the customer's external id (shared endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_customer_id_field: Option<String>,
}

/// One page of the config wizard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigPage {
    /// The page's title.
    pub name: String,
    /// A line under the title.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tagline: String,
    /// What the page shows, in order.
    #[serde(default)]
    pub elements: Vec<PageElement>,
}

/// One element of a config page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageElement {
    /// A config variable, by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_var: Option<String>,
    /// Helper text as HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// The data types of config variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // The names are the reference's data types.
pub enum DataType {
    String,
    Number,
    Boolean,
    Date,
    Timestamp,
    Picklist,
    Code,
    Schedule,
    ObjectSelection,
    ObjectFieldMap,
    JsonForm,
    Connection,
}

/// Single value, list, or key/value list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectionType {
    /// A list of values.
    Valuelist,
    /// A list of `{ key, value }` pairs.
    Keyvaluelist,
}

/// Who sees and sets a config variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Customers see and set it in the wizard.
    #[default]
    Customer,
    /// Hidden from the wizard; the vendor's app sets it.
    Embedded,
    /// Hidden from customers; the organization sets it (so it needs a default).
    Organization,
}

/// A typed setting of the integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigVar {
    /// The name, unique in the integration; letters, digits and spaces.
    pub key: String,
    /// Identity across renames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_key: Option<String>,
    /// Help for whoever sets it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Its type.
    pub data_type: DataType,
    /// Single value (none), list or key/value list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_type: Option<CollectionType>,
    /// The value used until one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Value>,
    /// The choices of a picklist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pick_list: Vec<String>,
    /// The language of a code variable (`json`, `xml`, `javascript`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_language: Option<String>,
    /// For connections: its kind and inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<Value>,
    /// For object selections, field maps and JSON forms: the data source that feeds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<Value>,
    /// Who sees and sets it.
    #[serde(default, skip_serializing_if = "is_default")]
    pub permission_and_visibility_type: Visibility,
    /// Whether organization users see it in the wizard.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub visible_to_org_deployer: bool,
}

/// One trigger and a sequence of steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Flow {
    /// The name, unique in the integration.
    pub name: String,
    /// Identity across renames (keeps webhook URLs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_key: Option<String>,
    /// What it does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether this flow routes requests of an instance-specific or shared endpoint.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_preprocess_flow: bool,
    /// For a preprocess flow: where its result names the flow and the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess_flow_config: Option<RoutingFields>,
    /// What starts it.
    pub trigger: Trigger,
    /// Automatic retry of failed executions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_config: Option<RetryConfig>,
    /// The steps, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// The kinds of trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TriggerType {
    /// An HTTP request to the flow's URL.
    Webhook,
    /// A cron schedule.
    Schedule,
    /// An instance lifecycle event.
    Management,
    /// Invoked by another flow.
    CrossFlow,
    /// An action run on a schedule with a cursor.
    Polling,
}

/// Who may call a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointSecurity {
    /// Anyone with the URL.
    Unsecured,
    /// An `Api-Key` header when the customer set keys.
    #[default]
    CustomerOptional,
    /// An `Api-Key` header the customer set.
    CustomerRequired,
    /// An `Api-Key` header the organization set.
    Organization,
}

/// Instance lifecycle events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ManagementEvent {
    /// Runs on every deploy.
    InstanceDeploy,
    /// Runs when the instance is deleted.
    InstanceRemove,
}

/// Queueing of a flow's executions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueConfig {
    /// One execution at a time, in arrival order.
    #[serde(default)]
    pub uses_fifo_queue: bool,
    /// A dotted path into the request whose value drops repeats within 10 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedupe_id_field: Option<String>,
}

/// What starts a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Trigger {
    /// The kind.
    #[serde(rename = "type")]
    pub kind: TriggerType,
    /// The step name of the trigger's result (`trigger` when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Webhook: answer with the last step's result.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_synchronous: bool,
    /// Webhook: who may call it.
    #[serde(default, skip_serializing_if = "is_default")]
    pub endpoint_security_type: EndpointSecurity,
    /// Webhook: FIFO and de-duplication.
    #[serde(default, skip_serializing_if = "is_default")]
    pub queue_config: QueueConfig,
    /// Schedule and polling: a cron expression (seconds optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Schedule and polling: the time zone of `cron` (IANA name; UTC by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Schedule: a config variable of type schedule that holds the cron expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_var: Option<String>,
    /// Schedule: skip a tick while the previous run is still going.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub singleton_executions: bool,
    /// Management: the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<ManagementEvent>,
    /// Polling or custom triggers: the action to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Inputs of `action` (a polling trigger's read `polling.cursor`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, Value>,
    /// Polling: the dotted path of the polled records in the action's result (`data` when
    /// left out; `data.items`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_field: Option<String>,
    /// Polling: the dotted path, in each record, of the value that grows with newer records
    /// (an id, an `updatedAt`); records beyond the cursor are new, and the largest becomes the
    /// next cursor. Without it, every polled record is new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_field: Option<String>,
}

/// Automatic retry of a flow's failed executions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts after the first, 1 to 10.
    pub max_attempts: u32,
    /// Minutes between attempts.
    #[serde(default = "one")]
    pub delay_minutes: u32,
    /// Double the delay after each attempt (capped at 24 h).
    #[serde(default)]
    pub uses_exponential_backoff: bool,
    /// A dotted path into the trigger payload whose value cancels older pending retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_request_id_field: Option<String>,
}

/// What a step does when its action fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorHandler {
    /// fail, ignore or retry.
    #[serde(rename = "type")]
    pub kind: ErrorHandlerType,
    /// Retry: attempts after the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Retry: seconds between attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_between_attempts: Option<u32>,
    /// Retry: double the wait after each attempt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exponential_backoff: bool,
    /// Retry: after the last attempt, carry on as if ignored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_final_error: bool,
}

/// The kinds of step error handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorHandlerType {
    /// The execution fails.
    Fail,
    /// The step's result carries the error and the flow goes on.
    Ignore,
    /// Run the step again.
    Retry,
}

/// One step: an action with inputs, or a control step holding nested steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    /// The name, unique in the flow; its camelCase is the reference name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `<component>.<action>`.
    pub action: String,
    /// Input values or `{{ expressions }}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, Value>,
    /// Branch steps: the branches, the last one possibly `Else`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<Branch>,
    /// Loop steps: the steps run per item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// What happens when the action fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_handler: Option<ErrorHandler>,
}

/// One branch of a branch step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Branch {
    /// The branch's name (the branch step's result when taken).
    pub name: String,
    /// `branch.onExpression`: when to take it (none for the else branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    /// `branch.onValue`: the value that selects it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The steps run when taken.
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// Renames that keep identity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenameAttributes {
    /// Renamed config variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_config_vars: Vec<Rename>,
    /// Renamed flows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<Rename>,
}

impl RenameAttributes {
    fn is_empty(&self) -> bool {
        self.required_config_vars.is_empty() && self.flows.is_empty()
    }
}

/// One rename.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rename {
    /// The name before.
    pub old_name: String,
    /// The name after.
    pub new_name: String,
}
