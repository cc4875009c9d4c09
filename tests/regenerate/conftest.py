"""Tiny random-weight pipelines for every family, saved once per session, and tiny renders with audio.

The components follow the shapes of diffusers' own fast tests (``get_dummy_components``) but are
built here from configs, and the tokenizers are built in memory (transformers 5 needs no files), so
nothing is downloaded. Everything runs on CPU with one torch thread.
"""

from __future__ import annotations

import os
import subprocess

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

VOCAB = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(c, -float(i)) for i, c in enumerate("▁abcdefghijklmnopqrstuvwxyz")]


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


def _t5(umt5: bool = False):
    torch = _torch()
    from transformers import T5Config, T5EncoderModel, T5Tokenizer, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    cfg = dict(vocab_size=len(VOCAB), d_model=32, d_ff=37, d_kv=8, num_layers=2, num_heads=4, relative_attention_num_buckets=8)
    encoder = UMT5EncoderModel(UMT5Config(**cfg)) if umt5 else T5EncoderModel(T5Config(**cfg))
    return encoder, T5Tokenizer(vocab=VOCAB, extra_ids=0)


def _cog_vae():
    torch = _torch()
    from diffusers import AutoencoderKLCogVideoX

    torch.manual_seed(0)
    return AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4, up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8), latent_channels=4, layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4,
    )


def build_cogvideox(i2v: bool = False):
    torch = _torch()
    from diffusers import CogVideoXDDIMScheduler, CogVideoXImageToVideoPipeline, CogVideoXPipeline, CogVideoXTransformer3DModel

    torch.manual_seed(0)
    common = dict(time_embed_dim=2, text_embed_dim=32, num_layers=1, sample_width=4, sample_height=4, sample_frames=9,
                  patch_size=2, temporal_compression_ratio=4, max_text_seq_length=16, out_channels=4)
    if i2v:  # image latents are concatenated (8 channels) and positions are learned: fixed 32×32, 9 frames
        transformer = CogVideoXTransformer3DModel(num_attention_heads=2, attention_head_dim=16, in_channels=8,
                                                  use_rotary_positional_embeddings=True, use_learned_positional_embeddings=True, **common)
    else:
        transformer = CogVideoXTransformer3DModel(num_attention_heads=4, attention_head_dim=8, in_channels=4, **common)
    encoder, tokenizer = _t5()
    cls = CogVideoXImageToVideoPipeline if i2v else CogVideoXPipeline
    return cls(transformer=transformer, vae=_cog_vae(), scheduler=CogVideoXDDIMScheduler(), text_encoder=encoder, tokenizer=tokenizer)


def build_wan(i2v: bool = False):
    torch = _torch()
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanImageToVideoPipeline, WanPipeline, WanTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])
    encoder, tokenizer = _t5(umt5=True)
    torch.manual_seed(0)
    common = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, out_channels=16, text_dim=32, freq_dim=256,
                  ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32)
    scheduler = UniPCMultistepScheduler(flow_shift=3.0)
    if not i2v:
        return WanPipeline(transformer=WanTransformer3DModel(in_channels=16, **common), vae=vae, scheduler=scheduler,
                           text_encoder=encoder, tokenizer=tokenizer)
    # First and last frame: the image embedding carries two images of 1 + 32*32 CLIP tokens each.
    transformer = WanTransformer3DModel(in_channels=36, image_dim=4, pos_embed_seq_len=2 * 1025, **common)
    torch.manual_seed(0)
    image_encoder = CLIPVisionModel(CLIPVisionConfig(hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2,
                                                     image_size=32, intermediate_size=16, patch_size=1))
    return WanImageToVideoPipeline(transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=encoder, tokenizer=tokenizer,
                                   image_encoder=image_encoder, image_processor=CLIPImageProcessor(crop_size=32, size=32))


def build_svd():
    torch = _torch()
    from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline, UNetSpatioTemporalConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"), cross_attention_dim=32,
        num_attention_heads=8, projection_class_embeddings_input_dim=96, addition_time_embed_dim=32,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear", num_train_timesteps=1000,
        prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002, steps_offset=1, timestep_spacing="leading",
        timestep_type="continuous", use_karras_sigmas=True,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                                       down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"], latent_channels=4)
    torch.manual_seed(0)
    # SVD resizes the conditioning image to 224 px before CLIP, so the tiny encoder takes 224 px (16×16 patches).
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=32, projection_dim=32, num_hidden_layers=2,
                                                                   num_attention_heads=4, image_size=224, intermediate_size=37, patch_size=14))
    return StableVideoDiffusionPipeline(unet=unet, image_encoder=image_encoder, scheduler=scheduler, vae=vae,
                                        feature_extractor=CLIPImageProcessor(crop_size=32, size=32))


BUILDERS = {
    "cogvideox": build_cogvideox,
    "cogvideox-i2v": lambda: build_cogvideox(i2v=True),
    "wan": build_wan,
    "wan-i2v": lambda: build_wan(i2v=True),
    "svd": build_svd,
}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    """name → folder of a saved tiny pipeline (``save_pretrained``), built once per session."""
    root = tmp_path_factory.mktemp("models")
    folders = {}
    for name, build in BUILDERS.items():
        folder = root / name
        build().save_pretrained(str(folder))
        folders[name] = str(folder)
    return folders


def make_render(path: str, *, width: int = 40, height: int = 32, fps: int = 12, frames: int = 12, audio: bool = True,
                metadata: dict[str, str] | None = None) -> str:
    """A real H.264 file from ffmpeg's test source (moving pattern), with an AAC tone when ``audio``."""
    from flickerd.media.ffmpeg import ffmpeg_exe
    from flickerd.media.writer import reproducible_args

    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    cmd += ["-frames:v", str(frames), "-c:v", "libx264", *reproducible_args(), "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        cmd += ["-c:a", "aac", "-t", f"{frames / fps:.3f}"]
    for k, v in (metadata or {}).items():
        cmd += ["-metadata", f"{k}={v}"]
    subprocess.run(cmd + [path], check=True)
    return path


@pytest.fixture
def render(tmp_path) -> str:
    return make_render(str(tmp_path / "clip.mp4"))
