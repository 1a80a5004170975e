"""Emulated core ComfyUI nodes that need no model (nodes.py and comfy_extras).

Pixel results are plausible rather than bit-exact (Pillow operations stand in for the torch
code), but inputs, outputs, output files, UI dicts, progress and text frames follow ComfyUI.
"""
import hashlib
import json
import os
import random
import time

from PIL import Image, ImageChops, ImageFilter, ImageOps, ImageSequence

from .media import ImageBatch, MaskBatch, ZeroTensor, save_png, write_flac, write_safetensors
from .nodes import Node, register
from .paths import get_save_image_path

MAX_RESOLUTION = 16384
UPSCALE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]
LATENT_UPSCALE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "bislerp"]
RESAMPLE = {
    "nearest-exact": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "bislerp": Image.Resampling.BILINEAR,
}
HIDDEN_PNG = {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}


def png_text(ctx):
    if ctx.env.disable_metadata:
        return None
    text = {}
    if ctx.prompt is not None:
        text["prompt"] = json.dumps(ctx.prompt)
    if isinstance(ctx.extra_pnginfo, dict):
        for k, v in ctx.extra_pnginfo.items():
            text[k] = json.dumps(v)
    return text


def save_image_batch(ctx, images, filename_prefix, output_dir, type_name, compress_level):
    w, h = images[0].size
    full_folder, filename, counter, subfolder, filename_prefix = get_save_image_path(
        filename_prefix, output_dir, w, h)
    results = []
    for batch_number, img in enumerate(images):
        name = filename.replace("%batch_num%", str(batch_number))
        file = f"{name}_{counter:05}_.png"
        save_png(img, os.path.join(full_folder, file), png_text(ctx), compress_level)
        results.append({"filename": file, "subfolder": subfolder, "type": type_name})
        counter += 1
    return {"ui": {"images": results}}


def temp_prefix_append():
    return "_temp_" + "".join(random.choice("abcdefghijklmnopqrstupvxyz") for _ in range(5))


def common_upscale(img, width, height, method, crop):
    w, h = img.size
    if crop == "center":
        old_aspect = w / h
        new_aspect = width / height
        x = y = 0
        if old_aspect > new_aspect:
            x = round((w - w * (new_aspect / old_aspect)) / 2)
        elif old_aspect < new_aspect:
            y = round((h - h * (old_aspect / new_aspect)) / 2)
        img = img.crop((x, y, w - x, h - y))
    return img.resize((width, height), RESAMPLE.get(method, Image.Resampling.BILINEAR))


def _reflect_check(image, radius, op):
    b, h, w, c = image.shape
    if radius >= h or radius >= w:
        raise RuntimeError(
            f"Argument #4: Padding size should be less than the corresponding input dimension, "
            f"but got: padding ({radius}, {radius}) at dimension 3 of input [{b}, {c}, {h}, {w}]")


