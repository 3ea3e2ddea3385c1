package mav.common.stage;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class PartitionOwnershipTest {
    private final TopicPartition p0 = new TopicPartition("mav.frames-64", 0);
    private final TopicPartition p1 = new TopicPartition("mav.frames-64", 1);

    @Test
    void aRebalanceThatLeavesThePartitionHereKeepsTheClaim() {
        PartitionOwnership ownership = new PartitionOwnership();
        ownership.onPartitionsAssigned(null, List.of(p0));
        PartitionOwnership.Claim claim = ownership.claim(p0);
        assertNotNull(claim);
        // another replica left: cooperative assignment adds its partition and revokes nothing here
        ownership.onPartitionsAssigned(null, List.of(p1));
        ownership.onPartitionsAssigned(null, List.of());
        assertTrue(ownership.held(claim));
    }

    @Test
    void aPartitionRevokedWhileTheJobRanLosesTheClaimEvenIfItCameBack() {
        PartitionOwnership ownership = new PartitionOwnership();
        ownership.onPartitionsAssigned(null, List.of(p0, p1));
        PartitionOwnership.Claim claim = ownership.claim(p0);
        ownership.onPartitionsRevoked(null, List.of(p0));
        assertFalse(ownership.held(claim));
        ownership.onPartitionsAssigned(null, List.of(p0));
        assertFalse(ownership.held(claim), "someone else may have consumed the record in between");
        assertTrue(ownership.held(ownership.claim(p0)));
    }

    @Test
    void lostPartitionsAndUnownedOnesGiveNoClaim() {
        PartitionOwnership ownership = new PartitionOwnership();
        assertNull(ownership.claim(p0));
        ownership.onPartitionsAssigned(null, List.of(p0));
        PartitionOwnership.Claim claim = ownership.claim(p0);
        ownership.onPartitionsLost(null, List.of(p0));
        assertFalse(ownership.held(claim));
        assertNull(ownership.claim(p0));
    }
}
