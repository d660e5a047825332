package dev.tokenmarket.forwards;

import java.time.Instant;
import java.util.List;

/**
 * An order as its owner sees it: the answer to placing, amending or cancelling it, and (for a retry with
 * the same client order id) the first answer again. Prices are USD per contract; ids are strings.
 */
public record OrderView(String id, String clientOrderId, String instrument, String side, String price, long quantity,
                        long openQuantity, long filledQuantity, String timeInForce, Instant expiresAt, boolean postOnly,
                        boolean reduceOnly, String selfTradePrevention, String status, String reason,
                        List<FillView> fills) {

    /** One trade of this order in the command answered: at what price, how much, and whether it took or made. */
    public record FillView(String tradeId, String price, long quantity, String liquidity) {
    }
}
