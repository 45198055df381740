//! Email over SMTP (lettre), and the wording of each template.

use fitsync_events::{EmailRequested, EmailTemplate};
use fitsync_platform::config::SmtpSettings;
use lettre::{
    message::{header::ContentType, Mailbox, MultiPart},
    transport::smtp::authentication::Credentials,
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use secrecy::ExposeSecret;

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
}

/// Why a send failed: worth retrying later, or never.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("transient: {0}")]
    Transient(String),
    #[error("permanent: {0}")]
    Permanent(String),
}

impl Mailer {
    pub fn new(settings: &SmtpSettings, public_url: &str) -> anyhow::Result<Self> {
        let mut builder = match settings.tls.as_str() {
            "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host),
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)?,
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)?,
            other => anyhow::bail!("smtp.tls must be none, starttls or tls, not {other:?}"),
        }
        .port(settings.port)
        .timeout(Some(std::time::Duration::from_secs(10)));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from: settings.from.parse()?,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The subject and text of `request`'s email, its link carrying `token`.
    pub fn render(&self, request: &EmailRequested, token: &str) -> (String, String) {
        let hours = ((request.expires_at - chrono::Utc::now()).num_minutes() + 59).max(60) / 60;
        match request.template {
            EmailTemplate::VerifyEmail => (
                "Confirm your FitSync email address".to_owned(),
                format!(
                    "Hello,\n\nPlease confirm this address for your FitSync account by opening this link \
                     within {hours} hours:\n\n{}/verify-email?token={}\n\nIf you did not create an account, \
                     ignore this message.\n",
                    self.public_url, token
                ),
            ),
            EmailTemplate::AccountExists => (
                "Your FitSync account".to_owned(),
                format!(
                    "Hello,\n\nSomeone tried to create a FitSync account with this address, which already \
                     has one. If it was you, sign in; if you forgot your password, open this link within \
                     {hours} hours to choose a new one:\n\n{}/reset-password?token={}\n\nIf it was not \
                     you, ignore this message.\n",
                    self.public_url, token
                ),
            ),
            EmailTemplate::PasswordReset => (
                "Reset your FitSync password".to_owned(),
                format!(
                    "Hello,\n\nSomeone asked to reset the password of your FitSync account. To choose a new \
                     one, open this link within {hours} hours:\n\n{}/reset-password?token={}\n\nIf it was not \
                     you, ignore this message: your password stays as it is.\n",
                    self.public_url, token
                ),
            ),
        }
    }

    /// Sends an alert as text and HTML under `message_id` (the delivery's, the same for
    /// every attempt).
    pub async fn send_alert(
        &self,
        to: &str,
        subject: &str,
        text: String,
        html: String,
        message_id: &str,
    ) -> Result<(), SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| SendError::Permanent(format!("bad address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(message_id.to_owned()))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        self.deliver(message).await
    }

    /// The public address links in emails start with.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    async fn deliver(&self, message: Message) -> Result<(), SendError> {
        self.transport.send(message).await.map(|_| ()).map_err(|e| {
            // A client error (e.g. an address the server cannot take: non-ASCII without
            // SMTPUTF8) fails the same way every time: retrying it would hold up every
            // email behind it.
            if e.is_permanent() || e.is_client() {
                SendError::Permanent(e.to_string())
            } else {
                SendError::Transient(e.to_string())
            }
        })
    }

    /// Sends `request`'s email under `message_id` (the same for every attempt, so that a
    /// resent message is recognisably the same message).
    pub async fn send(
        &self,
        request: &EmailRequested,
        token: &str,
        message_id: &str,
    ) -> Result<(), SendError> {
        let (subject, body) = self.render(request, token);
        let to: Mailbox = request
            .to
            .parse()
            .map_err(|e| SendError::Permanent(format!("bad address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(message_id.to_owned()))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        self.deliver(message).await
    }
}
