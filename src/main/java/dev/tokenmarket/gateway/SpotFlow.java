package dev.tokenmarket.gateway;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.inference.GeneratedToken;
import dev.tokenmarket.inference.GenerationOptions;
import dev.tokenmarket.inference.GenerationOutput;
import dev.tokenmarket.inference.GenerationRequest;
import dev.tokenmarket.inference.GenerationResult;
import dev.tokenmarket.inference.InferenceException;
import dev.tokenmarket.inference.ReferenceEngine;
import dev.tokenmarket.ledger.Ledger;
import dev.tokenmarket.ledger.LedgerAccounts;
import dev.tokenmarket.metering.InsertGenerations;
import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.metering.UsageOutbox;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.OneRoundTrip;
import dev.tokenmarket.platform.TimeOrderedIds;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import dev.tokenmarket.routing.Offer;
import dev.tokenmarket.routing.EndpointHealth;
import dev.tokenmarket.routing.Router;
import io.agroal.api.AgroalDataSource;
import io.opentelemetry.instrumentation.annotations.WithSpan;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;

/**
 * The spot flow of one buyer request, stage by stage:
 * <ol>
 *   <li>match: the router lists the candidate endpoints in the order to try them;</li>
 *   <li>limit: the key's per-minute and spending limits reserve the request's largest possible use;</li>
 *   <li>hold: the request's maximum possible cost is reserved on the buyer's wallet (402 when it cannot be);
 *       a busy wallet's request takes a hold placed ahead of it ({@link PrePlacedHolds}) instead of waiting
 *       for one;</li>
 *   <li>serve: the endpoint's backend produces the tokens (on failure before the first token, the hold and
 *       the limit reservation are given back and the next candidate is tried);</li>
 *   <li>meter: the generation, the hold's move to "settling", the key's actual use and the usage event are
 *       written in one transaction (the outbox), so the event can never be lost;</li>
 *   <li>settle: happens elsewhere, when the ledger consumer reads the event from Kafka.</li>
 * </ol>
 * Holds and meterings of concurrent requests are group-committed ({@link GroupCommit}): each request still
 * waits for its own durable commit, but many requests share one.
 */
@ApplicationScoped
public class SpotFlow {

    private static final Logger LOG = Logger.getLogger(SpotFlow.class);
    /** Upper bound of template and special tokens an upstream adds around a prompt. */
    private static final int UPSTREAM_PROMPT_OVERHEAD_TOKENS = 64;

    @Inject
    Router router;

    @Inject
    Ledger ledger;

    @Inject
    LedgerAccounts accounts;

    @Inject
    ReferenceBackend reference;

    @Inject
    OpenAiUpstream openAi;

    @Inject
    UsageOutbox outbox;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    EndpointHealth health;

    @Inject
    KeyLimits keyLimits;

    @Inject
    GatewayMetrics metrics;

    /** Platform fee on every request, in basis points of its cost. */
    @ConfigProperty(name = "tokenmarket.ledger.platform-fee-bps", defaultValue = "500")
    int feeBasisPoints;

    /** A hold not settled or voided within this time expires (the gateway that placed it died). */
    @ConfigProperty(name = "tokenmarket.gateway.hold-ttl", defaultValue = "PT15M")
    Duration holdTtl;

    /** max_tokens assumed for an upstream request that does not set it, to size the hold. */
    @ConfigProperty(name = "tokenmarket.gateway.upstream-max-tokens-default", defaultValue = "4096")
    int upstreamMaxTokensDefault;

    public record Completion(UUID generationId, Offer offer, Served served, long costNanoUsd, long createdEpochSeconds) {
    }

    /** Writes of concurrent requests share a transaction up to this many. */
    private static final int GROUP_COMMIT_BATCH_MAX = 256;

    /** One request's write in the shared group commit: a hold to place, or a finished request's metering. */
    private sealed interface Write permits HoldPlacement, Metering {
    }

