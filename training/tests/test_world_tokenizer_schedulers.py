"""World determinism and motion, tokenizer round trip, scheduler math."""
import math
import os
import tempfile
import unittest

import numpy as np
import torch

from mav_training import tokenizer as tk
from mav_training import world as W
from mav_training.schedulers import DDIMScheduler, DDPMScheduler, alphas_cumprod, betas_for


class WorldTest(unittest.TestCase):
    def test_same_seed_same_samples(self):
        a, b = W.World(3), W.World(3)
        for i in range(5):
            ia, ca, _ = a.image_pair(i)
            ib, cb, _ = b.image_pair(i)
            self.assertTrue(np.array_equal(ia, ib))
            self.assertEqual(ca, cb)
        va, fa, _, _ = a.video(7, 8)
        vb, fb, _, _ = b.video(7, 8)
        self.assertTrue(np.array_equal(va, vb))
        self.assertNotEqual(W.World(4).image_pair(0)[1] + str(W.World(4).image_pair(1)[1]),
                            a.image_pair(0)[1] + str(a.image_pair(1)[1]))

    def test_held_out_pairs_never_captioned(self):
        caps = W.all_captions(0, 3000)
        for colour, shape in W.HELD_OUT:
            self.assertFalse(any(colour in c.split() and shape in c.split() for c in caps), (colour, shape))

    def test_held_out_pairs_are_in_no_training_clip(self):
        w = W.World(0)
        scenes = [w.video(i, frames=2, fps=8, size=16)[2] for i in range(400)]
        self.assertFalse(any(W.is_held_out(s["colour"], s["shape"]) for s in scenes))
        self.assertFalse(any(W.is_held_out(W.sample_scene(w.rng(i, 2))["colour"], W.sample_scene(w.rng(i, 2))["shape"])
                             for i in range(400)))

    def test_speed_independent_of_fps_and_object_stays_in_frame(self):
        w = W.World(1)
        rng = w.rng(0, 2)
        scene = W.sample_scene(rng)
        scene.update(shape="circle", direction=None, radius=0.15)
        for fps in (4, 8, 16, 30):
            motion = W.sample_motion(scene, np.random.default_rng(5), 16, fps)
            v = W.render_video(scene, motion, 16, fps, 64)
            fg = np.abs(v - v[:, :, :1, :1]).sum(0) > 0.5  # f h w
            ys, xs = np.nonzero(fg[0])
            ye, xe = np.nonzero(fg[-1])
            disp = math.hypot(xe.mean() - xs.mean(), ye.mean() - ys.mean()) / 64
            speed = disp / (15 / fps)
            self.assertAlmostEqual(speed, motion["speed"], delta=0.01 + 0.6 * fps / 64 / 15)
            self.assertTrue(all(fg[i].sum() > 100 for i in range(16)))
        # more pixels per frame at low fps
        m4 = W.sample_motion(scene, np.random.default_rng(5), 16, 4)
        m16 = W.sample_motion(scene, np.random.default_rng(5), 16, 16)
        self.assertAlmostEqual(m4["speed"], m16["speed"])

    def test_oriented_objects_move_the_way_they_face(self):
        rng = np.random.default_rng(0)
        for d, (vx, vy) in W.DIRECTION_VECTORS.items():
            scene = dict(W.sample_scene(rng), shape="arrow", direction=d)
            m = W.sample_motion(scene, rng, 16, 8)
            self.assertGreater(m["velocity"][0] * vx + m["velocity"][1] * vy, 0)

    def test_renders_at_all_sizes(self):
        scene = W.sample_scene(np.random.default_rng(2))
        for size in (64, 256, 768):
            img = W.render(scene, size)
            self.assertEqual(img.shape, (3, size, size))
            self.assertTrue(-1 <= img.min() and img.max() <= 1)


class TokenizerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        _, cls.tok = tk.build(cls.dir)

    def test_round_trip(self):
        for text in ["a blue fish swimming left", "a green arrow pointing up", "a red circle on a black background"]:
            ids = self.tok.encode(text)
            self.assertEqual(len(ids), 32)
            self.assertEqual(ids[0], tk.BOS)
            self.assertEqual(self.tok.decode(ids), text)

    def test_lowercase_punctuation_unknown(self):
        self.assertEqual(self.tok.tokens("A RED Circle"), self.tok.tokens("a red circle"))
        self.assertEqual(self.tok.decode(self.tok.tokens("up!")), "up !")
        self.assertIn(tk.UNK, self.tok.tokens("café"))
        self.assertEqual(self.tok.decode(self.tok.tokens("zebra")), "zebra")

    def test_too_long_prompt_is_rejected(self):
        self.tok.encode(" ".join(["red"] * 30))
        with self.assertRaises(tk.PromptTooLongError):
            self.tok.encode(" ".join(["red"] * 31))

    def test_json_format(self):
        import json
        with open(os.path.join(self.dir, "tokenizer.json")) as f:
            spec = json.load(f)
        self.assertEqual(spec["version"], "1.0")
        self.assertEqual(spec["model"]["end_of_word_suffix"], "</w>")
        self.assertIsNone(spec["post_processor"])
        self.assertEqual([t["content"] for t in spec["added_tokens"]], ["<pad>", "<bos>", "<eos>", "<unk>"])


