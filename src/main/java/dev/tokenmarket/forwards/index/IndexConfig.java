package dev.tokenmarket.forwards.index;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/** The spot index's methodology parameters and its publication schedule. */
@ConfigMapping(prefix = "tokenmarket.index")
public interface IndexConfig {

    /** Fewest distinct providers an hour needs for its own value (else the fallback chain). */
    @WithDefault("3")
    int minimumProviders();

    /** Fewest distinct buyers an hour needs for its own value. */
    @WithDefault("3")
    int minimumBuyers();

    /** Fewest standard tokens an hour needs for its own value. */
    @WithDefault("10000000")
    long minimumStandardTokens();

    /** Largest share of the weight one provider, or one buyer, may carry, in basis points. */
    @WithDefault("3000")
    int concentrationCapBps();

    /** Prices further than this many median absolute deviations from the median are dropped. */
    @WithDefault("5")
    int outlierMads();

    /** How long after an hour ends its provisional value is published. */
    @WithDefault("PT5M")
    Duration provisionalDelay();

    /** The earliest an hour's final value is published after the hour ends (and only once settlement caught up). */
    @WithDefault("PT60M")
    Duration finalDelayMin();

    /** How often the publisher looks for values due ("off" disables it, as the tests do, which drive it themselves). */
    @WithDefault("30s")
    String publishInterval();

    /** Hours back the publisher looks for values still to publish (after a restart, for instance). */
    @WithDefault("48")
    int lookbackHours();
}
