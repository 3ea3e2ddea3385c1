package mav.common.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and writes NumPy {@code .npy} files (format 1.0 to 3.0) holding little-endian float32 arrays in C order,
 * so every intermediate in the object store opens with {@code numpy.load}.
 */
public final class NpyCodec {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    /** numpy itself writes headers of a few hundred bytes; anything far larger is not one of ours. */
    private static final int MAX_HEADER_BYTES = 64 * 1024;

    private NpyCodec() {
    }

    public static byte[] encode(Tensor t) {
        StringBuilder shape = new StringBuilder("(");
        for (int i = 0; i < t.rank(); i++) {
            shape.append(t.dim(i)).append(i == 0 && t.rank() == 1 ? "," : (i < t.rank() - 1 ? ", " : ""));
        }
        shape.append(')');
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
        // numpy pads the header with spaces so that the data starts on a 64-byte boundary
        int preamble = MAGIC.length + 2 + 2;
        int total = preamble + dict.length() + 1;
        int padded = (total + 63) / 64 * 64;
        String header = dict + " ".repeat(padded - total) + "\n";
        ByteBuffer buf = ByteBuffer.allocate(padded + t.data().length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length());
        buf.put(header.getBytes(StandardCharsets.US_ASCII));
        buf.asFloatBuffer().put(t.data());
        return buf.array();
    }

    /**
     * @throws IllegalArgumentException if the bytes are not an .npy file of little-endian float32 in C order
     */
    public static Tensor decode(byte[] bytes) {
        return decode(bytes, null);
    }

    /**
     * Decodes after checking the header against the bytes that are really there and, when {@code expected} is
     * given, against that shape (-1 accepts any size on an axis): a header that lies about its size is refused
     * before any array is allocated, so a 128-byte object cannot claim gigabytes of heap.
     *
     * @throws IllegalArgumentException if the bytes are not an .npy file of little-endian float32 in C order, or
     *                                  not of the expected shape
     */
    public static Tensor decode(byte[] bytes, long[] expected) {
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (byte m : MAGIC) {
            if (!buf.hasRemaining() || buf.get() != m) {
                throw new IllegalArgumentException("not an .npy file (bad magic)");
            }
        }
        if (buf.remaining() < 4) {
            throw new IllegalArgumentException(".npy is truncated inside its preamble");
        }
        int major = buf.get();
        buf.get();
        long headerLen = switch (major) {
            case 1 -> Short.toUnsignedInt(buf.getShort());
            case 2, 3 -> {
                if (buf.remaining() < 4) {
                    throw new IllegalArgumentException(".npy is truncated inside its preamble");
                }
                yield Integer.toUnsignedLong(buf.getInt());
            }
            default -> throw new IllegalArgumentException("unsupported .npy format version " + major);
        };
        if (headerLen > Math.min(buf.remaining(), MAX_HEADER_BYTES)) {
            throw new IllegalArgumentException(".npy header claims " + headerLen + " bytes; the file has "
                    + buf.remaining() + " after the preamble (at most " + MAX_HEADER_BYTES + " accepted)");
        }
        String header = new String(bytes, buf.position(), (int) headerLen,
                major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        buf.position(buf.position() + (int) headerLen);
        String descr = find(DESCR, header, "descr");
        if (!descr.equals("<f4")) {
            throw new IllegalArgumentException(".npy dtype " + descr + " is not supported, expected <f4 (float32)");
        }
        if (find(FORTRAN, header, "fortran_order").equals("True")) {
            throw new IllegalArgumentException(".npy in Fortran order is not supported");
        }
        List<Long> dims = new ArrayList<>();
        for (String d : find(SHAPE, header, "shape").split(",")) {
            if (!d.isBlank()) {
                try {
                    dims.add(Long.parseLong(d.trim()));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(".npy shape has a dimension that is not a number: '"
                            + d.trim() + "'");
                }
            }
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        if (expected != null) {
            requireShape(shape, expected);
        }
        long count;
        try {
            count = Tensor.elementCount(shape);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(".npy shape " + Arrays.toString(shape) + " overflows a long");
        }
        if (count > Integer.MAX_VALUE || count * 4 != buf.remaining()) {
            throw new IllegalArgumentException(".npy is truncated or its header lies: it claims shape "
                    + Arrays.toString(shape) + " (" + count
                    + " floats, " + (count > Long.MAX_VALUE / 4 ? "too many" : count * 4) + " bytes) but the file has "
                    + buf.remaining() + " data bytes");
        }
        float[] data = new float[(int) count];
        buf.asFloatBuffer().get(data);
        return new Tensor(shape, data);
    }

    private static void requireShape(long[] shape, long[] expected) {
        boolean ok = expected.length == shape.length;
        for (int i = 0; ok && i < expected.length; i++) {
            ok = expected[i] < 0 || expected[i] == shape[i];
        }
        if (!ok) {
            throw new IllegalArgumentException(".npy has shape " + Arrays.toString(shape) + ", expected "
                    + Arrays.toString(expected).replace("-1", "*"));
        }
    }

    private static String find(Pattern p, String header, String field) {
        Matcher m = p.matcher(header);
        if (!m.find()) {
            throw new IllegalArgumentException(".npy header has no " + field + ": " + header.trim());
        }
        return m.group(1);
    }
}
