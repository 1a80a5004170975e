"""Directory layout and ComfyUI's path rules (folder_paths.py equivalents).

The emulator keeps input/, output/ and temp/ under one root directory. The helpers here
mirror ComfyUI's annotated file names (``name [output]``), the /view and /upload checks'
building blocks, and SaveImage's ``<prefix>_<counter>_`` naming with a counter that resumes
from the files already on disk.
"""
import mimetypes
import os
import shutil
import time

mimetypes.add_type("image/webp", ".webp")


class Paths:
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.input = os.path.join(self.root, "input")
        self.output = os.path.join(self.root, "output")
        self.temp = os.path.join(self.root, "temp")

    def create(self):
        for d in (self.input, self.output, self.temp):
            os.makedirs(d, exist_ok=True)

    def empty_temp(self):
        """ComfyUI deletes the temp directory at start-up (and on clean exit)."""
        shutil.rmtree(self.temp, ignore_errors=True)
        os.makedirs(self.temp, exist_ok=True)

    def get_directory_by_type(self, type_name):
        if type_name == "output":
            return self.output
        if type_name == "temp":
            return self.temp
        if type_name == "input":
            return self.input
        return None

    def annotated_filepath(self, name):
        if name.endswith("[output]"):
            return name[:-9], self.output
        if name.endswith("[input]"):
            return name[:-8], self.input
        if name.endswith("[temp]"):
            return name[:-7], self.temp
        return name, None

    def get_annotated_filepath(self, name, default_dir=None):
        name, base_dir = self.annotated_filepath(name)
        if base_dir is None:
            base_dir = default_dir if default_dir is not None else self.input
        return os.path.join(base_dir, name)

    def exists_annotated_filepath(self, name):
        name, base_dir = self.annotated_filepath(name)
        if base_dir is None:
            base_dir = self.input
        return os.path.exists(os.path.join(base_dir, name))

    def input_image_files(self):
        """Top-level files of input/ whose guessed mime type is image/* (LoadImage's combo)."""
        try:
            names = os.listdir(self.input)
        except FileNotFoundError:
            return []
        out = []
        for f in names:
            if not os.path.isfile(os.path.join(self.input, f)):
                continue
            mime = mimetypes.guess_type(f)[0] or ""
            if mime.split("/")[0] == "image":
                out.append(f)
        return sorted(out)


def get_save_image_path(filename_prefix, output_dir, image_width=0, image_height=0):
    """ComfyUI's folder_paths.get_save_image_path, line for line in behaviour."""

    def map_filename(filename):
        prefix_len = len(os.path.basename(filename_prefix))
        prefix = filename[:prefix_len + 1]
        try:
            digits = int(filename[prefix_len + 1:].split("_")[0])
        except Exception:
            digits = 0
        return digits, prefix

    def compute_vars(text, width, height):
        text = text.replace("%width%", str(width)).replace("%height%", str(height))
        now = time.localtime()
        text = text.replace("%year%", str(now.tm_year))
        text = text.replace("%month%", str(now.tm_mon).zfill(2))
        text = text.replace("%day%", str(now.tm_mday).zfill(2))
        text = text.replace("%hour%", str(now.tm_hour).zfill(2))
        text = text.replace("%minute%", str(now.tm_min).zfill(2))
        text = text.replace("%second%", str(now.tm_sec).zfill(2))
        return text

    if "%" in filename_prefix:
        filename_prefix = compute_vars(filename_prefix, image_width, image_height)

    subfolder = os.path.dirname(os.path.normpath(filename_prefix))
    filename = os.path.basename(os.path.normpath(filename_prefix))
    full_output_folder = os.path.join(output_dir, subfolder)

    common = os.path.commonpath((output_dir, os.path.abspath(full_output_folder)))
    if common != output_dir:
        raise Exception(
            "**** ERROR: Saving image outside the output folder is not allowed."
            + "\n full_output_folder: " + os.path.abspath(full_output_folder)
            + "\n         output_dir: " + output_dir
            + "\n         commonpath: " + common)

    try:
        counter = max(
            filter(lambda a: os.path.normcase(a[1][:-1]) == os.path.normcase(filename) and a[1][-1] == "_",
                   map(map_filename, os.listdir(full_output_folder))))[0] + 1
    except ValueError:
        counter = 1
    except FileNotFoundError:
        os.makedirs(full_output_folder, exist_ok=True)
        counter = 1
    return full_output_folder, filename, counter, subfolder, filename_prefix
