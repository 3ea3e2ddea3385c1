"""Shapes of every module in image and video mode, and the identity initialisations of the temporal layers."""
import unittest

import torch

from mav_training.clip import CLIP
from mav_training.layers import PseudoAttention, PseudoConv3d, TemporalAttention, TemporalConv, blend_temporal_convs
from mav_training.prior import DiffusionPrior
from mav_training.unet import (SpaceTimeUNet, decoder_config, interpolator_config, sr_high_config, sr_low_config,
                               unshuffled_conv)

torch.set_num_threads(1)


def trained_temporal_conv():
    """A TemporalConv with a motion term, moved off its identity start as training would."""
    torch.manual_seed(0)
    conv = TemporalConv(8, motion=True)
    with torch.no_grad():
        for p in conv.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return conv


def trained_tiny_decoder():
    """A tiny D^t whose temporal layers (kernels, motion terms) moved off their identity start as training would."""
    torch.manual_seed(0)
    m = SpaceTimeUNet(**decoder_config(16, tiny=True)).eval()
    with torch.no_grad():
        for p in m.temporal_parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return m


class TemporalIdentityTest(unittest.TestCase):
    def test_fresh_temporal_conv_is_identity(self):
        conv = TemporalConv(8)
        x = torch.randn(2 * 5, 8, 4, 4)  # (b f) c h w
        self.assertTrue(torch.allclose(conv(x, 5), x, atol=1e-6))

    def test_blended_temporal_conv_interpolates_between_trained_and_identity_and_1_over_alpha_undoes_it(self):
        m = trained_tiny_decoder()
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

    def test_motion_terms_blend_apart_from_the_kernels(self):
        conv = trained_temporal_conv()
        x = torch.randn(2 * 5, 8, 4, 4)
        time = (torch.arange(5.0) - 2)[None].expand(2, -1) / 8
        kernel_only = conv.conv.weight.clone(), conv.conv.bias.clone()
        motion = conv.motion.weight.clone()
        blend_temporal_convs(conv, 1.0, 1.5)
        self.assertTrue(torch.equal(conv.conv.weight, kernel_only[0]) and torch.equal(conv.conv.bias, kernel_only[1]))
        self.assertTrue(torch.allclose(conv.motion.weight, 1.5 * motion))
        blend_temporal_convs(conv, 1.0, 0.0)  # M = 0: the output of the same kernel without a motion term
        plain = TemporalConv(8)
        plain.load_state_dict({k: v for k, v in conv.state_dict().items() if not k.startswith("motion.")})
        self.assertTrue(torch.allclose(conv(x, 5, time), plain(x, 5), atol=1e-6))

    def test_the_fps_exponent_scales_the_motion_terms_time_as_a_blend_of_them_would_at_that_fps(self):
        m = trained_tiny_decoder()
        x, t, emb = torch.randn(2, 3, 5, 32, 32), torch.tensor([500, 500]), torch.randn(2, 16)
        fps = torch.tensor([30.0, 8.0])
        with torch.no_grad():
            plain = m(x, t, emb, fps)
            m.motion_fps_exponent = 0.3
            rescaled = m(x, t, emb, fps)
            m.motion_fps_exponent = 0.0
            blend_temporal_convs(m, 1.0, (30 / 8) ** -0.3)
            blended = m(x, t, emb, fps)
        self.assertFalse(torch.allclose(rescaled[0], plain[0], atol=1e-4))
        self.assertTrue(torch.allclose(rescaled[0], blended[0], atol=1e-5))  # the clip at fps 30
        self.assertTrue(torch.allclose(rescaled[1], plain[1], atol=1e-6))  # fps 8: time as trained

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
        from mav_training.checkpoints import load_grown
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
    def test_unshuffled_conv_is_the_conv_of_the_pixel_unshuffle(self):
        torch.manual_seed(0)
        for r in (2, 3, 4):
            conv = torch.nn.Conv2d(3 * r * r, 8, 3, padding=1)
            x = torch.randn(2, 3, 6 * r, 5 * r)
            with torch.no_grad():
                expected = conv(torch.nn.functional.pixel_unshuffle(x, r))
                self.assertTrue(torch.allclose(unshuffled_conv(conv, x, r), expected, atol=1e-5))

    def test_temporal_conv_is_a_conv1d_over_each_pixels_frames(self):
        conv = trained_temporal_conv()
        with torch.no_grad():
            b, f, h, w = 2, 5, 3, 4
            x = torch.randn(b * f, 8, h, w)
            time = torch.randn(b, f)
            pixels = x.reshape(b, f, 8, h, w).permute(0, 3, 4, 2, 1).reshape(-1, 8, f)  # (b h w) c f
            tau = time[:, None, None, :].expand(-1, h * w, 1, -1).reshape(-1, 1, f)
            expected = conv.conv(pixels) + conv.motion(pixels) * tau
            expected = expected.reshape(b, h, w, 8, f).permute(0, 4, 3, 1, 2).reshape(b * f, 8, h, w)
            self.assertTrue(torch.allclose(conv(x, f, time), expected, atol=1e-5))

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


if __name__ == "__main__":
    unittest.main()