@register
class EmptyImage(Node):
    NAME = "EmptyImage"
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "width": ["INT", {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}],
            "height": ["INT", {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}],
            "batch_size": ["INT", {"default": 1, "min": 1, "max": 4096}],
            "color": ["INT", {"default": 0, "min": 0, "max": 0xFFFFFF, "step": 1, "display": "color"}],
        }}

    def run(self, ctx, width, height, batch_size=1, color=0):
        rgb = ((color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF)
        return (ImageBatch(Image.new("RGB", (width, height), rgb) for _ in range(batch_size)),)


@register
class LoadImage(Node):
    NAME = "LoadImage"
    DISPLAY_NAME = "Load Image"
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE", "MASK")
    VALIDATE_ARGS = ("image",)
    HAS_IS_CHANGED = True

    @classmethod
    def input_types(cls, env):
        return {"required": {"image": [env.paths.input_image_files(), {"image_upload": True}]}}

    @classmethod
    def is_changed(cls, env, image):
        m = hashlib.sha256()
        with open(env.paths.get_annotated_filepath(image), "rb") as f:
            m.update(f.read())
        return m.digest().hex()

    @classmethod
    def validate_inputs(cls, env, image):
        if not env.paths.exists_annotated_filepath(image):
            return "Invalid image file: {}".format(image)
        return True

    def run(self, ctx, image):
        path = ctx.env.paths.get_annotated_filepath(image)
        images, masks = ImageBatch(), MaskBatch()
        with Image.open(path) as img:
            size = None
            for frame in ImageSequence.Iterator(img):
                frame = ImageOps.exif_transpose(frame)
                rgb = frame.convert("RGB")
                if size is None:
                    size = rgb.size
                if rgb.size != size:
                    continue
                if "A" in frame.getbands():
                    masks.append(ImageOps.invert(frame.getchannel("A")))
                else:
                    masks.append(Image.new("L", (64, 64), 0))
                images.append(rgb.copy())
        return (images, masks)


@register
class LoadImageMask(Node):
    NAME = "LoadImageMask"
    DISPLAY_NAME = "Load Image (as Mask)"
    CATEGORY = "mask"
    RETURN_TYPES = ("MASK",)
    VALIDATE_ARGS = ("image",)
    HAS_IS_CHANGED = True

    @classmethod
    def input_types(cls, env):
        return {"required": {"image": [env.paths.input_image_files(), {"image_upload": True}],
                             "channel": [["alpha", "red", "green", "blue"]]}}

    @classmethod
    def is_changed(cls, env, image, channel=None):
        return LoadImage.is_changed(env, image)

    @classmethod
    def validate_inputs(cls, env, image):
        return LoadImage.validate_inputs(env, image)

    def run(self, ctx, image, channel):
        with Image.open(ctx.env.paths.get_annotated_filepath(image)) as img:
            band = {"alpha": "A", "red": "R", "green": "G", "blue": "B"}[channel]
            if band in img.getbands():
                m = img.getchannel(band)
                if band == "A":
                    m = ImageOps.invert(m)
            elif band != "A" and "RGB" in img.mode:
                m = img.convert("RGB").getchannel(band)
            else:
                m = Image.new("L", (64, 64), 0)
        return (MaskBatch([m.copy()]),)


@register
class SaveImage(Node):
    NAME = "SaveImage"
    DISPLAY_NAME = "Save Image"
    CATEGORY = "image"
    DESCRIPTION = "Saves the input images to your ComfyUI output directory."
    OUTPUT_NODE = True

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "images": ["IMAGE", {"tooltip": "The images to save."}],
            "filename_prefix": ["STRING", {"default": "ComfyUI", "tooltip": "The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes."}],
        }, "hidden": dict(HIDDEN_PNG)}

    def run(self, ctx, images, filename_prefix="ComfyUI", prompt=None, extra_pnginfo=None):
        return save_image_batch(ctx, images, filename_prefix, ctx.env.paths.output, "output", 4)


@register
class PreviewImage(Node):
    NAME = "PreviewImage"
    DISPLAY_NAME = "Preview Image"
    CATEGORY = "image"
    DESCRIPTION = "Saves the input images to your ComfyUI output directory."
    OUTPUT_NODE = True

    def __init__(self):
        # Drawn per instance, as ComfyUI does: an instance kept across prompts (0.33 mode's
        # object reuse) keeps its letters and its file counter goes on.
        self.prefix_append = temp_prefix_append()

    @classmethod
    def input_types(cls, env):
        return {"required": {"images": ["IMAGE"]}, "hidden": dict(HIDDEN_PNG)}

    def run(self, ctx, images, prompt=None, extra_pnginfo=None):
        prefix = "ComfyUI" + self.prefix_append
        return save_image_batch(ctx, images, prefix, ctx.env.paths.temp, "temp", 1)


