//! Roles and the permissions they grant, exactly as the reference platform's role matrices
//! list them (organization roles: Owner, Admin, Integrator, Guest, Customer Manager,
//! Third-Party; customer roles: Admin, Member, Marketplace Admin, Marketplace User).
//!
//! The server checks permissions before it calls the store; the store enforces tenancy
//! (organization, and customer for customer users) on every query whatever the caller checked.

use uuid::Uuid;

use crate::id::{self, Kind};
use crate::Error;

/// Whether a role is for organization users or for customer users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleType {
    /// Roles of the organization's own team members.
    Organization,
    /// Roles of a customer's users.
    Customer,
}

/// A role a user holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Organization super-user.
    Owner,
    /// Owner minus changing the organization itself and billing.
    Admin,
    /// Customers, integrations, components and instances.
    Integrator,
    /// Read-only.
    Guest,
    /// Manages customers and their users, but not their instances.
    CustomerManager,
    /// Sees only what it is granted, resource by resource.
    ThirdParty,
    /// Customer admin: manages the customer's users and configures its instances.
    CustomerAdmin,
    /// Customer member: views the customer's users, instances and logs.
    CustomerMember,
    /// Embedded marketplace admin: deploys and configures the customer's instances.
    MarketplaceAdmin,
    /// Embedded marketplace user: configures only its own user-level configuration.
    MarketplaceUser,
}

/// A permission checked before an operation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // The names say it; they are the reference's permission names.
pub enum Permission {
    ViewCustomers,
    ViewCustomerUsers,
    ViewCustomerInstances,
    ViewAlertMonitors,
    ManageCustomers,
    ManageCustomerUsers,
    ManageComponents,
    ManageInstances,
    ManageIntegrations,
    ManageOrganizationUsers,
    ConfigureEmbeddedThemes,
    ManageEmbeddedSettings,
    ConfigureLogStreaming,
    ManageOrganization,
    ManageBilling,
    ViewInstanceLogs,
    ConfigureInstances,
    TestInstances,
    ConfigureUserLevelConfig,
    /// Not in the reference's matrices: the organization roles that may read integrations (all
    /// but Third-Party, whose access comes from per-resource grants).
    ViewIntegrations,
}

impl Role {
    /// Every role, organization roles first.
    pub const ALL: [Role; 10] = [
        Role::Owner,
        Role::Admin,
        Role::Integrator,
        Role::Guest,
        Role::CustomerManager,
        Role::ThirdParty,
        Role::CustomerAdmin,
        Role::CustomerMember,
        Role::MarketplaceAdmin,
        Role::MarketplaceUser,
    ];

