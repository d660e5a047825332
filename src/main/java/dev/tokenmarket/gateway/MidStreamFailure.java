package dev.tokenmarket.gateway;

/**
 * A backend failed after its first token reached the client: there is no silent switch to another
 * endpoint then. The tokens already delivered are billed.
 */
public final class MidStreamFailure extends RuntimeException {

    private final transient Served producedSoFar;

    public MidStreamFailure(String message, Served producedSoFar) {
        super(message);
        this.producedSoFar = producedSoFar;
    }

    public Served producedSoFar() {
        return producedSoFar;
    }
}
