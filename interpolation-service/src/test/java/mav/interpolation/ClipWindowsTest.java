package mav.interpolation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class ClipWindowsTest {

    @Test
    void sixteenKeyframesTileIntoFiveWindowsOfFourThatShareTheirEnds() {
        ClipWindows windows = new ClipWindows(16, 4, 5);
        assertEquals(List.of(0, 3, 6, 9, 12), windows.starts());
        assertEquals(16, windows.span(), "4 keyframes with skip 5: the clip length ↑F trained on at skip 5");
        assertEquals(76, windows.clipFrames());
    }

    @Test
    void windowsThatDoNotTileEndWithOneMovedBackToTheLastKeyframe() {
        // the same starts as training/mav_training/sample.py's window_starts(16, 5) and (16, 0)
        assertEquals(List.of(0, 4, 8, 11), new ClipWindows(16, 5, 5).starts());
        assertEquals(List.of(0), new ClipWindows(16, 0, 5).starts());
        assertEquals(List.of(0), new ClipWindows(3, 4, 5).starts());
        assertEquals(11, new ClipWindows(3, 4, 5).span(), "a window longer than the clip is the clip");
    }

    @Test
    void scatterOfGatherGivesTheClipBack() {
        int channels = 2;
        int plane = 3;
        ClipWindows windows = new ClipWindows(7, 3, 2);
        int f = windows.clipFrames();
        float[] clip = new float[channels * f * plane];
        for (int i = 0; i < clip.length; i++) {
            clip[i] = i * 0.5f - 7;
        }
        float[] batch = windows.gather(clip, channels, plane);
        assertEquals(windows.count() * channels * windows.span() * plane, batch.length);
        // window 1 starts at keyframe 2, frame 4: its first frame of channel 1 is the clip's frame 4 of channel 1
        int w1c1 = (1 * channels + 1) * windows.span() * plane;
        assertEquals(clip[(1 * f + 4) * plane], batch[w1c1]);
        assertArrayEquals(clip, windows.scatter(batch, channels, plane));
    }

    @Test
    void aSharedKeyframeTakesTheLaterWindowsOutput() {
        ClipWindows windows = new ClipWindows(3, 2, 2); // windows [0,2] and [2,4] share frame 2
        float[] batch = {1, 2, 3, 10, 20, 30};
        assertArrayEquals(new float[] {1, 2, 10, 20, 30}, windows.scatter(batch, 1, 1));
    }
}
