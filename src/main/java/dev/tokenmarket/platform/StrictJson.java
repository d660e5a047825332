package dev.tokenmarket.platform;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.deser.std.StdScalarDeserializer;
import com.fasterxml.jackson.databind.deser.std.StringDeserializer;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.type.LogicalType;
import io.quarkus.jackson.ObjectMapperCustomizer;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.util.UUID;

/**
 * Takes JSON as the contract types it: a number is not a string, a string is not a number or a boolean, a
 * fraction is not an integer, and no string holds NUL. Money is a decimal string, and silently turning
 * {@code 12.5} into {@code "12.5"} would invite floats into amounts; {@code "7"} taken for 7, or {@code 1}
 * for true, would let a malformed request change something; and PostgreSQL cannot store a NUL, so a
 * string with one would fail deep inside a write instead of at the door.
 */
@Singleton
public class StrictJson implements ObjectMapperCustomizer {

    @Override
    public void customize(ObjectMapper mapper) {
        mapper.coercionConfigFor(LogicalType.Textual)
                .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail);
        for (LogicalType number : new LogicalType[] {LogicalType.Integer, LogicalType.Float}) {
            mapper.coercionConfigFor(number)
                    .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail);
        }
        mapper.coercionConfigFor(LogicalType.Boolean)
                .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Float, CoercionAction.Fail);
        mapper.disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT);
        mapper.registerModule(new SimpleModule("strict-strings").addDeserializer(String.class, new NoNulString())
                .addDeserializer(UUID.class, new ExactUuid()));
    }

    /**
     * A UUID in its one written form: Jackson's own trims the text first, and trimming takes control characters
     * (a NUL among them) along with spaces, so a UUID followed by a NUL would pass as the UUID.
     */
    static final class ExactUuid extends StdScalarDeserializer<UUID> {

        ExactUuid() {
            super(UUID.class);
        }

        @Override
        public UUID deserialize(JsonParser parser, DeserializationContext context) throws IOException {
            if (!parser.hasToken(com.fasterxml.jackson.core.JsonToken.VALUE_STRING)) {
                return (UUID) context.handleUnexpectedToken(UUID.class, parser);
            }
            String text = parser.getText();
            try {
                UUID parsed = UUID.fromString(text);
                if (parsed.toString().equalsIgnoreCase(text)) {
                    return parsed;
                }
            } catch (IllegalArgumentException e) {
                // Answered below, as a UUID in another form is.
            }
            throw InvalidFormatException.from(parser, "not a UUID such as 6a8a7c59-3b0e-4d4e-9a8e-0d3c6f0f2b11", text, UUID.class);
        }
    }

    /** Jackson's own string deserializer, refusing a NUL character with the field's path, like any wrong value. */
    static final class NoNulString extends StdScalarDeserializer<String> {

        NoNulString() {
            super(String.class);
        }

        @Override
        public String deserialize(JsonParser parser, DeserializationContext context) throws IOException {
            String value = StringDeserializer.instance.deserialize(parser, context);
            if (value != null && value.indexOf('\0') >= 0) {
                throw InvalidFormatException.from(parser, "a string may not hold NUL (\\u0000)", value, String.class);
            }
            return value;
        }

        @Override
        public LogicalType logicalType() {
            return LogicalType.Textual;
        }
    }
}
