package dev.tokenmarket.ledger;

/** One line of a journal entry: a positive amount debits the account, a negative one credits it. */
public record Posting(long accountId, long amountNanoUsd) {

    public static Posting debit(long accountId, long amountNanoUsd) {
        return new Posting(accountId, amountNanoUsd);
    }

    public static Posting credit(long accountId, long amountNanoUsd) {
        return new Posting(accountId, -amountNanoUsd);
    }
}
