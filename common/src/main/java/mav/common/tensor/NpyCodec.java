package mav.common.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
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
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (byte m : MAGIC) {
            if (!buf.hasRemaining() || buf.get() != m) {
                throw new IllegalArgumentException("not an .npy file (bad magic)");
            }
        }
        int major = buf.get();
        buf.get();
        int headerLen = switch (major) {
            case 1 -> Short.toUnsignedInt(buf.getShort());
            case 2, 3 -> buf.getInt();
            default -> throw new IllegalArgumentException("unsupported .npy format version " + major);
        };
        String header = new String(bytes, buf.position(), headerLen,
                major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        buf.position(buf.position() + headerLen);
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
                dims.add(Long.parseLong(d.trim()));
            }
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        float[] data = new float[Math.toIntExact(Tensor.elementCount(shape))];
        if (buf.remaining() < data.length * 4L) {
            throw new IllegalArgumentException(".npy is truncated: " + buf.remaining() + " data bytes for "
                    + data.length + " floats");
        }
        buf.asFloatBuffer().get(data);
        return new Tensor(shape, data);
    }

    private static String find(Pattern p, String header, String field) {
        Matcher m = p.matcher(header);
        if (!m.find()) {
            throw new IllegalArgumentException(".npy header has no " + field + ": " + header.trim());
        }
        return m.group(1);
    }
}
