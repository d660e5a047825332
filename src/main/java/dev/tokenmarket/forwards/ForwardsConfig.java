package dev.tokenmarket.forwards;

import dev.tokenmarket.forwards.book.BookImplementation;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/** The forward market: what is listed when, the book's owner lease, its group commit and its limits. */
@ConfigMapping(prefix = "tokenmarket.forwards")
public interface ForwardsConfig {

    /** Hourly delivery windows are listed this far ahead. */
    @WithDefault("PT48H")
    Duration hourlyAhead();

    /** Daily delivery windows are listed this many UTC days ahead. */
    @WithDefault("30")
    int dailyAheadDays();

    /** Trading in an instrument stops this long before its delivery starts; its resting orders are then cancelled. */
    @WithDefault("PT15M")
    Duration tradingStopBefore();

    /** How often instruments are listed and moved through their states ("off": the tests drive it). */
    @WithDefault("30s")
    String scheduleInterval();

    /** How often settlement processes re-read the open interest and resting orders the metrics show. */
    @WithDefault("5s")
    String metricsInterval();

    /** The book each instrument's writer keeps ({@code fast} or {@code simple}); the two agree event for event. */
    @WithDefault("fast")
    BookImplementation book();

    /** How long a process owns an instrument's book without renewing its lease. */
    @WithDefault("PT10S")
    Duration leaseTtl();

    /** Commands journaled in one transaction at most. */
    @WithDefault("512")
    int groupCommitMax();

    /** Commands waiting for an instrument's writer at most; beyond, 429. */
    @WithDefault("20000")
    int queueLengthMax();

    /** Contracts in one order at most. */
    @WithDefault("100000")
    long quantityPerOrderMax();

    /** Open orders of one organization on one instrument at most. */
    @WithDefault("1000")
    int openOrdersPerInstrumentMax();

    /**
     * The share of its endpoints' tokens per minute a provider may sell forward, in percent: a provider opens
     * shorts only up to that share of what its active endpoints for the product serve in the window.
     */
    @WithDefault("80")
    int capacityFractionPercent();

    /** Order messages (place, amend, cancel) per key and second at most. */
    @WithDefault("5000")
    int messagesPerKeyPerSecondMax();
}
