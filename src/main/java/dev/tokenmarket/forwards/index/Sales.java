package dev.tokenmarket.forwards.index;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The settled spot sales of a model in a window, one column per field (an hour of a busy model is millions
 * of sales): the index's candidates, before the outlier rule. Buyers and providers are numbered in the order
 * first seen.
 */
final class Sales {

    private long[] idHigh = new long[1024];
    private long[] idLow = new long[1024];
    int[] buyer = new int[1024];
    int[] provider = new int[1024];
    int[] promptTokens = new int[1024];
    int[] completionTokens = new int[1024];
    long[] standardTokensMilli = new long[1024];
    long[] costNanoUsd = new long[1024];
    int size;

    final List<UUID> buyers = new ArrayList<>();
    final List<UUID> providers = new ArrayList<>();
    private final Map<UUID, Integer> buyerIndex = new HashMap<>();
    private final Map<UUID, Integer> providerIndex = new HashMap<>();

    /** Metered in the window but not (yet) settled, or settled and reversed. */
    long unsettled;
    /** Bought by the organization that provided them. */
    long selfTrades;
    /** Delivered under a forward contract. */
    long forwardDeliveries;
    /** No standard tokens, so no price. */
    long withoutTokens;

    void add(UUID id, UUID buyerOrgId, UUID providerOrgId, int prompt, int completion, long stMilli, long cost) {
        if (size == idHigh.length) {
            int capacity = size * 2;
            idHigh = Arrays.copyOf(idHigh, capacity);
            idLow = Arrays.copyOf(idLow, capacity);
            buyer = Arrays.copyOf(buyer, capacity);
            provider = Arrays.copyOf(provider, capacity);
            promptTokens = Arrays.copyOf(promptTokens, capacity);
            completionTokens = Arrays.copyOf(completionTokens, capacity);
            standardTokensMilli = Arrays.copyOf(standardTokensMilli, capacity);
            costNanoUsd = Arrays.copyOf(costNanoUsd, capacity);
        }
        idHigh[size] = id.getMostSignificantBits();
        idLow[size] = id.getLeastSignificantBits();
        buyer[size] = number(buyerOrgId, buyerIndex, buyers);
        provider[size] = number(providerOrgId, providerIndex, providers);
        promptTokens[size] = prompt;
        completionTokens[size] = completion;
        standardTokensMilli[size] = stMilli;
        costNanoUsd[size] = cost;
        size++;
    }

    private static int number(UUID org, Map<UUID, Integer> index, List<UUID> orgs) {
        Integer known = index.get(org);
        if (known != null) {
            return known;
        }
        index.put(org, orgs.size());
        orgs.add(org);
        return orgs.size() - 1;
    }

    UUID id(int i) {
        return new UUID(idHigh[i], idLow[i]);
    }

    /**
     * SHA-256 of the sales as finance's query writes them (docs/index-methodology.md): one line
     * {@code id,buyer,provider,prompt_tokens,completion_tokens,cost_nano_usd\n} per sale, in PostgreSQL's uuid
     * order (unsigned, byte by byte), nothing else.
     */
    byte[] sha256() {
        int[] order = Sort.ascending(size, (a, b) -> {
            int high = Long.compareUnsigned(idHigh[a], idHigh[b]);
            return high != 0 ? high : Long.compareUnsigned(idLow[a], idLow[b]);
        });
        MessageDigest digest = sha256Digest();
        String[] buyerText = buyers.stream().map(UUID::toString).toArray(String[]::new);
        String[] providerText = providers.stream().map(UUID::toString).toArray(String[]::new);
        StringBuilder line = new StringBuilder(160);
        for (int i : order) {
            line.setLength(0);
            line.append(id(i)).append(',').append(buyerText[buyer[i]]).append(',').append(providerText[provider[i]])
                    .append(',').append(promptTokens[i]).append(',').append(completionTokens[i]).append(',')
                    .append(costNanoUsd[i]).append('\n');
            digest.update(line.toString().getBytes(StandardCharsets.US_ASCII));
        }
        return digest.digest();
    }

    static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
