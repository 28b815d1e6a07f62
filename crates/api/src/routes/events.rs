//! Live updates as Server-Sent Events: a `model` event for every new model version, a `view`
//! event for every new batch view version.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Serialize;

use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;
use crate::versions::Snapshot;

/// The data of a `model` event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelEvent {
    pub model: String,
    pub version: u64,
}

/// The data of a `view` event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ViewEvent {
    pub view: String,
    pub version: u64,
}

/// Server-Sent Events: first the current versions, then each new one as it is published
/// (`event: model`, data `{"model", "version"}`; `event: view`, data `{"view", "version"}`);
/// a comment every 15 s keeps idle connections open.
#[utoipa::path(get, path = "/api/v1/events", tag = "live", responses(
    (status = 200, description = "an event stream", content_type = "text/event-stream"),
))]
pub async fn events(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let model = state.config.model.clone();
    let mut versions = state.versions.watch();
    let first = versions.borrow_and_update().clone();
    let stream = futures::stream::unfold(
        (versions, Snapshot::default(), Some(first), model),
        |(mut versions, seen, next, model)| async move {
            let now = match next {
                Some(now) => now,
                None => {
                    versions.changed().await.ok()?;
                    versions.borrow_and_update().clone()
                }
            };
            let events = differences(&seen, &now, &model);
            Some((futures::stream::iter(events.into_iter().map(Ok)), (versions, (*now).clone(), None, model)))
        },
    );
    use futures::StreamExt;
    Ok(Sse::new(stream.flatten()).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The events that take `seen` to `now`.
fn differences(seen: &Snapshot, now: &Snapshot, model: &str) -> Vec<Event> {
    let mut events = Vec::new();
    if now.model > seen.model
        && let Some(version) = now.model
    {
        let data = ModelEvent { model: model.to_string(), version };
        events.extend(Event::default().event("model").json_data(&data).ok());
    }
    for (view, version) in &now.views {
        if seen.views.get(view) < Some(version) {
            let data = ViewEvent { view: view.clone(), version: *version };
            events.extend(Event::default().event("view").json_data(&data).ok());
        }
    }
    events
}
