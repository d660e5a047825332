package dev.tokenmarket.gateway;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.ledger.LedgerAccounts;
import dev.tokenmarket.metering.InsertGenerations;
import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.TraceParents;
import dev.tokenmarket.platform.TimeOrderedIds;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import dev.tokenmarket.routing.EndpointHealth;
import dev.tokenmarket.routing.Offer;
import dev.tokenmarket.routing.Router;
import io.opentelemetry.instrumentation.annotations.WithSpan;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;

/**
 * The spot flow of one buyer request, stage by stage:
 * <ol>
 *   <li>match: the router lists the candidate endpoints in the order to try them;</li>
 *   <li>limit: the key's per-minute and spending limits reserve the request's largest possible use
 *       ({@link KeyLimits});</li>
 *   <li>hold: the request's maximum possible cost is reserved on the buyer's wallet, 402 when it cannot be
 *       ({@link Holding});</li>
 *   <li>serve: the endpoint's {@link Backend} produces the tokens (on failure before the first token, the hold
 *       and the limit reservation are given back and the next candidate is tried);</li>
 *   <li>meter: the generation, the hold's move to "settling", the key's actual use and the usage event are
 *       written in one transaction (the outbox), so the event can never be lost ({@link SpotWrites});</li>
 *   <li>settle: happens elsewhere, when the ledger consumer reads the event from Kafka.</li>
 * </ol>
 */
@ApplicationScoped
public class SpotFlow {

    private static final Logger LOG = Logger.getLogger(SpotFlow.class);

    @Inject
    Router router;

    @Inject
    LedgerAccounts accounts;

    @Inject
    Backends backends;

    @Inject
    Holding holding;

    @Inject
    SpotWrites writes;

    @Inject
    EndpointHealth health;

    @Inject
    KeyLimits keyLimits;

    @Inject
    GatewayMetrics metrics;

    /** Platform fee on every request, in basis points of its cost. */
    @ConfigProperty(name = "tokenmarket.ledger.platform-fee-bps", defaultValue = "500")
    int feeBasisPoints;

    public record Completion(UUID generationId, Offer offer, Served served, long costNanoUsd, long createdEpochSeconds) {
    }

    /**
     * One buyer's purchase of tokens, from admission to metering: the candidates still to try and the one
     * currently reserved (its concurrency slot taken, its key limits and its hold reserved).
     */
    public static final class Purchase {
        final Caller caller;
        final CompletionCall call;
        final String promptText;
        final long startedNanos;
        final long wallet;
        // Time-ordered: the generation id becomes the usage entry's id, and ordered ids keep the ledger's indexes appending.
        final UUID generationId = TimeOrderedIds.next();
        private final Iterator<Offer> remaining;
        Offer offer;
        boolean slotHeld;
        boolean requestCounted;
        UUID holdId;
        long holdNanoUsd;
        int maxTokens;
        KeyLimits.Admission admission;

        private Purchase(Caller caller, CompletionCall call, String promptText, long startedNanos, long wallet,
                         List<Offer> candidates) {
            this.caller = caller;
            this.call = call;
            this.promptText = promptText;
            this.startedNanos = startedNanos;
            this.wallet = wallet;
            this.remaining = candidates.iterator();
        }

        public Offer offer() {
            return offer;
        }

        public UUID generationId() {
            return generationId;
        }
    }

    /** Stages 1 to 3, match, limit and hold, without serving: errors here still become plain HTTP statuses, even when streaming. */
    @WithSpan("match and hold")
    public Purchase open(Caller caller, CompletionCall call) {
        long startedNanos = System.nanoTime();
        String promptText = call.promptText();
        List<Offer> candidates = router.candidates(call.model(), call.routing());
        Purchase purchase = new Purchase(caller, call, promptText, startedNanos, accounts.walletOf(caller.orgId()), candidates);
        if (!reserveNext(purchase)) {
            throw new ApiException(ErrorCode.RATE_LIMITED, "Every matching endpoint is at its concurrency limit; retry shortly.");
        }
        return purchase;
    }

    /** Stages 4 and 5, serve and meter; tokens go to {@code sink} as they are produced. */
    @WithSpan("serve and meter")
    public Completion serve(Purchase purchase, TokenSink sink) {
        try {
            while (true) {
                Offer offer = purchase.offer;
                try {
                    long backendStartedNanos = System.nanoTime();
                    Served served = backends.of(offer).serve(offer, purchase.call, purchase.promptText, purchase.maxTokens, sink,
                            purchase.startedNanos);
                    long backendNanos = System.nanoTime() - backendStartedNanos;
                    health.recordSuccess(offer.endpointId(), served.ttftNanos(), served.completionTokens(),
                            System.nanoTime() - purchase.startedNanos - served.ttftNanos());
                    Completion completion = meter(purchase, served);
                    metrics.served(offer, served.ttftNanos(), System.nanoTime() - purchase.startedNanos - backendNanos);
                    return completion;
                } catch (UpstreamFailure e) {
                    // Nothing reached the client yet: release this endpoint and try the next one.
                    LOG.warnf("endpoint %s failed before its first token: %s", offer.endpointId(), e.getMessage());
                    health.recordFailure(offer.endpointId());
                    abandon(purchase);
                    boolean fallbacks = purchase.call.routing().allowFallbacks();
                    if (!fallbacks || !reserveNext(purchase)) {
                        throw new ApiException(ErrorCode.UPSTREAM_FAILED, "The provider failed before its first token: "
                                + e.getMessage() + (fallbacks ? "; no other endpoint could take the request."
                                : "; provider.allow_fallbacks is false, so no other endpoint was tried."));
                    }
                } catch (MidStreamFailure e) {
                    // Tokens already reached the client: they are billed, and the client sees the error.
                    health.recordFailure(offer.endpointId());
                    meter(purchase, e.producedSoFar());
                    throw e;
                }
            }
        } catch (RuntimeException e) {
            abandon(purchase);
            throw e;
        } finally {
            releaseSlot(purchase);
        }
    }

