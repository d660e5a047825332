package dev.tokenmarket.forwards.index;

/**
 * The parameters a value was computed with (docs/index-methodology.md); the version names the rules around
 * them, and changes whenever a rule or a rounding changes.
 */
public record Methodology(String version, int minimumProviders, int minimumBuyers, long minimumStandardTokens,
                          int concentrationCapBps, int outlierMads) {

    public static final String VERSION = "1";

    public Methodology {
        if (concentrationCapBps <= 0 || concentrationCapBps > 10_000) {
            throw new IllegalArgumentException("the concentration cap must be 1..10000 basis points, got " + concentrationCapBps);
        }
        if (outlierMads <= 0 || minimumProviders < 1 || minimumBuyers < 1 || minimumStandardTokens < 0) {
            throw new IllegalArgumentException("outlier rule and minimums must be positive");
        }
    }

    static Methodology of(IndexConfig config) {
        return new Methodology(VERSION, config.minimumProviders(), config.minimumBuyers(), config.minimumStandardTokens(),
                config.concentrationCapBps(), config.outlierMads());
    }
}
