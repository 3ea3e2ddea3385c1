"""Shapes of every module in image and video mode, and the identity initialisations of the temporal layers."""
import unittest

import torch

from mav_training.clip import CLIP
from mav_training.layers import PseudoAttention, PseudoConv3d, TemporalAttention, TemporalConv, blend_temporal_convs
from mav_training.prior import DiffusionPrior
from mav_training.unet import (SpaceTimeUNet, decoder_config, depth_to_space, interpolator_config, space_to_depth,
                               sr_high_config, sr_low_config)

torch.set_num_threads(1)


class TemporalIdentityTest(unittest.TestCase):
    def test_fresh_temporal_conv_is_identity(self):
        conv = TemporalConv(8)
        x = torch.randn(2 * 5, 8, 4, 4)  # (b f) c h w
        self.assertTrue(torch.allclose(conv(x, 5), x, atol=1e-6))

    def test_blended_temporal_conv_interpolates_between_trained_and_identity_and_1_over_alpha_undoes_it(self):
        torch.manual_seed(0)
        m = SpaceTimeUNet(**decoder_config(16, tiny=True)).eval()
        with torch.no_grad():
            for p in m.temporal_parameters():
                p.add_(torch.randn_like(p) * 0.1)
        trained = {k: v.clone() for k, v in m.state_dict().items()}
        convs = [k for k in trained if ".temporal.conv." in k or ".temporal.motion." in k]
        self.assertTrue(any(".motion." in k for k in convs))
        x = torch.randn(2 * 5, 8, 4, 4)
        conv = TemporalConv(8, motion=True)
        with torch.no_grad():
            conv.conv.weight.add_(torch.randn_like(conv.conv.weight) * 0.1)
            conv.conv.bias.add_(0.1)
            conv.motion.weight.normal_()
        time = (torch.arange(5.0) - 2)[None].expand(2, -1) / 8
        y = conv(x, 5, time)
        blend_temporal_convs(conv, 0.75)
        self.assertTrue(torch.allclose(conv(x, 5, time), 0.75 * y + 0.25 * x, atol=1e-5))  # linear in the weights
        blend_temporal_convs(conv, 0.0)
        self.assertTrue(torch.allclose(conv(x, 5, time), x, atol=1e-6))
        blend_temporal_convs(m, 0.75)
        after = m.state_dict()
        self.assertTrue(all(torch.equal(after[k], trained[k]) for k in trained if k not in convs))  # only the convs
        self.assertFalse(torch.equal(after[convs[0]], trained[convs[0]]))
        blend_temporal_convs(m, 1 / 0.75)
        self.assertTrue(all(torch.allclose(m.state_dict()[k], trained[k], atol=1e-6) for k in convs))

    def test_pseudo_conv3d_video_equals_per_frame_conv_at_init(self):
        m = PseudoConv3d(3, 8)
        x = torch.randn(2 * 4, 3, 8, 8)
        self.assertTrue(torch.allclose(m(x, 4), m(x, None), atol=1e-6))

    def test_zero_init_temporal_attention_is_identity(self):
        attn = TemporalAttention(16, heads=4)
        x = torch.randn(2 * 6, 16, 4, 4)
        self.assertTrue(torch.equal(attn(x, 6), x))

    def test_frame_position_starts_at_zero_and_is_what_tells_equal_frames_apart(self):
        torch.manual_seed(0)
        plain, positioned = TemporalAttention(16, heads=4), TemporalAttention(16, heads=4, frame_position=True)
        positioned.load_state_dict(plain.state_dict(), strict=False)
        with torch.no_grad():
            plain.out.weight.normal_()  # a trained output projection
            positioned.out.weight.copy_(plain.out.weight)
        static = torch.randn(2, 1, 16, 4, 4).expand(-1, 6, -1, -1, -1).reshape(12, 16, 4, 4)  # 6 equal frames
        self.assertTrue(torch.allclose(positioned(static, 6), plain(static, 6), atol=1e-6))  # zero-init: a no-op
        frames = lambda y: y.reshape(2, 6, 16, 4, 4)
        self.assertTrue(torch.allclose(frames(plain(static, 6)), frames(plain(static, 6))[:, :1], atol=1e-5))
        with torch.no_grad():
            positioned.frame_pos.weight.normal_()
        moved = frames(positioned(static, 6))
        self.assertGreater((moved - moved[:, :1]).abs().amax().item(), 1e-2)

    def test_motion_term_starts_at_zero_and_moves_equal_frames_linearly_in_time(self):
        torch.manual_seed(0)
        plain, moving = TemporalConv(8), TemporalConv(8, motion=True)
        moving.load_state_dict(plain.state_dict(), strict=False)
        static = torch.randn(2, 1, 8, 3, 3).expand(-1, 5, -1, -1, -1).reshape(10, 8, 3, 3)  # 5 equal frames
        fps = torch.tensor([4.0, 16.0])
        time = (torch.arange(5.0) - 2)[None] / fps[:, None]  # seconds from the middle frame, per clip
        self.assertTrue(torch.equal(moving(static, 5, time), plain(static, 5)))  # zero-init: a no-op
        with torch.no_grad():
            moving.motion.weight.normal_()
        delta = (moving(static, 5, time) - plain(static, 5)).reshape(2, 5, 8, 3, 3)
        self.assertTrue(torch.allclose(delta[:, 2], torch.zeros_like(delta[:, 2])))  # nothing at the middle frame
        m = torch.einsum("oi,bihw->bohw", moving.motion.weight[:, :, 0], static.reshape(2, 5, 8, 3, 3)[:, 0])
        for f in range(5):  # the same motion per second: 4x the change per frame at 4 fps as at 16
            self.assertTrue(torch.allclose(delta[:, f], time[:, f, None, None, None] * m, atol=1e-5))
        with self.assertRaises(ValueError):
            moving(static, 5)

    def test_unet_video_equals_image_model_at_init(self):
        """A fresh D^t is the image model D applied per frame (dirac convs + zero temporal attention)."""
        torch.manual_seed(0)
        m = SpaceTimeUNet(**decoder_config(16, tiny=True)).eval()
        x = torch.randn(1, 3, 3, 64, 64)
        t, e, fps = torch.tensor([100]), torch.randn(1, 16), torch.tensor([8.0])
        video = m(x, t, image_embed=e, fps=fps)
        per_frame = torch.stack([m(x[:, :, i], t, image_embed=e, fps=fps) for i in range(3)], dim=2)
        self.assertTrue(torch.allclose(video, per_frame, atol=1e-5))


