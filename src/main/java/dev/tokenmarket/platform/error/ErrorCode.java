package dev.tokenmarket.platform.error;

/**
 * Expected business failures, each with its HTTP status, a stable code clients can branch on, and the
 * OpenAI error type the official SDKs expect on {@code /v1}. One mapper turns these into HTTP answers.
 */
public enum ErrorCode {
    INVALID_REQUEST(400, "invalid_request", "invalid_request_error"),
    MALFORMED_JSON(400, "malformed_json", "invalid_request_error"),
    CONTEXT_LENGTH_EXCEEDED(400, "context_length_exceeded", "invalid_request_error"),
    UNAUTHENTICATED(401, "invalid_api_key", "authentication_error"),
    INSUFFICIENT_BALANCE(402, "insufficient_balance", "insufficient_quota"),
    SPEND_LIMIT_REACHED(402, "spend_limit_reached", "insufficient_quota"),
    FORBIDDEN(403, "forbidden", "permission_error"),
    NOT_FOUND(404, "not_found", "not_found_error"),
    MODEL_NOT_FOUND(404, "model_not_found", "invalid_request_error"),
    IDEMPOTENCY_CONFLICT(409, "idempotency_conflict", "invalid_request_error"),
    ALREADY_REVERSED(409, "already_reversed", "invalid_request_error"),
    NOT_REVERSIBLE(409, "not_reversible", "invalid_request_error"),
    CREDIT_LIMIT_IN_USE(409, "credit_limit_in_use", "invalid_request_error"),
    HOLD_NOT_OPEN(409, "hold_not_open", "invalid_request_error"),
    HOLD_REMAINDER_EXCEEDED(409, "hold_remainder_exceeded", "invalid_request_error"),
    REQUEST_TIMEOUT(408, "request_timeout", "invalid_request_error"),
    KEY_NOT_ACTIVE(409, "key_not_active", "invalid_request_error"),
    KEY_MANAGED_BY_CONFIGURATION(409, "key_managed_by_configuration", "invalid_request_error"),
    REQUEST_TOO_LARGE(413, "request_too_large", "invalid_request_error"),
    RATE_LIMITED(429, "rate_limited", "rate_limit_error"),
    UPSTREAM_FAILED(502, "upstream_failed", "api_error"),
    NO_PROVIDER_AVAILABLE(503, "no_provider_available", "service_unavailable_error"),
    PRICE_OUT_OF_BAND(400, "price_out_of_band", "invalid_request_error"),
    NOT_ON_TICK(400, "not_on_tick", "invalid_request_error"),
    NOT_ON_LOT(400, "not_on_lot", "invalid_request_error"),
    QUANTITY_ABOVE_LIMIT(400, "quantity_above_limit", "invalid_request_error"),
    WOULD_CROSS(409, "would_cross", "invalid_request_error"),
    REDUCE_ONLY_WOULD_INCREASE(409, "reduce_only_would_increase", "invalid_request_error"),
    INSTRUMENT_NOT_TRADING(409, "instrument_not_trading", "invalid_request_error"),
    ORDER_NOT_OPEN(409, "order_not_open", "invalid_request_error"),
    PRODUCT_EXISTS(409, "product_exists", "invalid_request_error"),
    SHORTS_NOT_ALLOWED(409, "shorts_not_allowed", "invalid_request_error"),
    INSUFFICIENT_CAPACITY(409, "insufficient_capacity", "invalid_request_error"),
    OPEN_ORDERS_LIMIT(429, "open_orders_limit", "rate_limit_error"),
    INSTRUMENT_OWNED_ELSEWHERE(503, "instrument_owned_elsewhere", "service_unavailable_error"),
    INTERNAL(500, "internal_error", "api_error");

    private final int status;
    private final String code;
    private final String openAiType;

    ErrorCode(int status, String code, String openAiType) {
        this.status = status;
        this.code = code;
        this.openAiType = openAiType;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public String openAiType() {
        return openAiType;
    }
}
