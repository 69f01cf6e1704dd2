//! The store's people: agent accounts, their sign-in sessions, canned
//! replies, hand-off cases (a projection of the conversations' events that
//! the queue and resolution tracking read) and shoppers' ratings.

use chrono::{DateTime, Utc};

use crate::conversations::check;
use crate::orders::micros;
use crate::{with_pool, Db, StoreDbError};

/// A JSON list stored as text (languages, tags, sentiments, scopes).
pub(crate) fn json_list<T: serde::de::DeserializeOwned>(
    field: &str,
    s: &str,
) -> Result<Vec<T>, StoreDbError> {
    serde_json::from_str(s).map_err(|e| StoreDbError::Corrupt(format!("{field}: {e}")))
}

/// An agent account to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAgent {
    pub id: String,
    pub email: String,
    pub name: String,
    /// An argon2 PHC string (never the password).
    pub password_hash: String,
    /// `agent` or `supervisor`.
    pub role: String,
    pub max_chats: u32,
    /// Locales the agent answers in (`en`, `es`); empty: any.
    pub languages: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A stored agent account.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub max_chats: u32,
    pub languages: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct AgentDbRow {
    id: String,
    email: String,
    name: String,
    password_hash: String,
    role: String,
    max_chats: i64,
    languages: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<AgentDbRow> for Agent {
    type Error = StoreDbError;
    fn try_from(r: AgentDbRow) -> Result<Self, StoreDbError> {
        Ok(Agent {
            id: r.id,
            email: r.email,
            name: r.name,
            password_hash: r.password_hash,
            role: r.role,
            max_chats: u32::try_from(r.max_chats)
                .map_err(|_| StoreDbError::Corrupt(format!("max_chats {}", r.max_chats)))?,
            languages: json_list("languages", &r.languages)?,
            created_at: r.created_at,
        })
    }
}

const AGENT_COLUMNS: &str =
    "a.id, a.email, a.name, a.password_hash, a.role, a.max_chats, a.languages, a.created_at";

/// A canned reply agents can insert.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct CannedReply {
    pub id: i64,
    pub shortcut: String,
    pub title: String,
    pub text: String,
}

/// A hand-off to create (the conversation entered the queue).
#[derive(Debug, Clone, PartialEq)]
pub struct NewHandoff {
    pub conversation_id: String,
    pub reason: String,
    pub priority: i64,
    pub locale: Option<String>,
    pub intent: Option<String>,
    pub sentiments: Vec<f32>,
    pub order_number: Option<String>,
    pub contact_email: Option<String>,
    pub offline: bool,
    pub requested_at: DateTime<Utc>,
    pub last_role: Option<String>,
    pub last_text: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
    /// The case the conversation already has (the flow's `CASE-0001`, or an
    /// earlier hand-off's), shown instead of `H-<id>`: one case number per
    /// conversation.
    pub case_ref: Option<String>,
}

/// A stored hand-off.
#[derive(Debug, Clone, PartialEq)]
pub struct Handoff {
    pub id: i64,
    pub conversation_id: String,
    /// `queued`, `assigned`, `resolved` or `released`.
    pub status: String,
    pub reason: String,
    pub priority: i64,
    pub locale: Option<String>,
    pub intent: Option<String>,
    pub sentiments: Vec<f32>,
    pub order_number: Option<String>,
    pub contact_email: Option<String>,
    pub offline: bool,
    pub requested_at: DateTime<Utc>,
    pub agent_id: Option<String>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub tags: Vec<String>,
    pub last_role: Option<String>,
    pub last_text: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
    /// The conversation's case this hand-off continues, if it had one.
    pub case_ref: Option<String>,
}

impl Handoff {
    /// The case id shoppers and agents see: the conversation's case
    /// (`CASE-0001`) when the hand-off continues one, else `H-12`.
    pub fn case_id(&self) -> String {
        match &self.case_ref {
            Some(c) => c.clone(),
            None => format!("H-{}", self.id),
        }
    }

