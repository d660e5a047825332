package dev.tokenmarket.forwards.book;

/**
 * Book commands as journal text, one line each: compact, readable in psql, and decoded back to the same
 * command. A placement's order id is not written: it is derived from the journal sequence number.
 */
public final class JournalCodec {

    private JournalCodec() {
    }

    public static String encode(BookCommand command) {
        return switch (command) {
            case BookCommand.Place p -> String.join(",", "P", Long.toString(p.owner()), p.side() == Side.BUY ? "B" : "S",
                    Long.toString(p.priceNanoUsd()), Long.toString(p.quantity()), p.timeInForce().name(),
                    Long.toString(p.expiresAtMillis()), p.postOnly() ? "1" : "0", p.reduceOnly() ? "1" : "0",
                    p.selfTradePrevention().name(), Long.toString(p.atMillis()));
            case BookCommand.Cancel c -> "C," + c.orderId() + "," + c.owner();
            case BookCommand.Amend a -> "A," + a.orderId() + "," + a.owner() + "," + a.priceNanoUsd() + "," + a.quantity() + "," + a.atMillis();
            case BookCommand.CancelAll c -> "X," + c.owner();
            case BookCommand.Expire e -> "E," + e.atMillis();
            case BookCommand.StopTrading s -> "S";
        };
    }

    /** The command of a journal line; {@code orderId} is the id a placement gets. */
    public static BookCommand decode(String line, long orderId) {
        String[] f = line.split(",", -1);
        return switch (f[0]) {
            case "P" -> new BookCommand.Place(orderId, Long.parseLong(f[1]), "B".equals(f[2]) ? Side.BUY : Side.SELL,
                    Long.parseLong(f[3]), Long.parseLong(f[4]), TimeInForce.valueOf(f[5]), Long.parseLong(f[6]),
                    "1".equals(f[7]), "1".equals(f[8]), SelfTradePrevention.valueOf(f[9]), Long.parseLong(f[10]));
            case "C" -> new BookCommand.Cancel(Long.parseLong(f[1]), Long.parseLong(f[2]));
            case "A" -> new BookCommand.Amend(Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]),
                    Long.parseLong(f[4]), Long.parseLong(f[5]));
            case "X" -> new BookCommand.CancelAll(Long.parseLong(f[1]));
            case "E" -> new BookCommand.Expire(Long.parseLong(f[1]));
            case "S" -> new BookCommand.StopTrading();
            default -> throw new IllegalStateException("unknown journal command: " + line);
        };
    }
}
