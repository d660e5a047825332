package dev.tokenmarket.testing;

import io.restassured.RestAssured;

import java.net.URL;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads samples out of the application's Prometheus text exposition. */
public final class PrometheusText {

    /** One sample line: name, optional labels, value. */
    public static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{.*})? (\\S+)$");
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4";

    private PrometheusText() {
    }

    /** The exposition at {@code metrics} (the management interface's /q/metrics). */
    public static String scrape(URL metrics) {
        return RestAssured.given().header("Accept", CONTENT_TYPE).get(metrics).then().statusCode(200).extract().asString();
    }

    /**
     * The value of the sample {@code name} whose labels are exactly {@code labels} (in the exporter's order,
     * without the trailing comma the text format may add); 0 when there is none yet, as for a counter never moved.
     */
    public static double value(String scrape, String name, String labels) {
        for (String line : scrape.split("\n")) {
            Matcher m = SAMPLE.matcher(line);
            if (!m.matches() || !m.group(1).equals(name)) {
                continue;
            }
            String found = m.group(2) == null ? "" : m.group(2).substring(1, m.group(2).length() - 1);
            if (found.endsWith(",")) {
                found = found.substring(0, found.length() - 1);
            }
            if (found.equals(labels)) {
                return Double.parseDouble(m.group(3));
            }
        }
        return 0;
    }
}
