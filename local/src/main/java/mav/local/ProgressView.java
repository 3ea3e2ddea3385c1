package mav.local;

import java.io.PrintStream;
import java.util.EnumMap;
import java.util.Map;
import mav.common.event.StatusEvent;
import mav.common.event.StatusEvent.State;

/**
 * One job's progress, one line per stage: {@code decoder  [#####.....]  12/25  progress  4.1s}. On a terminal the
 * block is redrawn in place; otherwise (a pipe, a log file, CI) a plain line is printed per state change and per
 * tenth of a stage's steps.
 */
final class ProgressView {
    private static final int BAR = 28;

    private static final class Line {
        State state;
        int step;
        int total;
        String message;
        long startedNanos;
        long doneNanos;
        int lastPrintedTenth = -1;
    }

    private final PrintStream out;
    private final boolean tty;
    private final String jobId;
    private final Map<Stage, Line> lines = new EnumMap<>(Stage.class);
    private boolean drawn;
    private long lastDraw;

    ProgressView(PrintStream out, boolean tty, String jobId) {
        this.out = out;
        this.tty = tty;
        this.jobId = jobId;
        for (Stage s : Stage.values()) {
            lines.put(s, new Line());
        }
    }

    static boolean isTerminal(boolean plainRequested) {
        String term = System.getenv("TERM");
        return !plainRequested && System.console() != null && term != null && !term.equals("dumb");
    }

    void update(StatusEvent e) {
        Stage s = Stage.byId(e.stage());
        if (s == null || e.state() == null) {
            return;
        }
        Line l = lines.get(s);
        if (e.state() == State.QUEUED && l.state != null) {
            return; // a stage already reported on the job
        }
        State before = l.state;
        l.state = e.state();
        if (e.step() != null) {
            l.step = e.step();
        }
        if (e.totalSteps() != null) {
            l.total = e.totalSteps();
        }
        if (e.message() != null) {
            l.message = e.message();
        }
        long now = System.nanoTime();
        if (e.state() == State.STARTED && l.startedNanos == 0) {
            l.startedNanos = now;
        }
        if (e.state().terminal() && l.doneNanos == 0) {
            l.doneNanos = now;
            if (l.startedNanos == 0) {
                l.startedNanos = now;
            }
            if (e.state() == State.DONE && l.total > 0) {
                l.step = l.total;
            }
        }
        if (tty) {
            boolean important = before != l.state;
            if (important || now - lastDraw > 100_000_000L) {
                draw();
            }
        } else {
            plain(s, l, before);
        }
    }

    private void plain(Stage s, Line l, State before) {
        if (l.state == State.PROGRESS) {
            int tenth = l.total > 0 ? l.step * 10 / l.total : 0;
            if (tenth == l.lastPrintedTenth && before == State.PROGRESS) {
                return;
            }
            l.lastPrintedTenth = tenth;
        } else if (before == l.state) {
            return;
        }
        out.println(render(s, l).stripTrailing());
        out.flush();
    }

    /** Redraws the whole block in place. */
    void draw() {
        if (!tty) {
            return;
        }
        StringBuilder sb = new StringBuilder();
        if (drawn) {
            sb.append("\033[").append(lines.size() + 1).append('A');
        }
        sb.append("\r\033[2K").append("job ").append(jobId).append('\n');
        for (Stage s : Stage.values()) {
            sb.append("\r\033[2K").append(render(s, lines.get(s))).append('\n');
        }
        out.print(sb);
        out.flush();
        drawn = true;
        lastDraw = System.nanoTime();
    }

    private String render(Stage s, Line l) {
        String state = l.state == null ? "waiting" : l.state.id();
        double frac = l.state == State.DONE ? 1.0 : l.total > 0 ? Math.min(1.0, (double) l.step / l.total) : 0.0;
        int filled = (int) Math.round(frac * BAR);
        String bar = "#".repeat(filled) + ".".repeat(BAR - filled);
        String steps = l.total > 0 ? String.format("%4d/%-4d", l.step, l.total) : "         ";
        String time = "";
        if (l.startedNanos != 0) {
            long end = l.doneNanos != 0 ? l.doneNanos : System.nanoTime();
            time = String.format("%6.1fs", (end - l.startedNanos) / 1e9);
        }
        String msg = "";
        if (l.message != null && (l.state == State.FAILED || l.state == State.CANCELLED || l.message.startsWith("already"))) {
            msg = "  " + l.message;
        }
        String prefix = tty ? "" : "[" + jobId + "] ";
        return String.format("%s%-14s [%s] %s %-8s %s%s", prefix, s.id(), bar, steps, state, time, msg);
    }
}
