//! Linking a new browser (`docs/CRYPTO.md` §13, `docs/PROTOCOL.md` *Linking*): the rules
//! of the relay. A browser that is not a device opens a link and shows its code; a device of
//! the same account joins it by the code with its commitment; then, strictly in turn, the
//! requester's key, the approver's key (checked against the commitment) and the sealed
//! identity. Each side reads the link to see the other's step; nobody else sees it. A
//! completed link is what lets the requester register as a further device (`devices`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_crypto::MAX_HISTORY_CHUNKS;
use hush_crypto::{PublicKey, link_commitment};
use hush_shared::api::links::{HistoryChunk, JoinLink, Link, LinkStep};
use hush_shared::limits::{
    LINK_CALLS_PER_ACCOUNT_PER_HOUR, LINK_CODE_DIGITS, LINK_JOINS_PER_ACCOUNT_PER_HOUR, LINK_TTL_SECS,
    LINKS_PER_ACCOUNT_PER_HOUR, MAX_HISTORY_CHUNK_B64, MAX_LINK_SEALED_B64,
};
use hush_shared::{ErrorCode, UserId};
use uuid::Uuid;

use crate::error::AppError;
use crate::service::devices::Caller;
use crate::service::signin::enforce;
use crate::state::AppState;
use crate::store::{LinkRecord, RateRule, SessionId};
use crate::tokens::random_digits;

fn not_found() -> AppError {
    AppError::new(ErrorCode::LinkNotFound, "no open link with this code; check it, or open a new one")
}

fn out_of_order(what: &str) -> AppError {
    AppError::new(ErrorCode::LinkOutOfOrder, format!("{what} does not come now in this link"))
}

fn limit(key: String, limit: u32) -> RateRule {
    RateRule { key, limit, window_secs: 3600 }
}

/// The link as `session` sees it (the code only for the requester).
fn view(link: &LinkRecord, session: SessionId) -> Link {
    Link {
        link_id: link.id,
        code: (link.requester == session).then(|| link.code.clone()),
        expires_at: link.expires_at,
        commitment: link.commitment.clone(),
        requester_key: link.requester_key.clone(),
        approver_key: link.approver_key.clone(),
        sealed: link.sealed.clone(),
        approver_name: link.approver.as_ref().and_then(|(_, name)| name.clone()),
        history_count: link.history_count,
        history_stored: link.history_stored,
    }
}

/// The caller's device's name, if the caller's sign-in is a device of the account.
async fn callers_device(state: &AppState, auth: &Caller) -> Result<Option<Option<String>>, AppError> {
    let set = state.stores.devices.device_set(auth.user).await?;
    Ok(set.of_session(auth.session).map(|d| d.name.clone()))
}

/// `POST /links`: a browser that is not a device opens a link (replacing any it opened).
pub async fn open(state: &AppState, auth: &Caller) -> Result<Link, AppError> {
    enforce(state, &[limit(format!("links:{}", auth.user), LINKS_PER_ACCOUNT_PER_HOUR)]).await?;
    if callers_device(state, auth).await?.is_some() {
        return Err(AppError::new(ErrorCode::Forbidden, "this browser is already a device of the account"));
    }
    let now = state.now();
    let mut code = random_digits(LINK_CODE_DIGITS as u32);
    // Codes are per account; a clash with another open link of it is rare: draw again.
    while state.stores.links.link_by_code(auth.user, &code).await?.is_some_and(|l| l.expires_at > now) {
        code = random_digits(LINK_CODE_DIGITS as u32);
    }
    let link = LinkRecord {
        id: Uuid::now_v7(),
        user: auth.user,
        requester: auth.session,
        code,
        expires_at: now + LINK_TTL_SECS,
        approver: None,
        commitment: None,
        requester_key: None,
        approver_key: None,
        sealed: None,
        history_count: None,
        history_stored: 0,
    };
    state.stores.links.create_link(&link).await?;
    Ok(view(&link, auth.session))
}

/// `POST /links/join`: a device of the account joins the link with this code.
pub async fn join(state: &AppState, auth: &Caller, req: JoinLink) -> Result<Link, AppError> {
    enforce(state, &[limit(format!("link-joins:{}", auth.user), LINK_JOINS_PER_ACCOUNT_PER_HOUR)]).await?;
    let Some(name) = callers_device(state, auth).await? else {
        return Err(AppError::new(ErrorCode::Forbidden, "only a device of the account can approve a new browser"));
    };
    let code: String = req.code.chars().filter(|c| !c.is_whitespace()).collect();
    let link = state.stores.links.link_by_code(auth.user, &code).await?;
    let link = link.filter(|l| l.expires_at > state.now() && l.approver.is_none()).ok_or_else(not_found)?;
    let next = LinkRecord { approver: Some((auth.session, name)), ..link.clone() };
    if !state.stores.links.update_link(&link, &next).await? {
        return Err(not_found());
    }
    Ok(view(&next, auth.session))
}

