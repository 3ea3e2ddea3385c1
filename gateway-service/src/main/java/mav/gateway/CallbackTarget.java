package mav.gateway;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;

/**
 * Where a callback may go: an absolute http(s) URL without credentials whose host resolves only to public
 * addresses, unless private ones are allowed ({@code MAV_GATEWAY_CALLBACK_ALLOW_PRIVATE}); so that a client cannot
 * make the gateway call into the cluster (the stages, S3, the cloud's metadata service).
 */
final class CallbackTarget {
    static final int MAX_LENGTH = 2048;

    private CallbackTarget() {
    }

    /** The URL, checked; {@link IllegalArgumentException} says what is wrong with it. */
    static URI check(String url, boolean allowPrivate) {
        if (url.length() > MAX_LENGTH) {
            throw new IllegalArgumentException("callback_url is longer than " + MAX_LENGTH + " characters");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("callback_url is not a URL: " + e.getMessage());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase();
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("callback_url must be an http or https URL, got '" + scheme + "'");
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new IllegalArgumentException("callback_url has no host");
        }
        if (uri.getRawUserInfo() != null) {
            throw new IllegalArgumentException("callback_url must not carry credentials");
        }
        if (!allowPrivate) {
            requirePublic(uri.getHost());
        }
        return uri;
    }

    /** Every address the host resolves to must be public: checked again before each delivery (DNS may change). */
    static void requirePublic(String host) {
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(host.startsWith("[") ? host.substring(1, host.length() - 1) : host);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("callback_url's host " + host + " does not resolve");
        }
        for (InetAddress a : addresses) {
            if (!isPublic(a)) {
                throw new IllegalArgumentException("callback_url's host " + host + " is " + a.getHostAddress()
                        + ", a loopback, private or link-local address: refused (MAV_GATEWAY_CALLBACK_ALLOW_PRIVATE"
                        + " allows them)");
            }
        }
    }

    static boolean isPublic(InetAddress a) {
        if (a.isLoopbackAddress() || a.isAnyLocalAddress() || a.isLinkLocalAddress() || a.isSiteLocalAddress()
                || a.isMulticastAddress()) {
            return false;
        }
        byte[] b = a.getAddress();
        if (a instanceof Inet4Address) {
            int first = b[0] & 0xff;
            int second = b[1] & 0xff;
            // 0/8 "this network", 100.64/10 shared (carrier-grade NAT), 198.18/15 benchmarking, 240/4 reserved
            return first != 0 && !(first == 100 && second >= 64 && second < 128)
                    && !(first == 198 && (second == 18 || second == 19)) && first < 240;
        }
        if (a instanceof Inet6Address) {
            // fc00::/7 unique local; an IPv4-mapped address is judged as the IPv4 one
            if ((b[0] & 0xfe) == 0xfc) {
                return false;
            }
            boolean mapped = true;
            for (int i = 0; i < 10; i++) {
                mapped &= b[i] == 0;
            }
            if (mapped && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
                try {
                    return isPublic(InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]}));
                } catch (UnknownHostException impossible) {
                    return false;
                }
            }
        }
        return true;
    }
}