class ImageTokenTest(unittest.TestCase):
    def _decoder(self, **kw):
        torch.manual_seed(0)
        return SpaceTimeUNet(**dict(decoder_config(16, tiny=True), **kw)).eval()

    def test_the_image_embedding_reaches_spatial_attention_through_its_tokens(self):
        m = self._decoder()
        with torch.no_grad():
            m.image_proj[-1].weight.zero_()  # the only other way in
            m.image_proj[-1].bias.zero_()
            for mod in m.modules():
                if getattr(mod, "context_kv", None) is not None:
                    torch.nn.init.normal_(mod.context_kv.weight)
        x, t, fps = torch.randn(2, 3, 64, 64), torch.tensor([500, 500]), torch.tensor([8.0, 8.0])
        e = torch.randn(1, 16).expand(2, -1).clone()
        e[1] += 1.0
        out = m(x, t, image_embed=e, fps=fps)
        self.assertGreater((out[0] - out[1]).abs().max().item(), 1e-3)
        video = m(x[:1, :, None].expand(-1, -1, 3, -1, -1), t[:1], image_embed=e[:1], fps=fps[:1], enable_time=False)
        self.assertTrue(torch.allclose(video[:, :, 1], out[:1], atol=1e-5))  # every frame gets the clip's tokens

    def test_a_decoder_without_tokens_resumes_with_them_and_only_the_token_weights_are_new(self):
        from mav_training.train import load_grown
        old = self._decoder(image_tokens=0).state_dict()
        missing = load_grown(self._decoder(), old, "decoder")
        self.assertTrue(missing)
        self.assertTrue(all(k.startswith(("image_tokens.", "token_norm.")) or ".context_kv." in k for k in missing))
        with self.assertRaises(ValueError):
            load_grown(self._decoder(image_tokens=0), self._decoder().state_dict(), "decoder")


