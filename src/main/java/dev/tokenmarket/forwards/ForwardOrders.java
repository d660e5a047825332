package dev.tokenmarket.forwards;

import dev.tokenmarket.forwards.book.SelfTradePrevention;
import dev.tokenmarket.forwards.book.Side;
import dev.tokenmarket.forwards.book.TimeInForce;
import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.IsoInstants;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * Places, amends and cancels orders: checks the request against the instrument's rules (every refusal here
 * changes nothing and reaches no book), then hands it to the book's engine and waits for its journal commit.
 */
@ApplicationScoped
public class ForwardOrders {

    private static final Pattern CLIENT_ORDER_ID = Pattern.compile("[A-Za-z0-9._:-]{1,64}");
    private static final long ANSWER_TIMEOUT_SECONDS = 30;

    @Inject
    Instruments instruments;

    @Inject
    Products products;

    @Inject
    Members members;

    @Inject
    ForwardBooks books;

    @Inject
    ForwardsConfig config;

    @Inject
    ProviderCapacity capacity;

    /** The body of {@code POST /api/forwards/orders}: price in USD per contract, quantity in contracts. */
    public record PlaceOrder(String instrument, String side, Long quantity, String price, String timeInForce,
                             String expiresAt, String clientOrderId, Boolean postOnly, Boolean reduceOnly,
                             String selfTradePrevention) {
    }

    /** The body of {@code PATCH /api/forwards/orders/{id}}: the new price and/or the new open quantity. */
    public record AmendOrder(String price, Long quantity) {
    }

    private final Map<UUID, long[]> messagesByKey = new ConcurrentHashMap<>();
    /** One lock per provider: its sells are checked against its capacity one at a time in this process. */
    private final Map<UUID, Object> providerLocks = new ConcurrentHashMap<>();