@register
class MaskPreview(Node):
    NAME = "MaskPreview"
    DISPLAY_NAME = "Preview Mask"
    CATEGORY = "mask"
    DESCRIPTION = "Saves the input images to your ComfyUI output directory."
    PYTHON_MODULE = "comfy_extras.nodes_mask"
    OUTPUT_NODE = True

    @classmethod
    def input_types(cls, env):
        return {"required": {"mask": ["MASK"]}, "hidden": dict(HIDDEN_PNG)}

    def __init__(self):
        self.prefix_append = temp_prefix_append()

    def run(self, ctx, mask, prompt=None, extra_pnginfo=None):
        images = ImageBatch(m.convert("RGB") for m in mask)
        prefix = "ComfyUI" + self.prefix_append
        return save_image_batch(ctx, images, prefix, ctx.env.paths.temp, "temp", 4)


@register
class ImageInvert(Node):
    NAME = "ImageInvert"
    DISPLAY_NAME = "Invert Image"
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {"image": ["IMAGE"]}}

    def run(self, ctx, image):
        return (ImageBatch(ImageOps.invert(i) for i in image),)


@register
class ImageScale(Node):
    NAME = "ImageScale"
    DISPLAY_NAME = "Upscale Image"
    CATEGORY = "image/upscaling"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "image": ["IMAGE"],
            "upscale_method": [list(UPSCALE_METHODS)],
            "width": ["INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 1}],
            "height": ["INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 1}],
            "crop": [["disabled", "center"]],
        }}

    def run(self, ctx, image, upscale_method, width, height, crop):
        if width == 0 and height == 0:
            return (image,)
        w, h = image[0].size
        if width == 0:
            width = max(1, round(w * height / h))
        elif height == 0:
            height = max(1, round(h * width / w))
        return (ImageBatch(common_upscale(i, width, height, upscale_method, crop) for i in image),)


@register
class ImageScaleBy(Node):
    NAME = "ImageScaleBy"
    DISPLAY_NAME = "Upscale Image By"
    CATEGORY = "image/upscaling"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "image": ["IMAGE"],
            "upscale_method": [list(UPSCALE_METHODS)],
            "scale_by": ["FLOAT", {"default": 1.0, "min": 0.01, "max": 8.0, "step": 0.01}],
        }}

    def run(self, ctx, image, upscale_method, scale_by):
        w, h = image[0].size
        size = (max(1, round(w * scale_by)), max(1, round(h * scale_by)))
        return (ImageBatch(i.resize(size, RESAMPLE[upscale_method]) for i in image),)


@register
class ImageBatchNode(Node):
    NAME = "ImageBatch"
    DISPLAY_NAME = "Batch Images"
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {"image1": ["IMAGE"], "image2": ["IMAGE"]}}

    def run(self, ctx, image1, image2):
        size = image1[0].size
        second = [i if i.size == size else common_upscale(i, size[0], size[1], "bilinear", "center") for i in image2]
        return (ImageBatch(list(image1) + second),)


@register
class ImageBlur(Node):
    NAME = "ImageBlur"
    DISPLAY_NAME = "Image Blur"
    CATEGORY = "image/postprocessing"
    PYTHON_MODULE = "comfy_extras.nodes_post_processing"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "image": ["IMAGE"],
            "blur_radius": ["INT", {"default": 1, "min": 1, "max": 31, "step": 1}],
            "sigma": ["FLOAT", {"default": 1.0, "min": 0.1, "max": 10.0, "step": 0.1}],
        }}

    def run(self, ctx, image, blur_radius, sigma):
        if blur_radius == 0:
            return (image,)
        _reflect_check(image, blur_radius, "blur")
        return (ImageBatch(i.filter(ImageFilter.GaussianBlur(sigma)) for i in image),)


@register
class ImageSharpen(Node):
    NAME = "ImageSharpen"
    DISPLAY_NAME = "Image Sharpen"
    CATEGORY = "image/postprocessing"
    PYTHON_MODULE = "comfy_extras.nodes_post_processing"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "image": ["IMAGE"],
            "sharpen_radius": ["INT", {"default": 1, "min": 1, "max": 31, "step": 1}],
            "sigma": ["FLOAT", {"default": 1.0, "min": 0.1, "max": 10.0, "step": 0.01}],
            "alpha": ["FLOAT", {"default": 1.0, "min": 0.0, "max": 5.0, "step": 0.01}],
        }}

    def run(self, ctx, image, sharpen_radius, sigma, alpha):
        if sharpen_radius == 0:
            return (image,)
        _reflect_check(image, sharpen_radius, "sharpen")
        f = ImageFilter.UnsharpMask(radius=sharpen_radius, percent=int(alpha * 100), threshold=0)
        return (ImageBatch(i.filter(f) for i in image),)