/// The open link `id` if `auth` is one of its two sides.
async fn own_link(state: &AppState, auth: &Caller, id: Uuid) -> Result<LinkRecord, AppError> {
    enforce(state, &[limit(format!("link-calls:{}", auth.user), LINK_CALLS_PER_ACCOUNT_PER_HOUR)]).await?;
    let link = state.stores.links.link(id).await?.filter(|l| l.user == auth.user && l.expires_at > state.now());
    let is_side =
        |l: &LinkRecord| l.requester == auth.session || l.approver.as_ref().is_some_and(|(s, _)| *s == auth.session);
    link.filter(is_side).ok_or_else(not_found)
}

/// `GET /links/{id}`.
pub async fn get(state: &AppState, auth: &Caller, id: Uuid) -> Result<Link, AppError> {
    Ok(view(&own_link(state, auth, id).await?, auth.session))
}

fn public_key(text: &str) -> Result<PublicKey, AppError> {
    PublicKey::from_wire(text)
        .map_err(|_| AppError::new(ErrorCode::InvalidPublicKey, "the key is not a P-256 point in base64url"))
}

/// The link after `step`, if `session` may take it now.
fn apply(link: &LinkRecord, session: SessionId, step: LinkStep) -> Result<LinkRecord, AppError> {
    let approver = link.approver.as_ref().is_some_and(|(s, _)| *s == session);
    let requester = link.requester == session;
    match step {
        LinkStep { commitment: Some(commitment), requester_key: None, approver_key: None, sealed: None } => {
            if !approver || link.commitment.is_some() {
                return Err(out_of_order("the commitment"));
            }
            if URL_SAFE_NO_PAD.decode(&commitment).map_or(true, |c| c.len() != 32) {
                return Err(AppError::new(ErrorCode::InvalidCommitment, "the commitment is not 32 bytes of base64url"));
            }
            Ok(LinkRecord { commitment: Some(commitment), ..link.clone() })
        }
        LinkStep { commitment: None, requester_key: Some(key), approver_key: None, sealed: None } => {
            if !requester || link.commitment.is_none() || link.requester_key.is_some() {
                return Err(out_of_order("the requester's key"));
            }
            public_key(&key)?;
            Ok(LinkRecord { requester_key: Some(key), ..link.clone() })
        }
        LinkStep { commitment: None, requester_key: None, approver_key: Some(key), sealed: None } => {
            if !approver || link.requester_key.is_none() || link.approver_key.is_some() {
                return Err(out_of_order("the approver's key"));
            }
            let committed = URL_SAFE_NO_PAD.encode(link_commitment(link.id.as_bytes(), &public_key(&key)?));
            if link.commitment.as_deref() != Some(committed.as_str()) {
                return Err(AppError::new(ErrorCode::InvalidCommitment, "this key is not the one committed to"));
            }
            Ok(LinkRecord { approver_key: Some(key), ..link.clone() })
        }
        LinkStep { commitment: None, requester_key: None, approver_key: None, sealed: Some(sealed) } => {
            if !approver || link.approver_key.is_none() || link.sealed.is_some() {
                return Err(out_of_order("the sealed identity"));
            }
            if sealed.len() > MAX_LINK_SEALED_B64 || URL_SAFE_NO_PAD.decode(&sealed).is_err() {
                return Err(AppError::new(ErrorCode::InvalidParameter, "the sealed payload is not small base64url"));
            }
            Ok(LinkRecord { sealed: Some(sealed), ..link.clone() })
        }
        _ => Err(AppError::new(ErrorCode::InvalidJson, "a link step sets exactly one field")),
    }
}

/// `PUT /links/{id}`: the next step.
pub async fn step(state: &AppState, auth: &Caller, id: Uuid, step: LinkStep) -> Result<Link, AppError> {
    let link = own_link(state, auth, id).await?;
    let next = apply(&link, auth.session, step)?;
    if !state.stores.links.update_link(&link, &next).await? {
        return Err(out_of_order("this step"));
    }
    Ok(view(&next, auth.session))
}

/// `PUT /links/{id}/history/{index}`: the approver stores chunk `index` of the recent
/// history, in order, after its key and before the sealed identity.
pub async fn put_history(
    state: &AppState,
    auth: &Caller,
    id: Uuid,
    index: u32,
    chunk: HistoryChunk,
) -> Result<Link, AppError> {
    let link = own_link(state, auth, id).await?;
    let approver = link.approver.as_ref().is_some_and(|(s, _)| *s == auth.session);
    let in_turn = approver && link.approver_key.is_some() && link.sealed.is_none() && index == link.history_stored;
    if !in_turn || link.history_count.is_some_and(|n| n != chunk.count) || index >= chunk.count {
        return Err(out_of_order("this history chunk"));
    }
    if chunk.count > MAX_HISTORY_CHUNKS {
        return Err(AppError::new(ErrorCode::InvalidParameter, format!("at most {MAX_HISTORY_CHUNKS} chunks")));
    }
    if chunk.chunk.len() > MAX_HISTORY_CHUNK_B64 || URL_SAFE_NO_PAD.decode(&chunk.chunk).is_err() {
        return Err(AppError::new(
            ErrorCode::InvalidParameter,
            "a history chunk is base64url of at most 15,000 characters",
        ));
    }
    state.stores.links.put_history_chunk(link.id, index, &chunk.chunk).await?;
    let next = LinkRecord { history_count: Some(chunk.count), history_stored: index + 1, ..link.clone() };
    if !state.stores.links.update_link(&link, &next).await? {
        return Err(out_of_order("this history chunk"));
    }
    Ok(view(&next, auth.session))
}

