//! Who gets a Web Push, run by one worker task off the sending path: for each message
//! stored, each of the recipient's devices with a subscription and no live connection on
//! any node gets one push per sender until that device connects again (`Pusher`
//! remembers, and keeps the person's subscriptions between reads). A node hears only of
//! its own connections, so before leaving out a device it pushed already it asks the
//! store when the device was last connected — on whichever node. A subscription whose
//! device is gone, or that the push service calls gone, is removed.

use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use crate::push::sender::{Job, Refused, Subscription};
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

/// The subscriptions of `job.to`'s current devices: remembered, or read (removing those of
/// devices that are gone) — a burst for someone away costs one store read, not one per message.
async fn subscriptions(state: &AppState, job: Job) -> Result<Vec<Subscription>, StoreError> {
    if let Some(remembered) = state.push.remembered_subscriptions(job.to) {
        return Ok(remembered);
    }
    let mut subscriptions = state.stores.push.push_subscriptions(job.to).await?;
    let devices = state.stores.devices.device_ids(job.to).await?;
    for (device, _) in subscriptions.iter().filter(|(device, _)| !devices.contains(device)) {
        state.stores.push.remove_push_subscription(job.to, *device, None).await?;
    }
    subscriptions.retain(|(device, _)| devices.contains(device));
    state.push.remember_subscriptions(job.to, subscriptions.clone());
    Ok(subscriptions)
}

async fn push(state: &AppState, job: Job) -> Result<(), StoreError> {
    let subscriptions = subscriptions(state, job).await?;
    if subscriptions.is_empty() {
        return Ok(());
    }
    // A connected device shows the message itself.
    let online = state.hub.online_devices(job.to).await;
    let pusher = &state.push;
    // When each device was last connected, read once per job if needed.
    let mut seen = None;
    for (device, subscription) in subscriptions {
        if online.contains(&device) {
            continue;
        }
        if let Some(pushed_at) = pusher.pushed_at(job, device) {
            if seen.is_none() {
                seen = Some(state.stores.mailbox.last_seen(job.to).await?);
            }
            let seen_at = seen.iter().flatten().find(|(seen_device, _)| *seen_device == device).map(|(_, at)| *at);
            // Seen only in the second of the push, or before: still away since.
            if seen_at.is_none_or(|at| at <= pushed_at) {
                continue;
            }
        }
        let now = state.now();
        pusher.record_push(job, device, now);
        match pusher.post(job, device, &subscription, now).await {
            Ok(()) => {
                pusher.counts.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(Refused::Gone) => {
                pusher.counts.failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(user = %job.to, device = %device, "push subscription gone; removed");
                state.stores.push.remove_push_subscription(job.to, device, Some(subscription.endpoint)).await?;
                pusher.subscriptions_changed(job.to);
            }
            Err(Refused::Other(why)) => {
                pusher.counts.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(user = %job.to, device = %device, "push not delivered: {why}");
            }
        }
    }
    Ok(())
}
