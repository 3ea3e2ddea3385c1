package mav.interpolation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class FrameInterpolatorTest {

    @Test
    void sixteenKeyframesWithSkipFiveMakeSeventySixFrames() {
        assertEquals(76, FrameInterpolator.interpolatedLength(16, 5));
    }

    @Test
    void theStartBlendsEachInBetweenFrameFromItsTwoNeighbouringKeyframes() {
        // 3 keyframes of one pixel, channel c of keyframe i holds 10·c + 4·i; skip 4 gives 9 frames
        int k = 3;
        int skip = 4;
        float[] keys = new float[3 * k];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < k; i++) {
                keys[c * k + i] = 10 * c + 4 * i;
            }
        }
        float[] clip = FrameInterpolator.keyframeBlend(keys, k, skip, 1);
        assertEquals(3 * 9, clip.length);
        for (int c = 0; c < 3; c++) {
            for (int at = 0; at < 9; at++) {
                // a linear ramp: the keyframes in their slots, one step of 1 per frame between them
                assertEquals(10 * c + at, clip[c * 9 + at], 1e-6, "channel " + c + " frame " + at);
            }
        }
    }

    @Test
    void theBlendKeepsEveryPixelOfAKeyframeInItsSlot() {
        int plane = 4;
        float[] keys = {1, 2, 3, 4, -1, -2, -3, -4, 0.5f, 0.25f, 0, 1,
                        9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1, -2,
                        0, 0, 0, 0, 1, 1, 1, 1, -1, -1, -1, -1};
        float[] clip = FrameInterpolator.keyframeBlend(keys, 3, 5, plane);
        int f = FrameInterpolator.interpolatedLength(3, 5);
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < 3; i++) {
                for (int p = 0; p < plane; p++) {
                    assertEquals(keys[(c * 3 + i) * plane + p], clip[(c * f + i * 5) * plane + p], 0f);
                }
            }
        }
        // halfway between keyframes 0 and 1 of channel 0, pixel 0: frames 2 and 3 of skip 5 weigh 0.6/0.4, 0.4/0.6
        assertEquals(0.6f * 1 + 0.4f * -1, clip[2 * plane], 1e-6);
        assertEquals(0.4f * 1 + 0.6f * -1, clip[3 * plane], 1e-6);
    }
}