    private record HoldPlacement(Ledger.HoldDraft draft) implements Write {
    }

    private record Metering(UsageEvent event, boolean streamed, boolean cancelled, KeyLimits.Admission admission,
                            int tokens) implements Write {
    }

    // Holds and meterings share one writer: at a few hundred requests per second a group holds only a
    // request or two, and one transaction for both kinds halves the commits (and WAL flushes) per request.
    private GroupCommit<Write, Boolean> writes;

    private PrePlacedHolds preplacedHolds;

    @PostConstruct
    void startGroupCommits() {
        writes = new GroupCommit<>("spot-group-commit", dataSource, GROUP_COMMIT_BATCH_MAX, SpotFlow::plan, outbox::committed);
        // Pre-placed holds ride in the same group commits as the requests' own writes.
        preplacedHolds = new PrePlacedHolds(draft -> writes.submitLater(new HoldPlacement(draft)), ledger::voidHold, holdTtl);
    }

    @PreDestroy
    void stopGroupCommits() {
        preplacedHolds.close();
        writes.close();
    }

    /**
     * A group's holds (each answered false when its wallet cannot cover it), then its meterings (answered
     * true), as one statement: one round trip and one transaction, commit included.
     */
    private static GroupCommit.Batch<Boolean> plan(List<Write> group) {
        List<Ledger.HoldDraft> holds = new ArrayList<>(group.size());
        List<Metering> meterings = new ArrayList<>(group.size());
        for (Write w : group) {
            switch (w) {
                case HoldPlacement h -> holds.add(h.draft());
                case Metering m -> meterings.add(m);
            }
        }
        List<OneRoundTrip.Command> commands = new ArrayList<>();
        Ledger.PlaceHolds placing = new Ledger.PlaceHolds(holds);
        if (!holds.isEmpty()) {
            commands.add(placing);
        }
        List<UsageEvent> events = meterings.stream().map(Metering::event).toList();
        OneRoundTrip.UuidsAnswered settling = Ledger.markingSettling(events.stream().map(UsageEvent::holdId).toList());
        if (!meterings.isEmpty()) {
            commands.add(new InsertGenerations(meterings.stream()
                    .map(m -> new InsertGenerations.Row(m.event(), m.streamed(), m.cancelled())).toList()));
            commands.add(settling);
            commands.addAll(KeyLimits.corrections(meterings.stream()
                    .map(m -> new KeyLimits.Correction(m.admission(), m.tokens(), m.event().costNanoUsd())).toList()));
            commands.add(new UsageOutbox.InsertEvents(events));
        }
        return new GroupCommit.Batch<>(commands, () -> {
            for (UsageEvent e : events) {
                if (!settling.answered().contains(e.holdId())) {
                    // Only a hold that outlived its TTL gets here; the usage is still recorded and settled.
                    LOG.warnf("hold %s of generation %s was no longer pending when metered", e.holdId(), e.eventId());
                }
            }
            List<Boolean> answers = new ArrayList<>(group.size());
            int hold = 0;
            for (Write w : group) {
                answers.add(w instanceof HoldPlacement ? placing.placed()[hold++] : Boolean.TRUE);
            }
            return answers;
        });
    }

    /**
     * One buyer request from admission to metering: the candidates still to try and the one currently
     * reserved (its concurrency slot taken and its hold placed).
     */
    public static final class Order {
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

