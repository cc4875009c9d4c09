"""Regeneration: re-render a clip with a diffusion video model (diffusers) when post-processing cannot fix it.

One module per job: ``families`` (what each model accepts), ``mapping`` and ``windows`` (pure
frame/size arithmetic), ``memory`` (memory modes and their ladder), ``settings`` (the route's
params), ``sidecar`` (the per-render prompt record), ``loader`` (validate and load a local model
folder, apply memory modes, pipeline cache), ``device`` (device choice, GPU slots, the OOM retry at
the device-call boundary), ``acceptance`` (regeneration's own acceptance policy) and ``route``
(``RegenerateRoute``).
Importing this package does not import torch or diffusers; ``loader`` and ``route`` do so lazily.
"""
