-- API keys get a lifecycle: an optional label and expiry, the time of last use, rotation with a grace
-- period, and a kind that tells keys managed through the API from the admin key managed by configuration.

alter table api_keys
    add column label                 text check (label is null or length(label) between 1 and 200),
    add column expires_at            timestamptz,
    -- Written in batches by each replica (dev.tokenmarket.identity.LastUsedRecorder), never per request.
    add column last_used_at          timestamptz,
    -- 'configured': the secret is TOKENMARKET_ADMIN_KEY; 'generated': the admin key printed at the first
    -- start; 'api': created through the API. Only the first two are replaced when the configuration changes.
    add column kind                  text not null default 'api' check (kind in ('api', 'configured', 'generated')),
    -- A rotation keeps the key's id (its limits, usage and history stay with it) and gives it a new secret;
    -- the secret it replaced stays valid until previous_valid_until. Only the latest replaced secret is kept.
    add column previous_key_sha256   bytea unique check (previous_key_sha256 is null or length(previous_key_sha256) = 32),
    add column previous_valid_until  timestamptz,
    add column rotated_at            timestamptz,
    add constraint api_keys_previous_secret_has_deadline
        check ((previous_key_sha256 is null) = (previous_valid_until is null)),
    add constraint api_keys_admin_kinds_are_platform
        check (kind = 'api' or org_id = '00000000-0000-0000-0000-000000000001');

-- The admin keys made by earlier versions, recognised by the names they were given.
update api_keys set kind = 'configured'
where org_id = '00000000-0000-0000-0000-000000000001' and name = 'admin (TOKENMARKET_ADMIN_KEY)';
update api_keys set kind = 'generated'
where org_id = '00000000-0000-0000-0000-000000000001' and name = 'admin (generated)';

-- Listing an organization's keys newest first, page by page.
drop index if exists api_keys_org;
create index api_keys_org_created on api_keys (org_id, created_at desc, id desc);
