"""The test-only custom nodes (category ``gateway_test``): the two recorded in the traces and
BigOutput, which is not.

SlowProgress sleeps ``steps x delay_ms`` in slices of at most 50 ms, checking the interrupt
flag between slices, and reports progress ``i+1`` of ``steps`` after each step (with a JPEG
preview when ``preview`` is true). FailAlways raises ``RuntimeError(message)``.
BigOutput is an output node whose UI output is ``{"text": [<size characters>]}`` (the ``text``
seed repeated and cut to ``size``), so its ``executed`` message and history entry carry the whole
string, as a real PreviewAny of a long text does: for tests of very large WebSocket messages.
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


BIG_OUTPUT_MAX = 64 * 1024 * 1024


@register
class BigOutput(Node):
    NAME = "BigOutput"
    DISPLAY_NAME = "Big Output (gateway test)"
    CATEGORY = "gateway_test"
    PYTHON_MODULE = MODULE
    OUTPUT_NODE = True

    @classmethod
    def input_types(cls, env):
        return {
            "required": {"size": ["INT", {"default": 1024, "min": 0, "max": BIG_OUTPUT_MAX}]},
            # The seed defeats the result cache: workflows differing only in it all run.
            "optional": {"text": ["STRING", {"default": "x"}]},
        }

    def run(self, ctx, size=1024, text="x"):
        seed = text if isinstance(text, str) and text else "x"
        value = (seed * (size // len(seed) + 1))[:size]
        return {"ui": {"text": [value]}}
