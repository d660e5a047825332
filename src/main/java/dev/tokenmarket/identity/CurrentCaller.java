package dev.tokenmarket.identity;

import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import jakarta.enterprise.context.RequestScoped;

/** Holds the caller the authentication filter found for this request. */
@RequestScoped
public class CurrentCaller {

    private Caller caller;

    void set(Caller caller) {
        this.caller = caller;
    }

    public Caller get() {
        if (caller == null) {
            throw new ApiException(ErrorCode.UNAUTHENTICATED, "Missing API key: send 'Authorization: Bearer <key>'.");
        }
        return caller;
    }
}
