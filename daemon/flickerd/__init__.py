"""flickerd: a hot-folder daemon that diagnoses and repairs temporal flicker in AI-generated video."""

__version__ = "0.1.0"
