//! Topic administration. PLACEHOLDER being replaced in this change.

use kafka_protocol::messages::*;

use crate::server::dispatch::RequestContext;

pub(crate) async fn create_topics(_ctx: &RequestContext, _r: CreateTopicsRequest) -> CreateTopicsResponse { CreateTopicsResponse::default() }
pub(crate) async fn delete_topics(_ctx: &RequestContext, _r: DeleteTopicsRequest) -> DeleteTopicsResponse { DeleteTopicsResponse::default() }
pub(crate) async fn create_partitions(_ctx: &RequestContext, _r: CreatePartitionsRequest) -> CreatePartitionsResponse { CreatePartitionsResponse::default() }
pub(crate) fn describe_configs(_ctx: &RequestContext, _r: DescribeConfigsRequest) -> DescribeConfigsResponse { DescribeConfigsResponse::default() }
pub(crate) async fn incremental_alter_configs(_ctx: &RequestContext, _r: IncrementalAlterConfigsRequest) -> IncrementalAlterConfigsResponse { IncrementalAlterConfigsResponse::default() }
pub(crate) async fn delete_records(_ctx: &RequestContext, _r: DeleteRecordsRequest) -> DeleteRecordsResponse { DeleteRecordsResponse::default() }
