package mav.gateway;

import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * The configured API keys, looked up by their owner ids (hashes): a presented key is hashed and looked up. The keys
 * stay in memory, as in the configuration, only to sign callbacks; they are never stored or logged.
 */
@ApplicationScoped
public class ApiKeys {
    private static final Logger LOG = Logger.getLogger(ApiKeys.class.getName());

    @Inject
    GatewayConfig config;

    private Set<String> owners;
    private Map<String, String> keyByOwner;

    void onStart(@Observes StartupEvent e) {
        List<String> keys = config.gateway().apiKeys().orElse(List.of());
        keyByOwner = keys.stream().map(String::trim).filter(k -> !k.isEmpty()).distinct()
                .collect(Collectors.toUnmodifiableMap(Caller::ownerOf, Function.identity()));
        owners = keyByOwner.keySet();
        if (owners.isEmpty()) {
            LOG.warning("no API keys configured (mav.gateway.api-keys): /v1 is open to anyone who reaches this port"
                    + " and every caller sees every job; set keys anywhere but on a developer's machine");
        } else {
            LOG.info(owners.size() + " API key(s) configured; /v1 requires a bearer key");
        }
    }

    public boolean required() {
        return !owners.isEmpty();
    }

    /** The key that signs the callbacks of {@code owner}'s jobs (HMAC-SHA256), or null when it is not configured. */
    public String signingKey(String owner) {
        return keyByOwner.get(owner);
    }

    /** The caller a bearer key stands for, or null when the key is not one of ours. */
    public Caller resolve(String presentedKey) {
        if (!required()) {
            return Caller.OPEN;
        }
        if (presentedKey == null || presentedKey.isBlank()) {
            return null;
        }
        String owner = Caller.ownerOf(presentedKey.trim());
        return owners.contains(owner) ? new Caller(owner) : null;
    }
}
