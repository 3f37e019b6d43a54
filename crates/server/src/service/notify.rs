//! Who gets a Web Push, run by one worker task off the sending path: for each message
//! stored for someone with no live connection on any node, each of their devices with a
//! subscription gets one push per sender until that person connects again (`Pusher`
//! remembers). A subscription whose device is gone, or that the push service calls gone,
//! is removed.

use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use crate::push::sender::{Job, Refused};
use crate::state::AppState;
use crate::store::StoreError;

/// Runs the push worker until the queue closes.
pub async fn run(state: AppState, mut jobs: mpsc::Receiver<Job>) {
    while let Some(job) = jobs.recv().await {
        if let Err(e) = push(&state, job).await {
            tracing::warn!(error = %e, "push failed");
        }
    }
}

async fn push(state: &AppState, job: Job) -> Result<(), StoreError> {
    // A connected device shows the message itself.
    if state.hub.presence(job.to).await.0 {
        return Ok(());
    }
    // Pushed already since they were last here (or found without subscriptions): nothing
    // to read — a burst for someone offline costs one store read, not one per message.
    let pusher = &state.push;
    if !pusher.first_push(job) {
        return Ok(());
    }
    let subscriptions = state.stores.push.push_subscriptions(job.to).await?;
    let devices = state.stores.devices.device_ids(job.to).await?;
    for (device, subscription) in subscriptions {
        if !devices.contains(&device) {
            state.stores.push.remove_push_subscription(job.to, device, None).await?;
            continue;
        }
        match pusher.post(job, device, &subscription, state.now()).await {
            Ok(()) => {
                pusher.counts.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(Refused::Gone) => {
                pusher.counts.failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(user = %job.to, device = %device, "push subscription gone; removed");
                state.stores.push.remove_push_subscription(job.to, device, Some(subscription.endpoint)).await?;
            }
            Err(Refused::Other(why)) => {
                pusher.counts.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(user = %job.to, device = %device, "push not delivered: {why}");
            }
        }
    }
    Ok(())
}
