"""REST black-box tests: /api/v1/images/upload, /download and /url (docs/api-contract.md "Images",
README.md "The API"), against the real gateway in front of the ComfyUI emulator: formats by
magic bytes, overwrite semantics, the local copies in gw-input / the gw-output cache, download
headers, conditional requests, path traversal, size limits and flat memory for 50 MB files."""
import hashlib
import io
import re
import time
import urllib.parse

import httpx
import pytest
from PIL import Image

from rest_stack import (API, HTTP_TIMEOUT, RssSampler, api, assert_error, empty_save, field_names,  # noqa: F401
                        image_bytes, multipart, multipart_stream, png, random_png_like, sha256, sha256_file,
                        stack, unique, wait_until)

MiB = 1024 * 1024
RSS_LIMIT = 16 * MiB
BIG = 50 * 1000 * 1000
STRONG_ETAG = re.compile(r'^"[^"]+"$')


def query_of(url):
    parts = urllib.parse.urlsplit(url)
    return parts, {k: v[0] for k, v in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()}


def finished_image(api, subfolder=""):
    """Runs EmptyImage -> SaveImage and returns (filename, subfolder, bytes as ComfyUI serves them)."""
    prefix = f"{subfolder}/img{unique()}" if subfolder else f"img{unique()}"
    sub, hist = api.run_to_end(empty_save(prefix=prefix, size=32))
    assert hist["status"] == "success", hist
    [item] = api.emu.history(sub["prompt_id"])["outputs"]["2"]["images"]
    return item["filename"], item["subfolder"], api.emu.view(item["filename"], item["subfolder"], "output")


# ------------------------------------------------------------------------------------------
# upload

def test_upload_png_is_stored_locally_and_in_comfyui(api):
    data = png()
    name = f"up{unique()}.png"
    r = api.upload(data, name)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == name
    assert body["subfolder"] == ""
    assert body["type"] == "input"
    assert body["size"] == len(data)
    assert (api.gw.input_dir / name).read_bytes() == data
    assert (api.emu.input_dir / name).read_bytes() == data
    parts, query = query_of(body["url"])
    assert parts.scheme == "http" and parts.netloc == f"127.0.0.1:{api.gw.port}"
    assert parts.path == f"{API}/images/download"
    assert query["filename"] == name and query["type"] == "input" and query.get("subfolder", "") == ""
    download = httpx.get(body["url"], timeout=HTTP_TIMEOUT)
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("fmt,ext,part_type", [
    ("JPEG", ".png", "image/png"),
    ("WEBP", ".txt", "text/plain"),
    ("GIF", ".jpg", "image/jpeg"),
    ("PNG", ".gif", "application/octet-stream"),
    ("PNG", "", "application/octet-stream"),
    ("JPEG", ".jpeg", "image/jpeg"),
])
def test_upload_accepts_images_by_magic_bytes(api, fmt, ext, part_type):
    data = image_bytes(fmt)
    name = f"magic{unique()}{ext}"
    r = api.upload(data, name, ctype=part_type)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == name
    assert r.json()["size"] == len(data)
    assert (api.gw.input_dir / name).read_bytes() == data
    assert (api.emu.input_dir / name).read_bytes() == data


@pytest.mark.parametrize("content", [
    b"hello, this is plain text\n",
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    b"\x00\x00\x00\x18ftypmp42",
    b"\x89PN",  # a truncated PNG signature
    b"",
])
def test_upload_rejects_what_is_not_an_image_with_415(api, content):
    before = api.files_snapshot()
    r = api.upload(content, f"fake{unique()}.png")
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert api.files_snapshot() == before


