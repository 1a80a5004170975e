"""The test-only custom nodes as the ComfyUI 0.33 recordings load them (``/object_info`` of
``traces-0.33/q_features_view_upload.jsonl``); they replace nodes_test's in 0.33 mode.

* SlowProgress: ``steps`` (default 10), optional ``delay`` (FLOAT seconds, default 0.2),
  ``delay_ms`` (INT, default -1 = unset; a value >= 0 wins over ``delay``, so workflows
  written for 0.3.64's SlowProgress run unchanged) and ``preview`` (a JPEG preview per step).
* FailAlways: optional ``message`` (default ``"boom"``), raises ``RuntimeError(message)``.
* SlowPreview: at each step a PNG preview fitted to 512 px (through the progress bar, so a
  type-1 frame after ``progress``, or type 4 before it with metadata negotiated) and the
  progress text ``"step i/n"`` (type-3 frame) addressed to the prompt's client.

Sleeps are cut into slices of at most 50 ms with an interrupt check after each, like
nodes_test.SlowProgress (ComfyUI's node notices an interrupt only at its next step).
"""
import asyncio

from .nodes import Node, register_for
from .nodes_test import MODULE
from .versions import V0_33

SLICE = 0.05


async def sleep_interruptibly(ctx, seconds):
    remaining = seconds
    while remaining > 0:
        chunk = min(SLICE, remaining)
        await asyncio.sleep(chunk)
        remaining -= chunk
        ctx.check_interrupt()


class GatewayTestNode(Node):
    CATEGORY = "gateway_test"
    PYTHON_MODULE = MODULE
    RETURN_TYPES = ("IMAGE",)


@register_for(V0_33)
class SlowProgress(GatewayTestNode):
    NAME = "SlowProgress"
    DISPLAY_NAME = "Slow Progress (test)"

    @classmethod
    def input_types(cls, env):
        return {
            "required": {
                "image": ["IMAGE"],
                "steps": ["INT", {"default": 10, "min": 1, "max": 10000}],
            },
            "optional": {
                "delay": ["FLOAT", {"default": 0.2, "min": 0.0, "max": 60.0, "step": 0.01}],
                "delay_ms": ["INT", {"default": -1, "min": -1, "max": 600000}],
                "preview": ["BOOLEAN", {"default": False}],
            },
        }

    async def run(self, ctx, image, steps=10, delay=0.2, delay_ms=-1, preview=False):
        seconds = delay_ms / 1000.0 if delay_ms >= 0 else delay
        for i in range(steps):
            await sleep_interruptibly(ctx, seconds)
            ctx.progress(i + 1, steps, ("JPEG", image[0], 512) if preview else None)
        return (image,)


@register_for(V0_33)
class FailAlways(GatewayTestNode):
    NAME = "FailAlways"
    DISPLAY_NAME = "Fail Always (test)"

    @classmethod
    def input_types(cls, env):
        return {"required": {"image": ["IMAGE"]},
                "optional": {"message": ["STRING", {"default": "boom"}]}}

    def run(self, ctx, image, message="boom"):
        raise RuntimeError(message)


@register_for(V0_33)
class SlowPreview(GatewayTestNode):
    NAME = "SlowPreview"
    DISPLAY_NAME = "Slow Preview (test)"

    @classmethod
    def input_types(cls, env):
        return {
            "required": {
                "image": ["IMAGE"],
                "steps": ["INT", {"default": 5, "min": 1, "max": 10000}],
                "delay": ["FLOAT", {"default": 0.2, "min": 0.0, "max": 60.0, "step": 0.01}],
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    async def run(self, ctx, image, steps=5, delay=0.2, unique_id=None):
        for i in range(steps):
            await sleep_interruptibly(ctx, delay)
            ctx.progress(i + 1, steps, ("PNG", image[0], 512))
            ctx.send_text(f"step {i + 1}/{steps}", unique_id, sid=ctx.env.client_id)
        return (image,)
