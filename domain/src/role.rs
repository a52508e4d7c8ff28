//! Roles within a tenant and the permission matrix: the one place that says who may do what.
//!
//! | permission            | Owner | Admin | Member | Viewer |
//! |-----------------------|:-----:|:-----:|:------:|:------:|
//! | read everything       |   ✓   |   ✓   |   ✓    |   ✓    |
//! | manage sites          |   ✓   |   ✓   |   ✓    |        |
//! | manage members        |   ✓   |   ✓   |        |        |
//! | manage invitations    |   ✓   |   ✓   |        |        |
//! | manage API tokens     |   ✓   |   ✓   |        |        |
//! | manage billing        |   ✓   |   ✓   |        |        |
//!
//! An Admin cannot grant or take away the Owner role, and nobody can hand out a role above
//! their own (to a member, an invitation or a token).

use serde::{Deserialize, Serialize};

/// A member's (or a token's) role within a tenant, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including other owners.
    Owner,
    /// Everything but the Owner role.
    Admin,
    /// Sites, not people or tokens.
    Member,
    /// Read only.
    Viewer,
}

/// Something a caller may be allowed to do within a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the tenant's views.
    Read,
    /// Create, change and delete sites.
    ManageSites,
    /// Change roles and remove members.
    ManageMembers,
    /// Create and revoke invitations.
    ManageInvitations,
    /// Create and revoke API tokens.
    ManageTokens,
    /// Set the billing profile; subscribe, change plan and cancel.
    ManageBilling,
}

impl Role {
    /// Whether this role grants `permission`.
    pub const fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::Read => true,
            Permission::ManageSites => matches!(self, Self::Owner | Self::Admin | Self::Member),
            Permission::ManageMembers
            | Permission::ManageInvitations
            | Permission::ManageTokens
            | Permission::ManageBilling => {
                matches!(self, Self::Owner | Self::Admin)
            }
        }
    }

    /// Whether a holder of this role may hand `other` to someone (never above one's own).
    pub fn may_grant(self, other: Self) -> bool {
        self <= other
    }

    /// The role's name as used in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Viewer => "viewer",
        }
    }

    /// Parses a role name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Every role, most powerful first.
    pub const ALL: [Self; 4] = [Self::Owner, Self::Admin, Self::Member, Self::Viewer];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_is_as_documented() {
        use Permission::*;
        let grid = [
            (Role::Owner, [true, true, true, true, true, true]),
            (Role::Admin, [true, true, true, true, true, true]),
            (Role::Member, [true, true, false, false, false, false]),
            (Role::Viewer, [true, false, false, false, false, false]),
        ];
        for (role, row) in grid {
            for (permission, expected) in
                [Read, ManageSites, ManageMembers, ManageInvitations, ManageTokens, ManageBilling]
                    .into_iter()
                    .zip(row)
            {
                assert_eq!(role.allows(permission), expected, "{role:?} {permission:?}");
            }
        }
    }

    #[test]
    fn nobody_grants_above_their_own_role() {
        assert!(Role::Owner.may_grant(Role::Owner));
        assert!(!Role::Admin.may_grant(Role::Owner));
        assert!(Role::Admin.may_grant(Role::Viewer));
        assert!(!Role::Viewer.may_grant(Role::Member));
    }
}