@register
class ImageFlip(Node):
    NAME = "ImageFlip"
    DISPLAY_NAME = "Image Flip"
    CATEGORY = "image/transform"
    PYTHON_MODULE = "comfy_extras.nodes_images"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {"image": ["IMAGE"],
                             "flip_method": [["x-axis: vertically", "y-axis: horizontally"]]}}

    def run(self, ctx, image, flip_method):
        t = Image.Transpose.FLIP_TOP_BOTTOM if flip_method.startswith("x") else Image.Transpose.FLIP_LEFT_RIGHT
        return (ImageBatch(i.transpose(t) for i in image),)


@register
class ImageRotate(Node):
    NAME = "ImageRotate"
    DISPLAY_NAME = "Image Rotate"
    CATEGORY = "image/transform"
    PYTHON_MODULE = "comfy_extras.nodes_images"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {"image": ["IMAGE"],
                             "rotation": [["none", "90 degrees", "180 degrees", "270 degrees"]]}}

    def run(self, ctx, image, rotation):
        t = {"90 degrees": Image.Transpose.ROTATE_270, "180 degrees": Image.Transpose.ROTATE_180,
             "270 degrees": Image.Transpose.ROTATE_90}.get(rotation)
        if t is None:
            return (image,)
        return (ImageBatch(i.transpose(t) for i in image),)


@register
class ImageCrop(Node):
    NAME = "ImageCrop"
    DISPLAY_NAME = "Image Crop"
    CATEGORY = "image/transform"
    PYTHON_MODULE = "comfy_extras.nodes_images"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "image": ["IMAGE"],
            "width": ["INT", {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}],
            "height": ["INT", {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}],
            "x": ["INT", {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 1}],
            "y": ["INT", {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 1}],
        }}

    def run(self, ctx, image, width, height, x, y):
        w, h = image[0].size
        x, y = min(x, w - 1), min(y, h - 1)
        box = (x, y, min(w, x + width), min(h, y + height))
        return (ImageBatch(i.crop(box) for i in image),)


@register
class RepeatImageBatch(Node):
    NAME = "RepeatImageBatch"
    CATEGORY = "image/batch"
    PYTHON_MODULE = "comfy_extras.nodes_images"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {"image": ["IMAGE"],
                             "amount": ["INT", {"default": 1, "min": 1, "max": 4096}]}}

    def run(self, ctx, image, amount):
        return (ImageBatch(list(image) * amount),)


@register
class ImageBlend(Node):
    NAME = "ImageBlend"
    DISPLAY_NAME = "Image Blend"
    CATEGORY = "image/postprocessing"
    PYTHON_MODULE = "comfy_extras.nodes_post_processing"
    RETURN_TYPES = ("IMAGE",)
    MODES = ["normal", "multiply", "screen", "overlay", "soft_light", "difference"]

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "image1": ["IMAGE"], "image2": ["IMAGE"],
            "blend_factor": ["FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01}],
            "blend_mode": [list(cls.MODES)],
        }}

    def run(self, ctx, image1, image2, blend_factor, blend_mode):
        ops = {"normal": lambda a, b: b, "multiply": ImageChops.multiply, "screen": ImageChops.screen,
               "overlay": ImageChops.overlay, "soft_light": ImageChops.soft_light,
               "difference": ImageChops.difference}
        out = ImageBatch()
        for idx, a in enumerate(image1):
            b = image2[min(idx, len(image2) - 1)]
            if b.size != a.size:
                b = b.resize(a.size, Image.Resampling.BICUBIC)
            out.append(Image.blend(a, ops[blend_mode](a, b), blend_factor))
        return (out,)


