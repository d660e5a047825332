package dev.tokenmarket.forwards.index;

import dev.tokenmarket.ledger.SettledUsage;
import dev.tokenmarket.metering.MeteredGenerations;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Gathers a window's spot sales: the generations metering recorded, those the ledger settled (at the cost
 * the ledger posted), less sales to oneself and deliveries under forwards. Each context answers from its own
 * tables.
 */
@ApplicationScoped
class SaleReader {

    @Inject
    MeteredGenerations generations;

    @Inject
    SettledUsage settledUsage;

    @Inject
    ForwardDeliveries forwardDeliveries;

    @Inject
    StandardTokenWeights standardTokenWeights;

    /** The settled spot sales of {@code model} metered in [from, to). */
    Sales read(String model, Instant from, Instant to) {
        StandardTokenWeights.Weights weights = standardTokenWeights.of(model);
        Sales sales = new Sales();
        generations.forEachChunk(model, from, to, chunk -> add(sales, chunk, weights));
        return sales;
    }

    private void add(Sales sales, List<MeteredGenerations.Generation> chunk, StandardTokenWeights.Weights weights) {
        // Metering's chunks fit the ledger's question.
        Map<UUID, Long> settled = settledUsage.settledCosts(chunk.stream().map(MeteredGenerations.Generation::id).toList());
        Set<UUID> underForwards = forwardDeliveries.deliveredUnderForwards(settled.keySet());
        for (MeteredGenerations.Generation g : chunk) {
            Long cost = settled.get(g.id());
            if (cost == null) {
                sales.unsettled++;
            } else if (g.buyerOrgId().equals(g.providerOrgId())) {
                sales.selfTrades++;
            } else if (underForwards.contains(g.id())) {
                sales.forwardDeliveries++;
            } else {
                long st = weights.standardTokensMilli(g.promptTokens(), g.completionTokens());
                if (st == 0) {
                    sales.withoutTokens++;
                } else {
                    sales.add(g.id(), g.buyerOrgId(), g.providerOrgId(), g.promptTokens(), g.completionTokens(), st, cost);
                }
            }
        }
    }
}
