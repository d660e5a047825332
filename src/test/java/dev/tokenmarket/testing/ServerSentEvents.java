package dev.tokenmarket.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.restassured.path.json.JsonPath;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** Reads a whole server-sent-event body the way an OpenAI client does. */
public record ServerSentEvents(List<String> data, int comments) {

    public static ServerSentEvents parse(String body) {
        List<String> data = new ArrayList<>();
        int comments = 0;
        for (String line : body.split("\n")) {
            if (line.startsWith("data:")) {
                data.add(line.substring(5).strip());
            } else if (line.startsWith(":")) {
                comments++;
            }
        }
        return new ServerSentEvents(data, comments);
    }

    /**
     * A client that leaves mid-stream: posts {@code body} (a streaming request) to {@code url} as {@code key},
     * reads {@code chunks} data lines, then closes its connection. Answers the generation id.
     */
    public static String readChunksThenLeave(URI url, String key, Object body, int chunks)
            throws IOException, InterruptedException {
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpRequest request = HttpRequest.newBuilder(url)
                    .header("Authorization", "Bearer " + key)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(new ObjectMapper().writeValueAsString(body)))
                    .build();
            HttpResponse<InputStream> response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, response.statusCode());
            String id = response.headers().firstValue("X-Generation-Id").orElseThrow();
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                int dataLines = 0;
                while (dataLines < chunks) {
                    String line = reader.readLine();
                    assertNotNull(line, "the stream ended before its chunk " + chunks);
                    if (line.startsWith("data:")) {
                        dataLines++;
                    }
                }
            }
            return id;
        }
    }

    /** The JSON chunks, without the closing [DONE]. */
    public List<JsonPath> chunks() {
        return data.stream().filter(d -> !d.equals("[DONE]")).map(JsonPath::from).toList();
    }

    public boolean endsWithDone() {
        return !data.isEmpty() && data.getLast().equals("[DONE]");
    }

    /** The text of choice 0, concatenated over every chunk (chat deltas or completion texts). */
    public String text(int index) {
        StringBuilder text = new StringBuilder();
        for (JsonPath chunk : chunks()) {
            List<Object> choices = chunk.getList("choices");
            for (int i = 0; i < choices.size(); i++) {
                if (chunk.getInt("choices[" + i + "].index") != index) {
                    continue;
                }
                String piece = chunk.getString("choices[" + i + "].delta.content");
                if (piece == null) {
                    piece = chunk.getString("choices[" + i + "].text");
                }
                if (piece != null) {
                    text.append(piece);
                }
            }
        }
        return text.toString();
    }
}
