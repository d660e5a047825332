package dev.tokenmarket.forwards.book;

/** GTC rests until cancelled; GTD until its expiry; IOC fills what it can at once; FOK fills all at once or nothing. */
public enum TimeInForce {
    GTC, GTD, IOC, FOK
}
