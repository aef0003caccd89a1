//! Opaque global ids: base64 of `"<TypeName>:<uuid>"`, as the reference platform's API shows them.
//!
//! Clients treat ids as opaque strings; the server decodes them and checks the type, so that a
//! `Customer` id given where a `User` id is expected is refused with a message that says so.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use uuid::Uuid;

use crate::Error;

/// The kinds of entity that have global ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An organization (tenant).
    Organization,
    /// A customer of the organization.
    Customer,
    /// An organization user or a customer user.
    User,
    /// A role.
    Role,
    /// An API token.
    ApiToken,
    /// An integration.
    Integration,
    /// A published version of an integration.
    IntegrationVersion,
    /// An instance.
    Instance,
    /// An instance's flow config (its id is in the webhook URL).
    InstanceFlowConfig,
    /// An execution.
    InstanceExecutionResult,
    /// One step result of an execution.
    StepResult,
    /// One log line.
    Log,
    /// A custom component.
    Component,
    /// A published version of a custom component.
    ComponentVersion,
}

impl Kind {
    /// The type name written inside the id.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Component => "Component",
            Kind::ComponentVersion => "ComponentVersion",
            Kind::Organization => "Organization",
            Kind::Customer => "Customer",
            Kind::User => "User",
            Kind::Role => "Role",
            Kind::ApiToken => "ApiToken",
            Kind::Integration => "Integration",
            Kind::IntegrationVersion => "IntegrationVersion",
            Kind::Instance => "Instance",
            Kind::InstanceFlowConfig => "InstanceFlowConfig",
            Kind::InstanceExecutionResult => "InstanceExecutionResult",
            Kind::StepResult => "InstanceExecutionStepResult",
            Kind::Log => "Log",
        }
    }
}

/// Encodes `uuid` as the global id of an entity of `kind`.
pub fn encode(kind: Kind, uuid: Uuid) -> String {
    STANDARD.encode(format!("{}:{}", kind.type_name(), uuid))
}

/// Decodes a global id that must be of `kind`; the error names what is wrong with it.
pub fn decode(kind: Kind, id: &str) -> Result<Uuid, Error> {
    let invalid = |reason: String| Error::InvalidId {
        id: truncate(id),
        reason,
    };
    let bytes = STANDARD
        .decode(id.trim())
        .map_err(|_| invalid("not a base64 id".into()))?;
    let text = String::from_utf8(bytes).map_err(|_| invalid("not a Ferry id".into()))?;
    let (type_name, uuid) = text
        .split_once(':')
        .ok_or_else(|| invalid("not a Ferry id".into()))?;
    if type_name != kind.type_name() {
        let expected = kind.type_name();
        return Err(invalid(format!(
            "expected {} {expected} id, got {} {} id",
            article(expected),
            article(type_name),
            truncate(type_name)
        )));
    }
    Uuid::parse_str(uuid).map_err(|_| invalid("not a Ferry id".into()))
}

/// "an" before the type names that start with a vowel sound (`Instance`), else "a" (`User`).
fn article(word: &str) -> &'static str {
    match word.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o') => "an",
        _ => "a",
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_the_reference_shape() {
        let uuid = Uuid::parse_str("18ce0c3a-bd95-41bb-b225-7c0b5c087ba8").unwrap();
        let id = encode(Kind::Customer, uuid);
        assert_eq!(
            id,
            "Q3VzdG9tZXI6MThjZTBjM2EtYmQ5NS00MWJiLWIyMjUtN2MwYjVjMDg3YmE4"
        );
        assert_eq!(decode(Kind::Customer, &id).unwrap(), uuid);
    }

    #[test]
    fn refuses_ids_of_another_type() {
        let id = encode(Kind::User, Uuid::nil());
        let err = decode(Kind::Customer, &id).unwrap_err().to_string();
        assert!(
            err.contains("expected a Customer id, got a User id"),
            "{err}"
        );
    }

    #[test]
    fn refuses_garbage() {
        for bad in ["", "!!!", "aGVsbG8=", "Q3VzdG9tZXI6bm90LWEtdXVpZA=="] {
            assert!(decode(Kind::Customer, bad).is_err(), "{bad}");
        }
    }
}