    /**
     * Takes the next candidate with a free slot and reserves the most the request can use on it (stages 2
     * and 3). False when no candidate is left; 402 when the wallet cannot cover the hold.
     */
    private boolean reserveNext(Purchase purchase) {
        while (purchase.remaining.hasNext()) {
            Offer offer = purchase.remaining.next();
            if (!router.acquire(offer)) {
                continue;
            }
            purchase.offer = offer;
            purchase.slotHeld = true;
            try {
                reserve(purchase, offer);
                return true;
            } catch (RuntimeException e) {
                releaseSlot(purchase);
                throw e;
            }
        }
        return false;
    }

    private void reserve(Purchase purchase, Offer offer) {
        Backend.Budget budget = backends.of(offer).budget(purchase.call, purchase.promptText);
        long completionTokensMax = (long) budget.maxTokens() * purchase.call.n();
        // The most the request can cost; at least one nano-USD, so even a free endpoint needs a funded wallet.
        long holdNanoUsd = Math.max(1, Money.cost(budget.promptTokensMax(), offer.promptPriceNanoUsdPerMillionTokens(),
                completionTokensMax, offer.completionPriceNanoUsdPerMillionTokens()));
        // Key limits first: a request they refuse leaves the wallet untouched.
        // A fallback attempt reserves tokens and spend again, but the request was counted by the first attempt.
        purchase.admission = keyLimits.admit(purchase.caller.keyId(), !purchase.requestCounted,
                budget.promptTokensMax() + completionTokensMax, holdNanoUsd);
        purchase.requestCounted = true;
        purchase.maxTokens = budget.maxTokens();
        // The hold caps what the request is billed: its maximum cost, even when a larger pre-placed hold covers it.
        purchase.holdNanoUsd = holdNanoUsd;
        UUID holdId;
        try {
            holdId = holding.hold(purchase.wallet, holdNanoUsd, purchase.generationId);
        } catch (RuntimeException e) {
            releaseLimits(purchase);
            throw e;
        }
        if (holdId == null) {
            releaseLimits(purchase);
            throw new ApiException(ErrorCode.INSUFFICIENT_BALANCE, "Insufficient balance: this request may cost up to "
                    + Money.formatUsd(holdNanoUsd) + " USD, more than the available balance. Deposit funds or lower max_tokens.");
        }
        purchase.holdId = holdId;
    }

    /** Undoes the reservation of the current candidate: its hold and its share of the key's limits. */
    private void abandon(Purchase purchase) {
        if (purchase.holdId != null) {
            holding.release(purchase.holdId);
            purchase.holdId = null;
        }
        releaseLimits(purchase);
        releaseSlot(purchase);
    }

    private void releaseLimits(Purchase purchase) {
        if (purchase.admission != null) {
            keyLimits.release(purchase.admission);
            purchase.admission = null;
        }
    }

    private void releaseSlot(Purchase purchase) {
        if (purchase.slotHeld) {
            router.release(purchase.offer);
            purchase.slotHeld = false;
        }
    }

    /** Stage 5: bills what was served, never more than was held, and writes it with the usage event. */
    private Completion meter(Purchase purchase, Served produced) {
        Offer offer = purchase.offer;
        UUID generationId = purchase.generationId;
        Served served = produced;
        // The buyer never pays more than was held (an upstream may report more tokens than estimated).
        if (served.costNanoUsd(offer) > purchase.holdNanoUsd) {
            LOG.warnf("generation %s: upstream reported more tokens than held for; billing is capped at the hold", generationId);
            served = served.cappedAt(purchase.holdNanoUsd, offer);
        }
        long cost = served.costNanoUsd(offer);
        long fee = Money.fee(cost, feeBasisPoints);
        long totalNanos = System.nanoTime() - purchase.startedNanos;
        // PostgreSQL keeps microseconds and rounds; truncating here keeps the event and its row in the same hour.
        Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
        UsageEvent event = new UsageEvent(generationId, now, purchase.caller.orgId(), purchase.caller.keyId(), offer.endpointId(),
                offer.providerOrgId(), offer.model(), served.promptTokens(), served.completionTokens(),
                offer.promptPriceNanoUsdPerMillionTokens(), offer.completionPriceNanoUsdPerMillionTokens(), cost, fee,
                purchase.holdId, served.ttftNanos() / 1_000_000, (totalNanos - served.ttftNanos()) / 1_000_000,
                totalNanos / 1_000_000, served.finishReason());
        int tokens = served.promptTokens() + served.completionTokens();
        // The generation row, the hold's move to settling, the key's usage and the outbox row commit together
        // (with those of other requests finishing at the same time).
        writes.meter(new SpotWrites.Metering(new InsertGenerations.Row(event, purchase.call.stream(), served.cancelled()),
                purchase.admission, tokens, TraceParents.current()));
        metrics.metered(offer, served.promptTokens(), served.completionTokens(), cost, fee);
        purchase.holdId = null;
        purchase.admission = null;
        router.addTokens(offer.endpointId(), tokens);
        return new Completion(generationId, offer, served, cost, now.getEpochSecond());
    }
}
