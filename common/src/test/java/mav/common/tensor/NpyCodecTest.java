package mav.common.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/** Against files written by numpy 1.24 ({@code np.save}, {@code np.lib.format.write_array}). */
class NpyCodecTest {

    static byte[] resource(String name) throws IOException {
        try (InputStream in = NpyCodecTest.class.getResourceAsStream("/npy/" + name)) {
            return in.readAllBytes();
        }
    }

    @Test
    void readsAVectorWrittenByNumpy() throws IOException {
        Tensor t = NpyCodec.decode(resource("vector.npy"));
        assertArrayEquals(new long[] {4}, t.shape());
        assertArrayEquals(new float[] {1.5f, -2.25f, 3.0e-8f, 65504f}, t.data());
    }

    @Test
    void readsAFiveDimensionalVideoInCOrder() throws IOException {
        Tensor t = NpyCodec.decode(resource("video.npy"));
        assertArrayEquals(new long[] {2, 3, 4, 5, 6}, t.shape());
        for (int i = 0; i < t.data().length; i++) {
            assertEquals((float) i / 7.0f - 50.0f, t.data()[i], 1e-5f);
        }
    }

    @Test
    void readsAScalarAndTheVersion2Header() throws IOException {
        Tensor scalar = NpyCodec.decode(resource("scalar.npy"));
        assertEquals(0, scalar.rank());
        assertArrayEquals(new float[] {0.125f}, scalar.data());
        Tensor v2 = NpyCodec.decode(resource("v2.npy"));
        assertArrayEquals(new long[] {2, 2}, v2.shape());
        assertArrayEquals(new float[] {0, 1, 2, 3}, v2.data());
    }

    @Test
    void writesBytesIdenticalToNumpy() throws IOException {
        for (String name : new String[] {"vector.npy", "video.npy", "scalar.npy"}) {
            byte[] numpy = resource(name);
            assertArrayEquals(numpy, NpyCodec.encode(NpyCodec.decode(numpy)), name);
        }
    }

    @Test
    void refusesWhatItCannotRepresentWithAReason() throws IOException {
        var f64 = assertThrows(IllegalArgumentException.class, () -> NpyCodec.decode(resource("float64.npy")));
        assertTrue(f64.getMessage().contains("<f8"), f64.getMessage());
        var fortran = assertThrows(IllegalArgumentException.class, () -> NpyCodec.decode(resource("fortran.npy")));
        assertTrue(fortran.getMessage().contains("Fortran"), fortran.getMessage());
        var junk = assertThrows(IllegalArgumentException.class, () -> NpyCodec.decode("{\"a\":1}".getBytes()));
        assertTrue(junk.getMessage().contains("magic"), junk.getMessage());
        byte[] truncated = java.util.Arrays.copyOf(resource("video.npy"), 200);
        var cut = assertThrows(IllegalArgumentException.class, () -> NpyCodec.decode(truncated));
        assertTrue(cut.getMessage().contains("truncated"), cut.getMessage());
    }
}
