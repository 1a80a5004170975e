"""The two test-only custom nodes recorded in the traces (category ``gateway_test``).

SlowProgress sleeps ``steps x delay_ms`` in slices of at most 50 ms, checking the interrupt
flag between slices, and reports progress ``i+1`` of ``steps`` after each step (with a JPEG
preview when ``preview`` is true). FailAlways raises ``RuntimeError(message)``.
"""
import asyncio

from .nodes import Node, register

MODULE = "custom_nodes.gateway_test_nodes"


@register
class SlowProgress(Node):
    NAME = "SlowProgress"
    DISPLAY_NAME = "Slow Progress (gateway test)"
    CATEGORY = "gateway_test"
    PYTHON_MODULE = MODULE
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)

    @classmethod
    def input_types(cls, env):
        return {
            "required": {
                "image": ["IMAGE"],
                "steps": ["INT", {"default": 5, "min": 1, "max": 10000}],
                "delay_ms": ["INT", {"default": 200, "min": 0, "max": 600000}],
            },
            "optional": {"preview": ["BOOLEAN", {"default": False}]},
        }

    async def run(self, ctx, image, steps=5, delay_ms=200, preview=False):
        for i in range(steps):
            remaining = delay_ms / 1000.0
            while remaining > 0:
                chunk = min(0.05, remaining)
                await asyncio.sleep(chunk)
                remaining -= chunk
                ctx.check_interrupt()
            ctx.progress(i + 1, steps, ("JPEG", image[0], 512) if preview else None)
        return (image,)


@register
class FailAlways(Node):
    NAME = "FailAlways"
    DISPLAY_NAME = "Fail Always (gateway test)"
    CATEGORY = "gateway_test"
    PYTHON_MODULE = MODULE
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "image": ["IMAGE"],
            "message": ["STRING", {"default": "boom from FailAlways"}],
        }}

    def run(self, ctx, image, message):
        raise RuntimeError(message)
