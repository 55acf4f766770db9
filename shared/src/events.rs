//! Delivering events: one table change in, the events it means out to every sink configured
//! (Amazon EventBridge, a webhook signed the Standard Webhooks way, the local console). The
//! `otp-events` function runs [`deliver`] on DynamoDB stream records; the local server runs it
//! on the memory store's changes. Nothing here is on the path Vobiz waits on.

use crate::domain::Attempt;
use crate::domain::events::{Change, Event, PhoneForm, events_of};
#[cfg(feature = "http-client")]
use crate::error::Error;
use crate::error::Result;

/// One change of the table as its stream gives it: its position (the stream's sequence
/// number), when it happened, and the number's attempt before and after (`None` when there was
/// none, or the item is not a number's: the global counters and idempotency replies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamChange {
    pub id: String,
    pub at: i64,
    pub old: Option<Attempt>,
    pub new: Option<Attempt>,
    /// A removal by the app's erasure of the number, not by the table's TTL.
    pub erased: bool,
}

impl StreamChange {
    /// The events this change means.
    pub fn events(&self, failures_per_window: u32) -> Vec<Event> {
        match (&self.old, &self.new) {
            (old, Some(new)) => events_of(Change::Written { old: old.as_ref(), new }, self.at, failures_per_window),
            (Some(old), None) if self.erased => events_of(Change::Erased { old }, self.at, failures_per_window),
            (Some(old), None) => events_of(Change::Removed { old }, self.at, failures_per_window),
            (None, None) => Vec::new(),
        }
    }
}

/// Where events go.
#[derive(Debug)]
pub enum Sink {
    /// The local server's console: each event as the app would receive it.
    Console,
    #[cfg(feature = "http-client")]
    Webhook(WebhookSink),
    #[cfg(feature = "stream")]
    EventBridge(EventBridgeSink),
}

impl Sink {
    /// Delivers `events`, all or an error (a retry may deliver some again, with the same ids).
    pub async fn deliver(&self, events: &[Event]) -> Result<()> {
        match self {
            Sink::Console => {
                for e in events {
                    let body = serde_json::to_string(e).unwrap_or_default();
                    println!("📣 event {}: {body}", e.kind.as_str());
                }
                Ok(())
            }
            #[cfg(feature = "http-client")]
            Sink::Webhook(w) => w.deliver(events).await,
            #[cfg(feature = "stream")]
            Sink::EventBridge(b) => b.deliver(events).await,
        }
    }
}

/// Delivers the events of `changes`, in order, to every sink, and gives the id of the first
/// change a sink refused (with `None`, all went out). Lambda retries the batch from that change
/// (ReportBatchItemFailures): the changes before it are done, and whatever of it or after it
/// is delivered again carries the same event ids.
pub async fn deliver(
    changes: &[StreamChange],
    sinks: &[Sink],
    failures_per_window: u32,
    phone: &PhoneForm,
) -> Option<String> {
    for change in changes {
        let events = phone.apply(change.events(failures_per_window));
        if events.is_empty() {
            continue;
        }
        for sink in sinks {
            if let Err(e) = sink.deliver(&events).await {
                tracing::warn!(error = %e, change = %change.id, events = events.len(), "events not delivered");
                return Some(change.id.clone());
            }
        }
        for e in &events {
            tracing::info!(event = e.kind.as_str(), id = %e.id, "event delivered");
        }
    }
    None
}

/// How long one webhook delivery may take before it counts as failed (and is retried).
#[cfg(feature = "http-client")]
const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A webhook to the app, signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), one POST per event, so
/// apps verify it with an existing library. Any status but 2xx (a redirect included: it is
/// never followed), or no answer in 5 s, is a failure.
#[cfg(feature = "http-client")]
pub struct WebhookSink {
    http: reqwest::Client,
    url: String,
    signer: standardwebhooks::Webhook,
}

#[cfg(feature = "http-client")]
impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(feature = "http-client")]
impl WebhookSink {
    /// `secret` is `whsec_` and the base64 of the key's bytes.
    pub fn new(url: &str, secret: &str) -> Result<WebhookSink> {
        let signer = standardwebhooks::Webhook::new(secret)
            .map_err(|_| Error::Config("EVENTS_WEBHOOK_SECRET must be whsec_ and base64".into()))?;
        let http = crate::tls::reqwest_builder()
            .timeout(WEBHOOK_TIMEOUT)
            // A redirect would re-send the signed event (full numbers in it) wherever the
            // receiver points, or turn it into a bodiless GET: it is a failed delivery.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| Error::Config("could not build the events webhook client".into()))?;
        Ok(WebhookSink {
            http,
            url: url.to_owned(),
            signer,
        })
    }

    async fn deliver(&self, events: &[Event]) -> Result<()> {
        for event in events {
            let body = serde_json::to_vec(event).map_err(|e| Error::EventDelivery(e.to_string()))?;
            let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
            let signature = self
                .signer
                .sign(&event.id, timestamp, &body)
                .map_err(|_| Error::EventDelivery("could not sign".into()))?;
            let resp = self
                .http
                .post(&self.url)
                .header("content-type", "application/json")
                .header("webhook-id", &event.id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body)
                .send()
                .await
                .map_err(|e| {
                    Error::EventDelivery(if e.is_timeout() {
                        format!("webhook did not answer within {} s", WEBHOOK_TIMEOUT.as_secs())
                    } else {
                        format!("webhook unreachable: {}", e.without_url())
                    })
                })?;
            if !resp.status().is_success() {
                return Err(Error::EventDelivery(format!(
                    "webhook answered {}",
                    resp.status().as_u16()
                )));
            }
        }
        Ok(())
    }
}

/// Amazon EventBridge: one `PutEvents` per ten events (its limit), source `otp-call`, detail
/// type the event's type, detail the event. A partial failure fails the whole batch (it is
/// redelivered whole; the ids let the app drop what it saw).
#[cfg(feature = "stream")]
pub struct EventBridgeSink {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

#[cfg(feature = "stream")]
impl std::fmt::Debug for EventBridgeSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBridgeSink").field("bus", &self.bus).finish()
    }
}

/// The `source` of every EventBridge event otp-call puts.
pub const EVENT_SOURCE: &str = "otp-call";

#[cfg(feature = "stream")]
impl EventBridgeSink {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: &str) -> EventBridgeSink {
        EventBridgeSink {
            client,
            bus: bus.to_owned(),
        }
    }

    async fn deliver(&self, events: &[Event]) -> Result<()> {
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        for chunk in events.chunks(10) {
            let entries = chunk
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .source(EVENT_SOURCE)
                        .detail_type(e.kind.as_str())
                        .detail(serde_json::to_string(e).unwrap_or_default())
                        .event_bus_name(&self.bus)
                        .resources(format!("otp-call:attempt/{}", e.attempt_id))
                        .build()
                })
                .collect::<Vec<_>>();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    Error::EventDelivery(format!(
                        "EventBridge: {}",
                        aws_sdk_eventbridge::error::DisplayErrorContext(e)
                    ))
                })?;
            if out.failed_entry_count() > 0 {
                return Err(Error::EventDelivery(format!(
                    "EventBridge refused {} of {} entries",
                    out.failed_entry_count(),
                    chunk.len()
                )));
            }
        }
        Ok(())
    }
}
