"""comfy_emulator: a GPU-free emulator of the ComfyUI 0.3.64 HTTP/WebSocket server, or of
ComfyUI 0.33.0 with ``version="0.33"``.

Modules:
  versions    the imitated version: --version / COMFY_EMULATOR_VERSION, per-version Profile
  paths       input/output/temp directories and ComfyUI's file-name rules
  media       image/audio/latent encoding helpers (Pillow, FLAC, safetensors)
  nodes       node base class, registry and /object_info NodeInfo builder
  nodes_core  emulated core and comfy_extras nodes (images, masks, latents, strings, audio)
  nodes_test  the test-only custom nodes SlowProgress, FailAlways and BigOutput
  nodes_test_033 0.33's SlowProgress and FailAlways, and SlowPreview (0.33 mode only)
  validation  validate_prompt / validate_inputs with ComfyUI's error shapes
  prompt_queue the pending heap, running items and history
  hub         WebSocket sessions, the FIFO message publisher and binary frames
  execution   the executor: ordering, classic cache, progress registry, events
  controls    /__emulator/* test controls, connection counting and fault injection
  server      the aiohttp application with ComfyUI's routes and middlewares
  jobs        0.33's /api/jobs routes: listing, single job, cancel (single and batch)
  view_safety 0.33's /view headers (nosniff, risky types as attachments)
  app         wiring: Emulator object (start/stop/restart)
"""
