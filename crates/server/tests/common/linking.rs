//! Linking a new browser in tests: the whole exchange of `docs/CRYPTO.md` §13 through the
//! real server, with the client crate's two sides, the codes compared as a person would.

use hush_client::linking::{Approver, Progress, Requester};
use hush_client::native::NativeHttp;
use hush_crypto::IdentityKeyPair;

/// Links the browser signed in with `requester_token` from the device signed in with
/// `approver_token` (which holds `identity` and sends `history`, chunks of records). The new
/// browser's `store` then holds the identity (not yet registered) and the history; returns
/// the completed link's id.
pub async fn link(
    base: &str,
    (approver_token, identity, history): (&str, &IdentityKeyPair, &[Vec<u8>]),
    (requester_token, requester): (&str, hush_shared::UserId),
    store: &hush_client::MemoryStore,
) -> uuid::Uuid {
    let (new_browser, device) = (NativeHttp::new(base, requester_token), NativeHttp::new(base, approver_token));
    let mut asking = Requester::open(&new_browser).await.expect("open a link");
    let mut approving = Approver::join(&device, asking.code()).await.expect("join by the code");
    assert_eq!(asking.poll(&new_browser, store, requester).await.unwrap(), Progress::Waiting, "the key is sent");
    let shown_on_device = match approving.poll(&device).await.unwrap() {
        Progress::Compare(code) => code,
        other => panic!("the device should show the code now, not {other:?}"),
    };
    let shown_on_browser = match asking.poll(&new_browser, store, requester).await.unwrap() {
        Progress::Compare(code) => code,
        other => panic!("the new browser should show the code now, not {other:?}"),
    };
    assert_eq!(shown_on_device, shown_on_browser, "both screens show the same code");
    let mut reported = Vec::new();
    approving.confirm(&device, identity, history, |done, total| reported.push((done, total))).await.expect("send");
    assert_eq!(reported.len(), history.len(), "progress after each chunk");
    loop {
        match asking.poll(&new_browser, store, requester).await.unwrap() {
            Progress::Done => return asking.id(),
            Progress::Receiving { done, total } => assert!(done < total && total == history.len() as u32),
            other => panic!("the new browser should be receiving or done, not {other:?}"),
        }
    }
}
