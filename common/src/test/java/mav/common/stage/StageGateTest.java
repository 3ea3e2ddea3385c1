package mav.common.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import mav.common.stage.StageGate.Hold;
import org.junit.jupiter.api.Test;

class StageGateTest {

    @Test
    void theStageConsumesOnlyWhenEveryHolderHasLetGo() {
        StageGate gate = new StageGate();
        assertEquals("models are loading", gate.reason(), "closed until the models are loaded");
        gate.open(Hold.MODELS);
        assertTrue(gate.isOpen());
        assertNull(gate.reason());

        gate.close(Hold.OBJECT_STORE, "object store http://s3:9000 does not answer");
        gate.close(Hold.PUBLISH, "cannot publish results to Kafka: timeout");
        assertEquals("object store http://s3:9000 does not answer; cannot publish results to Kafka: timeout",
                gate.reason());
        gate.open(Hold.OBJECT_STORE);
        assertFalse(gate.isOpen(), "still held by the failing publish");
        assertTrue(gate.isClosedBy(Hold.PUBLISH));
        gate.open(Hold.PUBLISH);
        assertTrue(gate.isOpen());
    }
}
