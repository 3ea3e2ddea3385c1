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

    /** A v1 .npy whose header claims {@code shape} but carries only {@code dataBytes} zero bytes of data. */
    static byte[] lying(String shape, int dataBytes) {
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
        int total = 10 + dict.length() + 1;
        int padded = (total + 63) / 64 * 64;
        String header = dict + " ".repeat(padded - total) + "\n";
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(padded + dataBytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) header.length());
        b.put(header.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        return b.array();
    }

    @Test
    void aHeaderThatClaimsMoreThanTheFileHoldsIsRefusedBeforeAllocating() {
        // 2.1 G floats claimed by 128 bytes: decoding must fail on the sizes, not with an OutOfMemoryError
        byte[] liar = lying("(1, 3, 16, 7000, 6400)", 0);
        assertTrue(liar.length <= 128, "the crafted file has " + liar.length + " bytes");
        var e = assertThrows(IllegalArgumentException.class, () -> NpyCodec.decode(liar));
        assertTrue(e.getMessage().contains("2150400000 floats"), e.getMessage());
        var overflow = assertThrows(IllegalArgumentException.class,
                () -> NpyCodec.decode(lying("(9223372036854775807, 4)", 16)));
        assertTrue(overflow.getMessage().contains("overflows"), overflow.getMessage());
        var negative = assertThrows(IllegalArgumentException.class, () -> NpyCodec.decode(lying("(-4,)", 16)));
        assertTrue(negative.getMessage().contains("negative"), negative.getMessage());
        var hugeHeader = new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, (byte) 0xff, (byte) 0xff, (byte) 0xff,
            0x7f};
        var h = assertThrows(IllegalArgumentException.class, () -> NpyCodec.decode(hugeHeader));
        assertTrue(h.getMessage().contains("header claims"), h.getMessage());
    }

    @Test
    void anUnexpectedShapeIsRefusedFromTheHeaderAlone() {
        byte[] embed = lying("(1, 512)", 512 * 4);
        assertEquals(512, NpyCodec.decode(embed, new long[] {1, 512}).data().length);
        var e = assertThrows(IllegalArgumentException.class, () -> NpyCodec.decode(embed, new long[] {1, 3, -1, -1, -1}));
        assertTrue(e.getMessage().contains("expected [1, 3, *, *, *]"), e.getMessage());
    }
}
