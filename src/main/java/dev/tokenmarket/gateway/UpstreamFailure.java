package dev.tokenmarket.gateway;

/** A backend failed before producing its first token; the next candidate may be tried. */
public final class UpstreamFailure extends Exception {
    public UpstreamFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