class SchedulerTest(unittest.TestCase):
    def test_cosine_betas(self):
        b = betas_for("squaredcos_cap_v2")
        abar = lambda s: math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2
        self.assertAlmostEqual(b[0], 1 - abar(1 / 1000) / abar(0), places=15)
        self.assertEqual(b[-1], 0.999)
        self.assertAlmostEqual(alphas_cumprod("linear")[0], 1 - 1e-4)

    def test_timesteps(self):
        s = DDIMScheduler()
        self.assertEqual(s.set_timesteps(50)[:3], [980, 960, 940])
        self.assertEqual(s.timesteps[-1], 0)
        self.assertEqual(s.set_timesteps(4), [750, 500, 250, 0])

    def test_step_before_set_timesteps_fails(self):
        with self.assertRaises(RuntimeError):
            DDIMScheduler().step(torch.zeros(1), 10, torch.zeros(1))

    def test_perfect_model_recovers_x0(self):
        """With the true noise as model output, DDIM (eta 0) lands exactly on x0."""
        torch.manual_seed(0)
        x0 = torch.rand(2, 3, 4, 4, dtype=torch.float64) * 2 - 1
        eps = torch.randn_like(x0)
        for pred in ("epsilon", "sample"):
            s = DDIMScheduler(prediction_type=pred, clip_sample=True)
            s.set_timesteps(10)
            a = s.ac[s.timesteps[0]]
            x = math.sqrt(a) * x0 + math.sqrt(1 - a) * eps
            for t in s.timesteps:
                out = eps if pred == "epsilon" else x0
                x, _ = s.step(out, t, x)
            self.assertTrue(torch.allclose(x, x0, atol=1e-6))

    def test_starting_part_way_runs_the_last_n_times_strength_timesteps(self):
        s = DDIMScheduler()
        s.set_timesteps(25)
        self.assertEqual(s.timesteps_from(1.0), s.timesteps)
        self.assertEqual(s.timesteps_from(0.5), s.timesteps[13:])
        self.assertEqual(s.timesteps_from(0.5)[0], 440)
        self.assertEqual(s.timesteps_from(0.01), [])
        for bad in (0.0, 1.5, -1.0):
            with self.assertRaises(ValueError):
                s.timesteps_from(bad)
        x0, eps = torch.tensor([0.5], dtype=torch.float64), torch.tensor([-1.0], dtype=torch.float64)
        a = s.ac[480]
        self.assertAlmostEqual(s.noised(x0, eps, 480).item(), math.sqrt(a) * 0.5 - math.sqrt(1 - a))

    def test_keyframe_blend_is_a_ramp_between_neighbouring_keyframes(self):
        from mav_training.sample import keyframe_blend
        keys = torch.tensor([0.0, 5.0, 15.0]).view(1, 1, 3, 1, 1).expand(1, 2, 3, 2, 2)
        clip = keyframe_blend(keys, 5)
        self.assertEqual(tuple(clip.shape), (1, 2, 11, 2, 2))
        self.assertEqual(clip[0, 1, :, 0, 0].tolist(), [0, 1, 2, 3, 4, 5, 7, 9, 11, 13, 15])

    def test_clip_recomputes_eps(self):
        s = DDIMScheduler(prediction_type="sample", clip_sample=True)
        s.set_timesteps(10)
        x = torch.full((1,), 0.5, dtype=torch.float64)
        x0, eps = s.predict(torch.full((1,), 3.0, dtype=torch.float64), 500, x)
        a = s.ac[500]
        self.assertEqual(x0.item(), 1.0)
        self.assertAlmostEqual(eps.item(), (0.5 - math.sqrt(a)) / math.sqrt(1 - a))

    def test_ddpm_last_step_has_no_noise(self):
        s = DDPMScheduler()
        s.set_timesteps(10)
        x = torch.randn(4, dtype=torch.float64)
        out = torch.randn(4, dtype=torch.float64)
        a, _ = s.step(out, 0, x, torch.randn(4, dtype=torch.float64))
        b, _ = s.step(out, 0, x, torch.randn(4, dtype=torch.float64))
        self.assertTrue(torch.equal(a, b))


class GuidanceIntervalTest(unittest.TestCase):
    def test_guidance_runs_from_the_intervals_lower_timestep_up_and_never_at_scale_one(self):
        from mav_training.sample import guided_at
        self.assertTrue(guided_at(0, 2.0, 0))
        self.assertFalse(guided_at(280, 2.0, 300))
        self.assertTrue(guided_at(300, 2.0, 300))
        self.assertFalse(guided_at(980, 1.0, 0))


if __name__ == "__main__":
    unittest.main()
