-- The outbox keeps each usage event as the text the encoder wrote, and the relay sends exactly that text.
-- As jsonb, PostgreSQL stored its own parsed form and gave back a respelling (keys reordered, spaces
-- added), so the event on the topic was never in the encoder's form and the ledger's fast reader, which
-- reads only that form and digests the bytes as they came, never saw a real one. Nothing reads the payload
-- in SQL; the check keeps the guarantee jsonb gave, that only a JSON object is ever relayed.
alter table usage_outbox
    alter column payload type text using payload::text,
    add constraint usage_outbox_payload_is_json_object check (payload is json object);
