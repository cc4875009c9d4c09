"""The corpus's clip kinds and their ground-truth verdicts (no heavy imports: the CLI uses it)."""

KINDS = ("clean", "luma", "chroma", "texture", "breathing", "banding", "crf", "mixed", "incoherent")
LABEL = {
    "clean": "clean",
    "luma": "generative_flicker",
    "chroma": "generative_flicker",
    "texture": "generative_flicker",
    "breathing": "generative_flicker",
    "banding": "codec_artifacts",
    "crf": "codec_artifacts",
    "mixed": "mixed",
    "incoherent": "incoherent",
}
GENERATIVE = ("luma", "chroma", "texture", "breathing")