    pub fn is_open(&self) -> bool {
        self.status == "queued" || self.status == "assigned"
    }
}

#[derive(sqlx::FromRow)]
struct HandoffDbRow {
    id: i64,
    conversation_id: String,
    status: String,
    reason: String,
    priority: i64,
    locale: Option<String>,
    intent: Option<String>,
    sentiments: String,
    order_number: Option<String>,
    contact_email: Option<String>,
    offline: bool,
    requested_at: DateTime<Utc>,
    agent_id: Option<String>,
    assigned_at: Option<DateTime<Utc>>,
    first_response_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    tags: String,
    last_role: Option<String>,
    last_text: Option<String>,
    last_at: Option<DateTime<Utc>>,
    case_ref: Option<String>,
}

impl TryFrom<HandoffDbRow> for Handoff {
    type Error = StoreDbError;
    fn try_from(r: HandoffDbRow) -> Result<Self, StoreDbError> {
        Ok(Handoff {
            id: r.id,
            conversation_id: r.conversation_id,
            status: r.status,
            reason: r.reason,
            priority: r.priority,
            locale: r.locale,
            intent: r.intent,
            sentiments: json_list("sentiments", &r.sentiments)?,
            order_number: r.order_number,
            contact_email: r.contact_email,
            offline: r.offline,
            requested_at: r.requested_at,
            agent_id: r.agent_id,
            assigned_at: r.assigned_at,
            first_response_at: r.first_response_at,
            closed_at: r.closed_at,
            outcome: r.outcome,
            tags: json_list("tags", &r.tags)?,
            last_role: r.last_role,
            last_text: r.last_text,
            last_at: r.last_at,
            case_ref: r.case_ref,
        })
    }
}

const HANDOFF_COLUMNS: &str = "id, conversation_id, status, reason, priority, locale, intent, \
     sentiments, order_number, contact_email, offline, requested_at, agent_id, assigned_at, \
     first_response_at, closed_at, outcome, tags, last_role, last_text, last_at, case_ref";

/// A shopper's rating of a conversation.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Csat {
    pub conversation_id: String,
    pub score: i64,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Db {
    /// Decrypts the personal fields of a hand-off row.
    fn handoff_row(&self, mut r: HandoffDbRow) -> Result<Handoff, StoreDbError> {
        let k = self.crypt();
        r.contact_email = k.open_opt("handoffs.contact_email", r.contact_email)?;
        r.last_text = k.open_opt("handoffs.last_text", r.last_text)?;
        Handoff::try_from(r)
    }

    fn handoffs(&self, rows: Vec<HandoffDbRow>) -> Result<Vec<Handoff>, StoreDbError> {
        rows.into_iter().map(|r| self.handoff_row(r)).collect()
    }

    fn csat_row(&self, mut c: Csat) -> Result<Csat, StoreDbError> {
        c.comment = self.crypt().open_opt("csat.comment", c.comment)?;
        Ok(c)
    }
}

impl Db {
    // ---- agents -------------------------------------------------------

