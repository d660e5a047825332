package dev.tokenmarket.platform;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.StringJoiner;
import java.util.UUID;

/**
 * Several SQL commands sent to PostgreSQL as one statement: the driver sends them all, then waits once, so
 * they cost one network round trip (and one wake-up of the server's backend) instead of one each. On a
 * connection in autocommit mode PostgreSQL runs them as one implicit transaction, committed when the last one
 * succeeded and rolled back when any failed: the commit rides on the same round trip.
 *
 * <p>Why: at low load each round trip to the local PostgreSQL costs 0.3-0.4 ms of waiting on the development
 * machine (the backend and the client wake up), more than the commands themselves; the gateway's group commit
 * made four to seven of them per group.
 */
public final class OneRoundTrip {

    private OneRoundTrip() {
    }

    /** One command of a trip: its SQL, its parameters, and what it answers. */
    public interface Command {
        /** One SQL command, without a terminating semicolon; its parameters are {@code ?}. */
        String sql();

        /** Binds this command's parameters, the first at index {@code first}; answers how many it bound. */
        int bind(Connection c, PreparedStatement ps, int first) throws SQLException;

        /** Reads the rows the command answered; not called for a command that answers only a row count. */
        default void read(ResultSet rows) throws SQLException {
        }
    }

    /** A command given a set of ids as its one uuid[] parameter, answering the ids in its rows' first column. */
    public static final class UuidsAnswered implements Command {
        private final String sql;
        private final Collection<UUID> ids;
        private final Set<UUID> answered = new HashSet<>();

        public UuidsAnswered(String sql, Collection<UUID> ids) {
            this.sql = sql;
            this.ids = ids;
        }

        @Override
        public String sql() {
            return sql;
        }

        @Override
        public int bind(Connection c, PreparedStatement ps, int first) throws SQLException {
            ps.setArray(first, c.createArrayOf("uuid", ids.toArray()));
            return 1;
        }

        @Override
        public void read(ResultSet rows) throws SQLException {
            while (rows.next()) {
                answered.add(rows.getObject(1, UUID.class));
            }
        }

        /** The ids the command answered, once it ran. */
        public Set<UUID> answered() {
            return answered;
        }
    }

    /** Sends {@code commands} in one statement, then hands each command its rows, in order. */
    public static void run(Connection c, List<? extends Command> commands) throws SQLException {
        if (commands.isEmpty()) {
            return;
        }
        StringJoiner sql = new StringJoiner(";\n");
        commands.forEach(command -> sql.add(command.sql()));
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            int next = 1;
            for (Command command : commands) {
                next += command.bind(c, ps, next);
            }
            boolean rows = ps.execute();
            for (Command command : commands) {
                if (rows) {
                    try (ResultSet rs = ps.getResultSet()) {
                        command.read(rs);
                    }
                } else if (ps.getUpdateCount() == -1) {
                    throw new IllegalStateException("the statement answered fewer results than it has commands");
                }
                rows = ps.getMoreResults();
            }
        }
    }
}