@register
class Canny(Node):
    NAME = "Canny"
    CATEGORY = "image/preprocessors"
    PYTHON_MODULE = "comfy_extras.nodes_canny"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "image": ["IMAGE"],
            "low_threshold": ["FLOAT", {"default": 0.4, "min": 0.01, "max": 0.99, "step": 0.01}],
            "high_threshold": ["FLOAT", {"default": 0.8, "min": 0.01, "max": 0.99, "step": 0.01}],
        }}

    def run(self, ctx, image, low_threshold, high_threshold):
        cut = int(low_threshold * 255)
        out = ImageBatch()
        for i in image:
            edges = i.convert("L").filter(ImageFilter.FIND_EDGES).point(lambda v: 255 if v > cut else 0)
            out.append(edges.convert("RGB"))
        return (out,)


@register
class SolidMask(Node):
    NAME = "SolidMask"
    CATEGORY = "mask"
    PYTHON_MODULE = "comfy_extras.nodes_mask"
    RETURN_TYPES = ("MASK",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "value": ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}],
            "width": ["INT", {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}],
            "height": ["INT", {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}],
        }}

    def run(self, ctx, value, width, height):
        return (MaskBatch([Image.new("L", (width, height), round(value * 255))]),)


@register
class ImageToMask(Node):
    NAME = "ImageToMask"
    DISPLAY_NAME = "Convert Image to Mask"
    CATEGORY = "mask"
    PYTHON_MODULE = "comfy_extras.nodes_mask"
    RETURN_TYPES = ("MASK",)

    @classmethod
    def input_types(cls, env):
        return {"required": {"image": ["IMAGE"], "channel": [["red", "green", "blue", "alpha"]]}}

    def run(self, ctx, image, channel):
        if channel == "alpha":
            return (MaskBatch(Image.new("L", i.size, 255) for i in image),)
        band = {"red": "R", "green": "G", "blue": "B"}[channel]
        return (MaskBatch(i.getchannel(band) for i in image),)


@register
class MaskToImage(Node):
    NAME = "MaskToImage"
    DISPLAY_NAME = "Convert Mask to Image"
    CATEGORY = "mask"
    PYTHON_MODULE = "comfy_extras.nodes_mask"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def input_types(cls, env):
        return {"required": {"mask": ["MASK"]}}

    def run(self, ctx, mask):
        return (ImageBatch(m.convert("RGB") for m in mask),)


@register
class InvertMask(Node):
    NAME = "InvertMask"
    CATEGORY = "mask"
    PYTHON_MODULE = "comfy_extras.nodes_mask"
    RETURN_TYPES = ("MASK",)

    @classmethod
    def input_types(cls, env):
        return {"required": {"mask": ["MASK"]}}

    def run(self, ctx, mask):
        return (MaskBatch(ImageOps.invert(m) for m in mask),)


@register
class GetImageSize(Node):
    NAME = "GetImageSize"
    DISPLAY_NAME = "Get Image Size"
    CATEGORY = "image"
    DESCRIPTION = "Returns width and height of the image, and passes it through unchanged."
    PYTHON_MODULE = "comfy_extras.nodes_images"
    RETURN_TYPES = ("INT", "INT", "INT")
    RETURN_NAMES = ("width", "height", "batch_size")

    @classmethod
    def input_types(cls, env):
        return {"required": {"image": ["IMAGE"]}, "hidden": {"unique_id": "UNIQUE_ID"}}

    def run(self, ctx, image, unique_id=None):
        width, height = image[0].size
        batch = len(image)
        # PromptServer.send_progress_text(text, unique_id): no target sid -> every socket.
        ctx.send_text(f"width: {width}, height: {height}\n batch size: {batch}", unique_id)
        return (width, height, batch)


