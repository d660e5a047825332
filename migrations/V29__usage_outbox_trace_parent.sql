-- The W3C traceparent of the request that produced the event, when tracing is on and sampled it (null
-- otherwise): the relay sends it as a Kafka header, so the spans that relay and settle the event link back
-- to the request's trace.
alter table usage_outbox add column trace_parent text;