class X0ParameterisationTest(unittest.TestCase):
    def test_scheduler_recovers_the_networks_x0_from_its_eps_output(self):
        from mav_training.schedulers import DDIMScheduler
        torch.manual_seed(0)
        m = SpaceTimeUNet(**dict(sr_high_config(tiny=True), x0_param=True)).eval()
        x, lo, t = torch.randn(1, 3, 48, 48), torch.randn(1, 3, 16, 16), 700
        eps = m(x, torch.tensor([t]), cond=lo)
        x0 = m(x, torch.tensor([t]), cond=lo, return_x0=True)
        s = DDIMScheduler(clip_sample=False)
        s.set_timesteps(10)
        x0_from_eps, _ = s.predict(eps.double(), t, x.double())
        self.assertTrue(torch.allclose(x0_from_eps.float(), x0, atol=1e-4))


class ShapeTest(unittest.TestCase):
    def test_space_to_depth_round_trip(self):
        x = torch.randn(2, 3, 12, 12)
        self.assertTrue(torch.equal(depth_to_space(space_to_depth(x, 3), 3), x))
        self.assertTrue(torch.equal(space_to_depth(x, 3), torch.nn.functional.pixel_unshuffle(x, 3)))

    def test_pseudo_attention_shapes(self):
        m = PseudoAttention(16, heads=2)
        x = torch.randn(2 * 3, 16, 8, 8)
        self.assertEqual(m(x, 3).shape, x.shape)
        self.assertEqual(m(x, None).shape, x.shape)

    def test_decoder_image_and_video(self):
        m = SpaceTimeUNet(**decoder_config(16, tiny=True))
        e, t, fps = torch.randn(2, 16), torch.tensor([1, 999]), torch.tensor([4.0, 30.0])
        self.assertEqual(m(torch.randn(2, 3, 64, 64), t, image_embed=e, fps=fps).shape, (2, 3, 64, 64))
        self.assertEqual(m(torch.randn(2, 3, 5, 64, 64), t, image_embed=e, fps=fps).shape, (2, 3, 5, 64, 64))
        self.assertEqual(m(torch.randn(2, 3, 5, 64, 64), t, image_embed=e, fps=fps, enable_time=False).shape,
                         (2, 3, 5, 64, 64))

    def test_interpolator(self):
        m = SpaceTimeUNet(**interpolator_config(16, tiny=True))
        x = torch.randn(1, 3, 6, 64, 64)
        cond = torch.randn(1, 4, 6, 64, 64)
        out = m(x, torch.tensor([3]), image_embed=torch.randn(1, 16), fps=torch.tensor([40.0]),
                frame_skip=torch.tensor([5.0]), cond=cond)
        self.assertEqual(out.shape, x.shape)

    def test_super_resolution(self):
        lo = SpaceTimeUNet(**sr_low_config(tiny=True))
        self.assertEqual(lo(torch.randn(1, 3, 2, 64, 64), torch.tensor([5]), cond=torch.randn(1, 3, 2, 16, 16)).shape,
                         (1, 3, 2, 64, 64))
        hi = SpaceTimeUNet(**sr_high_config(tiny=True))
        self.assertEqual(hi(torch.randn(2, 3, 48, 48), torch.tensor([5, 6]), cond=torch.randn(2, 3, 16, 16)).shape,
                         (2, 3, 48, 48))
        self.assertFalse(any("temporal" in n for n, _ in hi.named_parameters()))

    def test_clip_and_prior(self):
        clip = CLIP(50, 16)
        ids = torch.tensor([[1, 10, 11, 2] + [0] * 28, [1, 12, 2] + [0] * 29])
        emb, tokens = clip.text(ids)
        self.assertEqual(emb.shape, (2, 16))
        self.assertEqual(tokens.shape, (2, 32, 16))
        self.assertTrue(torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-5))
        self.assertEqual(tokens[0, 4:].abs().sum().item(), 0.0)
        img = clip.image(torch.randn(2, 3, 64, 64))
        self.assertEqual(img.shape, (2, 16))
        prior = DiffusionPrior(16, width=32, layers=1, heads=2)
        pred = prior(torch.randn(2, 16), torch.tensor([5, 900]), emb, tokens)
        # the prior's x0 lives on the sphere of radius √E, where x_t's entries have the noise's scale
        self.assertTrue(torch.allclose(pred.norm(dim=-1), torch.full((2,), 4.0), atol=1e-5))


