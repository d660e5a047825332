package dev.tokenmarket.ledger;

import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.UUID;

/**
 * Rows in PostgreSQL's binary COPY format, written straight into bytes and sent with {@code COPY ... FROM
 * STDIN (FORMAT binary)}. Settlement writes five rows per usage event; in the text format PostgreSQL parsed
 * every uuid, number and hex digest back from text (a tenth of its time in a settlement batch) and the
 * ledger built that text, then copied it twice more (to a String, to UTF-8 bytes). Here each value goes in
 * as the type's own binary form: a uuid as its 16 bytes, a bigint as 8, text and json as their UTF-8 bytes
 * (PostgreSQL converts those from the client encoding, UTF-8 for its JDBC driver, as it does for text COPY).
 * <p>
 * The caller writes each row's fields in the order of the COPY statement's column list; a field count or
 * type that does not match the table fails the COPY, and with it the transaction.
 */
final class BinaryCopyRows {

    /** The format's signature, then a flags field and a header extension length, both zero. */
    private static final byte[] HEADER = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xff, '\r', '\n', 0,
            0, 0, 0, 0, 0, 0, 0, 0};

    private byte[] bytes;
    private int length;
    private int rows;

    BinaryCopyRows(int expectedBytes) {
        bytes = new byte[Math.max(64, expectedBytes)];
        System.arraycopy(HEADER, 0, bytes, 0, HEADER.length);
        length = HEADER.length;
    }

    int rows() {
        return rows;
    }

    /** Starts a row of {@code fields} values; exactly that many must follow. */
    BinaryCopyRows row(int fields) {
        rows++;
        return int16(fields);
    }

    BinaryCopyRows uuid(UUID value) {
        if (value == null) {
            return nullValue();
        }
        int32(16);
        int64(value.getMostSignificantBits());
        return int64(value.getLeastSignificantBits());
    }

    BinaryCopyRows smallint(int value) {
        if (value < Short.MIN_VALUE || value > Short.MAX_VALUE) {
            throw new IllegalArgumentException(value + " does not fit a smallint");
        }
        int32(2);
        return int16(value);
    }

    BinaryCopyRows bigint(long value) {
        int32(8);
        return int64(value);
    }

    BinaryCopyRows bytea(byte[] value) {
        int32(value.length);
        ensure(value.length);
        System.arraycopy(value, 0, bytes, length, value.length);
        length += value.length;
        return this;
    }

    /** A text or json value as UTF-8; ASCII (nearly every value the ledger writes) without an extra copy. */
    BinaryCopyRows text(String value) {
        int n = value.length();
        ensure(4 + n);
        int start = length + 4;
        for (int i = 0; i < n; i++) {
            char ch = value.charAt(i);
            if (ch >= 0x80) {
                return bytea(value.getBytes(StandardCharsets.UTF_8));
            }
            bytes[start + i] = (byte) ch;
        }
        int32(n);
        length += n;
        return this;
    }

    BinaryCopyRows nullValue() {
        return int32(-1);
    }

    /** Runs {@code copySql} (a {@code COPY ... FROM STDIN (FORMAT binary)}) with these rows; answers the rows copied. */
    long copyIn(Connection c, String copySql) throws SQLException {
        int16(-1);
        CopyIn copy = c.unwrap(PGConnection.class).getCopyAPI().copyIn(copySql);
        try {
            copy.writeToCopy(bytes, 0, length);
            return copy.endCopy();
        } finally {
            if (copy.isActive()) {
                copy.cancelCopy();
            }
        }
    }

    private BinaryCopyRows int16(int value) {
        ensure(2);
        bytes[length++] = (byte) (value >>> 8);
        bytes[length++] = (byte) value;
        return this;
    }

    private BinaryCopyRows int32(int value) {
        ensure(4);
        bytes[length++] = (byte) (value >>> 24);
        bytes[length++] = (byte) (value >>> 16);
        bytes[length++] = (byte) (value >>> 8);
        bytes[length++] = (byte) value;
        return this;
    }

    private BinaryCopyRows int64(long value) {
        ensure(8);
        for (int shift = 56; shift >= 0; shift -= 8) {
            bytes[length++] = (byte) (value >>> shift);
        }
        return this;
    }

    private void ensure(int more) {
        if (length + more > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + more));
        }
    }
}
