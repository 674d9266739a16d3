//! What a stream may ship. A replication acts with the authority of the token that created
//! it (or last sent it to another remote): `write:replications` alone lets a token manage
//! streams, not ship a bucket it cannot read. The check runs at every stream start (node
//! start, create, update, resume) and again when a token is changed or deleted, so a
//! revoked or narrowed token stops its streams with the reason in their status.

use ferry_catalog::{Action, Replication};

use super::error::StreamError;
use crate::node::Node;

/// `Ok` when the replication's token (if it carries one) exists, is active and may read the
/// local bucket; else the reason, for the stream's status.
pub(crate) fn check(node: &Node, rep: &Replication) -> Result<(), StreamError> {
    let Some(id) = &rep.authorization_id else {
        return Ok(()); // made before replications carried a token, or on a node without auth
    };
    let fix =
        "recreate the replication (or change its remote) with a token that may read the bucket";
    let a = node.acting_token(id).map_err(|why| {
        StreamError::Authority(format!(
            "the token this replication acts with ({id}) {}{fix}",
            why.describe()
        ))
    })?;
    if !a.allows(
        Action::Read,
        "buckets",
        &rep.org_id,
        Some(&rep.local_bucket_id),
    ) {
        return Err(StreamError::Authority(format!(
            "the token this replication acts with ({id}) may no longer read the local bucket: {fix}"
        )));
    }
    Ok(())
}
