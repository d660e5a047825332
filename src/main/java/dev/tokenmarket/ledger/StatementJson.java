package dev.tokenmarket.ledger;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.platform.Money;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;

/** A statement as JSON, written entry by entry as the statement is read (the totals come before the entries). */
final class StatementJson implements FinanceReports.StatementWriter {

    private final JsonGenerator json;
    private final FinanceReports.Account account;
    private final Instant from;
    private final Instant to;

    StatementJson(ObjectMapper mapper, OutputStream out, FinanceReports.Account account, Instant from, Instant to)
            throws IOException {
        this.json = mapper.getFactory().createGenerator(out, JsonEncoding.UTF8);
        this.account = account;
        this.from = from;
        this.to = to;
    }

    @Override
    public void begin(FinanceReports.StatementTotals totals) throws IOException {
        json.writeStartObject();
        json.writeObjectField("account", account.view());
        json.writeStringField("from", from.toString());
        json.writeStringField("to", to.toString());
        json.writeStringField("opening_balance", Money.formatUsd(totals.openingNanoUsd()));
        json.writeStringField("total_debits", Money.formatUsd(totals.debitsNanoUsd()));
        json.writeStringField("total_credits", Money.formatUsd(totals.creditsNanoUsd()));
        json.writeStringField("closing_balance", Money.formatUsd(totals.closingNanoUsd()));
        json.writeArrayFieldStart("entries");
    }

    @Override
    public void line(FinanceReports.StatementLine line) throws IOException {
        json.writeStartObject();
        json.writeStringField("entry_id", line.entryId().toString());
        json.writeStringField("created_at", line.createdAt().toString());
        json.writeStringField("code", line.code());
        json.writeStringField("description", line.description());
        json.writeStringField("debit", Money.formatUsd(line.debitNanoUsd()));
        json.writeStringField("credit", Money.formatUsd(line.creditNanoUsd()));
        json.writeStringField("balance", Money.formatUsd(line.balanceNanoUsd()));
        if (line.reversesEntryId() != null) {
            json.writeStringField("reverses_entry_id", line.reversesEntryId().toString());
        }
        json.writeEndObject();
    }

    @Override
    public void end() throws IOException {
        json.writeEndArray();
        json.writeEndObject();
        json.flush();
    }
}