@register
class SaveAnimatedWEBP(Node):
    NAME = "SaveAnimatedWEBP"
    CATEGORY = "image/animation"
    PYTHON_MODULE = "comfy_extras.nodes_images"
    OUTPUT_NODE = True
    METHODS = {"default": 4, "fastest": 0, "slowest": 6}

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "images": ["IMAGE"],
            "filename_prefix": ["STRING", {"default": "ComfyUI"}],
            "fps": ["FLOAT", {"default": 6.0, "min": 0.01, "max": 1000.0, "step": 0.01}],
            "lossless": ["BOOLEAN", {"default": True}],
            "quality": ["INT", {"default": 80, "min": 0, "max": 100}],
            "method": [list(cls.METHODS.keys())],
        }, "hidden": dict(HIDDEN_PNG)}

    def run(self, ctx, images, fps, filename_prefix, lossless, quality, method, prompt=None, extra_pnginfo=None):
        w, h = images[0].size
        full_folder, filename, counter, subfolder, _ = get_save_image_path(filename_prefix, ctx.env.paths.output, w, h)
        file = f"{filename}_{counter:05}_.webp"
        frames = list(images)
        frames[0].save(os.path.join(full_folder, file), save_all=True, duration=int(1000.0 / fps),
                       append_images=frames[1:], lossless=lossless, quality=quality,
                       method=self.METHODS.get(method, 4))
        return {"ui": {"images": [{"filename": file, "subfolder": subfolder, "type": "output"}],
                       "animated": [len(frames) != 1]}}


@register
class PrimitiveString(Node):
    NAME = "PrimitiveString"
    DISPLAY_NAME = "String"
    CATEGORY = "utils/primitive"
    PYTHON_MODULE = "comfy_extras.nodes_primitive"
    RETURN_TYPES = ("STRING",)

    @classmethod
    def input_types(cls, env):
        return {"required": {"value": ["STRING", {}]}}

    def run(self, ctx, value):
        return (value,)


@register
class StringConcatenate(Node):
    NAME = "StringConcatenate"
    DISPLAY_NAME = "Concatenate"
    CATEGORY = "utils/string"
    PYTHON_MODULE = "comfy_extras.nodes_string"
    RETURN_TYPES = ("STRING",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "string_a": ["STRING", {"multiline": True}],
            "string_b": ["STRING", {"multiline": True}],
            "delimiter": ["STRING", {"multiline": False, "default": ""}],
        }}

    def run(self, ctx, string_a, string_b, delimiter):
        return (delimiter.join([string_a, string_b]),)


@register
class PreviewAny(Node):
    NAME = "PreviewAny"
    DISPLAY_NAME = "Preview Any"
    CATEGORY = "utils"
    PYTHON_MODULE = "comfy_extras.nodes_preview_any"
    OUTPUT_NODE = True

    @classmethod
    def input_types(cls, env):
        return {"required": {"source": ["*", {}]}}

    def run(self, ctx, source=None):
        value = "None"
        if isinstance(source, str):
            value = source
        elif isinstance(source, (int, float, bool)):
            value = str(source)
        elif source is not None:
            try:
                value = json.dumps(source)
            except Exception:
                value = str(source)
        return {"ui": {"text": [value]}}


