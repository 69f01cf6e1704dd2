//! Roles and what each may do. Every endpoint names the permission it
//! needs (see the table in `tests/rbac.rs`, which checks every endpoint
//! for every role).
//!
//! | permission | shopper | agent | supervisor | admin |
//! |---|---|---|---|---|
//! | `Converse` (own conversation, by its token) | ✓ | | | |
//! | `WorkQueue` (queue, accept, cases assigned to oneself) | | ✓ | ✓ | |
//! | `ManageOthersCases` (read and act on anyone's case) | | | ✓ | |
//! | `ManageCannedReplies` | | | ✓ | |
//! | `ViewAnalytics` (resolution tracking) | | | ✓ | ✓ |
//! | `Administer` (import, webhooks, privacy; API keys by scope) | | | | ✓ |
//! | `ManageStore` (the store workspace: files, preview, publish; reload is admin only) | | | ✓ | ✓ |

use std::fmt;

use wismo_store::{Agent, Handoff};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Shopper,
    Agent,
    Supervisor,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Converse,
    WorkQueue,
    ManageOthersCases,
    ManageCannedReplies,
    ViewAnalytics,
    Administer,
    ManageStore,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Shopper => "shopper",
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        })
    }
}

/// Whether `role` has `permission`.
pub const fn allows(role: Role, permission: Permission) -> bool {
    use Permission as P;
    matches!(
        (role, permission),
        (Role::Shopper, P::Converse)
            | (Role::Agent, P::WorkQueue)
            | (Role::Supervisor, P::WorkQueue)
            | (Role::Supervisor, P::ManageOthersCases)
            | (Role::Supervisor, P::ManageCannedReplies)
            | (Role::Supervisor, P::ViewAnalytics)
            | (Role::Supervisor, P::ManageStore)
            | (Role::Admin, P::ManageStore)
            | (Role::Admin, P::ViewAnalytics)
            | (Role::Admin, P::Administer)
    )
}

/// An agent account's role (`supervisor`, else `agent`).
pub fn role_of(agent: &Agent) -> Role {
    if agent.role == "supervisor" {
        Role::Supervisor
    } else {
        Role::Agent
    }
}

/// 403 `forbidden` unless the agent's role has `permission`; the refusal is
/// logged as a security event.
pub fn require(agent: &Agent, permission: Permission) -> Result<(), ApiError> {
    let role = role_of(agent);
    if allows(role, permission) {
        Ok(())
    } else {
        tracing::info!(target: "wismo::security", event = "permission_denied", agent = %agent.id, ?permission, "permission denied");
        Err(ApiError::Forbidden(format!(
            "the {role} role may not do this ({permission:?})"
        )))
    }
}

/// Whether the agent may read (and annotate) this case's conversation: a
/// case waiting in the queue, one assigned to them, or, for supervisors,
/// any.
pub fn may_see(agent: &Agent, case: &Handoff) -> bool {
    allows(role_of(agent), Permission::ManageOthersCases)
        || case.status == "queued"
        || case.agent_id.as_deref() == Some(agent.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        use Permission as P;
        let all = [
            P::Converse,
            P::WorkQueue,
            P::ManageOthersCases,
            P::ManageCannedReplies,
            P::ViewAnalytics,
            P::Administer,
            P::ManageStore,
        ];
        let granted = |r: Role| all.iter().filter(|p| allows(r, **p)).count();
        assert_eq!(granted(Role::Shopper), 1);
        assert_eq!(granted(Role::Agent), 1);
        assert_eq!(granted(Role::Supervisor), 5);
        assert_eq!(granted(Role::Admin), 3);
        assert!(!allows(Role::Agent, P::ManageOthersCases));
        assert!(!allows(Role::Admin, P::WorkQueue), "admins are not agents");
    }
}
