package dev.tokenmarket.ledger;

import dev.tokenmarket.platform.Money;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * A statement as CSV (RFC 4180): one row per entry between an opening and a closing balance row, amounts
 * as USD decimals, so that a spreadsheet sums the debit and credit columns to the closing balance. Written
 * row by row as the statement is read.
 */
final class StatementCsv implements FinanceReports.StatementWriter {

    static final String HEADER = "date,entry_id,code,description,debit,credit,balance";
    private static final int DESCRIPTION_COLUMN = 3;

    private final Writer out;
    private final FinanceReports.Account account;
    private final Instant from;
    private final Instant to;
    private FinanceReports.StatementTotals totals;

    StatementCsv(OutputStream out, FinanceReports.Account account, Instant from, Instant to) {
        this.out = new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8), 64 * 1024);
        this.account = account;
        this.from = from;
        this.to = to;
    }

    @Override
    public void begin(FinanceReports.StatementTotals totals) throws IOException {
        this.totals = totals;
        out.write(HEADER);
        out.write("\r\n");
        row(from.toString(), "", "opening_balance", "opening balance of " + account.code(), "", "",
                Money.formatUsd(totals.openingNanoUsd()));
    }

    @Override
    public void line(FinanceReports.StatementLine line) throws IOException {
        row(line.createdAt().toString(), line.entryId().toString(), line.code(), line.description(),
                Money.formatUsd(line.debitNanoUsd()), Money.formatUsd(line.creditNanoUsd()),
                Money.formatUsd(line.balanceNanoUsd()));
    }

    @Override
    public void end() throws IOException {
        row(to.toString(), "", "closing_balance", "closing balance of " + account.code(),
                Money.formatUsd(totals.debitsNanoUsd()), Money.formatUsd(totals.creditsNanoUsd()),
                Money.formatUsd(totals.closingNanoUsd()));
        out.flush();
    }

    private void row(String... fields) throws IOException {
        for (int i = 0; i < fields.length; i++) {
            if (i > 0) {
                out.write(',');
            }
            // Only the free-text description can carry a formula; amounts may start with '-' legitimately.
            out.write(quote(i == DESCRIPTION_COLUMN ? defused(fields[i]) : fields[i]));
        }
        out.write("\r\n");
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