        private Order(Caller caller, CompletionCall call, String promptText, long startedNanos, long wallet,
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

    /** Match and hold without serving: errors here still become plain HTTP statuses, even when streaming. */
    @WithSpan("match and hold")
    public Order open(Caller caller, CompletionCall call) {
        long startedNanos = System.nanoTime();
        String promptText = call.promptText();
        List<Offer> candidates = router.candidates(call.model(), call.routing());
        Order order = new Order(caller, call, promptText, startedNanos, accounts.walletOf(caller.orgId()), candidates);
        if (!reserveNext(order)) {
            throw new ApiException(ErrorCode.RATE_LIMITED, "Every matching endpoint is at its concurrency limit; retry shortly.");
        }
        return order;
    }

    /** Serves and meters the order; tokens go to {@code sink} as they are produced. */
    @WithSpan("serve and meter")
    public Completion serve(Order order, TokenSink sink) {
        try {
            while (true) {
                try {
                    long backendStartedNanos = System.nanoTime();
                    Served served = "reference".equals(order.offer.backendType())
                            ? serveOnReference(order, sink)
                            : openAi.serve(order.offer, order.call, order.maxTokens, sink, order.startedNanos);
                    long backendNanos = System.nanoTime() - backendStartedNanos;
                    health.recordSuccess(order.offer.endpointId(), served.ttftNanos(), served.completionTokens(),
                            System.nanoTime() - order.startedNanos - served.ttftNanos());
                    Completion completion = meter(order, served);
                    metrics.served(order.offer, served.ttftNanos(), System.nanoTime() - order.startedNanos - backendNanos);
                    return completion;
                } catch (UpstreamFailure e) {
                    // Nothing reached the client yet: release this endpoint and try the next one.
                    LOG.warnf("endpoint %s failed before its first token: %s", order.offer.endpointId(), e.getMessage());
                    health.recordFailure(order.offer.endpointId());
                    abandon(order);
                    if (!order.call.routing().allowFallbacks() || !reserveNext(order)) {
                        throw new ApiException(ErrorCode.UPSTREAM_FAILED, "The provider failed before its first token: "
                                + e.getMessage() + (order.call.routing().allowFallbacks() ? "; no other endpoint could take the request."
                                : "; provider.allow_fallbacks is false, so no other endpoint was tried."));
                    }
                } catch (MidStreamFailure e) {
                    // Tokens already reached the client: they are billed, and the client sees the error.
                    health.recordFailure(order.offer.endpointId());
                    meter(order, e.producedSoFar());
                    throw e;
                }
            }
        } catch (RuntimeException e) {
            abandon(order);
            throw e;
        } finally {
            releaseSlot(order);
        }
    }

    /**
     * Takes the next candidate with a free slot and holds the most the request can cost on it. False when
     * no candidate is left; 402 when the wallet cannot cover the hold.
     */
    private boolean reserveNext(Order order) {
        while (order.remaining.hasNext()) {
            Offer offer = order.remaining.next();
            if (!router.acquire(offer)) {
                continue;
            }
            order.offer = offer;
            order.slotHeld = true;
            try {
                reserve(order, offer);
                return true;
            } catch (RuntimeException e) {
                releaseSlot(order);
                throw e;
            }
        }
        return false;
    }

    private void reserve(Order order, Offer offer) {
        CompletionCall call = order.call;
        int promptTokensMax;
        int maxTokens;
        if ("reference".equals(offer.backendType())) {
            ReferenceEngine engine = reference.engine();
            try {
                promptTokensMax = engine.countTokens(order.promptText);
            } catch (InferenceException e) {
                throw ReferenceBackend.toApiError(e);
            }
            maxTokens = call.maxTokens() != null ? call.maxTokens() : engine.contextLength() - promptTokensMax;
            if (promptTokensMax >= engine.contextLength() || promptTokensMax + maxTokens > engine.contextLength()) {
                throw new ApiException(ErrorCode.CONTEXT_LENGTH_EXCEEDED, "This model's context is " + engine.contextLength()
                        + " tokens; the prompt has " + promptTokensMax + " and max_tokens asks for " + maxTokens
                        + ". Shorten the prompt or lower max_tokens.", call.maxTokens() != null ? "max_tokens" : "prompt");
            }
        } else {
            // Every token of a byte-level BPE tokenizer covers at least one byte, so bytes bound tokens.
            promptTokensMax = order.promptText.getBytes(StandardCharsets.UTF_8).length + UPSTREAM_PROMPT_OVERHEAD_TOKENS;
            maxTokens = call.maxTokens() != null ? call.maxTokens() : upstreamMaxTokensDefault;
        }
        long completionTokensMax = (long) maxTokens * call.n();
        // The most the request can cost; at least one nano-USD, so even a free endpoint needs a funded wallet.
        long holdNanoUsd = Math.max(1, Money.cost(promptTokensMax, offer.promptPriceNanoUsdPerMillionTokens(),
                completionTokensMax, offer.completionPriceNanoUsdPerMillionTokens()));
        // Time-ordered, so the holds settled together sit together in the table and its primary key.
        UUID holdId = TimeOrderedIds.next();
        // Key limits first: a request they refuse leaves the wallet untouched.
        // A fallback attempt reserves tokens and spend again, but the request was counted by the first attempt.
        order.admission = keyLimits.admit(order.caller.keyId(), !order.requestCounted, promptTokensMax + completionTokensMax,
                holdNanoUsd);
        order.requestCounted = true;
        order.maxTokens = maxTokens;
        // The hold caps what the request is billed: its maximum cost, even when a larger pre-placed hold covers it.
        order.holdNanoUsd = holdNanoUsd;
        UUID preplaced = preplacedHolds.take(order.wallet, holdNanoUsd);
        if (preplaced != null) {
            order.holdId = preplaced;
            return;
        }
        boolean placed;
        try {
            HoldPlacement placement = new HoldPlacement(new Ledger.HoldDraft(holdId, order.wallet, holdNanoUsd,
                    "generation " + GenerationIds.format(order.generationId), Instant.now().plus(holdTtl)));
            placed = writes.submit(placement);
            // Holds this replica pre-placed on the wallet must not be what refuses it: give them back, try again.
            if (!placed && preplacedHolds.giveBackAll(order.wallet) > 0) {
                placed = writes.submit(placement);
            }
        } catch (RuntimeException e) {
            keyLimits.release(order.admission);
            order.admission = null;
            throw e;
        }
        if (!placed) {
            keyLimits.release(order.admission);
            order.admission = null;
            throw new ApiException(ErrorCode.INSUFFICIENT_BALANCE, "Insufficient balance: this request may cost up to "
                    + Money.formatUsd(holdNanoUsd) + " USD, more than the available balance. Deposit funds or lower max_tokens.");
        }
        order.holdId = holdId;
    }

    /** Undoes the reservation of the current candidate: its hold and its share of the key's limits. */
    private void abandon(Order order) {
        if (order.holdId != null) {
            ledger.voidHold(order.holdId);
            order.holdId = null;
        }
        if (order.admission != null) {
            keyLimits.release(order.admission);
            order.admission = null;
        }
        releaseSlot(order);
    }

    private void releaseSlot(Order order) {
        if (order.slotHeld) {
            router.release(order.offer);
            order.slotHeld = false;
        }
    }

    private Completion meter(Order order, Served produced) {
        Offer offer = order.offer;
        UUID generationId = order.generationId;
        Served served = produced;
        // The buyer never pays more than was held (an upstream may report more tokens than estimated).
        if (costOf(served, offer) > order.holdNanoUsd) {
            LOG.warnf("generation %s: upstream reported more tokens than held for; billing is capped at the hold", generationId);
            served = capTokens(served, order.holdNanoUsd, offer);
        }
        long cost = costOf(served, offer);
        long fee = Money.fee(cost, feeBasisPoints);
        long totalNanos = System.nanoTime() - order.startedNanos;
        Instant now = Instant.now();
        UsageEvent event = new UsageEvent(generationId, now, order.caller.orgId(), order.caller.keyId(), offer.endpointId(),
                offer.providerOrgId(), offer.model(), served.promptTokens(), served.completionTokens(),
                offer.promptPriceNanoUsdPerMillionTokens(), offer.completionPriceNanoUsdPerMillionTokens(), cost, fee,
                order.holdId, served.ttftNanos() / 1_000_000, (totalNanos - served.ttftNanos()) / 1_000_000,
                totalNanos / 1_000_000, served.finishReason());
        UUID holdId = order.holdId;
        KeyLimits.Admission admission = order.admission;
        boolean cancelled = served.cancelled();
        int tokens = served.promptTokens() + served.completionTokens();
        // The generation row, the hold's move to settling, the key's usage and the outbox row commit together
        // (with those of other requests finishing at the same time).
        writes.submit(new Metering(event, order.call.stream(), cancelled, admission, tokens));
        metrics.metered(offer, served.promptTokens(), served.completionTokens(), cost, fee);
        order.holdId = null;
        order.admission = null;
        router.addTokens(offer.endpointId(), tokens);
        return new Completion(generationId, offer, served, cost, now.getEpochSecond());
    }

    private static long costOf(Served served, Offer offer) {
        return Money.cost(served.promptTokens(), offer.promptPriceNanoUsdPerMillionTokens(),
                served.completionTokens(), offer.completionPriceNanoUsdPerMillionTokens());
    }

    /** Keeps the tokens the hold pays for, when an upstream reports more than its bound. */
    private static Served capTokens(Served served, long holdNanoUsd, Offer offer) {
        Served capped = served;
        while (capped.completionTokens() > 0 && costOf(capped, offer) > holdNanoUsd) {
            capped = capped.withTokens(capped.promptTokens(), capped.completionTokens() - 1);
        }
        while (capped.promptTokens() > 0 && costOf(capped, offer) > holdNanoUsd) {
            capped = capped.withTokens(capped.promptTokens() - 1, capped.completionTokens());
        }
        return capped;
    }

    /**
     * Runs the n choices on the reference engine one after the other, streaming each token to the sink;
     * the prompt is billed once. A sink that refuses a token (the client left) stops the generation.
     */
    private Served serveOnReference(Order order, TokenSink sink) {
        CompletionCall call = order.call;
        long[] firstTokenNanos = {0};
        boolean[] cancelled = {false};
        List<Served.Choice> choices = new ArrayList<>();
        int promptTokens = 0;
        int completionTokens = 0;
        GenerationOptions options = new GenerationOptions(call.presencePenalty(), call.frequencyPenalty(), call.logprobs(),
                call.topLogprobs(), order.offer.backendTokensPerSecondMax());
        for (int index = 0; index < call.n() && !cancelled[0]; index++) {
            int choiceIndex = index;
            // Each choice gets its own seed, else n choices of a seeded request would all be the same text.
            Long seed = call.seed() == null ? null : call.seed() + index;
            GenerationOutput output;
            try {
                output = reference.engine().generate(
                        new GenerationRequest(order.promptText, order.maxTokens, call.temperature(), call.topP(), call.topK(),
                                seed, call.stop()),
                        options,
                        token -> {
                            if (firstTokenNanos[0] == 0) {
                                firstTokenNanos[0] = System.nanoTime() - order.startedNanos;
                            }
                            if (token.text().isEmpty() && !call.logprobs()) {
                                return true;
                            }
                            if (!sink.accept(choiceIndex, token.text(), call.logprobs() && token.tokenId() >= 0 ? token : null)) {
                                cancelled[0] = true;
                                return false;
                            }
                            return true;
                        });
            } catch (InferenceException e) {
                throw ReferenceBackend.toApiError(e);
            }
            GenerationResult result = output.result();
            promptTokens = result.promptTokens();
            completionTokens += result.completionTokens();
            List<GeneratedToken> tokens = call.logprobs()
                    ? output.tokens().stream().filter(t -> t.tokenId() >= 0).toList() : List.of();
            choices.add(new Served.Choice(index, result.text(), result.finishReason(), tokens));
        }
        long ttft = firstTokenNanos[0] == 0 ? System.nanoTime() - order.startedNanos : firstTokenNanos[0];
        return new Served(choices, promptTokens, completionTokens, ttft, cancelled[0]);
    }
}
