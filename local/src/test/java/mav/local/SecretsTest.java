package mav.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecretsTest {
    private static final String SECRET = "s3cr3t-Key-That-Must-Not-Show";

    @Test
    void whatUpPrintsAboutTheStackNamesWhereTheSecretIsButNeverTheSecret() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Endpoints e = new Endpoints("localhost:9092", "http://localhost:9000", "mav-user", SECRET, "mav", "mav.");
        new Mav(new PrintStream(bytes, true, StandardCharsets.UTF_8)).printStack(e,
                Map.of("prior", List.of("http://localhost:8081")), Path.of("/x/.mav/stack.properties"),
                "http://127.0.0.1:8080/");
        String printed = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(printed.contains("Web page and API http://127.0.0.1:8080/"), printed);
        assertFalse(printed.contains(SECRET), printed);
        assertTrue(printed.contains("/x/.mav/stack.properties"), printed);
        assertFalse(e.toString().contains(SECRET), e.toString());
    }

    @Test
    void filesHoldingCredentialsAreTheOwnersOnlyEvenWhenTheyExistedBefore(@TempDir Path dir) throws Exception {
        Path fresh = dir.resolve("stack.properties");
        Layout.writePrivate(fresh, "s3.secret-key=" + SECRET + "\n");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh)));
        Path old = Files.writeString(dir.resolve("s3proxy.properties"), "old");
        Files.setPosixFilePermissions(old, PosixFilePermissions.fromString("rw-r--r--"));
        Layout.writePrivate(old, "s3proxy.credential=" + SECRET + "\n");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(old)));
        assertTrue(Files.readString(old).contains(SECRET));
    }
}
