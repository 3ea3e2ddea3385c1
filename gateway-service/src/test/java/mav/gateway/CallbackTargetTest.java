package mav.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which callback URLs the gateway calls, and the signature a receiver checks. */
class CallbackTargetTest {

    @Test
    void loopbackPrivateLinkLocalAndReservedAddressesAreRefusedUnlessAllowed() {
        for (String host : List.of("127.0.0.1", "localhost", "10.1.2.3", "172.16.0.9", "192.168.1.1",
                "169.254.169.254", "0.0.0.0", "100.64.0.1", "[::1]", "[fd00::1]", "[fe80::1]", "[::ffff:10.0.0.1]",
                "224.0.0.1", "198.18.0.1")) {
            String url = "http://" + host + ":8080/hook";
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CallbackTarget.check(url, false), url);
            assertTrue(e.getMessage().contains("MAV_GATEWAY_CALLBACK_ALLOW_PRIVATE"), e.getMessage());
            assertEquals(URI.create(url), CallbackTarget.check(url, true));
        }
    }

    @Test
    void publicAddressesPass() {
        for (String url : List.of("https://93.184.215.14/hook", "http://8.8.8.8:9000/x?y=1", "https://[2606:4700::1]/")) {
            assertEquals(URI.create(url), CallbackTarget.check(url, false));
        }
    }

    @Test
    void onlyHttpUrlsWithAHostAndNoCredentials() {
        for (String url : List.of("ftp://8.8.8.8/", "file:///etc/passwd", "http:///x", "https://u:p@8.8.8.8/",
                "no url at all", "https://8.8.8.8/" + "x".repeat(3000))) {
            assertThrows(IllegalArgumentException.class, () -> CallbackTarget.check(url, true), url);
        }
    }

    @Test
    void theSignatureIsTheHmacSha256OfTimestampDotBody() {
        // reference: printf '1700000000.{"id":"v"}' | openssl dgst -sha256 -hmac key
        assertEquals("sha256=783da2c28d44b5b48e7db802fd05e90783166a7828d79c67d363f70b6fea3619",
                Callbacks.sign("key", "1700000000", "{\"id\":\"v\"}".getBytes(StandardCharsets.UTF_8)));
    }
}