    public OrderView place(Caller caller, PlaceOrder r) {
        countMessage(caller);
        if (r == null) {
            throw ApiException.invalid(null, "A body is required: {instrument, side, quantity, price, time_in_force, client_order_id}.");
        }
        if (r.instrument() == null) {
            throw ApiException.invalid("instrument", "Field 'instrument' is required: a symbol such as FWD-stories260k-2026-12-04T14.");
        }
        Instrument instrument = instruments.recentBySymbol(r.instrument());
        Product product = products.byId(instrument.productId());
        requireTrading(instrument);
        Side side = side(r.side());
        long quantity = quantity(r.quantity(), product);
        long price = price(r.price(), "price", product);
        TimeInForce tif = enumValue(TimeInForce.class, r.timeInForce(), TimeInForce.GTC, "time_in_force", "gtc, gtd, ioc or fok");
        Instant expiresAt = null;
        if (tif == TimeInForce.GTD) {
            if (r.expiresAt() == null) {
                throw ApiException.invalid("expires_at", "A GTD order needs 'expires_at', an ISO instant such as 2026-12-04T13:00:00Z.");
            }
            expiresAt = IsoInstants.parse(r.expiresAt(), "expires_at");
            if (!expiresAt.isAfter(Instant.now())) {
                throw ApiException.invalid("expires_at", "Field 'expires_at' must be in the future.");
            }
        } else if (r.expiresAt() != null) {
            throw ApiException.invalid("expires_at", "Only a GTD order takes 'expires_at'.");
        }
        boolean postOnly = Boolean.TRUE.equals(r.postOnly());
        if (postOnly && (tif == TimeInForce.IOC || tif == TimeInForce.FOK)) {
            throw ApiException.invalid("post_only", "A post-only order rests or is refused, so it cannot be IOC or FOK.");
        }
        SelfTradePrevention stp = enumValue(SelfTradePrevention.class, r.selfTradePrevention(), SelfTradePrevention.CANCEL_INCOMING,
                "self_trade_prevention", "cancel_incoming, cancel_resting or cancel_both");
        String clientOrderId = r.clientOrderId() == null ? UUID.randomUUID().toString() : r.clientOrderId();
        if (!CLIENT_ORDER_ID.matcher(clientOrderId).matches()) {
            throw ApiException.invalid("client_order_id", "Field 'client_order_id' must be 1 to 64 letters, digits or . _ : -.");
        }
        boolean reduceOnly = Boolean.TRUE.equals(r.reduceOnly());
        byte[] digest = sha256(String.join("|", instrument.symbol(), side.name(), Long.toString(quantity), Long.toString(price),
                tif.name(), String.valueOf(expiresAt), Boolean.toString(postOnly), Boolean.toString(reduceOnly), stp.name()));
        long member = members.numberOf(caller.orgId());
        Instant expiry = expiresAt;
        // Providers sell capacity forward; traders may go short where the product allows it; buyers buy ahead.
        boolean traderShorts = caller.has(Role.ADMIN) || (caller.has(Role.TRADER) && product.traderShortsAllowed());
        boolean mayOpenShort = traderShorts || caller.has(Role.PROVIDER);
        java.util.function.Function<ProviderCapacity.Limit, OrderView> submit = limit -> (OrderView) await(books.engineFor(instrument)
                .submit(() -> new BookEngine.PlaceRequest(caller.orgId(), member, clientOrderId, digest, side, price, quantity, tif,
                        expiry, postOnly, reduceOnly, stp, mayOpenShort, limit, new CompletableFuture<>())));
        OrderView placed;
        if (side == Side.SELL && !reduceOnly && !traderShorts && caller.has(Role.PROVIDER)) {
            // A provider's shorts are backed by its endpoints: the check reads its commitments on the other books,
            // so its sells go one at a time (each answered after its commit, which the next one then counts).
            synchronized (providerLocks.computeIfAbsent(caller.orgId(), k -> new Object())) {
                placed = submit.apply(capacity.limitFor(caller.orgId(), instrument, product));
            }
        } else {
            placed = submit.apply(null);
        }
        if ("rejected".equals(placed.status())) {
            // A retry with the same client order id gets the same refusal: the first answer.
            throw BookEngine.rejection(dev.tokenmarket.forwards.book.BookEvents.Rejection.valueOf(placed.reason().toUpperCase(Locale.ROOT)));
        }
        return placed;
    }

    public OrderView amend(Caller caller, long orderId, AmendOrder r) {
        countMessage(caller);
        if (r == null || (r.price() == null && r.quantity() == null)) {
            throw ApiException.invalid(null, "Give the new 'price' (USD per contract) and/or the new open 'quantity'.");
        }
        BookEngine engine = engineOfOrder(orderId);
        Product product = products.byId(engine.instrument().productId());
        long member = members.numberOf(caller.orgId());
        long price = r.price() == null ? -1 : price(r.price(), "price", product);
        long quantity = r.quantity() == null ? -1 : quantity(r.quantity(), product);
        return (OrderView) await(engine.submit(() -> new BookEngine.AmendRequest(member, orderId, price, quantity, new CompletableFuture<>())));
    }

    public OrderView cancel(Caller caller, long orderId) {
        countMessage(caller);
        BookEngine engine = engineOfOrder(orderId);
        long member = members.numberOf(caller.orgId());
        return (OrderView) await(engine.submit(() -> new BookEngine.CancelRequest(member, orderId, new CompletableFuture<>())));
    }

    /** Cancels the organization's resting orders on one instrument, or on every open one; the number cancelled. */
    public int cancelAll(Caller caller, String symbol) {
        countMessage(caller);
        long member = members.numberOf(caller.orgId());
        int cancelled = 0;
        for (Instrument i : symbol == null ? instruments.withOpenOrders(caller.orgId()) : java.util.List.of(instruments.bySymbol(symbol))) {
            if (i.state() == Instrument.State.TRADING || i.state() == Instrument.State.HALTED) {
                cancelled += (Integer) await(books.engineFor(i).submit(() -> new BookEngine.CancelAllRequest(member, new CompletableFuture<>())));
            }
        }
        return cancelled;
    }

