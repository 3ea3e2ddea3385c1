package mav.local;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Command line: positional words and {@code --name value} / {@code --name=value} / {@code --flag} options. */
final class Args {
    /** Options that take no value. */
    private static final Set<String> FLAGS = Set.of("once", "no-services", "foreground", "purge", "plain", "help",
            "no-download", "no-wait", "compare", "batching");

    final List<String> positional = new ArrayList<>();
    private final Map<String, String> options = new LinkedHashMap<>();

    static Args parse(List<String> argv) {
        Args a = new Args();
        for (int i = 0; i < argv.size(); i++) {
            String s = argv.get(i);
            if (s.startsWith("--") && s.length() > 2) {
                String name = s.substring(2);
                String value;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    value = name.substring(eq + 1);
                    name = name.substring(0, eq);
                } else if (FLAGS.contains(name)) {
                    value = "true";
                } else {
                    if (i + 1 >= argv.size()) {
                        throw new UsageException("option --" + name + " needs a value");
                    }
                    value = argv.get(++i);
                }
                a.options.put(name, value);
            } else if (s.equals("-h")) {
                a.options.put("help", "true");
            } else {
                a.positional.add(s);
            }
        }
        return a;
    }

    String get(String name) {
        return options.get(name);
    }

    String get(String name, String fallback) {
        return options.getOrDefault(name, fallback);
    }

    boolean has(String name) {
        return options.containsKey(name);
    }

    boolean flag(String name) {
        return "true".equalsIgnoreCase(options.get(name));
    }

    int intValue(String name, int fallback) {
        String v = options.get(name);
        if (v == null) {
            return fallback;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be a whole number, got '" + v + "'");
        }
    }

    Long longValue(String name) {
        String v = options.get(name);
        if (v == null) {
            return null;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be a whole number, got '" + v + "'");
        }
    }

    /** Rejects options this command does not know, so a typo is not silently ignored. */
    void allowOnly(Set<String> known) {
        for (String name : options.keySet()) {
            if (!known.contains(name) && !name.equals("help")) {
                throw new UsageException("unknown option --" + name + " (known: --" + String.join(", --", known) + ")");
            }
        }
    }

    /** Parses {@code stage=N,stage=N}; stage names are ids (sr-low) or steps keys (srLow). */
    static Map<Stage, Integer> stageInts(String spec, String what) {
        Map<Stage, Integer> out = new LinkedHashMap<>();
        if (spec == null || spec.isBlank()) {
            return out;
        }
        for (String part : spec.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            int eq = p.indexOf('=');
            if (eq < 0) {
                throw new UsageException(what + ": expected stage=N, got '" + p + "'");
            }
            String name = p.substring(0, eq).trim();
            int n;
            try {
                n = Integer.parseInt(p.substring(eq + 1).trim());
            } catch (NumberFormatException e) {
                throw new UsageException(what + ": '" + p + "' needs a whole number after '='");
            }
            if (name.equals("all") || name.equals("*")) {
                for (Stage s : Stage.values()) {
                    out.put(s, n);
                }
            } else {
                out.put(Stage.parse(name), n);
            }
        }
        return out;
    }

    /** A bad command line; the message says what is wrong. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