    /// The key the store keeps.
    pub fn key(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Integrator => "integrator",
            Role::Guest => "guest",
            Role::CustomerManager => "customer_manager",
            Role::ThirdParty => "third_party",
            Role::CustomerAdmin => "customer_admin",
            Role::CustomerMember => "customer_member",
            Role::MarketplaceAdmin => "marketplace_admin",
            Role::MarketplaceUser => "marketplace_user",
        }
    }

    /// The name users see, as the reference spells it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin | Role::CustomerAdmin => "Admin",
            Role::Integrator => "Integrator",
            Role::Guest => "Guest",
            Role::CustomerManager => "Customer Manager",
            Role::ThirdParty => "Third-Party",
            Role::CustomerMember => "Member",
            Role::MarketplaceAdmin => "Marketplace Admin",
            Role::MarketplaceUser => "Marketplace User",
        }
    }

    /// A one-line description.
    pub fn description(self) -> &'static str {
        match self {
            Role::Owner => "Full access, including the organization itself and billing",
            Role::Admin => "Full access except changing the organization and billing",
            Role::Integrator => "Manages customers, integrations, components and instances",
            Role::Guest => "Read-only access",
            Role::CustomerManager => "Manages customers and their users, not their instances",
            Role::ThirdParty => "Sees only the resources it is granted",
            Role::CustomerAdmin => "Manages the customer's users and configures its instances",
            Role::CustomerMember => "Views the customer's users, instances and logs",
            Role::MarketplaceAdmin => "Deploys and configures the customer's instances",
            Role::MarketplaceUser => "Configures only its own user-level configuration",
        }
    }

    /// Organization or customer role.
    pub fn role_type(self) -> RoleType {
        match self {
            Role::CustomerAdmin
            | Role::CustomerMember
            | Role::MarketplaceAdmin
            | Role::MarketplaceUser => RoleType::Customer,
            _ => RoleType::Organization,
        }
    }

    /// The role's fixed uuid, so that role ids are stable across servers.
    pub fn uuid(self) -> Uuid {
        let index = Role::ALL.iter().position(|r| *r == self).unwrap_or(0) as u128;
        Uuid::from_u128(0x0000_0000_0000_4000_8000_00f0_0000_0000 + index + 1)
    }

    /// The role's global id.
    pub fn global_id(self) -> String {
        id::encode(Kind::Role, self.uuid())
    }

    /// The role stored under `key`.
    pub fn from_key(key: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.key() == key)
    }

    /// Parses what a caller gives for a role of `role_type`: a role id, a key (`customer_manager`)
    /// or a name (`Customer Manager`, any case).
    pub fn parse(text: &str, role_type: RoleType) -> Result<Role, Error> {
        let wanted = text.trim();
        let of_type = Role::ALL.into_iter().filter(|r| r.role_type() == role_type);
        let normalize = |s: &str| s.to_lowercase().replace([' ', '-', '_'], "");
        let found = of_type.clone().find(|r| {
            r.global_id() == wanted || r.key() == wanted || normalize(r.name()) == normalize(wanted)
        });
        found.ok_or_else(|| {
            let names: Vec<&str> = of_type.map(Role::name).collect();
            Error::UnknownRole {
                given: wanted.chars().take(80).collect(),
                expected: names.join(", "),
            }
        })
    }

    /// Whether this role grants `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }

    /// The permissions of the role, per the reference's role matrices.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Owner => &[
                ViewIntegrations,
                ViewCustomers,
                ViewCustomerUsers,
                ViewCustomerInstances,
                ViewAlertMonitors,
                ManageCustomers,
                ManageCustomerUsers,
                ManageComponents,
                ManageInstances,
                ManageIntegrations,
                ManageOrganizationUsers,
                ConfigureEmbeddedThemes,
                ManageEmbeddedSettings,
                ConfigureLogStreaming,
                ManageOrganization,
                ManageBilling,
                ViewInstanceLogs,
                ConfigureInstances,
                TestInstances,
            ],
            Role::Admin => &[
                ViewIntegrations,
                ViewCustomers,
                ViewCustomerUsers,
                ViewCustomerInstances,
                ViewAlertMonitors,
                ManageCustomers,
                ManageCustomerUsers,
                ManageComponents,
                ManageInstances,
                ManageIntegrations,
                ManageOrganizationUsers,
                ConfigureEmbeddedThemes,
                ManageEmbeddedSettings,
                ConfigureLogStreaming,
                ViewInstanceLogs,
                ConfigureInstances,
                TestInstances,
            ],
            Role::Integrator => &[
                ViewIntegrations,
                ViewCustomers,
                ViewCustomerUsers,
                ViewCustomerInstances,
                ViewAlertMonitors,
                ManageCustomers,
                ManageCustomerUsers,
                ManageComponents,
                ManageInstances,
                ManageIntegrations,
                ViewInstanceLogs,
                ConfigureInstances,
                TestInstances,
            ],
            Role::Guest => &[
                ViewIntegrations,
                ViewCustomers,
                ViewCustomerUsers,
                ViewCustomerInstances,
                ViewAlertMonitors,
                ViewInstanceLogs,
            ],
            Role::CustomerManager => &[
                ViewIntegrations,
                ViewCustomers,
                ViewCustomerUsers,
                ManageCustomers,
                ManageCustomerUsers,
            ],
            Role::ThirdParty => &[],
            Role::CustomerAdmin => &[
                ViewCustomers,
                ViewCustomerUsers,
                ManageCustomerUsers,
                ViewCustomerInstances,
                ViewInstanceLogs,
                ConfigureInstances,
                TestInstances,
            ],
            Role::CustomerMember => &[
                ViewCustomers,
                ViewCustomerUsers,
                ViewCustomerInstances,
                ViewInstanceLogs,
            ],
            Role::MarketplaceAdmin => &[
                ViewCustomers,
                ViewCustomerInstances,
                ViewInstanceLogs,
                ConfigureInstances,
                TestInstances,
                ConfigureUserLevelConfig,
            ],
            Role::MarketplaceUser => &[ViewCustomers, ConfigureUserLevelConfig],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_ids_are_stable_and_distinct() {
        let ids: std::collections::HashSet<_> = Role::ALL.iter().map(|r| r.global_id()).collect();
        assert_eq!(ids.len(), Role::ALL.len());
        assert_eq!(
            Role::Owner.uuid().to_string(),
            "00000000-0000-4000-8000-00f000000001"
        );
    }

    #[test]
    fn parses_ids_keys_and_names_within_the_role_type() {
        assert_eq!(
            Role::parse("Customer Manager", RoleType::Organization).unwrap(),
            Role::CustomerManager
        );
        assert_eq!(
            Role::parse("admin", RoleType::Customer).unwrap(),
            Role::CustomerAdmin
        );
        assert_eq!(
            Role::parse("admin", RoleType::Organization).unwrap(),
            Role::Admin
        );
        let id = Role::MarketplaceUser.global_id();
        assert_eq!(
            Role::parse(&id, RoleType::Customer).unwrap(),
            Role::MarketplaceUser
        );
        let err = Role::parse("owner", RoleType::Customer)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Marketplace Admin"), "{err}");
    }

    #[test]
    fn the_matrix_matches_the_reference() {
        use Permission::*;
        assert!(Role::Owner.allows(ManageBilling));
        assert!(!Role::Admin.allows(ManageOrganization));
        assert!(Role::Admin.allows(ManageOrganizationUsers));
        assert!(!Role::Integrator.allows(ManageOrganizationUsers));
        assert!(!Role::Guest.allows(ManageCustomers));
        assert!(Role::CustomerManager.allows(ManageCustomerUsers));
        assert!(!Role::CustomerManager.allows(ViewCustomerInstances));
        assert!(Role::ThirdParty.permissions().is_empty());
        assert!(Role::CustomerAdmin.allows(ManageCustomerUsers));
        assert!(!Role::CustomerMember.allows(ManageCustomerUsers));
        assert!(!Role::MarketplaceAdmin.allows(ViewCustomerUsers));
    }
}