class MixedFrameNoiseTest(unittest.TestCase):
    def test_frames_are_correlated_by_rho_and_stay_standard_normal(self):
        from mav_training.train import mixed_frame_noise
        g = torch.Generator().manual_seed(0)
        x = mixed_frame_noise(torch.randn(4, 3, 8, 32, 32, generator=g), torch.randn(4, 3, 1, 32, 32, generator=g), 0.5)
        self.assertAlmostEqual(x.mean().item(), 0.0, delta=0.02)
        self.assertAlmostEqual(x.var().item(), 1.0, delta=0.03)
        self.assertAlmostEqual((x[:, :, 1:] * x[:, :, :-1]).mean().item(), 0.5, delta=0.03)

    def test_only_the_video_decoder_records_correlated_noise_for_its_manifest(self):
        from mav_training.train import FRAME_NOISE_CORRELATION, DecoderStage, DecoderVideoStage, InterpolatorStage
        self.assertEqual(DecoderVideoStage.frame_correlation, FRAME_NOISE_CORRELATION)
        self.assertEqual(DecoderStage.frame_correlation, 0.0)
        self.assertEqual(InterpolatorStage.frame_correlation, 0.0)


class VideoFineTuningTest(unittest.TestCase):
    def test_video_decoder_trains_only_temporal_layers_and_fps_and_keeps_every_spatial_weight(self):
        from mav_training.train import DecoderVideoStage, InterpolatorStage
        stage = DecoderVideoStage.__new__(DecoderVideoStage)
        stage.model = SpaceTimeUNet(**decoder_config(16, tiny=True))
        trained = {id(p) for p in stage.params()}
        want = {id(p) for p in stage.model.temporal_parameters()} | {id(p) for p in stage.model.fps_mlp.parameters()}
        self.assertEqual(trained, want)
        before = {k: v.clone() for k, v in stage.model.state_dict().items()}
        opt = torch.optim.AdamW(stage.params(), lr=1e-2)
        x = torch.randn(1, 3, 4, 16, 16)
        stage.model(x, torch.tensor([500]), image_embed=torch.randn(1, 16), fps=torch.tensor([8.0])).square().mean().backward()
        opt.step()
        after = stage.model.state_dict()
        self.assertTrue(torch.equal(before["conv_in.weight"], after["conv_in.weight"]))
        self.assertTrue(torch.equal(before["image_proj.0.weight"], after["image_proj.0.weight"]))
        changed = [k for k in after if not torch.equal(before[k], after[k])]
        self.assertTrue(changed and all(".temporal." in k or k.startswith("fps_mlp") for k in changed), changed)
        # ↑F fine-tunes every weight (new input channels)
        interp = InterpolatorStage.__new__(InterpolatorStage)
        interp.model = SpaceTimeUNet(**decoder_config(16, tiny=True))
        self.assertEqual(len(list(interp.params())), len(list(interp.model.parameters())))


