package dev.tokenmarket.gateway;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.inference.ChatTemplate;
import dev.tokenmarket.inference.GenerationRequest;
import dev.tokenmarket.inference.GenerationResult;
import dev.tokenmarket.inference.InferenceException;
import dev.tokenmarket.inference.ReferenceEngine;
import dev.tokenmarket.ledger.Ledger;
import dev.tokenmarket.ledger.LedgerAccounts;
import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.metering.UsageOutbox;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import dev.tokenmarket.routing.Offer;
import dev.tokenmarket.routing.Router;
import io.agroal.api.AgroalDataSource;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * The spot flow of one buyer request, stage by stage:
 * <ol>
 *   <li>match: the router lists the candidate endpoints in the order to try them;</li>
 *   <li>hold: the request's maximum possible cost is reserved on the buyer's wallet (402 when it cannot be);</li>
 *   <li>serve: the endpoint's backend produces the tokens (on failure before the first token, the hold is
 *       voided and the next candidate is tried);</li>
 *   <li>meter: the generation, the hold's move to "settling" and the usage event are written in one
 *       transaction (the outbox), so the event can never be lost;</li>
 *   <li>settle: happens elsewhere, when the ledger consumer reads the event from Kafka.</li>
 * </ol>
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

    public Completion complete(Caller caller, CompletionCall call) {
        long startedNanos = System.nanoTime();
        long wallet = accounts.walletOf(caller.orgId());
        List<Offer> candidates = router.candidates(call.model(), call.routing());
        ApiException lastFailure = null;
        for (Offer offer : candidates) {
            if (!router.acquire(offer)) {
                lastFailure = new ApiException(ErrorCode.RATE_LIMITED, "Every matching endpoint is at its concurrency limit; retry shortly.");
                continue;
            }
            try {
                return completeOn(caller, call, offer, wallet, startedNanos);
            } catch (UpstreamFailure e) {
                LOG.warnf("endpoint %s failed before its first token: %s", offer.endpointId(), e.getMessage());
                lastFailure = new ApiException(ErrorCode.UPSTREAM_FAILED, "The provider failed: " + e.getMessage());
            } finally {
                router.release(offer);
            }
        }
        throw lastFailure;
    }

    private Completion completeOn(Caller caller, CompletionCall call, Offer offer, long wallet, long startedNanos)
            throws UpstreamFailure {
        boolean onReference = "reference".equals(offer.backendType());
        String promptText = call.chat() ? ChatTemplate.render(call.messages()) : call.prompt();
        int promptTokensMax;
        int maxTokens;
        if (onReference) {
            ReferenceEngine engine = reference.engine();
            try {
                promptTokensMax = engine.countTokens(promptText);
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
            promptTokensMax = promptText.getBytes(StandardCharsets.UTF_8).length + UPSTREAM_PROMPT_OVERHEAD_TOKENS;
            maxTokens = call.maxTokens() != null ? call.maxTokens() : upstreamMaxTokensDefault;
        }

        // 2. hold the most the request can cost; at least one nano-USD, so even a free endpoint needs a funded wallet.
        long holdNanoUsd = Math.max(1, Money.cost(promptTokensMax, offer.promptPriceNanoUsdPerMillionTokens(),
                maxTokens, offer.completionPriceNanoUsdPerMillionTokens()));
        UUID generationId = UUID.randomUUID();
        UUID holdId = UUID.randomUUID();
        ledger.placeHold(holdId, wallet, holdNanoUsd, "generation " + generationId, holdTtl);

        // 3. serve
        Served served;
        try {
            served = onReference ? serveOnReference(call, promptText, maxTokens, startedNanos) : openAi.serve(offer, call, maxTokens);
        } catch (UpstreamFailure | RuntimeException e) {
            ledger.voidHold(holdId);
            throw e;
        }

        // 4. meter. The buyer never pays more than was held (an upstream may report more tokens than estimated).
        if (costOf(served, offer) > holdNanoUsd) {
            LOG.warnf("generation %s: upstream reported more tokens than held for; billing is capped at the hold", generationId);
            served = capTokens(served, holdNanoUsd, offer);
        }
        long cost = costOf(served, offer);
        long fee = Money.fee(cost, feeBasisPoints);
        long totalNanos = System.nanoTime() - startedNanos;
        Instant now = Instant.now();
        UsageEvent event = new UsageEvent(generationId, now, caller.orgId(), caller.keyId(), offer.endpointId(),
                offer.providerOrgId(), offer.model(), served.promptTokens(), served.completionTokens(),
                offer.promptPriceNanoUsdPerMillionTokens(), offer.completionPriceNanoUsdPerMillionTokens(), cost, fee,
                holdId, served.ttftNanos() / 1_000_000, (totalNanos - served.ttftNanos()) / 1_000_000,
                totalNanos / 1_000_000, served.finishReason());
        final Served billed = served;
        // The generation row, the hold's move to settling and the outbox row commit together or not at all.
        QuarkusTransaction.requiringNew().run(() -> {
            insertGeneration(event, call.stream(), false);
            ledger.markSettling(holdId);
            outbox.record(event);
        });
        return new Completion(generationId, offer, billed, cost, now.getEpochSecond());
    }

    private static long costOf(Served served, Offer offer) {
        return Money.cost(served.promptTokens(), offer.promptPriceNanoUsdPerMillionTokens(),
                served.completionTokens(), offer.completionPriceNanoUsdPerMillionTokens());
    }

    /** Keeps the tokens the hold pays for, when an upstream reports more than its bound. */
    private static Served capTokens(Served served, long holdNanoUsd, Offer offer) {
        Served capped = served;
        while (capped.completionTokens() > 0 && costOf(capped, offer) > holdNanoUsd) {
            capped = new Served(capped.text(), capped.promptTokens(), capped.completionTokens() - 1,
                    capped.finishReason(), capped.ttftNanos());
        }
        while (capped.promptTokens() > 0 && costOf(capped, offer) > holdNanoUsd) {
            capped = new Served(capped.text(), capped.promptTokens() - 1, capped.completionTokens(),
                    capped.finishReason(), capped.ttftNanos());
        }
        return capped;
    }

    private Served serveOnReference(CompletionCall call, String promptText, int maxTokens, long startedNanos) {
        long[] firstTokenNanos = {0};
        GenerationResult result;
        try {
            result = reference.engine().generate(
                    new GenerationRequest(promptText, maxTokens, call.temperature(), call.topP(), call.topK(), call.seed(), call.stop()),
                    piece -> {
                        if (firstTokenNanos[0] == 0) {
                            firstTokenNanos[0] = System.nanoTime() - startedNanos;
                        }
                        return true;
                    });
        } catch (InferenceException e) {
            throw ReferenceBackend.toApiError(e);
        }
        long ttft = firstTokenNanos[0] == 0 ? System.nanoTime() - startedNanos : firstTokenNanos[0];
        return new Served(result.text(), result.promptTokens(), result.completionTokens(), result.finishReason(), ttft);
    }

    private void insertGeneration(UsageEvent e, boolean streamed, boolean cancelled) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     insert into generations (id, buyer_org_id, api_key_id, endpoint_id, provider_org_id, model,
                         prompt_tokens, completion_tokens, prompt_price_nano_usd_per_mtok, completion_price_nano_usd_per_mtok,
                         cost_nano_usd, fee_nano_usd, hold_id, finish_reason, streamed, cancelled, latency_ms, ttft_ms, generation_ms)
                     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""")) {
            ps.setObject(1, e.eventId());
            ps.setObject(2, e.buyerOrgId());
            ps.setObject(3, e.apiKeyId());
            ps.setObject(4, e.endpointId());
            ps.setObject(5, e.providerOrgId());
            ps.setString(6, e.model());
            ps.setInt(7, e.promptTokens());
            ps.setInt(8, e.completionTokens());
            ps.setLong(9, e.promptPriceNanoUsdPerMillionTokens());
            ps.setLong(10, e.completionPriceNanoUsdPerMillionTokens());
            ps.setLong(11, e.costNanoUsd());
            ps.setLong(12, e.feeNanoUsd());
            ps.setObject(13, e.holdId());
            ps.setString(14, e.finishReason());
            ps.setBoolean(15, streamed);
            ps.setBoolean(16, cancelled);
            ps.setInt(17, (int) e.latencyMs());
            ps.setInt(18, (int) e.ttftMs());
            ps.setInt(19, (int) e.generationMs());
            ps.executeUpdate();
        } catch (SQLException ex) {
            throw new IllegalStateException("could not record generation " + e.eventId(), ex);
        }
    }
}
