//! [`SocialStore`] on SQLite: requests, friendships (two `friendships` rows), blocks.

use async_trait::async_trait;
use hush_shared::{DeviceId, FriendRequestId, UserId};
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, uuid_col};
use crate::store::{
    FriendRecord, FriendRequestRecord, FriendRequestView, RequestDelivery, RequestFacts, RequestRefusal, RequestRule,
    RequestSide, SendRoute, SocialStore, StoreResult,
};

const REQUEST_COLS: &str = "r.id, r.from_user, r.to_user, r.created_at";

/// `?1` blocked `?2`.
const BLOCKED: &str = "SELECT 1 FROM blocks WHERE blocker = ?1 AND blocked = ?2";

/// A request `r` withheld from its recipient: they blocked the requester.
const WITHHELD: &str = "EXISTS (SELECT 1 FROM blocks b WHERE b.blocker = r.to_user AND b.blocked = r.from_user)";

fn request_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<FriendRequestRecord> {
    Ok(FriendRequestRecord {
        id: FriendRequestId(uuid_col(row, 0)?),
        from: UserId(uuid_col(row, 1)?),
        to: UserId(uuid_col(row, 2)?),
        created_at: row.get(3)?,
    })
}

fn exists(c: &Connection, sql: &str, a: &str, b: &str) -> rusqlite::Result<bool> {
    c.prepare_cached(sql)?.query_row(params![a, b], |_| Ok(())).optional().map(|o| o.is_some())
}

const FRIEND_SELECT: &str = "SELECT mine.friend, u.display_name, mine.since
     FROM friendships mine
     JOIN friendships theirs ON theirs.owner = mine.friend AND theirs.friend = mine.owner
     JOIN users u ON u.id = mine.friend
     WHERE mine.owner = ?1";

fn friend_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<FriendRecord> {
    Ok(FriendRecord { user_id: UserId(uuid_col(row, 0)?), display_name: row.get(1)?, since: row.get(2)? })
}

/// Whether both sides of the friendship exist: one cached statement, both directions.
fn both_sides(c: &Connection, a: &str, b: &str) -> rusqlite::Result<bool> {
    let n: i64 = c
        .prepare_cached(
            "SELECT COUNT(*) FROM friendships WHERE (owner = ?1 AND friend = ?2) OR (owner = ?2 AND friend = ?1)",
        )?
        .query_row(params![a, b], |r| r.get(0))?;
    Ok(n == 2)
}

fn remove_friendship(c: &Connection, a: &str, b: &str) -> rusqlite::Result<usize> {
    c.execute(
        "DELETE FROM friendships WHERE (owner = ?1 AND friend = ?2) OR (owner = ?2 AND friend = ?1)",
        params![a, b],
    )
}