@register
class EmptyLatentImage(Node):
    NAME = "EmptyLatentImage"
    DISPLAY_NAME = "Empty Latent Image"
    CATEGORY = "latent"
    DESCRIPTION = "Create a new batch of empty latent images to be denoised via sampling."
    RETURN_TYPES = ("LATENT",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "width": ["INT", {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8}],
            "height": ["INT", {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8}],
            "batch_size": ["INT", {"default": 1, "min": 1, "max": 4096}],
        }}

    def run(self, ctx, width, height, batch_size=1):
        return ({"samples": ZeroTensor([batch_size, 4, height // 8, width // 8])},)


@register
class LatentUpscale(Node):
    NAME = "LatentUpscale"
    DISPLAY_NAME = "Upscale Latent"
    CATEGORY = "latent"
    RETURN_TYPES = ("LATENT",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "samples": ["LATENT"],
            "upscale_method": [list(LATENT_UPSCALE_METHODS)],
            "width": ["INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 8}],
            "height": ["INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 8}],
            "crop": [["disabled", "center"]],
        }}

    def run(self, ctx, samples, upscale_method, width, height, crop):
        shape = samples["samples"].shape
        if width == 0 and height == 0:
            return (samples,)
        if width == 0:
            width = max(64, shape[3] * 8 * height // (shape[2] * 8))
        elif height == 0:
            height = max(64, shape[2] * 8 * width // (shape[3] * 8))
        return ({"samples": ZeroTensor([shape[0], shape[1], height // 8, width // 8])},)


@register
class SaveLatent(Node):
    NAME = "SaveLatent"
    CATEGORY = "_for_testing"
    OUTPUT_NODE = True

    @classmethod
    def input_types(cls, env):
        return {"required": {"samples": ["LATENT"],
                             "filename_prefix": ["STRING", {"default": "latents/ComfyUI"}]},
                "hidden": dict(HIDDEN_PNG)}

    def run(self, ctx, samples, filename_prefix="ComfyUI", prompt=None, extra_pnginfo=None):
        full_folder, filename, counter, subfolder, _ = get_save_image_path(filename_prefix, ctx.env.paths.output)
        file = f"{filename}_{counter:05}_.latent"
        shape = samples["samples"].shape
        count = 1
        for s in shape:
            count *= s
        write_safetensors(os.path.join(full_folder, file), {
            "latent_tensor": ("F32", shape, bytes(4 * count)),
            "latent_format_version_0": ("F32", [0], b""),
        }, png_text(ctx))
        return {"ui": {"latents": [{"filename": file, "subfolder": subfolder, "type": "output"}]}}


@register
class EmptyAudio(Node):
    NAME = "EmptyAudio"
    DISPLAY_NAME = "Empty Audio"
    CATEGORY = "audio"
    PYTHON_MODULE = "comfy_extras.nodes_audio"
    RETURN_TYPES = ("AUDIO",)

    @classmethod
    def input_types(cls, env):
        return {"required": {
            "duration": ["FLOAT", {"default": 60.0, "min": 0.0, "max": 0xffffffffffffffff, "step": 0.01}],
            "sample_rate": ["INT", {"default": 44100}],
            "channels": ["INT", {"default": 2, "min": 1, "max": 2}],
        }}

    def run(self, ctx, duration, sample_rate, channels):
        return ({"waveform": ZeroTensor([1, channels, int(round(duration * sample_rate))]),
                 "sample_rate": sample_rate},)


@register
class SaveAudio(Node):
    NAME = "SaveAudio"
    DISPLAY_NAME = "Save Audio (FLAC)"
    CATEGORY = "audio"
    PYTHON_MODULE = "comfy_extras.nodes_audio"
    OUTPUT_NODE = True

    @classmethod
    def input_types(cls, env):
        return {"required": {"audio": ["AUDIO"],
                             "filename_prefix": ["STRING", {"default": "audio/ComfyUI"}]},
                "hidden": dict(HIDDEN_PNG)}

    def run(self, ctx, audio, filename_prefix="audio/ComfyUI", prompt=None, extra_pnginfo=None):
        full_folder, filename, counter, subfolder, _ = get_save_image_path(filename_prefix, ctx.env.paths.output)
        shape = audio["waveform"].shape
        results = []
        for batch_number in range(shape[0]):
            name = filename.replace("%batch_num%", str(batch_number))
            file = f"{name}_{counter:05}_.flac"
            write_flac(os.path.join(full_folder, file), shape[1], audio["sample_rate"],
                       [[0] * shape[2] for _ in range(shape[1])])
            results.append({"filename": file, "subfolder": subfolder, "type": "output"})
            counter += 1
        return {"ui": {"audio": results}}


@register
class SaveImageWebsocket(Node):
    NAME = "SaveImageWebsocket"
    CATEGORY = "api node/image/Save Image Websocket"
    PYTHON_MODULE = "custom_nodes.websocket_image_save"
    OUTPUT_NODE = True
    HAS_IS_CHANGED = True

    @classmethod
    def input_types(cls, env):
        return {"required": {"images": ["IMAGE"]}}

    @classmethod
    def is_changed(cls, env, images=None):
        return time.time()

    def run(self, ctx, images):
        total = len(images)
        for step, img in enumerate(images):
            ctx.progress(step, total, ("PNG", img, None))
        return {}

