package mav.gateway;

import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * The configured API keys, held only as their owner ids (hashes): a presented key is hashed and looked up, so the
 * keys themselves are neither kept nor logged.
 */
@ApplicationScoped
public class ApiKeys {
    private static final Logger LOG = Logger.getLogger(ApiKeys.class.getName());

    @Inject
    GatewayConfig config;

    private Set<String> owners;

    void onStart(@Observes StartupEvent e) {
        List<String> keys = config.gateway().apiKeys().orElse(List.of());
        owners = keys.stream().map(String::trim).filter(k -> !k.isEmpty()).map(Caller::ownerOf)
                .collect(Collectors.toUnmodifiableSet());
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
