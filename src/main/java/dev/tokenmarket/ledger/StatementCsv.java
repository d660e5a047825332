package dev.tokenmarket.ledger;

import dev.tokenmarket.platform.Money;

/**
 * A statement as CSV (RFC 4180): one row per entry between an opening and a closing balance row, amounts
 * as USD decimals, so that a spreadsheet sums the debit and credit columns to the closing balance.
 */
final class StatementCsv {

    static final String HEADER = "date,entry_id,code,description,debit,credit,balance";
    private static final int DESCRIPTION_COLUMN = 3;

    private StatementCsv() {
    }

    static String render(FinanceReports.Statement s) {
        StringBuilder out = new StringBuilder(128 * (s.lines().size() + 3));
        out.append(HEADER).append("\r\n");
        row(out, s.from().toString(), "", "opening_balance", "opening balance of " + s.account().code(), "", "",
                Money.formatUsd(s.openingNanoUsd()));
        for (FinanceReports.StatementLine line : s.lines()) {
            row(out, line.createdAt().toString(), line.entryId().toString(), line.code(), line.description(),
                    Money.formatUsd(line.debitNanoUsd()), Money.formatUsd(line.creditNanoUsd()),
                    Money.formatUsd(line.balanceNanoUsd()));
        }
        row(out, s.to().toString(), "", "closing_balance", "closing balance of " + s.account().code(),
                Money.formatUsd(s.debitsNanoUsd()), Money.formatUsd(s.creditsNanoUsd()), Money.formatUsd(s.closingNanoUsd()));
        return out.toString();
    }

    private static void row(StringBuilder out, String... fields) {
        for (int i = 0; i < fields.length; i++) {
            if (i > 0) {
                out.append(',');
            }
            // Only the free-text description can carry a formula; amounts may start with '-' legitimately.
            out.append(quote(i == DESCRIPTION_COLUMN ? defused(fields[i]) : fields[i]));
        }
        out.append("\r\n");
    }

    /** A leading = + - @ makes spreadsheets evaluate a cell as a formula; a quote mark before it keeps it text. */
    static String defused(String text) {
        return !text.isEmpty() && "=+-@".indexOf(text.charAt(0)) >= 0 ? "'" + text : text;
    }

    /** Quotes a field when it holds a comma, quote or line break, doubling its quotes. */
    static String quote(String value) {
        if (value.indexOf(',') < 0 && value.indexOf('"') < 0 && value.indexOf('\n') < 0 && value.indexOf('\r') < 0) {
            return value;
        }
        return '"' + value.replace("\"", "\"\"") + '"';
    }
}
