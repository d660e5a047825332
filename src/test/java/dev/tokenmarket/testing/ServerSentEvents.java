package dev.tokenmarket.testing;

import io.restassured.path.json.JsonPath;

import java.util.ArrayList;
import java.util.List;

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
