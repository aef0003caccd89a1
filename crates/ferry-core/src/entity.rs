//! The entities of the foundation and the rules for what callers may write into them.
//!
//! Inputs (`NewCustomer`, `CustomerPatch`, `NewUser`, `UserPatch`) are validated here with
//! every problem reported at once, each naming its field, before the store sees them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::role::Role;
use crate::{Error, FieldError};

/// The longest name (organization, customer, user, token) accepted, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// The longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4096;
/// The longest external id accepted, in characters.
pub const MAX_EXTERNAL_ID_CHARS: usize = 255;
/// The longest label accepted, in characters.
pub const MAX_LABEL_CHARS: usize = 64;
/// The most labels one customer may carry.
pub const MAX_LABELS: usize = 100;
/// The longest email accepted, in characters.
pub const MAX_EMAIL_CHARS: usize = 320;

/// A tenant: a SaaS vendor using Ferry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Its uuid.
    pub id: Uuid,
    /// Its display name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Days its step results and logs are kept, when it has its own retention period (else
    /// the server's).
    pub retention_days: Option<u32>,
}

/// One of the organization's customers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Its uuid.
    pub id: Uuid,
    /// Unique per organization.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The id in the vendor's own app; unique per organization when set.
    pub external_id: Option<String>,
    /// Lower-cased labels, sorted, without repeats.
    pub labels: Vec<String>,
    /// System customers hold test instances.
    pub is_system: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// An organization user or a customer user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its uuid.
    pub id: Uuid,
    /// The customer it belongs to; `None` for organization users.
    pub customer_id: Option<Uuid>,
    /// Unique per organization.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Its role; a customer role exactly when `customer_id` is set.
    pub role: Role,
    /// Phone number, free text.
    pub phone: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An API token's metadata; the secret itself is shown once and stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Its uuid.
    pub id: Uuid,
    /// The user it acts as.
    pub user_id: Uuid,
    /// What it is for.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A customer to create.
#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    /// Required, unique.
    pub name: String,
    /// Optional text.
    pub description: String,
    /// Optional; an empty string means none.
    pub external_id: Option<String>,
    /// Labels, lower-cased on the way in.
    pub labels: Vec<String>,
    /// Whether it is a system customer.
    pub is_system: bool,
}

/// Changes to a customer; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CustomerPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new external id; `Some(None)` (or an empty string) clears it.
    pub external_id: Option<Option<String>>,
    /// New labels, replacing the old ones.
    pub labels: Option<Vec<String>>,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique per organization.
    pub email: String,
    /// Display name; defaults to the email.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The customer, for a customer user.
    pub customer_id: Option<Uuid>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new role.
    pub role: Option<Role>,
    /// A new phone number.
    pub phone: Option<String>,
}

/// Collects field problems so that a caller hears of all of them at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    /// Records a problem.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Checks that a required name is present and not too long.
    pub fn name(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.add(field, "must not be empty");
        }
        self.max_chars(field, value, MAX_NAME_CHARS);
    }

    /// Checks a length limit.
    pub fn max_chars(&mut self, field: &str, value: &str, max: usize) {
        let count = value.chars().count();
        if count > max {
            self.add(
                field,
                format!("is {count} characters long; at most {max} are allowed"),
            );
        }
    }

    /// `Ok` when there were no problems, otherwise all of them.
    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.0))
        }
    }
}

/// Lower-cases, trims, sorts and de-duplicates labels, checking each.
fn clean_labels(labels: &[String], problems: &mut Problems) -> Vec<String> {
    if labels.len() > MAX_LABELS {
        problems.add(
            "labels",
            format!(
                "has {} labels; at most {MAX_LABELS} are allowed",
                labels.len()
            ),
        );
    }
    let mut clean: Vec<String> = Vec::with_capacity(labels.len());
    for (index, label) in labels.iter().enumerate() {
        let label = label.trim().to_lowercase();
        let field = format!("labels[{index}]");
        if label.is_empty() {
            problems.add(&field, "must not be empty");
        }
        problems.max_chars(&field, &label, MAX_LABEL_CHARS);
        clean.push(label);
    }
    clean.sort();
    clean.dedup();
    clean
}

/// An empty or blank external id means none.
fn clean_external_id(external_id: Option<&str>, problems: &mut Problems) -> Option<String> {
    let value = external_id.map(str::trim).filter(|v| !v.is_empty())?;
    problems.max_chars("externalId", value, MAX_EXTERNAL_ID_CHARS);
    Some(value.to_string())
}