def test_upload_that_is_not_multipart_is_415(api):
    r = api.client.post(f"{API}/images/upload", json={"file": "x"})
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    r = api.client.post(f"{API}/images/upload", content=png(), headers={"Content-Type": "image/png"})
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_upload_broken_multipart_is_400(api):
    r = api.client.post(f"{API}/images/upload", content=b"this is not a multipart body at all",
                        headers={"Content-Type": "multipart/form-data; boundary=abc123"})
    assert_error(r, 400, "INVALID_REQUEST")
    body, ctype = multipart({}, [("file", "x.png", png(), "image/png")])
    r = api.client.post(f"{API}/images/upload", content=body[: len(body) // 2], headers={"Content-Type": ctype})
    assert_error(r, 400, "INVALID_REQUEST")


def test_upload_without_file_is_422(api):
    body, ctype = multipart({"overwrite": "false", "subfolder": "x"})
    r = api.client.post(f"{API}/images/upload", content=body, headers={"Content-Type": ctype})
    error = assert_error(r, 422, "INVALID_REQUEST")
    assert "file" in field_names(error)
    # The file under ComfyUI's field name instead of ours: still no `file` (the gateway may also
    # name the unexpected `image` part in details.fields).
    body, ctype = multipart({}, [("image", "x.png", png(), "image/png")])
    r = api.client.post(f"{API}/images/upload", content=body, headers={"Content-Type": ctype})
    field_names(assert_error(r, 422, "INVALID_REQUEST"))


@pytest.mark.parametrize("field,value", [
    ("type", "output"),
    ("type", "bogus"),
    ("overwrite", "maybe"),
    ("overwrite", "yes please"),
])
def test_upload_bad_fields_are_422(api, field, value):
    before = api.files_snapshot()
    r = api.upload(png(), f"bad{unique()}.png", **{field: value})
    assert field in field_names(assert_error(r, 422, "INVALID_REQUEST"))
    assert api.files_snapshot() == before


def test_upload_overwrite_semantics(api):
    name = f"same{unique()}.png"
    first, second = png(), png()
    assert first != second
    assert api.upload(first, name).json()["name"] == name
    # A different file under the same name, overwrite false: ComfyUI picks another name.
    r = api.upload(second, name, overwrite="false")
    assert r.status_code == 200, r.text
    renamed = r.json()["name"]
    assert renamed != name
    assert (api.emu.input_dir / renamed).read_bytes() == second
    assert (api.gw.input_dir / renamed).read_bytes() == second
    assert (api.emu.input_dir / name).read_bytes() == first
    assert (api.gw.input_dir / name).read_bytes() == first
    # The identical file again: ComfyUI keeps the existing name.
    assert api.upload(first, name).json()["name"] == name
    # overwrite true (and 1): replaced in place.
    r = api.upload(second, name, overwrite="true")
    assert r.status_code == 200 and r.json()["name"] == name, r.text
    assert (api.emu.input_dir / name).read_bytes() == second
    assert (api.gw.input_dir / name).read_bytes() == second
    third = png()
    r = api.upload(third, name, overwrite="1")
    assert r.status_code == 200 and r.json()["name"] == name, r.text
    assert (api.gw.input_dir / name).read_bytes() == third
    assert (api.emu.input_dir / name).read_bytes() == third


def test_upload_into_a_subfolder(api):
    data = png()
    subfolder = f"sub{unique()}/deeper"
    name = f"nested{unique()}.png"
    r = api.upload(data, name, subfolder=subfolder)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["name"], body["subfolder"], body["type"]) == (name, subfolder, "input")
    assert (api.gw.input_dir / subfolder / name).read_bytes() == data
    assert (api.emu.input_dir / subfolder / name).read_bytes() == data
    _, query = query_of(body["url"])
    assert (query["filename"], query["subfolder"], query["type"]) == (name, subfolder, "input")
    assert httpx.get(body["url"], timeout=HTTP_TIMEOUT).content == data


def test_upload_to_temp(api):
    data = png()
    name = f"tmp{unique()}.png"
    r = api.upload(data, name, type="temp")
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "temp"
    assert (api.emu.temp_dir / name).read_bytes() == data
    download = httpx.get(r.json()["url"], timeout=HTTP_TIMEOUT)
    assert download.status_code == 200 and download.content == data


# file names as they appear (raw bytes) inside the part's Content-Disposition header
UNSAFE_UPLOAD_NAMES = {
    "dotdot": b"..",
    "dotdot slash": b"../escape-up.png",
    "deep dotdot": b"a/../../escape-deep.png",
    "absolute": None,  # filled in with the test's tmp dir
    "backslash": b"..\\\\escape-bs.png",  # an escaped backslash: "..\escape-bs.png" after unquoting
    "NUL": b"nul\x00.png",
}
UNSAFE_SUBFOLDERS = {
    "dotdot": "..",
    "dotdot slash": "../escape-dir",
    "deep dotdot": "a/../../escape-dir",
    "absolute": None,
    "backslash": "..\\escape-dir",
    "NUL": "a\x00b",
}


@pytest.mark.parametrize("case", list(UNSAFE_UPLOAD_NAMES))
def test_upload_unsafe_filename_is_400(api, case):
    name = UNSAFE_UPLOAD_NAMES[case]
    if name is None:
        name = str(api.tmp / f"abs-escape-{unique()}.png").encode()
    before = api.files_snapshot()
    body, ctype = multipart({}, [("file", name, png(), "image/png")])
    r = api.client.post(f"{API}/images/upload", content=body, headers={"Content-Type": ctype})
    assert_error(r, 400, "FILE_OPERATION_ERROR")
    assert api.files_snapshot() == before
    if case == "absolute":
        assert not (api.tmp / name.decode()).exists()


@pytest.mark.parametrize("case", list(UNSAFE_SUBFOLDERS))
def test_upload_unsafe_subfolder_is_400(api, case):
    subfolder = UNSAFE_SUBFOLDERS[case]
    if subfolder is None:
        subfolder = str(api.tmp / f"abs-dir-{unique()}")
    before = api.files_snapshot()
    r = api.upload(png(), f"safe{unique()}.png", subfolder=subfolder)
    assert_error(r, 400, "FILE_OPERATION_ERROR")
    assert api.files_snapshot() == before
    if case == "absolute":
        assert not (api.tmp / subfolder).exists()


@pytest.mark.parametrize("where", ["filename", "subfolder"])
def test_upload_percent_encoded_traversal_never_escapes(api, where):
    """Multipart values are not percent-decoded by everyone: the gateway may refuse the name
    (400 FILE_OPERATION_ERROR) or keep it literally; either way nothing lands outside the dirs."""
    before = api.files_snapshot()
    if where == "filename":
        r = api.upload(png(), f"%2e%2e%2fpct{unique()}.png")
    else:
        r = api.upload(png(), f"pct{unique()}.png", subfolder="%2e%2e%2f%2e%2e%2fpct")
    if r.status_code != 200:
        assert_error(r, 400, "FILE_OPERATION_ERROR")
        assert api.files_snapshot() == before
    else:
        allowed = (api.gw.input_dir, api.emu.input_dir)
        for path in api.files_snapshot() - before:
            assert any(parent in path.parents for parent in allowed), path


def test_upload_over_max_upload_bytes_is_413(stack):
    stack.reset()
    with stack.extra_gateway("small-uploads", extra_args=["--max-upload-bytes", "100000"]) as gw:
        emu_before = set(stack.emu.input_dir.rglob("*"))
        name = f"toolarge{unique()}.png"
        r = stack.upload(random_png_like(200_000), name, client=gw.client)
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        # Without Content-Length (chunked), the limit holds as well.
        body, ctype = multipart({}, [("file", name, random_png_like(200_000), "image/png")])
        r = gw.client.post(f"{API}/images/upload", content=iter([body[i:i + 16384] for i in range(0, len(body), 16384)]),
                           headers={"Content-Type": ctype})
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        assert list(gw.input_dir.rglob("*.png")) == []
        assert set(stack.emu.input_dir.rglob("*")) == emu_before
        # Under the limit it works.
        small = random_png_like(50_000)
        r = stack.upload(small, f"fits{unique()}.png", client=gw.client)
        assert r.status_code == 200, r.text
        assert (gw.input_dir / r.json()["name"]).read_bytes() == small


# ------------------------------------------------------------------------------------------
# full run

def test_full_run_upload_load_save_download(api):
    original = png(size=(12, 10))
    subfolder = f"run{unique()}"
    up = api.upload(original, "source.png", subfolder=subfolder)
    assert up.status_code == 200, up.text
    ref = f"{subfolder}/{up.json()['name']}"
    workflow = {
        "1": {"class_type": "LoadImage", "inputs": {"image": ref}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": f"loaded{unique()}"}},
    }
    sub, hist = api.run_to_end(workflow)
    assert hist["status"] == "success", hist
    images = api.client.get(f"{API}/workflows/{sub['prompt_id']}/images").json()["images"]
    assert len(images) == 1
    image = images[0]
    download = httpx.get(image["url"], timeout=HTTP_TIMEOUT)
    assert download.status_code == 200
    assert download.content == api.emu.view(image["filename"], image["subfolder"], image["type"])
    pixels = Image.open(io.BytesIO(download.content)).convert("RGB")
    assert pixels.size == (12, 10)
    assert pixels.tobytes() == Image.open(io.BytesIO(original)).convert("RGB").tobytes()


# ------------------------------------------------------------------------------------------
# download

def test_download_headers_cache_and_conditional_requests(api):
    filename, subfolder, data = finished_image(api, subfolder=f"dl{unique()}")
    assert subfolder
    first = api.download(filename, subfolder)
    assert first.status_code == 200, first.text
    assert first.content == data
    assert first.headers["content-type"] == "image/png"
    assert int(first.headers["content-length"]) == len(data)
    etag = first.headers["etag"]
    assert STRONG_ETAG.match(etag), etag
    assert first.headers["cache-control"] == "public, max-age=3600"
    disposition = first.headers["content-disposition"]
    assert disposition.startswith("inline"), disposition
    assert f'filename="{filename}"' in disposition
    assert first.headers.get("x-request-id")

    cached = api.gw.output_dir / subfolder / filename
    wait_until(lambda: cached.is_file() and cached.read_bytes() == data, message=f"cache file {cached}")

    second = api.download(filename, subfolder)
    assert second.status_code == 200
    assert second.content == data
    assert second.headers["etag"] == etag
    assert int(second.headers["content-length"]) == len(data)

    # ComfyUI broken and the file gone from it: still served from the cache.
    api.emu.set_faults(status={"/view": 500})
    assert httpx.get(f"{api.emu.base}/view", params={"filename": filename, "subfolder": subfolder}).status_code == 500
    (api.emu.output_dir / subfolder / filename).unlink()
    third = api.download(filename, subfolder, type="output")
    assert third.status_code == 200, third.text
    assert third.content == data
    assert third.headers["etag"] == etag
    assert third.headers["content-type"] == "image/png"

    head = api.download(filename, subfolder, method="HEAD")
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(data)
    assert head.headers["etag"] == etag
    assert head.headers["content-type"] == "image/png"

    for value in (etag, "*", f'"not-it", {etag}'):
        r = api.download(filename, subfolder, headers={"If-None-Match": value})
        assert r.status_code == 304, (value, r.status_code, r.text)
        assert r.content == b""
        assert r.headers["etag"] == etag
        assert r.headers.get("x-request-id")
    r = api.download(filename, subfolder, headers={"If-None-Match": '"something-else"'})
    assert r.status_code == 200 and r.content == data


def test_download_if_none_match_on_first_fetch(api):
    filename, subfolder, data = finished_image(api)
    etag = api.download(filename, method="HEAD").headers["etag"]
    r = api.download(filename, headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    r = api.download(filename)
    assert r.status_code == 200 and r.content == data and r.headers["etag"] == etag


def test_download_from_comfyui_does_not_depend_on_the_cache_file_name(api):
    """An output at the top level (no subfolder) is cached at OUTPUT_DIR/<filename>."""
    filename, subfolder, data = finished_image(api)
    assert subfolder == ""
    assert api.download(filename).content == data
    wait_until(lambda: (api.gw.output_dir / filename).is_file()
               and (api.gw.output_dir / filename).read_bytes() == data, message="top-level cache file")


@pytest.mark.parametrize("fmt,ext,content_type", [
    ("PNG", ".png", "image/png"),
    ("JPEG", ".jpg", "image/jpeg"),
    ("WEBP", ".webp", "image/webp"),
    ("GIF", ".gif", "image/gif"),
])
def test_download_content_types(api, fmt, ext, content_type):
    data = image_bytes(fmt, size=(20, 20))
    name = f"ctype{unique()}{ext}"
    (api.emu.output_dir / name).write_bytes(data)
    r = api.download(name)
    assert r.status_code == 200, r.text
    assert r.content == data
    assert r.headers["content-type"] == content_type


def test_download_non_ascii_name_has_rfc5987_disposition(api):
    data = png()
    name = f"bild-äöü {unique()}.png"
    (api.emu.output_dir / name).write_bytes(data)
    r = api.download(name)
    assert r.status_code == 200, r.text
    assert r.content == data
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("inline")
    match = re.search(r"filename\*=UTF-8''([^;\s]+)", disposition, re.IGNORECASE)
    assert match, disposition
    assert urllib.parse.unquote(match.group(1)) == name


def test_download_of_input_and_temp_files(api):
    data = png()
    name = f"in{unique()}.png"
    assert api.upload(data, name).status_code == 200
    r = api.download(name, type="input")
    assert r.status_code == 200 and r.content == data
    assert r.headers["cache-control"] == "no-cache"
    temp_name = f"tmpdl{unique()}.png"
    (api.emu.temp_dir / temp_name).write_bytes(data)
    r = api.download(temp_name, type="temp")
    assert r.status_code == 200 and r.content == data
    assert r.headers["cache-control"] == "no-cache"
    assert not (api.gw.output_dir / temp_name).exists(), "only type=output is cached"


def test_download_missing_image_is_404(api):
    assert_error(api.download(f"missing{unique()}.png"), 404, "IMAGE_NOT_FOUND")
    assert_error(api.download(f"missing{unique()}.png", subfolder="nowhere"), 404, "IMAGE_NOT_FOUND")
    assert_error(api.download(f"missing{unique()}.png", type="input"), 404, "IMAGE_NOT_FOUND")
    assert api.download(f"missing{unique()}.png", method="HEAD").status_code == 404


@pytest.mark.parametrize("route", ["download", "url"])
@pytest.mark.parametrize("query,field", [
    ("", "filename"),
    ("filename=", "filename"),
    ("subfolder=x&type=output", "filename"),
    ("filename=a.png&type=bogus", "type"),
    ("filename=a.png&type=OUTPUT", "type"),
])
def test_download_and_url_query_validation_is_422(api, route, query, field):
    r = api.client.get(f"{API}/images/{route}?{query}")
    assert field in field_names(assert_error(r, 422, "INVALID_REQUEST"))


# raw (already percent-encoded) query values
UNSAFE_FILENAMES = ["..", "../x.png", "sub/../../x.png", "/etc/passwd", "%2Fetc%2Fpasswd",
                    "%2e%2e%2fx.png", "%2E%2E%2F%2E%2E%2Fx.png", "x%00.png", "..%5Cx.png", "a%5Cb.png"]
UNSAFE_SUBFOLDERS_RAW = ["..", "../..", "a/../../b", "/etc", "%2Fetc", "%2e%2e%2f%2e%2e",
                         "a%00b", "..%5C..", "a%5Cb"]


@pytest.mark.parametrize("route", ["download", "url"])
@pytest.mark.parametrize("query", [f"filename={f}" for f in UNSAFE_FILENAMES]
                         + [f"filename=x.png&subfolder={s}" for s in UNSAFE_SUBFOLDERS_RAW])
def test_download_and_url_traversal_is_400(api, route, query):
    secret = api.emu.root / "secret.png"
    if not secret.exists():
        secret.write_bytes(png())
    before = api.files_snapshot()
    r = api.client.get(f"{API}/images/{route}?{query}&type=output")
    assert_error(r, 400, "FILE_OPERATION_ERROR")
    assert api.files_snapshot() == before


def test_traversal_does_not_reach_files_next_to_the_output_dir(api):
    secret = api.emu.root / "secret-next-to-output.png"
    secret.write_bytes(png())
    for query in ("filename=secret-next-to-output.png&subfolder=..",
                  "filename=..%2Fsecret-next-to-output.png",
                  "filename=secret-next-to-output.png&subfolder=%2e%2e"):
        r = api.client.get(f"{API}/images/download?{query}")
        assert r.status_code == 400, (query, r.status_code)
        assert r.content != secret.read_bytes()


# ------------------------------------------------------------------------------------------
# url

def test_url_built_from_the_host_header(api):
    name, subfolder = "a b&c=d.png", "s/t"
    r = api.client.get(f"{API}/images/url", params={"filename": name, "subfolder": subfolder, "type": "output"})
    assert r.status_code == 200, r.text
    body = r.json()
    parts, query = query_of(body["url"])
    assert (parts.scheme, parts.netloc, parts.path) == ("http", f"127.0.0.1:{api.gw.port}", f"{API}/images/download")
    assert query == {"filename": name, "subfolder": subfolder, "type": "output"}
    comfy, comfy_query = query_of(body["comfyui_url"])
    assert f"{comfy.scheme}://{comfy.netloc}" == api.emu.base
    assert comfy.path == "/view"
    assert comfy_query == {"filename": name, "subfolder": subfolder, "type": "output"}

    r = api.client.get(f"{API}/images/url", params={"filename": "x.png"}, headers={"Host": "gw.example.test:8443"})
    assert r.status_code == 200, r.text
    parts, query = query_of(r.json()["url"])
    assert parts.netloc == "gw.example.test:8443"
    assert query["filename"] == "x.png" and query["type"] == "output"
    assert query.get("subfolder", "") == ""


def test_public_base_url_is_used_for_every_url(stack):
    stack.reset()
    base = "https://images.example.test/gateway"
    with stack.extra_gateway("public-base", extra_args=["--public-base-url", base]) as gw:
        r = gw.client.get(f"{API}/images/url", params={"filename": "p.png", "subfolder": "q", "type": "temp"})
        assert r.status_code == 200, r.text
        assert r.json()["url"].startswith(base + f"{API}/images/download?"), r.json()
        _, query = query_of(r.json()["url"])
        assert query == {"filename": "p.png", "subfolder": "q", "type": "temp"}
        assert query_of(r.json()["comfyui_url"])[0].netloc == f"127.0.0.1:{stack.emu.port}"

        up = stack.upload(png(), f"pub{unique()}.png", client=gw.client)
        assert up.status_code == 200, up.text
        assert up.json()["url"].startswith(base + f"{API}/images/download?")

        sub = stack.submit(empty_save(), client=gw.client).json()
        wait_until(lambda: gw.client.get(f"{API}/workflows/{sub['prompt_id']}/history").json()["status"] == "success",
                   message="prompt via the public-base gateway")
        images = gw.client.get(f"{API}/workflows/{sub['prompt_id']}/images").json()["images"]
        assert images and all(i["url"].startswith(base + f"{API}/images/download?") for i in images)


# ------------------------------------------------------------------------------------------
# large files, flat memory

def _stream_download(client, filename):
    digest, size = hashlib.sha256(), 0
    with client.stream("GET", f"{API}/images/download", params={"filename": filename}) as r:
        assert r.status_code == 200, r.read()[:500]
        headers = r.headers
        for chunk in r.iter_bytes():
            digest.update(chunk)
            size += len(chunk)
    return headers, digest.hexdigest(), size


def test_download_50mb_streams_with_flat_memory(api):
    name = f"big{unique()}.png"
    data = random_png_like(BIG)
    expected = sha256(data)
    (api.emu.output_dir / name).write_bytes(data)
    del data
    # Warm up the code path (buffers, connection pools) with a small file.
    small, _, small_data = finished_image(api)
    assert api.download(small).content == small_data

    with RssSampler(api.gw.pid) as rss:
        headers, digest, size = _stream_download(api.client, name)
    assert size == BIG and digest == expected
    assert int(headers["content-length"]) == BIG
    assert rss.growth_bytes < RSS_LIMIT, f"gateway RSS grew by {rss.growth_bytes / MiB:.1f} MiB (from ComfyUI)"

    cached = api.gw.output_dir / name
    wait_until(lambda: cached.is_file() and cached.stat().st_size == BIG, message="50 MB cache file")
    assert sha256_file(cached) == expected

    with RssSampler(api.gw.pid) as rss:
        headers, digest, size = _stream_download(api.client, name)
    assert size == BIG and digest == expected
    assert rss.growth_bytes < RSS_LIMIT, f"gateway RSS grew by {rss.growth_bytes / MiB:.1f} MiB (from cache)"
    cached.unlink()
    (api.emu.output_dir / name).unlink()


def test_upload_50mb_streams_with_flat_memory(api):
    data = random_png_like(BIG)
    expected = sha256(data)
    name = f"bigup{unique()}.png"
    warm = api.upload(png(), f"warm{unique()}.png")
    assert warm.status_code == 200, warm.text

    chunks, length, ctype = multipart_stream("file", name, data, fields={"overwrite": "true"})
    started = time.monotonic()
    with RssSampler(api.gw.pid) as rss:
        r = api.client.post(f"{API}/images/upload", content=chunks,
                            headers={"Content-Type": ctype, "Content-Length": str(length)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == name and body["size"] == BIG
    assert rss.growth_bytes < RSS_LIMIT, \
        f"gateway RSS grew by {rss.growth_bytes / MiB:.1f} MiB for a 50 MB upload ({time.monotonic() - started:.1f}s)"
    assert sha256_file(api.gw.input_dir / name) == expected
    assert sha256_file(api.emu.input_dir / name) == expected
    (api.gw.input_dir / name).unlink()
    (api.emu.input_dir / name).unlink()
