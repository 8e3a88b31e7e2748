//! InitProducerId for idempotent producers: a fresh producer id, unique across restarts, with
//! epoch 0. Transactional ids are refused: Eddy does not implement transactions.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::error_code;
use crate::server::dispatch::RequestContext;

pub(crate) async fn handle(
    ctx: &RequestContext,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let refused = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if request.transactional_id.is_some() {
        return refused.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    match ctx.state.broker.allocate_producer_id().await {
        Ok(id) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => {
            tracing::error!(error = %e, "cannot allocate a producer id");
            refused.with_error_code(error_code(&e))
        }
    }
}