impl NewCustomer {
    /// Validates and normalizes the input.
    pub fn validated(self) -> Result<NewCustomer, Error> {
        let mut problems = Problems::default();
        problems.name("name", &self.name);
        problems.max_chars("description", &self.description, MAX_DESCRIPTION_CHARS);
        let external_id = clean_external_id(self.external_id.as_deref(), &mut problems);
        let labels = clean_labels(&self.labels, &mut problems);
        problems.finish()?;
        Ok(NewCustomer {
            name: self.name.trim().to_string(),
            external_id,
            labels,
            ..self
        })
    }
}

impl CustomerPatch {
    /// Validates and normalizes the changes.
    pub fn validated(self) -> Result<CustomerPatch, Error> {
        let mut problems = Problems::default();
        if let Some(name) = &self.name {
            problems.name("name", name);
        }
        if let Some(description) = &self.description {
            problems.max_chars("description", description, MAX_DESCRIPTION_CHARS);
        }
        let external_id = self
            .external_id
            .map(|e| clean_external_id(e.as_deref(), &mut problems));
        let labels = self.labels.map(|l| clean_labels(&l, &mut problems));
        problems.finish()?;
        Ok(CustomerPatch {
            name: self.name.map(|n| n.trim().to_string()),
            description: self.description,
            external_id,
            labels,
        })
    }
}

/// Checks the shape of an email address: something, one `@`, a domain.
fn check_email(email: &str, problems: &mut Problems) {
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.contains(char::is_whitespace)
        }
        None => false,
    };
    if !valid {
        problems.add("email", "is not an email address");
    }
    problems.max_chars("email", email, MAX_EMAIL_CHARS);
}

impl NewUser {
    /// Validates and normalizes the input; emails are kept lower-cased.
    pub fn validated(self) -> Result<NewUser, Error> {
        let mut problems = Problems::default();
        let email = self.email.trim().to_lowercase();
        check_email(&email, &mut problems);
        let name = if self.name.trim().is_empty() {
            email.clone()
        } else {
            self.name.trim().to_string()
        };
        problems.max_chars("name", &name, MAX_NAME_CHARS);
        problems.finish()?;
        Ok(NewUser {
            email,
            name,
            ..self
        })
    }
}

impl UserPatch {
    /// Validates the changes.
    pub fn validated(self) -> Result<UserPatch, Error> {
        let mut problems = Problems::default();
        if let Some(name) = &self.name {
            problems.name("name", name);
        }
        if let Some(phone) = &self.phone {
            problems.max_chars("phone", phone, 64);
        }
        problems.finish()?;
        Ok(UserPatch {
            name: self.name.map(|n| n.trim().to_string()),
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_errors(err: Error) -> Vec<String> {
        match err {
            Error::Invalid(list) => list.into_iter().map(|e| e.field).collect(),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn customer_labels_are_lower_cased_sorted_and_unique() {
        let new = NewCustomer {
            name: " Acme ".into(),
            labels: vec!["Gold".into(), "EU".into(), "gold".into()],
            external_id: Some("".into()),
            ..Default::default()
        };
        let new = new.validated().unwrap();
        assert_eq!(new.name, "Acme");
        assert_eq!(new.labels, vec!["eu", "gold"]);
        assert_eq!(new.external_id, None);
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let new = NewCustomer {
            name: "  ".into(),
            description: "x".repeat(MAX_DESCRIPTION_CHARS + 1),
            labels: vec!["ok".into(), "".into()],
            ..Default::default()
        };
        let fields = field_errors(new.validated().unwrap_err());
        assert_eq!(fields, vec!["name", "description", "labels[1]"]);
    }

    #[test]
    fn emails_must_look_like_emails() {
        let user = |email: &str| NewUser {
            email: email.into(),
            name: String::new(),
            role: Role::Guest,
            customer_id: None,
        };
        assert_eq!(
            user("Ann@Example.test").validated().unwrap().email,
            "ann@example.test"
        );
        for bad in ["", "ann", "@x", "a@", "a b@c"] {
            assert_eq!(
                field_errors(user(bad).validated().unwrap_err()),
                vec!["email"],
                "{bad}"
            );
        }
    }
}
