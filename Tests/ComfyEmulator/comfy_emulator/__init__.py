"""comfy_emulator: a GPU-free emulator of the ComfyUI 0.3.64 HTTP/WebSocket server.

Modules:
  paths       input/output/temp directories and ComfyUI's file-name rules
  media       image/audio/latent encoding helpers (Pillow, FLAC, safetensors)
  nodes       node base class, registry and /object_info NodeInfo builder
  nodes_core  emulated core and comfy_extras nodes (images, masks, latents, strings, audio)
  nodes_test  the test-only custom nodes SlowProgress, FailAlways and BigOutput
  validation  validate_prompt / validate_inputs with ComfyUI's error shapes
  prompt_queue the pending heap, running items and history
  hub         WebSocket sessions, the FIFO message publisher and binary frames
  execution   the executor: ordering, classic cache, progress registry, events
  controls    /__emulator/* test controls, connection counting and fault injection
  server      the aiohttp application with ComfyUI's routes and middlewares
  app         wiring: Emulator object (start/stop/restart)
"""