#[async_trait]
impl SocialStore for SqliteStore {
    async fn create_request(
        &self,
        request: FriendRequestRecord,
        rule: RequestRule,
    ) -> StoreResult<Result<RequestDelivery, RequestRefusal>> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let (from, to) = (request.from.to_string(), request.to.to_string());
            let pending = "SELECT 1 FROM friend_requests WHERE from_user = ?1 AND to_user = ?2";
            let facts = RequestFacts {
                recipient_exists: exists(&tx, "SELECT 1 FROM users WHERE id = ?1 AND ?2 IS NOT NULL", &to, &to)?,
                requester_blocked: exists(&tx, BLOCKED, &from, &to)?,
                blocked_by_recipient: exists(&tx, BLOCKED, &to, &from)?,
                friends: exists(&tx, "SELECT 1 FROM friendships WHERE owner = ?1 AND friend = ?2", &from, &to)?,
                sent: exists(&tx, pending, &from, &to)?,
                incoming: exists(&tx, pending, &to, &from)?,
            };
            let delivery = match rule(&facts) {
                Ok(delivery) => delivery,
                Err(refusal) => return Ok(Err(refusal)),
            };
            tx.execute(
                "INSERT INTO friend_requests (id, from_user, to_user, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![request.id.to_string(), from, to, request.created_at],
            )?;
            tx.commit()?;
            Ok(Ok(delivery))
        })
        .await
    }

    async fn list_requests(&self, user: UserId) -> StoreResult<(Vec<FriendRequestView>, Vec<FriendRequestView>)> {
        self.call(move |c| {
            let list = |sql: &str| -> rusqlite::Result<Vec<FriendRequestView>> {
                let mut stmt = c.prepare(sql)?;
                let rows = stmt.query_map([user.to_string()], |r| {
                    Ok(FriendRequestView {
                        request: request_row(r)?,
                        other_display_name: r.get(4)?,
                        other_phone: r.get(5)?,
                    })
                })?;
                rows.collect()
            };
            let incoming = list(&format!(
                "SELECT {REQUEST_COLS}, u.display_name, u.phone FROM friend_requests r JOIN users u ON u.id = r.from_user WHERE r.to_user = ?1 AND NOT {WITHHELD} ORDER BY r.created_at, r.id"
            ))?;
            let outgoing = list(&format!(
                "SELECT {REQUEST_COLS}, u.display_name, u.phone FROM friend_requests r JOIN users u ON u.id = r.to_user WHERE r.from_user = ?1 ORDER BY r.created_at, r.id"
            ))?;
            Ok((incoming, outgoing))
        })
        .await
    }

    async fn accept_request(
        &self,
        id: FriendRequestId,
        accepter: UserId,
        now: i64,
    ) -> StoreResult<Option<FriendRequestRecord>> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let request = tx
                .query_row(&format!("SELECT {REQUEST_COLS} FROM friend_requests r WHERE r.id = ?1 AND r.to_user = ?2 AND NOT {WITHHELD}"), params![id.to_string(), accepter.to_string()], request_row)
                .optional()?;
            let Some(request) = request else { return Ok(None) };
            let (from, to) = (request.from.to_string(), request.to.to_string());
            tx.execute("DELETE FROM friend_requests WHERE (from_user = ?1 AND to_user = ?2) OR (from_user = ?2 AND to_user = ?1)", params![from, to])?;
            let insert = "INSERT INTO friendships (owner, friend, since) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
            tx.execute(insert, params![from, to, now])?;
            tx.execute(insert, params![to, from, now])?;
            tx.commit()?;
            Ok(Some(request))
        })
        .await
    }

    async fn delete_request(
        &self,
        id: FriendRequestId,
        user: UserId,
        side: RequestSide,
    ) -> StoreResult<Option<FriendRequestRecord>> {
        self.call(move |c| {
            let column = match side {
                RequestSide::Recipient => "to_user",
                RequestSide::Requester => "from_user",
            };
            let tx = c.transaction()?;
            let request = tx
                .query_row(
                    &format!("SELECT {REQUEST_COLS} FROM friend_requests r WHERE r.id = ?1 AND r.{column} = ?2"),
                    params![id.to_string(), user.to_string()],
                    request_row,
                )
                .optional()?;
            if request.is_some() {
                tx.execute("DELETE FROM friend_requests WHERE id = ?1", [id.to_string()])?;
            }
            tx.commit()?;
            Ok(request)
        })
        .await
    }

    async fn list_friends(&self, user: UserId) -> StoreResult<Vec<FriendRecord>> {
        self.call(move |c| {
            let mut stmt = c.prepare(&format!("{FRIEND_SELECT} ORDER BY mine.since, mine.friend"))?;
            let rows = stmt.query_map([user.to_string()], friend_row)?;
            rows.collect()
        })
        .await
    }

    async fn friend(&self, user: UserId, friend: UserId) -> StoreResult<Option<FriendRecord>> {
        self.call(move |c| {
            c.query_row(
                &format!("{FRIEND_SELECT} AND mine.friend = ?2"),
                params![user.to_string(), friend.to_string()],
                friend_row,
            )
            .optional()
        })
        .await
    }

    async fn unfriend(&self, user: UserId, friend: UserId) -> StoreResult<bool> {
        self.call(move |c| Ok(remove_friendship(c, &user.to_string(), &friend.to_string())? > 0)).await
    }

    async fn block(&self, blocker: UserId, blocked: UserId, now: i64) -> StoreResult<bool> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let (a, b) = (blocker.to_string(), blocked.to_string());
            if !exists(&tx, "SELECT 1 FROM users WHERE id = ?1 AND ?2 IS NOT NULL", &b, &b)? {
                return Ok(false);
            }
            tx.execute("INSERT OR IGNORE INTO blocks (blocker, blocked, created_at) VALUES (?1, ?2, ?3)", params![a, b, now])?;
            remove_friendship(&tx, &a, &b)?;
            tx.execute("DELETE FROM friend_requests WHERE (from_user = ?1 AND to_user = ?2) OR (from_user = ?2 AND to_user = ?1)", params![a, b])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn unblock(&self, blocker: UserId, blocked: UserId) -> StoreResult<bool> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let pair = params![blocker.to_string(), blocked.to_string()];
            let lifted = tx.execute("DELETE FROM blocks WHERE blocker = ?1 AND blocked = ?2", pair)? > 0;
            if lifted {
                // Requests withheld during the block go with it.
                tx.execute("DELETE FROM friend_requests WHERE from_user = ?2 AND to_user = ?1", pair)?;
            }
            tx.commit()?;
            Ok(lifted)
        })
        .await
    }

    async fn friend_ids(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        self.call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT mine.friend FROM friendships mine
                 JOIN friendships theirs ON theirs.owner = mine.friend AND theirs.friend = mine.owner
                 WHERE mine.owner = ?1",
            )?;
            let rows = stmt.query_map([user.to_string()], |r| uuid_col(r, 0).map(UserId))?;
            rows.collect()
        })
        .await
    }

    async fn are_friends(&self, a: UserId, b: UserId) -> StoreResult<bool> {
        self.call(move |c| both_sides(c, &a.to_string(), &b.to_string())).await
    }

    async fn send_route(&self, from: UserId, to: UserId) -> StoreResult<Option<SendRoute>> {
        // Remembered from the last message between them, unless a route table changed since.
        if let Some(route) = self.routes.get(from, to) {
            return Ok(route);
        }
        let generation = self.routes.generation();
        // Otherwise one read transaction (one snapshot, one WAL read lock) for the
        // friendship and both device lists.
        let route = self
            .call(move |c| {
                let tx = c.transaction()?;
                let (from, to) = (from.to_string(), to.to_string());
                if !both_sides(&tx, &from, &to)? {
                    return Ok(None);
                }
                let devices = |user: &str| -> rusqlite::Result<Vec<DeviceId>> {
                    let mut stmt = tx.prepare_cached("SELECT device_id FROM devices WHERE user_id = ?1")?;
                    let rows = stmt.query_map([user], |r| uuid_col(r, 0).map(DeviceId))?;
                    rows.collect()
                };
                Ok(Some(SendRoute { recipient: devices(&to)?, sender: devices(&from)? }))
            })
            .await?;
        self.routes.put(from, to, generation, route.clone());
        Ok(route)
    }
}
