//! Linking in the web app's actor (`hush_client::linking` does the protocol): which side
//! this browser plays in a link, and what the screens show ([`LinkView`]). The actor polls
//! an open link once a second (on its tick).

use hush_client::linking::{Approver, LinkError, Progress, Requester, recent_history};
use hush_crypto::IdentityKeyPair;
use hush_shared::UserId;
use leptos::prelude::{RwSignal, Set};

use crate::idb::IdbStore;
use crate::web_http::WebHttp;

/// What the link screens show.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LinkView {
    /// No link.
    #[default]
    Idle,
    /// Working (opening, joining, sending).
    Busy,
    /// The new browser shows this code (8 digits) and waits for a device to type it.
    Showing(String),
    /// Both sides show this 6-digit code; the person compares them.
    Compare(String),
    /// The device is sending the recent history: chunks sent, of all.
    Sending(u32, u32),
    /// The new browser is receiving the recent history: chunks received, of all.
    Receiving(u32, u32),
    /// The device sent the identity; the new browser finishes on its own.
    Sent,
    /// The link stopped, and why.
    Failed(String),
}

/// This browser's side of the open link.
pub enum LinkSide {
    /// A new browser asking for the identity.
    Requester(Requester),
    /// A device approving a new browser.
    Approver(Approver),
}

/// Groups a code in fours or threes for reading ("1234 5678", "123 456").
pub fn grouped(code: &str) -> String {
    let size = if code.len() == 8 { 4 } else { 3 };
    code.as_bytes().chunks(size).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

fn failed(e: &LinkError) -> LinkView {
    LinkView::Failed(match e {
        LinkError::Api(body) if body.code == hush_shared::ErrorCode::LinkNotFound => {
            "The link expired or was cancelled. Start again.".to_owned()
        }
        other => other.to_string(),
    })
}

/// Opens a link as the new browser.
pub async fn request(http: &WebHttp) -> (Option<LinkSide>, LinkView) {
    match Requester::open(http).await {
        Ok(requester) => {
            let view = LinkView::Showing(requester.code().to_owned());
            (Some(LinkSide::Requester(requester)), view)
        }
        Err(e) => (None, failed(&e)),
    }
}

/// Joins the link shown with `code` as a device of the account.
pub async fn join(http: &WebHttp, code: &str) -> (Option<LinkSide>, LinkView) {
    match Approver::join(http, code).await {
        Ok(approver) => (Some(LinkSide::Approver(approver)), LinkView::Busy),
        Err(e) => (None, failed(&e)),
    }
}

/// One poll of the open link. `done` is true when the new browser now holds the identity
/// (the actor then registers it as a device).
pub async fn poll(side: &mut LinkSide, http: &WebHttp, store: &IdbStore, me: UserId) -> (LinkView, bool) {
    match side {
        LinkSide::Requester(requester) => match requester.poll(http, store, me).await {
            Ok(Progress::Waiting) => (LinkView::Showing(requester.code().to_owned()), false),
            Ok(Progress::Compare(code)) => (LinkView::Compare(code), false),
            Ok(Progress::Receiving { done, total }) => (LinkView::Receiving(done, total), false),
            Ok(Progress::Done) => (LinkView::Busy, true),
            Err(e) => (failed(&e), false),
        },
        LinkSide::Approver(approver) => match approver.poll(http).await {
            Ok(Progress::Waiting) => (LinkView::Busy, false),
            Ok(Progress::Compare(code)) => (LinkView::Compare(code), false),
            Ok(Progress::Receiving { .. }) | Ok(Progress::Done) => (LinkView::Sent, false),
            Err(e) => (failed(&e), false),
        },
    }
}

/// The person confirmed on the device that both codes match: send the recent history
/// (when `with_history`; progress shown in `view`), then the identity.
pub async fn confirm(
    side: &mut LinkSide,
    (http, store): (&WebHttp, &IdbStore),
    identity: &IdentityKeyPair,
    with_history: bool,
    view: RwSignal<LinkView>,
) -> LinkView {
    let LinkSide::Approver(approver) = side else {
        return LinkView::Failed("only the device that approves confirms".into());
    };
    let history = if with_history {
        match recent_history(store, http, js_sys::Date::now() as i64).await {
            Ok(history) => history,
            Err(e) => return failed(&e),
        }
    } else {
        Vec::new()
    };
    view.set(LinkView::Sending(0, history.len() as u32));
    match approver.confirm(http, identity, &history, |done, total| view.set(LinkView::Sending(done, total))).await {
        Ok(()) => LinkView::Sent,
        Err(e) => failed(&e),
    }
}

/// Gives the link up on the server.
pub async fn cancel(side: &LinkSide, http: &WebHttp) {
    let _ = match side {
        LinkSide::Requester(requester) => requester.cancel(http).await,
        LinkSide::Approver(approver) => approver.cancel(http).await,
    };
}