/// `GET /links/{id}/history/{index}`: a stored chunk, for either side.
pub async fn get_history(state: &AppState, auth: &Caller, id: Uuid, index: u32) -> Result<HistoryChunk, AppError> {
    let link = own_link(state, auth, id).await?;
    let (Some(count), true) = (link.history_count, index < link.history_stored) else { return Err(not_found()) };
    let chunk = state.stores.links.history_chunk(link.id, index).await?.ok_or_else(not_found)?;
    Ok(HistoryChunk { count, chunk })
}

/// `DELETE /links/{id}`: either side gives up.
pub async fn cancel(state: &AppState, auth: &Caller, id: Uuid) -> Result<(), AppError> {
    let link = own_link(state, auth, id).await?;
    Ok(state.stores.links.delete_link(&link).await?)
}

/// For registration: the completed link `id` that a device of `user` approved for this
/// sign-in, which registering then uses up.
pub async fn completed(state: &AppState, user: UserId, session: SessionId, id: Uuid) -> Result<LinkRecord, AppError> {
    let link = state.stores.links.link(id).await?;
    link.filter(|l| l.user == user && l.requester == session && l.sealed.is_some() && l.expires_at > state.now())
        .ok_or_else(|| AppError::new(ErrorCode::LinkRequired, "this link is not completed for this sign-in"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> LinkRecord {
        LinkRecord {
            id: Uuid::now_v7(),
            user: UserId::new(),
            requester: SessionId::new_v4(),
            code: "12345678".into(),
            expires_at: 100,
            approver: Some((SessionId::new_v4(), None)),
            commitment: None,
            requester_key: None,
            approver_key: None,
            sealed: None,
            history_count: None,
            history_stored: 0,
        }
    }

    fn code(result: Result<LinkRecord, AppError>) -> ErrorCode {
        result.err().map(|e| e.code).unwrap_or(ErrorCode::Internal)
    }

    #[test]
    fn steps_come_in_turn_from_the_right_side() {
        let mut link = link();
        let approver = link.approver.as_ref().unwrap().0;
        let key = || hush_crypto::KeyPair::generate();
        let ea = key();
        let step = |r: Option<String>, a: Option<String>, s: Option<String>| LinkStep {
            commitment: None,
            requester_key: r,
            approver_key: a,
            sealed: s,
        };
        let eb = key().public().to_wire();
        assert_eq!(code(apply(&link, link.requester, step(Some(eb.clone()), None, None))), ErrorCode::LinkOutOfOrder);
        let commitment = URL_SAFE_NO_PAD.encode(link_commitment(link.id.as_bytes(), ea.public()));
        let commit =
            LinkStep { commitment: Some(commitment.clone()), requester_key: None, approver_key: None, sealed: None };
        assert_eq!(code(apply(&link, link.requester, commit.clone())), ErrorCode::LinkOutOfOrder, "the approver's");
        link = apply(&link, approver, commit.clone()).unwrap();
        assert_eq!(code(apply(&link, approver, commit)), ErrorCode::LinkOutOfOrder, "once");
        assert_eq!(code(apply(&link, approver, step(Some(eb.clone()), None, None))), ErrorCode::LinkOutOfOrder);
        let link = apply(&link, link.requester, step(Some(eb), None, None)).unwrap();
        let other = key().public().to_wire();
        assert_eq!(code(apply(&link, approver, step(None, Some(other), None))), ErrorCode::InvalidCommitment);
        assert_eq!(
            code(apply(&link, link.requester, step(None, Some(ea.public().to_wire()), None))),
            ErrorCode::LinkOutOfOrder
        );
        let link = apply(&link, approver, step(None, Some(ea.public().to_wire()), None)).unwrap();
        assert_eq!(
            code(apply(&link, link.requester, step(None, None, Some("AAAA".into())))),
            ErrorCode::LinkOutOfOrder
        );
        let done = apply(&link, approver, step(None, None, Some("AAAA".into()))).unwrap();
        assert_eq!(code(apply(&done, approver, step(None, None, Some("AAAA".into())))), ErrorCode::LinkOutOfOrder);
        assert_eq!(code(apply(&done, approver, step(None, None, None))), ErrorCode::InvalidJson);
    }
}
