-- The optional request parameters an OpenAI-compatible upstream accepts (its endpoint's
-- "supported_parameters"); null means OpenAI's own set. The gateway sends an upstream only these, and a
-- buyer routing with provider.require_parameters is matched only to endpoints that take all of theirs.
-- The reference engine takes every parameter, so its endpoints never store a list.
alter table endpoints add column backend_parameters text[];
alter table endpoints add constraint endpoints_backend_parameters_known check (backend_parameters <@ array[
    'temperature', 'top_p', 'top_k', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'logprobs',
    'top_logprobs', 'n', 'user']::text[]);
alter table endpoints add constraint endpoints_backend_parameters_upstream_only
    check (backend_type = 'openai' or backend_parameters is null);
