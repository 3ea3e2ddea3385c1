"""Training resumes from the shipped ONNX files: restore_from_onnx gives back exactly the exported weights of a
name-preserving export and refuses a constant-folded one."""
import os
import tempfile
import unittest

import torch

from mav_training import export as X, graphs as G
from mav_training.clip import CLIP
from mav_training.unet import SpaceTimeUNet, decoder_config, sr_low_config

torch.set_num_threads(1)


def jittered(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def assert_same_weights(case, a, b):
    sa, sb = a.state_dict(), b.state_dict()
    case.assertEqual(sa.keys(), sb.keys())
    for k in sa:
        case.assertTrue(torch.equal(sa[k], sb[k]), k)


class RestoreFromOnnxTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def export(self, name, graph, inputs, fold):
        path = os.path.join(self.dir, f"{name}-{fold}.onnx")
        ins, outs = G.contract(name, 16)
        X.onnx_export(graph.eval(), tuple(inputs[n] for n, _, _ in ins), path, ins, outs, keep_names=not fold)
        return path

    def test_every_parameter_comes_back_from_a_name_preserving_export(self):
        torch.manual_seed(0)
        unet = jittered(SpaceTimeUNet(**decoder_config(16, tiny=True)), 1)
        path = self.export("decoder", G.DecoderGraph(unet), G.parity_inputs("decoder", 16, None), fold=False)
        torch.manual_seed(1)
        assert_same_weights(self, G.restore_from_onnx(SpaceTimeUNet(**decoder_config(16, tiny=True)), "decoder",
                                                      path), unet)

    def test_parameters_of_equal_value_keep_their_own_names(self):
        """An untrained D^t: its temporal convs are all the identity and many biases are zero."""
        torch.manual_seed(0)
        unet = SpaceTimeUNet(**decoder_config(16, tiny=True)).eval()
        path = self.export("decoder", G.DecoderGraph(unet), G.parity_inputs("decoder", 16, None), fold=False)
        fresh = jittered(SpaceTimeUNet(**decoder_config(16, tiny=True)), 4)
        assert_same_weights(self, G.restore_from_onnx(fresh, "decoder", path), unet)

    def test_a_constant_folded_export_is_refused(self):
        torch.manual_seed(0)
        unet = jittered(SpaceTimeUNet(**sr_low_config(tiny=True)), 2)
        path = self.export("sr_low", G.SuperResGraph(unet), G.parity_inputs("sr_low", 16, None), fold=True)
        with self.assertRaisesRegex(ValueError, "constant folding"):
            G.restore_from_onnx(SpaceTimeUNet(**sr_low_config(tiny=True)), "sr_low", path)

    def test_clip_towers_come_back_from_their_two_files(self):
        clip = CLIP(40, 16)
        clip.text = clip.text.__class__(40, 16, width=32, layers=1, heads=2)
        clip.image = clip.image.__class__(16, channels=(8, 16))
        jittered(clip, 3)
        image = self.export("image_encoder", G.ImageEncoderGraph(clip.image),
                            G.parity_inputs("image_encoder", 16, None), fold=False)
        fresh = clip.image.__class__(16, channels=(8, 16))
        assert_same_weights(self, G.restore_from_onnx(fresh, "image_encoder", image), clip.image)

    def test_a_file_missing_parameters_is_refused_naming_them(self):
        unet = SpaceTimeUNet(**decoder_config(16, tiny=True))
        path = self.export("decoder", G.DecoderGraph(unet), G.parity_inputs("decoder", 16, None), fold=False)
        other = SpaceTimeUNet(**dict(decoder_config(16, tiny=True), channels=(8, 16, 16)))
        with self.assertRaises(ValueError):
            G.restore_from_onnx(other, "decoder", path)


if __name__ == "__main__":
    unittest.main()