    private BookEngine engineOfOrder(long orderId) {
        Instrument instrument;
        try {
            instrument = instruments.recentById(BookEngine.instrumentIdOf(orderId));
        } catch (RuntimeException e) {
            throw new ApiException(ErrorCode.NOT_FOUND, "No order " + orderId + ".");
        }
        requireTrading(instrument);
        return books.engineFor(instrument);
    }

    private static void requireTrading(Instrument instrument) {
        if (instrument.state() != Instrument.State.TRADING || !Instant.now().isBefore(instrument.tradingStopsAt())) {
            throw new ApiException(ErrorCode.INSTRUMENT_NOT_TRADING, "Instrument " + instrument.symbol() + " is "
                    + instrument.state().wireName() + "; orders are taken only while it is trading (until "
                    + instrument.tradingStopsAt() + ").");
        }
    }

    private void countMessage(Caller caller) {
        long second = System.currentTimeMillis() / 1000;
        long[] window = messagesByKey.computeIfAbsent(caller.keyId(), k -> new long[2]);
        synchronized (window) {
            if (window[0] != second) {
                window[0] = second;
                window[1] = 0;
            }
            if (++window[1] > config.messagesPerKeyPerSecondMax()) {
                throw ApiException.rateLimited("This key sent more than " + config.messagesPerKeyPerSecondMax()
                        + " order messages in this second; slow down.", 1);
            }
        }
    }

    private static Side side(String value) {
        if ("buy".equals(value)) {
            return Side.BUY;
        }
        if ("sell".equals(value)) {
            return Side.SELL;
        }
        throw ApiException.invalid("side", "Field 'side' must be \"buy\" or \"sell\".");
    }

    private long quantity(Long value, Product product) {
        if (value == null || value <= 0) {
            throw ApiException.invalid("quantity", "Field 'quantity' is required: a whole number of contracts above zero.");
        }
        if (value > config.quantityPerOrderMax()) {
            throw new ApiException(ErrorCode.QUANTITY_ABOVE_LIMIT, "An order may have at most " + config.quantityPerOrderMax()
                    + " contracts; split it.", "quantity");
        }
        if (value % product.lotContracts() != 0) {
            throw new ApiException(ErrorCode.NOT_ON_LOT, "Field 'quantity' must be a multiple of the lot, "
                    + product.lotContracts() + " contracts.", "quantity");
        }
        return value;
    }

    private static long price(String value, String field, Product product) {
        long price = Money.parseUsd(value, field);
        if (price % product.tickNanoUsd() != 0) {
            throw new ApiException(ErrorCode.NOT_ON_TICK, "Field '" + field + "' must be a multiple of the tick, "
                    + Money.formatUsd(product.tickNanoUsd()) + " USD.", field);
        }
        if (price < product.priceMinNanoUsd() || price > product.priceMaxNanoUsd()) {
            throw new ApiException(ErrorCode.PRICE_OUT_OF_BAND, "Field '" + field + "' must be within the price band, "
                    + Money.formatUsd(product.priceMinNanoUsd()) + " to " + Money.formatUsd(product.priceMaxNanoUsd()) + " USD.", field);
        }
        return price;
    }

    private static <E extends Enum<E>> E enumValue(Class<E> type, String value, E fallback, String field, String allowed) {
        if (value == null) {
            return fallback;
        }
        try {
            return Enum.valueOf(type, value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(field, "Field '" + field + "' must be " + allowed + ".");
        }
    }

    private static byte[] sha256(String canonical) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(canonical.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Object await(CompletableFuture<Object> answer) {
        try {
            return answer.get(ANSWER_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new ApiException(ErrorCode.INSTRUMENT_OWNED_ELSEWHERE, "The book did not answer within " + ANSWER_TIMEOUT_SECONDS
                    + " s; the command may still be journaled: retry with the same client_order_id to learn its outcome.");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
