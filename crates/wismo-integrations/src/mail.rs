//! Email over SMTP (lettre): proactive updates to shoppers who left an
//! email, each with a one-click unsubscribe (RFC 8058 `List-Unsubscribe`
//! and `List-Unsubscribe-Post` headers, and the link in the body).
//!
//! The server is named by a URL, as lettre reads it: `smtp://host:port`
//! (STARTTLS when offered), `smtp://host:port?tls=required`,
//! `smtps://host:465` (TLS from the start), with `user:password@` for
//! authentication.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::resilience::{Breaker, Policy};
use crate::IntegrationError;

const PROVIDER: &str = "smtp";

/// Sends through one SMTP server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    breaker: Breaker,
}

/// One email to one shopper.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// The one-click unsubscribe address (an `https:` or `http:` URL).
    pub unsubscribe_url: String,
}

impl Mailer {
    /// A mailer for the server at `url`, sending as `from`
    /// (`"North Wind <help@northwind.example>"` or a bare address).
    pub fn new(url: &str, from: &str) -> Result<Mailer, IntegrationError> {
        let from: Mailbox = from.trim().parse().map_err(|e| {
            IntegrationError::Config(PROVIDER, format!("smtp_from is not an email address: {e}"))
        })?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.trim())
            .map_err(|e| {
                IntegrationError::Config(PROVIDER, format!("smtp_url is not an SMTP URL: {e}"))
            })?
            .timeout(Some(Duration::from_secs(10)))
            .build();
        let policy = Policy {
            timeout: Duration::from_secs(20),
            retries: 2,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            failure_threshold: 5,
            open_for: Duration::from_secs(60),
        };
        Ok(Mailer {
            transport,
            from,
            breaker: Breaker::new(PROVIDER, policy),
        })
    }

    /// Sends `email`; retried on connection failures and temporary (4xx)
    /// refusals, never on a permanent one (a bad recipient).
    #[tracing::instrument(name = "smtp.send", skip_all)]
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), IntegrationError> {
        let message = self.message(email)?;
        self.breaker
            .call(|| {
                let message = message.clone();
                async move {
                    self.transport
                        .send(message)
                        .await
                        .map(|_| ())
                        .map_err(smtp_error)
                }
            })
            .await
    }

    fn message(&self, email: &OutgoingEmail) -> Result<Message, IntegrationError> {
        let to: Mailbox = email
            .to
            .trim()
            .parse()
            .map_err(|_| IntegrationError::Refused {
                provider: PROVIDER,
                message: "the recipient is not an email address".into(),
            })?;
        let url = &email.unsubscribe_url;
        if !(url.starts_with("https://") || url.starts_with("http://"))
            || url.chars().any(|c| c.is_control() || c == '>' || c == ' ')
        {
            return Err(IntegrationError::Config(
                PROVIDER,
                "the unsubscribe link is not a URL (set public_url)".into(),
            ));
        }
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_string(),
            ))
            .body(email.body.clone())
            .map_err(|e| IntegrationError::Refused {
                provider: PROVIDER,
                message: format!("the email could not be built: {e}"),
            })
    }
}

fn smtp_error(e: lettre::transport::smtp::Error) -> IntegrationError {
    if e.is_permanent() {
        IntegrationError::Refused {
            provider: PROVIDER,
            message: "the mail server refused the message permanently".into(),
        }
    } else if e.is_transient() {
        IntegrationError::Status {
            provider: PROVIDER,
            status: 503,
        }
    } else {
        IntegrationError::Connect {
            provider: PROVIDER,
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_when_the_mailer_is_made() {
        assert!(matches!(
            Mailer::new("smtp://127.0.0.1:2525", "not an address"),
            Err(IntegrationError::Config(_, m)) if m.contains("smtp_from")
        ));
        assert!(matches!(
            Mailer::new("ftp://mail.example", "help@shop.example"),
            Err(IntegrationError::Config(_, m)) if m.contains("smtp_url")
        ));
        assert!(Mailer::new("smtp://127.0.0.1:2525", "Shop <help@shop.example>").is_ok());
    }

    #[test]
    fn messages_carry_one_click_unsubscribe_headers() {
        let mailer =
            Mailer::new("smtp://127.0.0.1:2525", "Shop <help@shop.example>").expect("mailer");
        let email = OutgoingEmail {
            to: "ana@example.com".into(),
            subject: "An update on your order #1001".into(),
            body: "Hello".into(),
            unsubscribe_url: "https://chat.example/v1/unsubscribe/abc".into(),
        };
        let raw =
            String::from_utf8(mailer.message(&email).expect("builds").formatted()).expect("utf-8");
        assert!(raw.contains("List-Unsubscribe: <https://chat.example/v1/unsubscribe/abc>"));
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("To: ana@example.com"));

        let bad_to = OutgoingEmail {
            to: "ana\r\nBcc: x@evil.example".into(),
            ..email.clone()
        };
        assert!(matches!(
            mailer.message(&bad_to),
            Err(IntegrationError::Refused { .. })
        ));
        let bad_url = OutgoingEmail {
            unsubscribe_url: "/v1/unsubscribe/abc".into(),
            ..email
        };
        assert!(matches!(
            mailer.message(&bad_url),
            Err(IntegrationError::Config(..))
        ));
    }
}
