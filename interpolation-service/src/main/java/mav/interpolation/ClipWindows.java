package mav.interpolation;

import java.util.ArrayList;
import java.util.List;

/**
 * The windows ↑F is served on: runs of {@code windowKeyframes} keyframes over a clip of {@code keyframes}, each
 * window sharing its end keyframes with its neighbours, the last one moved back to end at the last keyframe when
 * they do not tile. ↑F is trained on clips of 4 keyframes, so it sees clips of that length in service too, all
 * windows in one batched call. A clip is laid out [channels, frames, plane], a batch [windows, channels, span,
 * plane]. Mirrors {@code window_starts}/{@code windowed} in training/mav_training/sample.py.
 */
record ClipWindows(int keyframes, int windowKeyframes, int skip) {

    ClipWindows {
        if (keyframes < 1 || skip < 1 || windowKeyframes < 0) {
            throw new IllegalArgumentException("keyframes " + keyframes + ", window " + windowKeyframes + ", skip "
                    + skip);
        }
    }

    /** Keyframes per window actually used: the whole clip when no window (0) or a window as long as the clip. */
    int keyframesPerWindow() {
        return windowKeyframes == 0 || windowKeyframes >= keyframes ? keyframes : windowKeyframes;
    }

    /** The first keyframe of each window. */
    List<Integer> starts() {
        int m = keyframesPerWindow();
        List<Integer> starts = new ArrayList<>();
        if (m == keyframes) {
            starts.add(0);
            return starts;
        }
        for (int s = 0; s + m <= keyframes; s += m - 1) {
            starts.add(s);
        }
        if (starts.get(starts.size() - 1) + m < keyframes) {
            starts.add(keyframes - m);
        }
        return starts;
    }

    int count() {
        return starts().size();
    }

    /** Frames per window. */
    int span() {
        return (keyframesPerWindow() - 1) * skip + 1;
    }

    int clipFrames() {
        return (keyframes - 1) * skip + 1;
    }

    /** The windows of {@code clip} [channels, frames, plane] as one batch [windows, channels, span, plane]. */
    float[] gather(float[] clip, int channels, int plane) {
        int f = clipFrames();
        int span = span();
        List<Integer> starts = starts();
        float[] batch = new float[starts.size() * channels * span * plane];
        for (int w = 0; w < starts.size(); w++) {
            int first = starts.get(w) * skip;
            for (int c = 0; c < channels; c++) {
                System.arraycopy(clip, (c * f + first) * plane, batch, ((w * channels + c) * span) * plane,
                        span * plane);
            }
        }
        return batch;
    }

    /**
     * The clip [channels, frames, plane] a batch of windows makes: each frame from the window that holds it, a frame
     * two windows share (a known keyframe) from the later one.
     */
    float[] scatter(float[] batch, int channels, int plane) {
        int f = clipFrames();
        int span = span();
        List<Integer> starts = starts();
        float[] clip = new float[channels * f * plane];
        for (int w = 0; w < starts.size(); w++) {
            int first = starts.get(w) * skip;
            for (int c = 0; c < channels; c++) {
                System.arraycopy(batch, ((w * channels + c) * span) * plane, clip, (c * f + first) * plane,
                        span * plane);
            }
        }
        return clip;
    }
}
