-- Each forward trade's fees (moved in the matching transaction, with the journal record) and when Kafka
-- acknowledged its event on tokenmarket.forwards.trades.v1 (null until then: the publisher retries).
alter table forward_trades
    add column buyer_fee_nano_usd  bigint not null default 0 check (buyer_fee_nano_usd >= 0),
    add column seller_fee_nano_usd bigint not null default 0 check (seller_fee_nano_usd >= 0),
    add column published_at        timestamptz;
create index forward_trades_unpublished on forward_trades (id) where published_at is null;