class ShapeDecoyTest(unittest.TestCase):
    def test_a_decoy_changes_only_the_shape_or_facing_and_is_never_a_held_out_pair(self):
        import numpy as np
        from mav_training import world as W
        from mav_training.train import shape_decoy
        rng = np.random.default_rng(0)
        refacings = 0
        for _ in range(300):
            sc = W.sample_scene(rng)
            d = shape_decoy(sc, rng)
            self.assertNotEqual((d["shape"], d["direction"]), (sc["shape"], sc["direction"]))
            refacings += d["shape"] == sc["shape"]
            self.assertFalse(W.is_held_out(d["colour"], d["shape"]))
            self.assertEqual({k: d[k] for k in ("colour", "background", "center", "radius")},
                             {k: sc[k] for k in ("colour", "background", "center", "radius")})
            self.assertEqual(d["direction"] is None, d["shape"] not in W.ORIENTED)
        self.assertGreater(refacings, 30)  # a third of the scenes are fish or arrows, half of their decoys re-face

    def test_decoys_feed_x_t_only_from_each_rows_threshold_and_the_target_stays_x0(self):
        from mav_training import train as T

        class Probe(torch.nn.Module):
            x0_param = True

            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(()))
                self.seen = None

            def forward(self, x_t, t, return_x0=True):
                self.seen = (x_t, t)
                return x_t * self.w  # x̂0 = 0: the loss is then the target's weighted square

        n = 1024
        x0, decoy = 2 * torch.ones(n, 1, 64, 64), -torch.ones(n, 1, 64, 64)
        start = torch.tensor([T.FACING_DECOY_T, T.DECOY_T] * (n // 2))  # refacing rows, reshaping rows
        probe = Probe()
        loss = T.diffusion_loss(probe, x0, torch.Generator().manual_seed(0), t_power=2.0, decoy=decoy,
                                decoy_from=start)
        x_t, t = probe.seen
        snr = T.AC[t] / (1 - T.AC[t])
        self.assertAlmostEqual(loss.item(), 4 * snr.clamp(1.0, T.GAMMA).mean().item(), places=4)
        # x_t = √ᾱ·source + √(1−ᾱ)·ε: over 4096 pixels the noise averages out and the mean's sign is the source's
        source = x_t.mean((1, 2, 3)) / T.AC[t].sqrt()
        clear = t <= 900
        self.assertTrue(torch.all(((source[clear] - 2).abs() < 0.5) | ((source[clear] + 1).abs() < 0.5)))
        from_decoy = (source < 0) & clear
        for rows, threshold in ((slice(0, None, 2), T.FACING_DECOY_T), (slice(1, None, 2), T.DECOY_T)):
            high = (t[rows] >= threshold) & clear[rows]
            self.assertEqual(int((from_decoy[rows] & ~high).sum()), 0)
            self.assertGreater(int(from_decoy[rows].sum()), 0.3 * int(high.sum()))
            self.assertLess(int(from_decoy[rows].sum()), 0.7 * int(high.sum()))
        # the facing rows take decoys below DECOY_T too, where D otherwise copied x_t's facing
        low = (t >= T.FACING_DECOY_T) & (t < T.DECOY_T)
        self.assertGreater(int((from_decoy[::2] & low[::2]).sum()), 0)

    def test_foreground_weight_puts_the_loss_on_the_object_and_its_decoy(self):
        from mav_training import train as T, world as W
        scene = {"colour": "blue", "shape": "fish", "background": "white", "direction": "left", "radius": 0.15,
                 "center": (0.5, 0.5)}
        decoy = dict(scene, direction="right")
        img = torch.from_numpy(W.render(scene, 64))[None]
        dec = torch.from_numpy(W.render(decoy, 64))[None]
        w = T.foreground_weight(img, dec, [scene])
        self.assertEqual(tuple(w.shape), (1, 1, 64, 64))
        self.assertAlmostEqual(w.mean().item(), 1.0, places=5)
        obj = (img - 1).abs().amax(1, keepdim=True) > 0.1  # white background is +1
        tail = ((dec - 1).abs().amax(1, keepdim=True) > 0.1) & ~obj
        self.assertGreater(int(tail.sum()), 0)
        self.assertAlmostEqual((w[obj].mean() / w[~obj & ~tail].mean()).item(), 1 + T.FOREGROUND_WEIGHT, places=4)
        self.assertAlmostEqual((w[tail].mean() / w[obj].mean()).item(), 1.0, places=5)

    def test_lr_decay_anneals_from_the_stage_rate_to_its_floor_over_the_run(self):
        import argparse
        import tempfile
        from mav_training import train as T
        self.assertAlmostEqual(T.decayed_lr(1e-3, 0.0, 0.1), 1e-3)
        self.assertAlmostEqual(T.decayed_lr(1e-3, 0.5, 0.1), 0.55e-3)
        self.assertAlmostEqual(T.decayed_lr(1e-3, 1.0, 0.1), 1e-4)
        self.assertAlmostEqual(T.decayed_lr(1e-3, 1.7, 0.1), 1e-4)
        stage = T.DecoderStage(argparse.Namespace(checkpoints=tempfile.mkdtemp(), device="cpu", batch_scale=1,
                                                  resume=False, minutes=None, steps=3, lr_decay=0.1))
        stage.batch = 1
        stage.run()
        # the last of the 3 steps ran at 2/3 of the run
        self.assertAlmostEqual(stage.opt.param_groups[0]["lr"], T.decayed_lr(T.LR["decoder"], 2 / 3, 0.1))

    def test_temporal_weight_counts_only_the_part_of_the_error_that_changes_over_frames(self):
        from mav_training import train as T

        class Fixed(torch.nn.Module):
            """x̂0 = x0 + a given error, whatever x_t."""
            x0_param = True

            def __init__(self, x0, err):
                super().__init__()
                self.x0_hat = x0 + err
                self.device_probe = torch.nn.Parameter(torch.zeros(()))  # diffusion_loss reads the device off it

            def forward(self, x_t, t, return_x0=True):
                return self.x0_hat

        x0 = torch.randn(2, 3, 5, 8, 8)
        steady = torch.randn(2, 3, 1, 8, 8).expand(-1, -1, 5, -1, -1)
        changing = torch.randn(2, 3, 5, 8, 8)
        loss = lambda err, w: T.diffusion_loss(Fixed(x0, err), x0, torch.Generator().manual_seed(1),
                                               temporal_weight=w).item()
        self.assertAlmostEqual(loss(steady, 4.0), loss(steady, 0.0), places=5)  # a still error is not reweighted
        dynamic = changing - changing.mean(2, keepdim=True)
        self.assertAlmostEqual(loss(dynamic, 4.0), 5 * loss(dynamic, 0.0), places=4)
        self.assertAlmostEqual(loss(steady + dynamic, 4.0), loss(steady, 0.0) + 5 * loss(dynamic, 0.0), places=4)

    def test_refacing_decoys_start_at_the_facing_threshold(self):
        import argparse
        from mav_training import train as T
        stage = T.DecoderStage(argparse.Namespace(checkpoints="unused", device="cpu", batch_scale=4))
        imgs, _, start, pixel_weight = stage.data(0, 0.0)
        self.assertLessEqual(set(start.tolist()), {T.FACING_DECOY_T, T.DECOY_T})
        self.assertIn(T.FACING_DECOY_T, start.tolist())
        self.assertEqual(pixel_weight.shape, (imgs.shape[0], 1) + imgs.shape[2:])


class VideoDecoderResumeTest(unittest.TestCase):
    def test_a_resumed_video_decoder_takes_its_spatial_weights_from_the_current_decoder(self):
        import argparse
        import tempfile
        from mav_training import train as T
        args = argparse.Namespace(checkpoints=tempfile.mkdtemp(), device="cpu", batch_scale=1, resume=False,
                                  minutes=None, steps=1)
        for cls in (T.DecoderStage, T.DecoderVideoStage):
            stage = cls(args)
            stage.batch, stage.frames = 1, 2
            stage.run()
        # D trains on after D^t was made: its EMA moves
        d = torch.load(T.ckpt_path(args.checkpoints, "decoder"))
        d["ema"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in d["ema"].items()}
        torch.save(d, T.ckpt_path(args.checkpoints, "decoder"))
        before = torch.load(T.ckpt_path(args.checkpoints, "decoder_video"))["ema"]
        stage = T.DecoderVideoStage(argparse.Namespace(**{**vars(args), "resume": True, "steps": 2}))
        stage.batch, stage.frames = 1, 2
        stage.run()
        after = torch.load(T.ckpt_path(args.checkpoints, "decoder_video"))["ema"]
        temporal = [k for k in after if ".temporal." in k or k.startswith("fps_mlp")]
        spatial = [k for k in after if k not in temporal and after[k].is_floating_point()]
        self.assertTrue(all(torch.equal(after[k], d["ema"][k]) for k in spatial))
        self.assertTrue(any(not torch.equal(after[k], d["ema"][k]) for k in temporal))
        self.assertTrue(any(not torch.equal(after[k], before[k]) for k in temporal))  # and they trained on
        # the checkpoint keeps the trained kernels; its record (the manifest's) carries the blend export applies
        self.assertEqual(T._info(args.checkpoints, "decoder_video")["temporal_conv_blend"], T.TEMPORAL_CONV_BLEND)
        self.assertNotIn("temporal_conv_blend", T._info(args.checkpoints, "decoder"))
        # D^t trained on frame noise at ρ and is sampled at the larger sampling ρ; D alone from independent frames
        self.assertEqual(T._info(args.checkpoints, "decoder_video")["frame_noise_correlation"],
                         T.FRAME_NOISE_CORRELATION)
        for stage, rho in (("decoder_video", T.SAMPLING_FRAME_NOISE_CORRELATION), ("decoder", 0.0)):
            extra = T.load_for_export(args.checkpoints, stage)[-1]
            self.assertEqual(extra["decoder"]["frame_noise_correlation"], rho)

    def test_a_video_decoder_resumed_from_its_exported_file_takes_the_current_decoders_spatial_weights(self):
        # a fresh checkout has no D^t checkpoint: D^t resumes from the model repository, while D may have trained on
        import argparse
        import tempfile
        from unittest import mock
        from mav_training import train as T
        args = argparse.Namespace(checkpoints=tempfile.mkdtemp(), device="cpu", batch_scale=1, resume=False,
                                  minutes=None, steps=1)
        stage = T.DecoderStage(args)
        stage.batch = 1
        stage.run()
        d = torch.load(T.ckpt_path(args.checkpoints, "decoder"))["ema"]
        stage = T.DecoderVideoStage(argparse.Namespace(**{**vars(args), "resume": True}))
        stage.build()
        stage.ema = T.EMA(stage.model)
        exported = {"steps": 7, "temporal_conv_blend": 0.5}
        with mock.patch.object(T.Stage, "load_exported", return_value=exported):  # stands in for the file's weights
            self.assertEqual(stage.load_exported(), exported)
        trainable = stage._trainable()
        spatial = [n for n, p in stage.model.named_parameters() if id(p) not in trainable]
        for model in (stage.model, stage.ema.model):
            state = model.state_dict()
            self.assertTrue(all(torch.equal(state[n], d[n]) for n in spatial))

    def test_a_fresh_video_decoder_starts_its_temporal_layers_at_the_identity_whatever_the_decoder_held(self):
        # a fresh checkout's D is the exported decoder, i.e. the last D^t: its temporal layers are trained
        from mav_training import train as T
        m = T.make_decoder()
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.1)
        spatial = m.conv_in.weight.clone()
        T.fresh_temporal_layers(m)
        convs = [x.conv for x in m.modules() if isinstance(x, TemporalConv)]
        attns = [x for x in m.modules() if isinstance(x, TemporalAttention)]
        self.assertTrue(convs and attns)
        for c in convs:
            ident = torch.zeros_like(c.weight)
            torch.nn.init.dirac_(ident)
            self.assertTrue(torch.equal(c.weight, ident) and not c.bias.any())
        self.assertTrue(all(not a.out.weight.any() and not a.out.bias.any() for a in attns))
        self.assertTrue(torch.equal(m.conv_in.weight, spatial))


if __name__ == "__main__":
    unittest.main()