    /// Creates an agent account; [`StoreDbError::Duplicate`] when the email
    /// is taken.
    pub async fn create_agent(&self, a: &NewAgent) -> Result<Agent, StoreDbError> {
        for (f, v) in [
            ("agent id", &a.id),
            ("agent email", &a.email),
            ("agent name", &a.name),
            ("password hash", &a.password_hash),
            ("role", &a.role),
        ] {
            check(f, v)?;
        }
        let email = a.email.trim().to_lowercase();
        if self.agent_by_email(&email).await?.is_some() {
            return Err(StoreDbError::Duplicate(
                "an agent with this email already exists",
            ));
        }
        let languages = serde_json::to_string(&a.languages)?;
        let at = micros(a.created_at);
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO agents (id, email, name, password_hash, role, max_chats, languages, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&a.id)
            .bind(&email)
            .bind(&a.name)
            .bind(&a.password_hash)
            .bind(&a.role)
            .bind(i64::from(a.max_chats))
            .bind(&languages)
            .bind(at)
            .execute(p)
            .await?;
        });
        Ok(Agent {
            id: a.id.clone(),
            email,
            name: a.name.clone(),
            password_hash: a.password_hash.clone(),
            role: a.role.clone(),
            max_chats: a.max_chats,
            languages: a.languages.clone(),
            created_at: at,
        })
    }

    pub async fn agents(&self) -> Result<Vec<Agent>, StoreDbError> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents a ORDER BY a.name, a.id");
        let rows = with_pool!(self, p => {
            sqlx::query_as::<_, AgentDbRow>(&sql).fetch_all(p).await?
        });
        rows.into_iter().map(Agent::try_from).collect()
    }

    pub async fn agent(&self, id: &str) -> Result<Option<Agent>, StoreDbError> {
        if id.contains('\0') {
            return Ok(None);
        }
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents a WHERE a.id = $1");
        let row = with_pool!(self, p => {
            sqlx::query_as::<_, AgentDbRow>(&sql).bind(id).fetch_optional(p).await?
        });
        row.map(Agent::try_from).transpose()
    }

    /// The agent with this email (compared case-insensitively).
    pub async fn agent_by_email(&self, email: &str) -> Result<Option<Agent>, StoreDbError> {
        if email.contains('\0') {
            return Ok(None);
        }
        let email = email.trim().to_lowercase();
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents a WHERE a.email = $1");
        let row = with_pool!(self, p => {
            sqlx::query_as::<_, AgentDbRow>(&sql).bind(&email).fetch_optional(p).await?
        });
        row.map(Agent::try_from).transpose()
    }

    /// Removes an agent (by id or email) and their sessions; false when none.
    pub async fn remove_agent(&self, id_or_email: &str) -> Result<bool, StoreDbError> {
        if id_or_email.contains('\0') {
            return Ok(false);
        }
        let key = id_or_email.trim().to_lowercase();
        let n = with_pool!(self, p => {
            sqlx::query("DELETE FROM agents WHERE id = $1 OR email = $2")
                .bind(id_or_email.trim())
                .bind(&key)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Replaces an agent's password hash and signs them out everywhere.
    pub async fn set_agent_password(&self, id: &str, hash: &str) -> Result<bool, StoreDbError> {
        check("password hash", hash)?;
        let n = with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query("UPDATE agents SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM agent_sessions WHERE agent_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            n
        });
        Ok(n > 0)
    }

    // ---- agent sessions -----------------------------------------------

    pub async fn create_agent_session(
        &self,
        token_hash: &str,
        agent_id: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreDbError> {
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO agent_sessions (token_hash, agent_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(agent_id)
            .bind(micros(now))
            .bind(micros(expires_at))
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// The agent signed in with this session, if it exists and has not expired.
    pub async fn agent_for_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Agent>, StoreDbError> {
        if token_hash.contains('\0') {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {AGENT_COLUMNS} FROM agent_sessions s JOIN agents a ON a.id = s.agent_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2"
        );
        let row = with_pool!(self, p => {
            sqlx::query_as::<_, AgentDbRow>(&sql)
                .bind(token_hash)
                .bind(micros(now))
                .fetch_optional(p)
                .await?
        });
        row.map(Agent::try_from).transpose()
    }

    pub async fn delete_agent_session(&self, token_hash: &str) -> Result<(), StoreDbError> {
        with_pool!(self, p => {
            sqlx::query("DELETE FROM agent_sessions WHERE token_hash = $1 OR expires_at < $2")
                .bind(token_hash)
                .bind(micros(Utc::now()))
                .execute(p)
                .await?;
        });
        Ok(())
    }

    // ---- canned replies -----------------------------------------------

    pub async fn canned_replies(&self) -> Result<Vec<CannedReply>, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query_as::<_, CannedReply>(
                "SELECT id, shortcut, title, text FROM canned_replies ORDER BY shortcut",
            )
            .fetch_all(p)
            .await?
        }))
    }

    /// Adds a canned reply; [`StoreDbError::Duplicate`] when the shortcut exists.
    pub async fn add_canned_reply(
        &self,
        shortcut: &str,
        title: &str,
        text: &str,
    ) -> Result<CannedReply, StoreDbError> {
        check("shortcut", shortcut)?;
        check("title", title)?;
        check("text", text)?;
        let taken = self
            .canned_replies()
            .await?
            .iter()
            .any(|c| c.shortcut == shortcut);
        if taken {
            return Err(StoreDbError::Duplicate(
                "a canned reply with this shortcut exists",
            ));
        }
        Ok(with_pool!(self, p => {
            sqlx::query_as::<_, CannedReply>(
                "INSERT INTO canned_replies (shortcut, title, text) VALUES ($1, $2, $3) \
                 RETURNING id, shortcut, title, text",
            )
            .bind(shortcut)
            .bind(title)
            .bind(text)
            .fetch_one(p)
            .await?
        }))
    }

    pub async fn delete_canned_reply(&self, id: i64) -> Result<bool, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query("DELETE FROM canned_replies WHERE id = $1")
                .bind(id)
                .execute(p)
                .await?
                .rows_affected()
        }) > 0)
    }

    // ---- hand-offs ----------------------------------------------------

    /// Records a hand-off in the queue; returns it (with its id).
    pub async fn create_handoff(&self, h: &NewHandoff) -> Result<Handoff, StoreDbError> {
        check("conversation id", &h.conversation_id)?;
        check("reason", &h.reason)?;
        check("message", h.last_text.as_deref().unwrap_or_default())?;
        check("email", h.contact_email.as_deref().unwrap_or_default())?;
        check("case", h.case_ref.as_deref().unwrap_or_default())?;
        let sql = format!(
            "INSERT INTO handoffs (conversation_id, status, reason, priority, locale, intent, \
             sentiments, order_number, contact_email, offline, requested_at, tags, last_role, \
             last_text, last_at, contact_email_hash, case_ref) \
             VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7, $8, $9, $10, '[]', $11, $12, $13, $14, $15) \
             RETURNING {HANDOFF_COLUMNS}"
        );
        let sentiments = serde_json::to_string(&h.sentiments)?;
        let k = self.crypt();
        let contact = k.seal_opt("handoffs.contact_email", h.contact_email.as_deref())?;
        let contact_hash = k.email_hash_opt(h.contact_email.as_deref());
        let last_text = k.seal_opt("handoffs.last_text", h.last_text.as_deref())?;
        let row = with_pool!(self, p => {
            sqlx::query_as::<_, HandoffDbRow>(&sql)
                .bind(&h.conversation_id)
                .bind(&h.reason)
                .bind(h.priority)
                .bind(&h.locale)
                .bind(&h.intent)
                .bind(&sentiments)
                .bind(&h.order_number)
                .bind(&contact)
                .bind(h.offline)
                .bind(micros(h.requested_at))
                .bind(&h.last_role)
                .bind(&last_text)
                .bind(h.last_at.map(micros))
                .bind(&contact_hash)
                .bind(&h.case_ref)
                .fetch_one(p)
                .await?
        });
        self.handoff_row(row)
    }

    pub async fn handoff(&self, id: i64) -> Result<Option<Handoff>, StoreDbError> {
        let sql = format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE id = $1");
        let row = with_pool!(self, p => {
            sqlx::query_as::<_, HandoffDbRow>(&sql).bind(id).fetch_optional(p).await?
        });
        row.map(|r| self.handoff_row(r)).transpose()
    }

    /// The conversation's open hand-off (queued or assigned), if any.
    pub async fn open_handoff(
        &self,
        conversation_id: &str,
    ) -> Result<Option<Handoff>, StoreDbError> {
        Ok(self
            .handoffs_of(conversation_id)
            .await?
            .into_iter()
            .rev()
            .find(Handoff::is_open))
    }

    /// Every hand-off of a conversation, oldest first.
    pub async fn handoffs_of(&self, conversation_id: &str) -> Result<Vec<Handoff>, StoreDbError> {
        if conversation_id.contains('\0') {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE conversation_id = $1 ORDER BY id"
        );
        self.handoffs(with_pool!(self, p => {
            sqlx::query_as::<_, HandoffDbRow>(&sql).bind(conversation_id).fetch_all(p).await?
        }))
    }

    /// Every open hand-off (queued or assigned), oldest first.
    pub async fn open_handoffs(&self) -> Result<Vec<Handoff>, StoreDbError> {
        let sql = format!(
            "SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE status IN ('queued', 'assigned') ORDER BY id"
        );
        self.handoffs(with_pool!(self, p => {
            sqlx::query_as::<_, HandoffDbRow>(&sql).fetch_all(p).await?
        }))
    }

    /// Hand-offs requested at or after `since`, oldest first.
    pub async fn handoffs_since(&self, since: DateTime<Utc>) -> Result<Vec<Handoff>, StoreDbError> {
        let sql =
            format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE requested_at >= $1 ORDER BY id");
        self.handoffs(with_pool!(self, p => {
            sqlx::query_as::<_, HandoffDbRow>(&sql).bind(micros(since)).fetch_all(p).await?
        }))
    }

    /// Seconds from request to assignment of the last `n` assigned hand-offs.
    pub async fn recent_waits(&self, n: i64) -> Result<Vec<i64>, StoreDbError> {
        let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> = with_pool!(self, p => {
            sqlx::query_as(
                "SELECT requested_at, assigned_at FROM handoffs WHERE assigned_at IS NOT NULL \
                 ORDER BY id DESC LIMIT $1",
            )
            .bind(n)
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(r, a)| (a - r).num_seconds().max(0))
            .collect())
    }

    /// Gives a hand-off to an agent if it is still `from_status` (and, for
    /// a transfer, still `from_agent`'s). False when someone got there first.
    pub async fn assign_handoff(
        &self,
        id: i64,
        agent_id: &str,
        from_agent: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreDbError> {
        let n = with_pool!(self, p => {
            match from_agent {
                None => sqlx::query(
                    "UPDATE handoffs SET status = 'assigned', agent_id = $1, assigned_at = $2, \
                     offline = FALSE WHERE id = $3 AND status = 'queued'",
                )
                .bind(agent_id)
                .bind(micros(at))
                .bind(id)
                .execute(p)
                .await?
                .rows_affected(),
                Some(from) => sqlx::query(
                    "UPDATE handoffs SET agent_id = $1 \
                     WHERE id = $2 AND status = 'assigned' AND agent_id = $3",
                )
                .bind(agent_id)
                .bind(id)
                .bind(from)
                .execute(p)
                .await?
                .rows_affected(),
            }
        });
        Ok(n > 0)
    }

    /// Closes a hand-off (`resolved` or `released`) if it is still open.
    pub async fn close_handoff(
        &self,
        id: i64,
        status: &str,
        at: DateTime<Utc>,
        outcome: Option<&str>,
        tags: &[String],
    ) -> Result<bool, StoreDbError> {
        check("outcome", outcome.unwrap_or_default())?;
        for t in tags {
            check("tag", t)?;
        }
        let tags = serde_json::to_string(tags)?;
        let n = with_pool!(self, p => {
            sqlx::query(
                "UPDATE handoffs SET status = $1, closed_at = $2, outcome = $3, tags = $4 \
                 WHERE id = $5 AND status IN ('queued', 'assigned')",
            )
            .bind(status)
            .bind(micros(at))
            .bind(outcome)
            .bind(&tags)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n > 0)
    }

    /// Records the latest message of a hand-off's conversation (and the
    /// sentiment trend); `agent_reply` also sets the first response time.
    pub async fn handoff_activity(
        &self,
        id: i64,
        role: &str,
        text: &str,
        at: DateTime<Utc>,
        sentiments: Option<&[f32]>,
    ) -> Result<(), StoreDbError> {
        check("message", text)?;
        let at = micros(at);
        let sentiments = sentiments.map(serde_json::to_string).transpose()?;
        let text = self.crypt().seal("handoffs.last_text", text)?;
        with_pool!(self, p => {
            sqlx::query(
                "UPDATE handoffs SET last_role = $1, last_text = $2, last_at = $3, \
                 sentiments = COALESCE($4, sentiments), \
                 first_response_at = CASE WHEN $1 = 'agent' AND first_response_at IS NULL \
                     THEN $3 ELSE first_response_at END \
                 WHERE id = $5",
            )
            .bind(role)
            .bind(&text)
            .bind(at)
            .bind(sentiments)
            .bind(id)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// The email a shopper left for an offline case.
    pub async fn set_handoff_contact(&self, id: i64, email: &str) -> Result<(), StoreDbError> {
        check("email", email)?;
        let hash = self.crypt().email_hash(email);
        let email = self.crypt().seal("handoffs.contact_email", email)?;
        with_pool!(self, p => {
            sqlx::query("UPDATE handoffs SET contact_email = $1, contact_email_hash = $2 WHERE id = $3")
                .bind(&email)
                .bind(&hash)
                .bind(id)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Whether a queued case waits for an email follow-up (nobody online)
    /// or for a person in the chat: what the shopper was last told.
    pub async fn set_handoff_offline(&self, id: i64, offline: bool) -> Result<(), StoreDbError> {
        with_pool!(self, p => {
            sqlx::query("UPDATE handoffs SET offline = $1 WHERE id = $2 AND status = 'queued'")
                .bind(offline)
                .bind(id)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Open conversations per agent.
    pub async fn active_chats(&self) -> Result<Vec<(String, i64)>, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT agent_id, COUNT(*) FROM handoffs \
                 WHERE status = 'assigned' AND agent_id IS NOT NULL GROUP BY agent_id",
            )
            .fetch_all(p)
            .await?
        }))
    }

    // ---- ratings and resolution ---------------------------------------

    /// Stores a shopper's rating; false when the conversation was rated before
    /// (the first rating stays).
    pub async fn add_csat(
        &self,
        conversation_id: &str,
        score: u8,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreDbError> {
        check("comment", comment.unwrap_or_default())?;
        let comment = self.crypt().seal_opt("csat.comment", comment)?;
        let n = with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO csat (conversation_id, score, comment, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id) DO NOTHING",
            )
            .bind(conversation_id)
            .bind(i64::from(score))
            .bind(&comment)
            .bind(micros(at))
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n > 0)
    }

    pub async fn csat(&self, conversation_id: &str) -> Result<Option<Csat>, StoreDbError> {
        if conversation_id.contains('\0') {
            return Ok(None);
        }
        let row = with_pool!(self, p => {
            sqlx::query_as::<_, Csat>(
                "SELECT conversation_id, score, comment, created_at FROM csat WHERE conversation_id = $1",
            )
            .bind(conversation_id)
            .fetch_optional(p)
            .await?
        });
        row.map(|c| self.csat_row(c)).transpose()
    }

    /// Ratings of conversations created at or after `since`.
    pub async fn csat_since(&self, since: DateTime<Utc>) -> Result<Vec<Csat>, StoreDbError> {
        let rows = with_pool!(self, p => {
            sqlx::query_as::<_, Csat>(
                "SELECT s.conversation_id, s.score, s.comment, s.created_at FROM csat s \
                 JOIN conversations c ON c.id = s.conversation_id WHERE c.created_at >= $1 \
                 ORDER BY s.created_at",
            )
            .bind(micros(since))
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(|c| self.csat_row(c)).collect()
    }

    /// Ids and creation times of conversations created at or after `since`.
    pub async fn conversations_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query_as::<_, (String, DateTime<Utc>)>(
                "SELECT id, created_at FROM conversations WHERE created_at >= $1 ORDER BY created_at",
            )
            .bind(micros(since))
            .fetch_all(p)
            .await?
        }))
    }
}
